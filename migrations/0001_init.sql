-- 0001_init: the first schema. Feeds with their health, each story stored once (unique
-- on its content hash), every (feed, entry) that delivered it, and the watchlist tags
-- that explain why a topic applies. Times are unix seconds (UTC) so range filters and
-- the newest-first order are plain integer index scans. Full-text search comes later in
-- its own migration.

-- One row per configured feed, keyed by name. Rows of feeds removed from the config stay,
-- so their items keep a source name.
CREATE TABLE feeds (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    url           TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    -- validators for the next conditional GET
    etag          TEXT,
    last_modified TEXT,
    -- health
    last_fetch    INTEGER,
    last_success  INTEGER,
    last_status   INTEGER,
    last_error    TEXT,
    error_streak  INTEGER NOT NULL DEFAULT 0,
    entries_seen  INTEGER NOT NULL DEFAULT 0,
    next_poll     INTEGER,
    final_url     TEXT
) STRICT;

-- One row per distinct story. `uid` is the public id, derived from the first hash the
-- item had and never changed; `content_hash` is the current one. `sort_time` is
-- published, or first_seen when undated: the single key every listing orders by.
-- The large columns come last so scans that filter on the small ones never read the
-- overflow pages holding html and text.
--
-- uid uniqueness without a full index: a uid is the first 16 bytes of a content hash,
-- so while an item keeps the hash it was named after, the unique content_hash already
-- rules out a second item with its uid. Only items whose uid is *not* their current
-- hash's (edited in place, or given a suffixed uid) are `uid_pinned`, and only those are
-- indexed; the store checks that index before handing out a uid. A full uid index
-- would add one random B-tree leaf write per new item, about a quarter of the pages
-- each refresh writes.
CREATE TABLE items (
    id           INTEGER PRIMARY KEY,
    uid          TEXT    NOT NULL,
    uid_pinned   INTEGER NOT NULL DEFAULT 0,
    content_hash BLOB    NOT NULL UNIQUE,
    sort_time    INTEGER NOT NULL,
    published    INTEGER,
    first_seen   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    link         TEXT,
    authors      TEXT    NOT NULL DEFAULT '[]',  -- JSON array of strings
    categories   TEXT    NOT NULL DEFAULT '[]',  -- JSON array of strings
    text         TEXT    NOT NULL,
    html         TEXT    NOT NULL
) STRICT;

CREATE INDEX items_newest ON items (sort_time DESC, id DESC);
CREATE UNIQUE INDEX items_uid_pinned ON items (uid) WHERE uid_pinned;

-- Every (feed, entry id) that delivered an item: the same story in three feeds is one
-- item with three sources.
CREATE TABLE item_sources (
    id         INTEGER PRIMARY KEY,
    feed_id    INTEGER NOT NULL REFERENCES feeds (id) ON DELETE CASCADE,
    entry_id   TEXT    NOT NULL,
    item_id    INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    link       TEXT,
    first_seen INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    UNIQUE (feed_id, entry_id)
) STRICT;

-- item -> its feeds (and the cascade from items); feed -> its items (counts, --feed).
CREATE INDEX item_sources_item ON item_sources (item_id, feed_id);
CREATE INDEX item_sources_feed ON item_sources (feed_id, item_id);

CREATE TABLE topics (
    id   INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
) STRICT;

-- One row per watchlist match, so every tag can be explained. Clustered by item: the
-- item view reads all of an item's matches in one range.
CREATE TABLE item_tags (
    item_id     INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    topic_id    INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    field       TEXT    NOT NULL CHECK (field IN ('title', 'text')),
    byte_offset INTEGER NOT NULL,  -- in that field's plain text
    term        TEXT    NOT NULL,
    PRIMARY KEY (item_id, topic_id, field, byte_offset, term)
) STRICT, WITHOUT ROWID;

-- One row per (topic, item), carrying the item's sort_time: `--tag T` newest first with a
-- LIMIT is then a range scan of this index that stops after LIMIT rows, however common
-- or rare the topic is. Kept in step with item_tags and items.sort_time by the store.
CREATE TABLE item_topics (
    topic_id  INTEGER NOT NULL REFERENCES topics (id) ON DELETE CASCADE,
    sort_time INTEGER NOT NULL,
    item_id   INTEGER NOT NULL REFERENCES items (id) ON DELETE CASCADE,
    PRIMARY KEY (topic_id, sort_time, item_id)
) STRICT, WITHOUT ROWID;

-- item -> topics (--untagged, and the cascade from items).
CREATE INDEX item_topics_item ON item_topics (item_id);
