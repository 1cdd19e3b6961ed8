-- The administrators' audit log (issue 16): every admin action, from the web, the JSON
-- API or the CLI, written in the same transaction as the action (db/audit.py), so a
-- row exists exactly when the action took effect. ``actor`` is the administrator's
-- address, or "cli:<os user>" for `python -m mailstore ...`. Kept, never pruned: it is
-- small (one row per human action) and its point is to outlive what it describes.
CREATE TABLE admin_audit (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}'
);

-- One-time invitations to sign up under LOCALPOST_REGISTRATION=invite. Only the SHA-256
-- of the link's secret is stored, as for password resets (0015). Using one sets
-- used_at in the same transaction as the account's INSERT (db/accounts.create_account):
-- the UPDATE's row lock makes a second sign-up with the same link wait, then find it
-- used. ``address``: the one address it may create, or NULL for any.
CREATE TABLE invitations (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    address text CHECK (address = lower(address)),
    created_by text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at timestamptz,
    used_by text,
    revoked_at timestamptz
);

-- Settings an administrator changes at run time (the web's /admin). A row overrides the
-- environment's default (LOCALPOST_REGISTRATION for "registration") once it exists.
CREATE TABLE service_settings (
    name text PRIMARY KEY,
    value text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    changed_by text NOT NULL
);
