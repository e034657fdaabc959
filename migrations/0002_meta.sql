-- 0002_meta: small facts about the database as a whole, one row per key. The first is the
-- fingerprint of the watchlist every stored item was last tagged with (written by
-- `retag` and by the first poll of an empty store), so a poll under a changed watchlist
-- can say that stored tags are stale instead of silently mixing two watchlists.
CREATE TABLE meta (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
