-- \Recent for IMAP4rev1 (RFC 3501 §2.3.2): only the first session to be told of a
-- message sees it as \Recent. Gateways run as several replicas, so the claim lives
-- here: recent_floor is the lowest UID no session has claimed yet. A session claims
-- recent_floor .. uidnext-1 by moving the floor to uidnext in one UPDATE (db.imap_folders);
-- the row lock makes two claims take turns, so a UID is never recent in two sessions.
ALTER TABLE folders ADD COLUMN recent_floor bigint NOT NULL DEFAULT 1;
-- Messages stored before this migration are not new to anyone.
UPDATE folders SET recent_floor = uidnext;
