-- Administrators (issue 16): an account with the admin role, made by `python -m mailstore
-- admin grant` or by LOCALPOST_ADMINS at start. Registering never sets it: the first
-- account to sign up is no more trusted than the last.
ALTER TABLE accounts ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
CREATE INDEX accounts_admins_idx ON accounts (address) WHERE is_admin;
-- A disabled account (`python -m mailstore admin disable`) logs in nowhere and receives
-- no new mail; its mail, folders and API tokens stay for when it is enabled again.
ALTER TABLE accounts ADD COLUMN disabled_at timestamptz;

-- One-time password-reset links (issue 15), issued by `python -m mailstore reset-password`.
-- Only the SHA-256 of the link's secret is stored, as for sessions and API tokens. One
-- live link per account (a new one replaces it), so the table holds at most one row per
-- account and needs no pruning; using a link deletes its row.
CREATE TABLE password_resets (
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    account_id bigint NOT NULL UNIQUE REFERENCES accounts (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL
);
