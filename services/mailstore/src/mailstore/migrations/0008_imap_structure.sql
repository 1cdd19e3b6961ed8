-- The IMAP view of each message's structure (mailstore.imap_structure.describe): the
-- ENVELOPE fields and the MIME tree with byte offsets, from which the IMAP gateway
-- renders ENVELOPE, BODYSTRUCTURE and BODY[section] identically every time (clients
-- cache them). The consumer and APPEND fill it with the message; NULL on messages
-- stored before this migration, computed from the raw bytes and saved on first read
-- (db.imap_messages), so the migration rewrites nothing: a nullable column without a
-- default is a catalogue change.
ALTER TABLE messages ADD COLUMN imap_structure jsonb;
