-- SEARCH's texts (migration 0016's messages.imap_search) on each entry too, so that
-- SEARCH SUBJECT, FROM, TO, CC and BCC read only the folder's entries. Joined to
-- messages, each candidate cost an index lookup into a wide table: the bench's `SEARCH
-- UNSEEN SUBJECT word` spent 4.4 of its 9 ms (2,000 candidates) in the join, and the
-- SEARCH statement was most of PostgreSQL's time in the mixed IMAP load. A message's
-- texts never change once written (they are written with the row, or once by the
-- backfill), so the copy cannot go stale. Each path that inserts an entry copies them;
-- the entries from before this migration are filled by the maintenance task
-- (db.backfill.copy_entry_texts) in short batches, walking the entry ids on from
-- entry_search_backfill.after_id; until then SEARCH reads the message's, as before.
-- A nullable column without a default is a catalogue change: nothing is rewritten.
ALTER TABLE mailbox_entries ADD COLUMN imap_search jsonb;
-- In the row, as on messages (0016): SEARCH reads it for every candidate.
ALTER TABLE mailbox_entries ALTER COLUMN imap_search SET STORAGE MAIN;

CREATE TABLE entry_search_backfill (after_id bigint NOT NULL);
INSERT INTO entry_search_backfill (after_id) SELECT 0 WHERE EXISTS (SELECT 1 FROM mailbox_entries);
