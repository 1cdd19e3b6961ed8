-- The gateway's verdict on who a message claims to be from (docs/security.md, "Sender
-- identity"): its Authentication-Results localpost-sender result and the mailbox it names.
-- NULL on mail stored before, or that did not come through the gateway. Nullable without
-- a default: adding the columns rewrites no row.
ALTER TABLE messages
    ADD COLUMN sender_check text CHECK (sender_check IN ('pass', 'fail', 'none')),
    ADD COLUMN sender_claimed text;

-- The listing shows a marker on a fail; new columns go at the end (CREATE OR REPLACE VIEW
-- may only add columns there).
CREATE OR REPLACE VIEW message_summaries AS
SELECT e.id, e.account_id, e.folder, e.role, e.read, e.created_at, e.trashed_at,
       m.id AS gateway_id, m.subject, m.from_name, m.from_address, m.to_addrs, m.cc_addrs,
       m.date, m.preview, m.has_attachments, m.size, m.sender_check, m.sender_claimed
FROM mailbox_entries e JOIN messages m ON m.id = e.message_id;
