-- The POP3 maildrop lock (RFC 1939 §8: a session has exclusive access to the maildrop
-- from PASS until QUIT). Gateways run as several replicas, so the lock lives here, as a
-- lease: the session that holds it renews it; a gateway that dies without releasing it
-- lets it expire, and the next POP3 login of the account takes it over.
CREATE TABLE pop3_locks (
    account_id bigint PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    -- A random name per POP3 session, chosen by the gateway.
    holder text NOT NULL CHECK (length(holder) BETWEEN 1 AND 100),
    expires_at timestamptz NOT NULL
);
