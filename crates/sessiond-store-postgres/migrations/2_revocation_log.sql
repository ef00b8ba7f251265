-- 2: the revocation log. Cursors are not taken from a sequence (whose values can commit out of
-- order: a reader past cursor 7 would never see a 6 that commits later) but from the counter
-- row `event_log.last_cursor`, bumped in the appending statement: its row lock makes appenders
-- take turns until commit, so cursor order is commit order. `trimmed_through` is the largest
-- cursor a trim has deleted.
CREATE TABLE {s}.events (
    id      BIGINT PRIMARY KEY,
    at      BIGINT NOT NULL,
    kind    TEXT COLLATE "C" NOT NULL,
    subject TEXT COLLATE "C" NOT NULL
);
CREATE INDEX events_by_at ON {s}.events (at);
CREATE TABLE {s}.event_log (
    singleton       BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_cursor     BIGINT NOT NULL,
    trimmed_through BIGINT NOT NULL
);
INSERT INTO {s}.event_log (last_cursor, trimmed_through) VALUES (0, 0);
