-- Addresses of deleted accounts are never given out again (issue 15's review): mail
-- meant for the old owner (a reply to an old thread, another service's password-reset
-- mail) would otherwise reach whoever registers the address next. Only the address and
-- when it was retired are kept, nothing of the account.
CREATE TABLE IF NOT EXISTS retired_addresses (
    address text PRIMARY KEY,
    retired_at timestamptz NOT NULL DEFAULT now()
);
