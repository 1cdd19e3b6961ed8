-- Keep each message's tsvector in its own row (docs/performance.md, "Reading").
--
-- A phrase search rechecks the words' positions in every message the GIN index returns
-- for its words, and a walk tests the newest entries' tsvectors one by one. Stored the
-- default way (EXTENDED), a tsvector of a few kilobytes went to the TOAST table, and each
-- test paid a TOAST index lookup and a second page: rechecking 1,277 candidates took
-- 6.7 ms that way and 3.6 ms inline (MAIN: compressed, moved out only when nothing else
-- makes the row fit). raw and the bodies, the large columns, still go out first.
-- Applies to rows stored from now on; existing rows move when they are next rewritten.
ALTER TABLE messages ALTER COLUMN search SET STORAGE MAIN;
