-- The login throttle of /v1/auth/verify (mailstore/logins.py). An attempt reserves one
-- event under each of its keys before bcrypt runs; a correct password deletes that
-- reservation again, so only failures stay counted. The id finds the reserved rows.
ALTER TABLE throttle_events ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;

CREATE INDEX throttle_events_id_idx ON throttle_events (id);

-- Client addresses (IPv4, or IPv6 /64) that logged in to an account with its password.
-- Such a client is not held to the account's ceiling of failed logins, which a botnet can
-- fill: an attacker cannot put a row here without the password.
CREATE TABLE login_clients (
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client text NOT NULL CHECK (length(client) BETWEEN 1 AND 100),
    last_login_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (account_id, client)
);

-- The hourly pruning of clients not seen for longer than they are remembered.
CREATE INDEX login_clients_last_login_idx ON login_clients (last_login_at);
