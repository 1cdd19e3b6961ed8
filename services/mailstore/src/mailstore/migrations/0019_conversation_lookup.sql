-- Conversations' labelling at insert, without reading the account's entries. 0018's
-- lookups were planned, while a mailbox grew faster than autovacuum analysed it (an
-- import, a burst, a new installation, the ingest benchmark), as hash joins over every
-- entry of the account: each delivery cost time in proportion to the mailbox, and
-- durable ingest fell from about 1,400 to 300 messages a second. Now each key is a few
-- index probes, whatever the statistics say: the messages that carry it first (the
-- Message-ID index; at most 200, so a Message-ID that hostile mail repeats everywhere
-- bounds the work), then each one's entry in this account (the message_id index alone),
-- and whether a conversation already has that label (a correlated LIMIT 1, which cannot
-- become a hash). The answer is the same but for a key more than 200 messages share.
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
                    -- OFFSET 0 keeps this a probe of the message_id index alone: given
                    -- account_id too, the planner ANDs in the account's whole UID index
                    -- when its statistics lag behind a growing mailbox.
                    SELECT account_id, conversation FROM mailbox_entries
                    WHERE message_id = named.id OFFSET 0
                ) e
                WHERE e.account_id = account AND e.conversation IS NOT NULL
                -- One is enough: every earlier message with this key in the account
                -- was merged into one conversation when it arrived.
                LIMIT 1
            ) held
            UNION ALL
            -- A correlated LIMIT 1, not EXISTS: a semi-join may be planned as a hash
            -- of every labelled entry of the account.
            SELECT k FROM unnest(keys) AS k
            WHERE (SELECT true FROM mailbox_entries e
                   WHERE e.account_id = account AND e.conversation = k LIMIT 1)
        ) labels
    );
    -- Keep the label that reaches furthest up: one found through a parent message that
    -- is none of this message's keys is that parent's own root.
    IF NOT target = ANY(found) THEN
        target := coalesce((SELECT min(c) FROM unnest(found) AS c WHERE NOT c = ANY(keys)),
                           target);
    END IF;
    IF cardinality(found) > 0 THEN
        UPDATE mailbox_entries SET conversation = target
        WHERE account_id = account AND conversation = ANY(found) AND conversation <> target;
    END IF;
    RETURN target;
END
$$;
