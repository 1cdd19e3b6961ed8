-- "What changed in this folder since MODSEQ n" (db.imap_messages.changes_since: every
-- NOOP, IDLE and catch-up of every session, RFC 7162 §3.2.5; also SEARCH MODSEQ) read
-- the folder's whole (account, folder, uid) index and each entry's row to keep the few
-- whose modseq is above n: 236 buffers and 0.76 ms a call in the bench's mixed IMAP
-- load on 2,000-message folders, the statement PostgreSQL spent most time on there, and
-- growing with the folder. This index answers it with the changed entries alone.
-- Built here only on an empty store (a new installation, every test database): on a
-- store with mail, a plain CREATE INDEX would block every write for the whole build,
-- so the maintenance task builds it CONCURRENTLY (db.backfill.build_modseq_index),
-- and until then the query reads the folder as before.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM mailbox_entries) THEN
        CREATE INDEX mailbox_entries_modseq_idx
            ON mailbox_entries (account_id, folder_id, modseq);
    END IF;
END
$$;
