-- The web shows and sets IMAP's flags (issue 13: a star is \Flagged, Reply sets
-- \Answered, Forward $Forwarded): the listing view carries them. CREATE OR REPLACE may
-- only append columns, so the existing ones keep their order; a view change rewrites
-- nothing.
CREATE OR REPLACE VIEW message_summaries AS
SELECT e.id, e.account_id, e.folder_id, e.role, e.seen, e.created_at, e.trashed_at, e.uid,
       e.modseq, m.id AS gateway_id, m.subject, m.from_name, m.from_address, m.to_addrs,
       m.cc_addrs, m.date, m.preview, m.has_attachments, m.size, m.sender_check,
       m.sender_claimed, e.answered, e.flagged, e.keywords
FROM mailbox_entries e JOIN messages m ON m.id = e.message_id;
