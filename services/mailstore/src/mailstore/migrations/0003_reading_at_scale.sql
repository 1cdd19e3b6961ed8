-- Reading large mailboxes (docs/performance.md, "Reading": plans before and after).

-- Search lists an account's mail newest first across folders (Inbox and Sent by default):
-- mailbox_entries_listing_idx has the folder second, so it serves one folder only, and
-- every search sorted the whole account (0.1-0.5 s at 100,000-900,000 entries).
CREATE INDEX mailbox_entries_account_time_idx
    ON mailbox_entries (account_id, created_at DESC, id DESC);

-- The planner chooses between walking that index newest first (a common word) and the
-- GIN index (a rare word) by the estimated share of matching messages. A word outside the
-- most-common-lexemes list is estimated from the list's rarest entry; with the default
-- list (1,000 lexemes) a word in 0.01 % of the mail was estimated at 0.5 %, and the walk
-- chosen for it took 1.5-8 s. A longer list (up to 10,000) brings the estimate down.
ALTER TABLE messages ALTER COLUMN search SET STATISTICS 1000;
