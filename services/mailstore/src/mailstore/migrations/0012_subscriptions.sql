-- IMAP subscriptions by name, apart from folders (RFC 9051 §6.3.7, RFC 5258 §3): a
-- subscription outlives the folder it names ("MUST NOT unilaterally remove an existing
-- mailbox name from the subscription list even if a mailbox by that name no longer
-- exists"), and SUBSCRIBE may name a folder that does not exist; LIST (SUBSCRIBED) shows
-- such a name \NonExistent. Until now a subscription was folders.subscribed (0007), so
-- DELETE dropped it.
--
-- Online: the subscriptions are copied from folders, a handful of rows per account,
-- and the column goes with a catalogue change (DROP COLUMN rewrites nothing); one
-- source of truth, so no reader can see the old flag disagree with the table.
CREATE TABLE subscriptions (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- A folder name as folders.name holds it (INBOX as 'INBOX', '/' the delimiter),
    -- whether or not a folder has it now. A rename rewrites the names at and below the
    -- folder's (db.subscriptions), as it rewrites the folders'.
    name text NOT NULL CHECK (name <> '' AND name !~ '(^/|/$|//)'),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, name)
);

INSERT INTO subscriptions (account_id, name)
SELECT account_id, name FROM folders WHERE subscribed ORDER BY account_id, name;

ALTER TABLE folders DROP COLUMN subscribed;

-- A new account's six standard folders are subscribed, as they were by the column's
-- default: mail programs that show only subscribed folders show them.
CREATE OR REPLACE FUNCTION create_standard_folders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO folders (account_id, id, name, special_use)
    SELECT NEW.id, s.id, s.name, s.special_use FROM standard_folders s ORDER BY s.position;
    INSERT INTO subscriptions (account_id, name)
    SELECT NEW.id, s.name FROM standard_folders s ORDER BY s.position;
    RETURN NULL;
END
$$;
