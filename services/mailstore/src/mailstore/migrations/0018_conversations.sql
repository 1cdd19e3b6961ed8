-- Conversations (issue 15): each entry carries the conversation it belongs to in its
-- account, so that a folder lists one row per conversation with one indexed query
-- (docs/architecture.md, "Conversations").
--
-- The label is a Message-ID (angle brackets included): the root the References field
-- names (RFC 5322 §3.6.4: its first msg-id), else the In-Reply-To parent, else the
-- message's own. It is per entry, not per message: one message delivered to two accounts
-- meets different mail in each. NULL: a message without any msg-id, or an entry from
-- before this migration that mailstore.db.conversations has not reached yet; both list
-- as a conversation of their own.
--
-- Online on a large store: a nullable column without a default and a new column with a
-- constant default are catalogue changes; the indexes on a non-empty store are built
-- CONCURRENTLY afterwards by the maintenance task (impossible inside the migration
-- runner's transaction), which then labels the old entries in batches.
ALTER TABLE mailbox_entries ADD COLUMN conversation text;

-- The web groups a folder by conversation unless the person turned it off (settings).
ALTER TABLE accounts ADD COLUMN conversations boolean NOT NULL DEFAULT true;

-- The msg-ids of a header, in order: "<...>" tokens only, so comments, phrases and
-- garbage between them are skipped (RFC 5322 §3.6.4, obs-in-reply-to). One longer than
-- 250 characters is no key (nobody writes them; a hostile one would bloat the index).
CREATE FUNCTION msg_ids(header text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(k[1]), '{}')
    FROM regexp_matches(coalesce(header, ''), '<[^<>[:space:]]{1,250}>', 'g') AS k
$$;

-- The conversation an entry of ``account`` holding ``message`` belongs to. Keys: the
-- message's own msg-id, the References root, its last 20 msg-ids and the In-Reply-To
-- parent (a References field of a megabyte is read at its two ends only). Every
-- conversation of the account that holds a message with one of the keys, or is labelled
-- with one (its children arrived first, waiting under a missing parent's id), is merged
-- into one: their entries are relabelled here, in the inserting transaction. Merging is
-- a union of labels, never a walk up a tree, so References that form a loop, repeat
-- themselves or name another conversation's messages end like any other merge.
CREATE FUNCTION conversation_of(account bigint, message text) RETURNS text
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
                SELECT e.conversation FROM messages m
                JOIN mailbox_entries e ON e.message_id = m.id
                WHERE m.message_id_header = k AND length(m.message_id_header) <= 252
                  AND e.account_id = account
                  AND e.conversation IS NOT NULL
                LIMIT 20
            ) held
            UNION ALL
            SELECT k FROM unnest(keys) AS k
            WHERE EXISTS (SELECT 1 FROM mailbox_entries e
                          WHERE e.account_id = account AND e.conversation = k)
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

-- The labelling of the entries from before this migration (mailstore.db.conversations):
-- one row while it is unfinished; ``indexed`` once the indexes below exist. Until then
-- new entries are left NULL too (without the Message-ID index each would scan every
-- message), and the backfill, walking entries by id to the end, labels them as well.
CREATE TABLE conversation_backfill (
    after_id bigint NOT NULL DEFAULT 0,
    indexed boolean NOT NULL DEFAULT false
);

CREATE FUNCTION mailbox_entries_conversation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.conversation IS NULL
       AND NOT EXISTS (SELECT 1 FROM conversation_backfill WHERE NOT indexed) THEN
        NEW.conversation := conversation_of(NEW.account_id, NEW.message_id);
    END IF;
    RETURN NEW;
END
$$;

-- Every way an entry comes to be (delivery, APPEND, COPY, a saved draft) is labelled,
-- whichever code inserts it.
CREATE TRIGGER mailbox_entries_conversation BEFORE INSERT ON mailbox_entries
    FOR EACH ROW EXECUTE FUNCTION mailbox_entries_conversation();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM mailbox_entries) THEN
        INSERT INTO conversation_backfill DEFAULT VALUES;
    ELSE
        -- An empty store (a new installation, every test database) is finished now.
        -- Partial: every query of them names a conversation, and an index that also
        -- held the unlabelled entries would tempt the planner for any "account_id ="
        -- (an UPDATE ... RETURNING then answered in conversation order).
        -- The same three statements as mailstore.db.conversations.CONVERSATION_INDEXES.
        CREATE INDEX messages_message_id_header_idx ON messages (message_id_header)
            WHERE length(message_id_header) <= 252;
        CREATE INDEX mailbox_entries_conversation_idx
            ON mailbox_entries (account_id, conversation) WHERE conversation IS NOT NULL;
        CREATE INDEX mailbox_entries_folder_conversation_idx
            ON mailbox_entries (account_id, folder_id, conversation, created_at DESC, id DESC)
            WHERE conversation IS NOT NULL;
    END IF;
END
$$;
