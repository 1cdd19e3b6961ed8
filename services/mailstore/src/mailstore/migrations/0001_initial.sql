-- Localpost mail store, first schema. Applied once by mailstore.migrations, inside the
-- runner's transaction; never edit an applied migration, add the next number instead.

CREATE TABLE accounts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Stored lowercased, so that the unique constraint is case-insensitive: RFC 5321
    -- §2.4 lets local parts be case-sensitive, but every real system treats them as not.
    address text NOT NULL UNIQUE CHECK (address = lower(address)),
    name text NOT NULL DEFAULT '',
    -- bcrypt over base64(sha256(password)); see mailstore.passwords for why.
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login_at timestamptz
);

CREATE TABLE messages (
    -- The gateway's ULID: the idempotency key of a delivery, never the Message-ID header
    -- (a sender can reuse another message's Message-ID to have it suppressed).
    id text PRIMARY KEY,
    mail_from text NOT NULL,
    rcpt_to text[] NOT NULL,
    submitted_by text,
    raw bytea NOT NULL,
    size integer NOT NULL,
    subject text NOT NULL DEFAULT '',
    from_name text NOT NULL DEFAULT '',
    from_address text NOT NULL DEFAULT '',
    to_addrs jsonb NOT NULL DEFAULT '[]',
    cc_addrs jsonb NOT NULL DEFAULT '[]',
    date timestamptz,
    message_id_header text,
    in_reply_to text,
    references_header text,
    text_body text NOT NULL DEFAULT '',
    -- Stored as received: sanitising is the web's job, at the moment it renders.
    html_body text,
    preview text NOT NULL DEFAULT '',
    has_attachments boolean NOT NULL DEFAULT false,
    parse_defects text[] NOT NULL DEFAULT '{}',
    parse_error text,
    received_at timestamptz NOT NULL DEFAULT now(),
    -- 'simple' configuration: no stemming or stop words, so every language is searchable.
    search tsvector NOT NULL
);

CREATE INDEX messages_search_idx ON messages USING gin (search);

CREATE TABLE attachments (
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    n integer NOT NULL,
    filename text,
    content_type text NOT NULL,
    size integer NOT NULL,
    content_id text,
    disposition text NOT NULL CHECK (disposition IN ('inline', 'attachment')),
    content bytea NOT NULL,
    PRIMARY KEY (message_id, n)
);

CREATE TABLE mailbox_entries (
    -- The public message id of the API: one per (account, message, role), so a message
    -- sent to oneself has one id in Sent and another in Inbox.
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    message_id text NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    role text NOT NULL CHECK (role IN ('received', 'sent')),
    folder text NOT NULL CHECK (folder IN ('inbox', 'sent', 'trash')),
    folder_before_trash text CHECK (folder_before_trash IN ('inbox', 'sent')),
    read boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    trashed_at timestamptz,
    -- The consumer's idempotency key: a redelivered message inserts nothing new.
    UNIQUE (account_id, message_id, role),
    CHECK ((folder = 'trash') = (folder_before_trash IS NOT NULL))
);

-- Keyset pagination: WHERE account_id = $1 AND folder = $2 AND (created_at, id) < ($3, $4)
-- ORDER BY created_at DESC, id DESC.
CREATE INDEX mailbox_entries_listing_idx
    ON mailbox_entries (account_id, folder, created_at DESC, id DESC);
CREATE INDEX mailbox_entries_unread_idx
    ON mailbox_entries (account_id, folder) WHERE NOT read;
-- Deleting a message forever checks whether another entry still references it.
CREATE INDEX mailbox_entries_message_idx ON mailbox_entries (message_id);

-- What a folder listing shows of each entry; the API's reads select from it.
CREATE VIEW message_summaries AS
SELECT e.id, e.account_id, e.folder, e.role, e.read, e.created_at, e.trashed_at,
       m.id AS gateway_id, m.subject, m.from_name, m.from_address, m.to_addrs, m.cc_addrs,
       m.date, m.preview, m.has_attachments, m.size
FROM mailbox_entries e JOIN messages m ON m.id = e.message_id;
