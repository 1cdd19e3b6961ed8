-- Per-account storage quotas (issue 16). `quota` is the account's own limit in bytes,
-- set by an administrator (`python -m mailstore admin quota`, PUT /v1/accounts/{address}/
-- quota); NULL means LOCALPOST_DEFAULT_QUOTA, which lives in the service's settings, not
-- here, so changing it needs no UPDATE of every account.
ALTER TABLE accounts ADD COLUMN quota bigint CHECK (quota >= 0);
-- Bytes the account holds: the size of each stored message it has at least one entry of,
-- counted once however many folders hold it (an IMAP COPY, a message sent to oneself has
-- a Sent and an Inbox entry). Each account's copy with a Delivered-To is a message of its
-- own and counts for that account only. Maintained by the statement triggers below in the
-- transaction that inserts or deletes the entries, so a delivery never sums a mailbox and
-- emptying Trash frees room at its commit.
ALTER TABLE accounts ADD COLUMN quota_used bigint NOT NULL DEFAULT 0;

UPDATE accounts a SET quota_used = u.used
FROM (
    SELECT d.account_id, sum(m.size) AS used
    FROM (SELECT DISTINCT account_id, message_id FROM mailbox_entries) d
    JOIN messages m ON m.id = d.message_id
    GROUP BY d.account_id
) u
WHERE a.id = u.account_id;

-- Statement triggers with transition tables: one run per INSERT or DELETE, however many
-- rows (the consumer's batch is one INSERT), and no per-row round trip. Each first locks
-- the accounts' rows in id order; its next statement then has a snapshot taken after the
-- lock, which sees the commit of any transaction that held it (READ COMMITTED). Two COPYs
-- of one message into two folders at once, or two deletions of its last two entries, are
-- so counted once. Every writer of entries locks its folders before it inserts or deletes
-- (delivery, COPY, expunge, drafts), so the account row is always the last lock taken and
-- cannot close a cycle with a folder lock.
CREATE FUNCTION quota_entries_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM accounts
    WHERE id IN (SELECT DISTINCT account_id FROM new_entries) ORDER BY id FOR NO KEY UPDATE;
    -- A pair (account, message) is new when every entry it has now is one of this
    -- statement's. Asked per message first (one probe of the message_id index each):
    -- when all the message's entries are new, as in every delivery, so are all its
    -- pairs, and a message to many accounts costs no probe per account.
    WITH messages_new AS MATERIALIZED (
        SELECT g.message_id,
               g.k = (SELECT count(*) FROM mailbox_entries e
                      WHERE e.message_id = g.message_id) AS all_new
        FROM (SELECT message_id, count(*) AS k FROM new_entries GROUP BY message_id) g
    )
    UPDATE accounts a SET quota_used = a.quota_used + d.bytes
    FROM (
        SELECT n.account_id, sum(m.size) AS bytes
        FROM (SELECT account_id, message_id, count(*) AS k
              FROM new_entries GROUP BY account_id, message_id) n
        JOIN messages_new t ON t.message_id = n.message_id
        JOIN messages m ON m.id = n.message_id
        WHERE CASE WHEN t.all_new THEN true
                   ELSE (SELECT count(*) FROM mailbox_entries e
                         WHERE e.message_id = n.message_id
                           AND e.account_id = n.account_id) = n.k END
        GROUP BY n.account_id
    ) d
    WHERE a.id = d.account_id;
    RETURN NULL;
END
$$;

CREATE FUNCTION quota_entries_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM accounts
    WHERE id IN (SELECT DISTINCT account_id FROM old_entries) ORDER BY id FOR NO KEY UPDATE;
    -- The message row is still there: delete_unreferenced deletes it after its entries.
    -- As above, asked per message first: a message with no entry left is gone from
    -- every account the statement deleted it from.
    WITH messages_gone AS MATERIALIZED (
        SELECT g.message_id,
               NOT EXISTS (SELECT 1 FROM mailbox_entries e
                           WHERE e.message_id = g.message_id) AS all_gone
        FROM (SELECT DISTINCT message_id FROM old_entries) g
    )
    UPDATE accounts a SET quota_used = greatest(a.quota_used - d.bytes, 0)
    FROM (
        SELECT o.account_id, sum(m.size) AS bytes
        FROM (SELECT DISTINCT account_id, message_id FROM old_entries) o
        JOIN messages_gone t ON t.message_id = o.message_id
        JOIN messages m ON m.id = o.message_id
        WHERE CASE WHEN t.all_gone THEN true
                   ELSE NOT EXISTS (SELECT 1 FROM mailbox_entries e
                                    WHERE e.message_id = o.message_id
                                      AND e.account_id = o.account_id) END
        GROUP BY o.account_id
    ) d
    WHERE a.id = d.account_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER quota_entries_inserted AFTER INSERT ON mailbox_entries
    REFERENCING NEW TABLE AS new_entries
    FOR EACH STATEMENT EXECUTE FUNCTION quota_entries_inserted();
CREATE TRIGGER quota_entries_deleted AFTER DELETE ON mailbox_entries
    REFERENCING OLD TABLE AS old_entries
    FOR EACH STATEMENT EXECUTE FUNCTION quota_entries_deleted();
