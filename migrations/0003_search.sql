-- 0003_search: an index for `--search TEXT`, a substring of any length (one character
-- and up) in the folded title or text of an item.
--
-- Why this shape:
-- * FTS5 cannot fold the way we do (NFKC, Traditional -> Simplified), so the store feeds
--   it documents it builds from folded text itself. Each document is the sequence of
--   character bigrams of the folded text (plus one closing token for the last character),
--   each bigram written as a fixed-width ASCII token for the `ascii` tokenizer. A query of
--   n >= 2 characters is then the phrase of its n-1 bigrams at consecutive positions,
--   which is exactly "is a substring"; one character is a prefix query. One index answers
--   every length (the trigram tokenizer returns nothing for 普京 and would need a second
--   index next to it).
-- * Contentless (the text is in `items` already) with contentless_delete, so rows can be
--   removed when an item is edited or merged away.
-- * The rowid is not the item id but a key that sorts like the listings do:
--   (sort_time clamped to 0..2^32-1) << 31 | item id. `ORDER BY rowid DESC LIMIT 50` on a
--   match then walks newest first and stops early, however common the term is.
-- * Indexing costs more CPU than the rest of a refresh together, so it does not happen in
--   the feed's write transaction: triggers queue changed items in `search_pending` and the
--   writer indexes the queue in batches afterwards. Queries also scan the (short) queue,
--   so search results never lag behind the items.
CREATE VIRTUAL TABLE search_grams USING fts5 (
    title,
    text,
    content = '',
    contentless_delete = 1,
    tokenize = 'ascii',
    detail = full
);

-- Items whose title or text is not (or no longer) in search_grams.
CREATE TABLE search_pending (
    item_id INTEGER PRIMARY KEY
) STRICT;

INSERT INTO search_pending (item_id) SELECT id FROM items;

CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN
    INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.id);
END;

-- An edit may change the text and the sort time (and with it the key): drop the old row
-- and queue the item again.
CREATE TRIGGER items_search_update AFTER UPDATE OF title, text, sort_time ON items BEGIN
    DELETE FROM search_grams
     WHERE rowid = (max(0, min(OLD.sort_time, 4294967295)) << 31) | OLD.id;
    INSERT OR IGNORE INTO search_pending (item_id) VALUES (NEW.id);
END;

CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN
    DELETE FROM search_grams
     WHERE rowid = (max(0, min(OLD.sort_time, 4294967295)) << 31) | OLD.id;
    DELETE FROM search_pending WHERE item_id = OLD.id;
END;
