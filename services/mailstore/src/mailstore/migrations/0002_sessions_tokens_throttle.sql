-- Server-side state of the web service (which keeps none of its own, so that several
-- replicas may run): sessions, personal API tokens, rate-limit events. Secrets are stored
-- only as their SHA-256; a lookup hashes what it was given and finds the row by the hash.

CREATE TABLE sessions (
    secret_hash bytea PRIMARY KEY CHECK (length(secret_hash) = 32),
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    -- Sliding: every use pushes it MAILSTORE_SESSION_DAYS past that use.
    expires_at timestamptz NOT NULL
);

-- "Log out everywhere" and the hourly pruning of expired sessions.
CREATE INDEX sessions_account_idx ON sessions (account_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name text NOT NULL,
    -- A revoked token is deleted: nothing needs to remember it.
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);

CREATE INDEX api_tokens_account_idx ON api_tokens (account_id, id);

-- One row per admitted event; a key never holds more rows than its limit.
CREATE TABLE throttle_events (
    key text NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    at timestamptz NOT NULL
);

CREATE INDEX throttle_events_key_at_idx ON throttle_events (key, at);
-- The hourly pruning of events older than any window, across keys.
CREATE INDEX throttle_events_at_idx ON throttle_events (at);

-- The hourly Trash purge: WHERE folder = 'trash' AND trashed_at < cutoff.
CREATE INDEX mailbox_entries_trash_age_idx ON mailbox_entries (trashed_at) WHERE folder = 'trash';
