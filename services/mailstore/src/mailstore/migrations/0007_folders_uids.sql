-- The mailbox model that IMAP and the web are two views of (issue 13, phase 1): folders
-- with UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ, a UID and MODSEQ per entry, IMAP flags, and
-- the UIDs expunged since a MODSEQ (RFC 3501 §2.3.1.1, RFC 7162 §3.1 and §3.2.5).
--
-- Online on a large store: this migration runs inside the runner's one transaction and
-- holds mailbox_entries' ACCESS EXCLUSIVE lock until it commits, so it must not rewrite
-- the table. Everything it does to mailbox_entries is a catalogue change: the folder
-- reference keeps the values existing rows hold (below), new columns have constant
-- defaults (no rewrite since PostgreSQL 11), and constraints are added NOT VALID. The
-- one pass over the entries is the count per folder that sets UIDNEXT. Old entries get
-- their UIDs afterwards, in small batches, from the maintenance task (mailstore.backfill),
-- which then builds the unique UID index CONCURRENTLY and sets uid NOT NULL. An empty
-- store (a new installation, every test database) is finished here at once.

-- UIDVALIDITY: a sequence started from the clock, so a database re-created from scratch
-- hands out values above those of the one it replaces, and never 0 (RFC 3501 §2.3.1.1).
-- Strictly increasing, also across rolled-back transactions: a folder deleted and
-- re-created under the same name gets a new one. At most 2^32 - 1 (a 32-bit nz-number):
-- 2.5 billion folder creations from 2026.
CREATE SEQUENCE folder_uidvalidity_seq MINVALUE 1 MAXVALUE 4294967295;
SELECT setval('folder_uidvalidity_seq', extract(epoch FROM now())::bigint);

CREATE TABLE folders (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- The folder's id within its account, which mailbox entries refer to and which never
    -- changes: 'inbox', 'sent', 'drafts', 'trash', 'junk', 'archive' for the standard
    -- folders (the API's folder names), 'f' || folder_id_seq for folders users create.
    -- Text, because the standard ids are the values mailbox_entries.folder already held:
    -- adopting them as ids rewrote no entry, where a bigint id would have meant an UPDATE
    -- of every entry under this migration's lock.
    id text NOT NULL CHECK (id ~ '^[a-z][a-z0-9]{0,19}$'),
    -- The full path, hierarchy delimiter '/' ('Work/2026/Q1'); the parent is the name up
    -- to the last '/' and need not exist (RFC 3501 §6.3.3 lets a server create it, or
    -- not). Name-prefix semantics instead of a parent column: a rename rewrites the
    -- names of the folder and its children (starts_with(name, old || '/')), a handful of
    -- rows, and no entry, since entries refer to the id. INBOX is the name 'INBOX'
    -- (RFC 3501 §5.1: case-insensitive; the future folder API folds it).
    name text NOT NULL CHECK (name <> '' AND name !~ '(^/|/$|//)'),
    special_use text CHECK (special_use IN ('\Sent', '\Drafts', '\Trash', '\Junk', '\Archive')),
    uidvalidity bigint NOT NULL DEFAULT nextval('folder_uidvalidity_seq')
        CHECK (uidvalidity BETWEEN 1 AND 4294967295),
    -- The UID the next entry gets. UIDs are 32-bit nz-numbers (RFC 3501 §9): a folder
    -- that used the last one refuses new entries until it gets a new UIDVALIDITY.
    uidnext bigint NOT NULL DEFAULT 1 CHECK (uidnext BETWEEN 1 AND 4294967296),
    -- RFC 7162 §3.1.1: every change to an entry of the folder (new, moved in or out,
    -- flags, expunged) takes highestmodseq + 1 under this row's lock.
    highestmodseq bigint NOT NULL DEFAULT 1 CHECK (highestmodseq >= 1),
    -- Expunges at or below this MODSEQ may have been forgotten (the retention of the
    -- expunged table): a QRESYNC from before it must fall back to the client's known
    -- UIDs (RFC 7162 §3.2.5).
    forgotten_modseq bigint NOT NULL DEFAULT 0,
    subscribed boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, id),
    UNIQUE (account_id, name)
);

CREATE SEQUENCE folder_id_seq;

-- Every account has these six (RFC 6154 special-use), created with it by the trigger
-- below, in the same transaction.
CREATE VIEW standard_folders (id, name, special_use, position) AS VALUES
    ('inbox', 'INBOX', NULL, 1),
    ('sent', 'Sent', '\Sent', 2),
    ('drafts', 'Drafts', '\Drafts', 3),
    ('trash', 'Trash', '\Trash', 4),
    ('junk', 'Junk', '\Junk', 5),
    ('archive', 'Archive', '\Archive', 6);

CREATE FUNCTION create_standard_folders() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO folders (account_id, id, name, special_use)
    SELECT NEW.id, s.id, s.name, s.special_use FROM standard_folders s ORDER BY s.position;
    RETURN NULL;
END
$$;

CREATE TRIGGER accounts_standard_folders AFTER INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION create_standard_folders();

INSERT INTO folders (account_id, id, name, special_use)
SELECT a.id, s.id, s.name, s.special_use
FROM accounts a CROSS JOIN standard_folders s ORDER BY a.id, s.position;

-- The entries: the folder column becomes the folder's id, the read flag IMAP's \Seen,
-- and the folder before Trash the folder a restore goes back to. Renames only: the
-- listing, unread and Trash indexes follow the columns as they are.
ALTER TABLE mailbox_entries RENAME COLUMN folder TO folder_id;
ALTER TABLE mailbox_entries RENAME COLUMN folder_before_trash TO restore_folder_id;
ALTER TABLE mailbox_entries RENAME COLUMN read TO seen;
ALTER TABLE mailbox_entries DROP CONSTRAINT mailbox_entries_folder_check;
ALTER TABLE mailbox_entries DROP CONSTRAINT mailbox_entries_folder_before_trash_check;
-- The consumer's idempotency key forbade an account holding one message twice (COPY,
-- APPEND of the same bytes). Redelivery stays idempotent on messages.id: the consumer
-- inserts entries only for messages its own transaction inserted (db.delivery).
ALTER TABLE mailbox_entries DROP CONSTRAINT mailbox_entries_account_id_message_id_role_key;
-- NOT VALID: checked for every row written from now on, without a scan under this lock;
-- existing rows all refer to standard folders created above. mailstore.backfill
-- validates them later (a validation takes no lock that blocks reads or writes).
ALTER TABLE mailbox_entries
    ADD CONSTRAINT mailbox_entries_folder_fkey FOREIGN KEY (account_id, folder_id)
        REFERENCES folders (account_id, id) NOT VALID,
    ADD CONSTRAINT mailbox_entries_restore_folder_fkey FOREIGN KEY (account_id, restore_folder_id)
        REFERENCES folders (account_id, id) NOT VALID;

-- NULL only on entries from before this migration until mailstore.backfill numbers them.
ALTER TABLE mailbox_entries ADD COLUMN uid bigint;
ALTER TABLE mailbox_entries
    ADD CONSTRAINT mailbox_entries_uid_not_null CHECK (uid IS NOT NULL) NOT VALID;
-- The folder's MODSEQ of the entry's last change (RFC 7162 §3.1); old entries are all 1.
ALTER TABLE mailbox_entries ADD COLUMN modseq bigint NOT NULL DEFAULT 1;
-- The system flags other than \Seen (RFC 3501 §2.3.2), one boolean each rather than a
-- bitmask: a flag is then a plain column test that a partial index can serve, as the
-- unread index serves NOT seen, and five booleans cost five bytes of a row. \Recent is
-- per session and not stored (RFC 9051 drops it). Keywords as IMAP atoms, at most a
-- handful per entry.
ALTER TABLE mailbox_entries
    ADD COLUMN answered boolean NOT NULL DEFAULT false,
    ADD COLUMN flagged boolean NOT NULL DEFAULT false,
    ADD COLUMN deleted boolean NOT NULL DEFAULT false,
    ADD COLUMN draft boolean NOT NULL DEFAULT false,
    ADD COLUMN keywords text[] NOT NULL DEFAULT '{}';

-- The UIDs expunged from a folder and the MODSEQ of each expunge, for QRESYNC's VANISHED
-- (RFC 7162 §3.2.5, §3.2.10). Kept MAILSTORE_VANISHED_DAYS, then forgotten by the
-- maintenance task, which raises folders.forgotten_modseq past what it deletes.
CREATE TABLE expunged (
    account_id bigint NOT NULL,
    folder_id text NOT NULL,
    uid bigint NOT NULL,
    modseq bigint NOT NULL,
    expunged_at timestamptz NOT NULL DEFAULT now(),
    -- A UID is never reused in its folder, so it is expunged at most once.
    PRIMARY KEY (account_id, folder_id, uid),
    FOREIGN KEY (account_id, folder_id) REFERENCES folders (account_id, id) ON DELETE CASCADE
);
-- VANISHED (EARLIER) since a MODSEQ, and the pruning by age.
CREATE INDEX expunged_modseq_idx ON expunged (account_id, folder_id, modseq);
CREATE INDEX expunged_age_idx ON expunged (expunged_at);

-- The folders whose entries from before this migration are not all numbered yet. Old
-- entries of a folder take UIDs 1..(their count), in arrival order (created_at, id), and
-- every entry stored or moved in from now on takes one above (uidnext starts past the
-- count). A folder listed here is not yet available to IMAP.
CREATE TABLE uid_backfill (
    account_id bigint NOT NULL,
    folder_id text NOT NULL,
    -- The UID the next old entry gets, and the keyset position of the last one numbered.
    next_uid bigint NOT NULL DEFAULT 1,
    after_created_at timestamptz NOT NULL DEFAULT '-infinity',
    after_id bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, folder_id),
    FOREIGN KEY (account_id, folder_id) REFERENCES folders (account_id, id) ON DELETE CASCADE
);

WITH counted AS (
    SELECT account_id, folder_id, count(*) AS entries
    FROM mailbox_entries GROUP BY account_id, folder_id
), advanced AS (
    UPDATE folders f SET uidnext = c.entries + 1
    FROM counted c WHERE f.account_id = c.account_id AND f.id = c.folder_id
    RETURNING f.account_id, f.id
)
INSERT INTO uid_backfill (account_id, folder_id)
SELECT account_id, id FROM advanced ORDER BY account_id, id;

-- A store without entries needs no backfill: finished now, as mailstore.backfill would.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mailbox_entries) THEN
        CREATE UNIQUE INDEX mailbox_entries_uid_idx ON mailbox_entries (account_id, folder_id, uid);
        ALTER TABLE mailbox_entries VALIDATE CONSTRAINT mailbox_entries_folder_fkey;
        ALTER TABLE mailbox_entries VALIDATE CONSTRAINT mailbox_entries_restore_folder_fkey;
        ALTER TABLE mailbox_entries VALIDATE CONSTRAINT mailbox_entries_uid_not_null;
        ALTER TABLE mailbox_entries ALTER COLUMN uid SET NOT NULL;
        ALTER TABLE mailbox_entries DROP CONSTRAINT mailbox_entries_uid_not_null;
    END IF;
END
$$;

-- What a folder listing shows of each entry; the API's reads select from it.
DROP VIEW message_summaries;
CREATE VIEW message_summaries AS
SELECT e.id, e.account_id, e.folder_id, e.role, e.seen, e.created_at, e.trashed_at, e.uid,
       e.modseq, m.id AS gateway_id, m.subject, m.from_name, m.from_address, m.to_addrs,
       m.cc_addrs, m.date, m.preview, m.has_attachments, m.size, m.sender_check,
       m.sender_claimed
FROM mailbox_entries e JOIN messages m ON m.id = e.message_id;
