-- The settings page (issue 15): a person lists their sessions, ends one or all others.
-- A session is named by a plain id there, never by its secret (whose hash is the key):
-- an id in a form or URL gives nobody a way in.
ALTER TABLE sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;
-- "Firefox on Linux": the web's summary of the User-Agent at login, for the list only.
ALTER TABLE sessions ADD COLUMN device text NOT NULL DEFAULT ''
    CHECK (length(device) <= 100);

-- Per-account settings the web uses: a plain-text signature it puts under new mail (an
-- editable default), and an IANA time zone for the dates it shows ('' = the browser's).
ALTER TABLE accounts ADD COLUMN signature text NOT NULL DEFAULT ''
    CHECK (length(signature) <= 2000);
ALTER TABLE accounts ADD COLUMN time_zone text NOT NULL DEFAULT ''
    CHECK (length(time_zone) <= 64);
