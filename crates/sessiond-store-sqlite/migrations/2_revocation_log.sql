-- 2: the revocation log. Cursors come from the counter row `event_log.last_cursor`, bumped in
-- the appending write transaction: SQLite has one writer at a time across every process on the
-- file, so cursor order is commit order (and never reused, even when trimming empties the
-- table). `trimmed_through` is the largest cursor a trim has deleted.
CREATE TABLE events (
    id      INTEGER PRIMARY KEY NOT NULL,
    at      INTEGER NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL
);
CREATE INDEX events_by_at ON events (at);
CREATE TABLE event_log (
    singleton       INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    last_cursor     INTEGER NOT NULL,
    trimmed_through INTEGER NOT NULL
);
INSERT INTO event_log (singleton, last_cursor, trimmed_through) VALUES (1, 0, 0);
