-- The relay's progress as one row instead of a mark on every event.
-- Events are published strictly in `seq` order, and `seq` order is commit order
-- on both backends, so "published" is always a prefix of the log: one position
-- says it all. Marking each event rewrote every published row (and, on
-- PostgreSQL, every index entry of it); the partial index of unpublished rows
-- went with the marks.
CREATE TABLE relay_position (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    seq          BIGINT NOT NULL,
    -- When the relay last moved the position (Unix milliseconds).
    published_at BIGINT
);
INSERT INTO relay_position (id, seq, published_at)
SELECT 1, COALESCE(MAX(seq), 0), MAX(published_at) FROM events WHERE published_at IS NOT NULL;

DROP INDEX events_unpublished;
ALTER TABLE events DROP COLUMN published_at;
