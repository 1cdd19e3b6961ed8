-- Aliases (issue 16): an address that delivers to one or more accounts (info@ -> alice,
-- bob). One row per (alias, account); the alias exists while it has a row. Expanded
-- where mail is stored (db/delivery.py), so each account gets one entry per message.
-- An account deleted leaves its aliases (ON DELETE CASCADE); an alias left with no
-- account is gone with its last row, and its address reaches nobody again.
CREATE TABLE aliases (
    -- Lowercased like accounts.address. That no account has the same address is
    -- checked by db.recipients.add_alias and by accounts' creation, in both directions.
    address text NOT NULL CHECK (address = lower(address)),
    account_id bigint NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    PRIMARY KEY (address, account_id)
);
-- "Which aliases may this account send as" (the gateway's sender check) and the cascade.
CREATE INDEX aliases_account_idx ON aliases (account_id);
