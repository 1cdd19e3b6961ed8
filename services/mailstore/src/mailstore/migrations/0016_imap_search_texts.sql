-- What IMAP's SEARCH SUBJECT, FROM, TO, CC and BCC compare with
-- (mailstore.imap_search.stored_texts: each decoded value, and the written addresses,
-- case-folded), so that SEARCH decides those keys in SQL instead of reading and parsing
-- every candidate's header out of the TOASTed raw column. The consumer and APPEND fill
-- it with the message. A nullable column without a default is a catalogue change: the
-- migration rewrites nothing. Messages stored before it are described by the
-- maintenance task in small batches (db.backfill.describe_old_messages), walking the
-- ids from imap_search_backfill.after_id; until then SEARCH reads their octets as before.
ALTER TABLE messages ADD COLUMN imap_search jsonb;
-- Kept in the row (compressed if need be) rather than moved to the TOAST table, which a
-- wide messages row does to it otherwise: SEARCH reads it for every candidate, and each
-- out-of-line read is a TOAST index lookup (the bench's SUBJECT search: 16,500 buffers
-- -> 6,000, 31 -> 21 ms for 2,000 candidates). It applies to the rows written from now on
-- (delivered, appended, backfilled): no rewrite.
ALTER TABLE messages ALTER COLUMN imap_search SET STORAGE MAIN;

CREATE TABLE imap_search_backfill (after_id text NOT NULL);
INSERT INTO imap_search_backfill (after_id) SELECT '' WHERE EXISTS (SELECT 1 FROM messages);
