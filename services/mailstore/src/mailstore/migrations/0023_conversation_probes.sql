-- Conversations' label lookups that no plan can turn into a read of the whole account.
-- "Is some entry of this account labelled k?" and the relabelling UPDATE named only the
-- account and the label. Both partial indexes start with account_id, and a plan made
-- while the statistics call the mailbox empty (a new installation, an import, a burst:
-- autovacuum analyses a minute later, and the plan stays cached in each session) may
-- take the (account, folder, conversation) index and read all of the account's part of
-- it: a cost that grew with the mailbox, for every COPY, MOVE and merge. Now each asks
-- folder by folder (a handful of exact probes whichever index is taken), and the UPDATE
-- runs only when there is another label to merge. The answers are 0019's.
CREATE OR REPLACE FUNCTION conversation_of(account bigint, message text) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    own text;
    root text;
    parents text[];
    keys text[];
    found text[];
    target text;
BEGIN
    SELECT (msg_ids(m.message_id_header))[1],
           (msg_ids(left(m.references_header, 1000)))[1],
           (SELECT coalesce(array_agg(r.k ORDER BY r.n DESC), '{}') FROM (
                SELECT k, n FROM unnest(msg_ids(right(m.references_header, 6000)))
                    WITH ORDINALITY AS u (k, n)
                ORDER BY n DESC LIMIT 20) r)
               || (msg_ids(left(m.in_reply_to, 1000)))[1:1]
    INTO own, root, parents
    FROM messages m WHERE m.id = message;
    keys := ARRAY(SELECT DISTINCT k FROM unnest(ARRAY[root, own] || parents) AS k
                  WHERE k IS NOT NULL);
    IF cardinality(keys) = 0 THEN
        RETURN NULL;
    END IF;
    -- Without References, parents is the In-Reply-To alone.
    target := coalesce(root, parents[1], own);
    found := ARRAY(
        SELECT DISTINCT c FROM (
            SELECT held.conversation AS c
            FROM unnest(keys) AS k
            CROSS JOIN LATERAL (
                SELECT e.conversation
                FROM (
                    SELECT m.id FROM messages m
                    WHERE m.message_id_header = k AND length(m.message_id_header) <= 252
                    LIMIT 200
                ) named
                CROSS JOIN LATERAL (
                    SELECT account_id, conversation FROM mailbox_entries
                    WHERE message_id = named.id OFFSET 0
                ) e
                WHERE e.account_id = account AND e.conversation IS NOT NULL
                LIMIT 1
            ) held
            UNION ALL
            SELECT k FROM unnest(keys) AS k
            WHERE EXISTS (
                SELECT 1 FROM folders f
                WHERE f.account_id = account
                  AND (SELECT true FROM mailbox_entries e
                       WHERE e.account_id = account AND e.folder_id = f.id
                         AND e.conversation = k
                       LIMIT 1)
            )
        ) labels
    );
    -- Keep the label that reaches furthest up: one found through a parent message that
    -- is none of this message's keys is that parent's own root.
    IF NOT target = ANY(found) THEN
        target := coalesce((SELECT min(c) FROM unnest(found) AS c WHERE NOT c = ANY(keys)),
                           target);
    END IF;
    IF EXISTS (SELECT 1 FROM unnest(found) AS c WHERE c <> target) THEN
        UPDATE mailbox_entries SET conversation = target
        WHERE account_id = account
          AND folder_id = ANY(ARRAY(SELECT id FROM folders WHERE account_id = account))
          AND conversation = ANY(found) AND conversation <> target;
    END IF;
    RETURN target;
END
$$;
