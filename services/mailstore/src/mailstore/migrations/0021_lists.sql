-- Mailing lists and catch-all addresses (issue 16, "Addresses"). Expanded where mail is
-- stored (mailstore.recipients, db/delivery.py), like aliases: each account reached gets
-- one entry per message, whatever number of lists reach it.
CREATE TABLE lists (
    -- Lowercased like accounts.address. No account or alias has the same address:
    -- db.lists.create_list, db.recipients.add_alias and accounts' creation check it
    -- under the same advisory lock.
    address text PRIMARY KEY CHECK (address = lower(address)),
    -- Who may post (the gateway's RCPT check, 550 5.7.1 for the rest): 'members' only
    -- the list's members, 'local' any account of ours, 'anyone' everyone.
    policy text NOT NULL DEFAULT 'members' CHECK (policy IN ('members', 'local', 'anyone')),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- A member is an address, not an account id: it may be an account's, an alias's or
-- another list's (expanded recursively, each list once, so a loop ends). Removing an
-- alias or a list removes its rows here (db.lists.delete_forgetting), so an account made
-- later with a freed alias address inherits no membership; a deleted account's row
-- stays and reaches nobody (its address is retired, migration 0014).
CREATE TABLE list_members (
    list_address text NOT NULL REFERENCES lists (address) ON DELETE CASCADE,
    member text NOT NULL CHECK (member = lower(member)),
    PRIMARY KEY (list_address, member)
);
-- "Which lists is this address a member of" (listing, and removing an account's memberships).
CREATE INDEX list_members_member_idx ON list_members (member);

-- Catch-all (off by default: no row): mail to an address of the domain that nothing
-- else reaches goes to the target, an account's, an alias's or a list's address
-- (removing that alias or list turns the catch-all off).
CREATE TABLE catchalls (
    domain text PRIMARY KEY CHECK (domain = lower(domain)),
    target text NOT NULL CHECK (target = lower(target))
);
