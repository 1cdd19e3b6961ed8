-- The settings page (issue 15): a person lists their sessions, ends one or all others.
-- A session is named by a plain id there, never by its secret (whose hash is the key):
-- an id in a form or URL gives nobody a way in.
ALTER TABLE sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;
-- "Firefox on Linux": the web's summary of the User-Agent at login, for the list only.
ALTER TABLE sessions ADD COLUMN device text NOT NULL DEFAULT ''
    CHECK (length(device) <= 100);
