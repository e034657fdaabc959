//! Writing one feed refresh: the feed's health, then each story as an item (stored once
//! per content hash), its source (feed, entry id) and its watchlist tags.
//!
//! The identity rules live here: a known source with the same hash is only marked seen;
//! an entry edited in place updates its item (keeping the public uid) or moves to the
//! item that already has the new text; an unknown source joins the item with its hash or
//! creates one. Which text a story has and which topics match it are decided upstream.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, TransactionBehavior, params};

use super::feeds::{self, Success};
use super::{FeedRefresh, RefreshOutcome, RefreshStats, Store, StoreError, sql_err};
use crate::model::{ContentHash, Story, TagMatch};

/// How many uids are tried when the natural one is taken. A uid is only taken when an
/// item's text was edited away from the hash it was named after and that text then
/// turns up again, so the first suffix practically always wins.
const UID_ATTEMPTS: u32 = 64;

impl Store {
    /// Writes one refresh in one IMMEDIATE transaction.
    pub fn apply_refresh(&mut self, refresh: &FeedRefresh) -> Result<RefreshStats, StoreError> {
        let mut results = self.apply_refreshes(std::slice::from_ref(refresh))?;
        results.pop().unwrap_or(Ok(RefreshStats::default()))
    }

    /// Writes several refreshes in one IMMEDIATE transaction (group commit). Each
    /// refresh stays all-or-nothing: if any of them fails, the whole group is rolled back
    /// and every refresh is written again in a transaction of its own, so one bad refresh
    /// costs only itself.
    ///
    /// Why: every commit writes each page it dirtied to the WAL in full, and the pages
    /// near the top of the indexes are dirtied by every feed; committing the refreshes
    /// that are already waiting together writes those pages once instead of once per
    /// feed. Savepoints would isolate failures too, but journal every page they touch,
    /// which costs more than the rare retry.
    pub fn apply_refreshes(
        &mut self,
        refreshes: &[FeedRefresh],
    ) -> Result<Vec<Result<RefreshStats, StoreError>>, StoreError> {
        if refreshes.len() > 1 {
            match self.apply_group(refreshes) {
                Ok(stats) => return Ok(stats.into_iter().map(Ok).collect()),
                Err(e) => {
                    tracing::debug!(error = %e, "group commit failed; writing one refresh at a time");
                }
            }
        }
        let mut results = Vec::with_capacity(refreshes.len());
        for refresh in refreshes {
            let result = self.apply_group(std::slice::from_ref(refresh));
            results.push(result.map(|mut s| s.pop().unwrap_or_default()));
        }
        Ok(results)
    }

    /// All of `refreshes` in one IMMEDIATE transaction, or none of them.
    fn apply_group(&mut self, refreshes: &[FeedRefresh]) -> Result<Vec<RefreshStats>, StoreError> {
        let Store {
            path,
            conn,
            topic_ids,
            ..
        } = self;
        let err = sql_err(path);
        // IMMEDIATE takes the write lock up front: a deferred transaction that reads
        // first and then writes fails at once with "database is locked", ignoring
        // busy_timeout, when another connection wrote in between.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let mut stats = Vec::with_capacity(refreshes.len());
        for refresh in refreshes {
            match apply_one(&tx, path, topic_ids, refresh) {
                Ok(s) => stats.push(s),
                Err(e) => {
                    // Topic ids created inside the rolled-back transaction no longer exist.
                    topic_ids.clear();
                    return Err(e);
                }
            }
        }
        if let Err(e) = tx.commit() {
            topic_ids.clear();
            return Err(err(e));
        }
        Ok(stats)
    }
}

/// Writes one refresh inside the caller's transaction or savepoint.
fn apply_one(
    tx: &rusqlite::Connection,
    path: &str,
    topic_ids: &mut HashMap<String, i64>,
    refresh: &FeedRefresh,
) -> Result<RefreshStats, StoreError> {
    let err = sql_err(path);
    let Some(feed_id) = feeds::feed_id(tx, &refresh.feed).map_err(&err)? else {
        return Err(StoreError::UnknownFeed {
            path: path.to_string(),
            feed: refresh.feed.clone(),
        });
    };
    let at = refresh.fetched_at.timestamp();
    let next_poll = refresh.next_poll.map(|t| t.timestamp());
    let mut stats = RefreshStats::default();
    match &refresh.outcome {
        RefreshOutcome::Failed { status, error } => {
            feeds::record_failure(tx, feed_id, at, *status, error, next_poll).map_err(&err)?;
        }
        RefreshOutcome::NotModified { status } => {
            feeds::record_not_modified(tx, feed_id, at, *status, next_poll).map_err(&err)?;
        }
        RefreshOutcome::Stored {
            status,
            final_url,
            validators,
            stories,
        } => {
            stats.entries = stories.len() as u64;
            let success = Success {
                at,
                status: *status,
                final_url,
                validators,
                entries: stats.entries,
                next_poll,
            };
            feeds::record_success(tx, feed_id, &success).map_err(&err)?;
            let mut writer = Writer {
                tx,
                topic_ids,
                feed_id,
                at,
            };
            for story in stories {
                writer.story(story, &mut stats).map_err(&err)?;
            }
        }
    }
    Ok(stats)
}

/// The state shared by the stories of one refresh.
struct Writer<'a> {
    tx: &'a rusqlite::Connection,
    topic_ids: &'a mut HashMap<String, i64>,
    feed_id: i64,
    /// fetched_at, unix seconds: first_seen / last_seen / updated_at.
    at: i64,
}

/// An existing source of this feed for the story's entry id.
struct Source {
    id: i64,
    item_id: i64,
    same_hash: bool,
}

impl Writer<'_> {
    fn story(&mut self, story: &Story, stats: &mut RefreshStats) -> rusqlite::Result<()> {
        let hash = &story.content_hash.0[..];
        let source = self
            .tx
            .prepare_cached(
                "SELECT s.id, s.item_id, i.content_hash = ?3
                 FROM item_sources s JOIN items i ON i.id = s.item_id
                 WHERE s.feed_id = ?1 AND s.entry_id = ?2",
            )?
            .query_row(params![self.feed_id, story.entry_id, hash], |row| {
                Ok(Source {
                    id: row.get(0)?,
                    item_id: row.get(1)?,
                    same_hash: row.get(2)?,
                })
            })
            .optional()?;
        match source {
            // The common case on every poll: nothing changed, only note that it is
            // still in the feed. The html and text are not rewritten.
            Some(source) if source.same_hash => self.touch_source(source.id, story, None),
            Some(source) => self.edited(source, story, stats),
            None => match self.item_by_hash(hash)? {
                Some(item_id) => {
                    let had_feed: bool = self
                        .tx
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM item_sources
                                            WHERE item_id = ?1 AND feed_id = ?2)",
                        )?
                        .query_row(params![item_id, self.feed_id], |row| row.get(0))?;
                    self.insert_source(item_id, story)?;
                    if !had_feed {
                        stats.new_sources += 1;
                    }
                    Ok(())
                }
                None => {
                    let item_id = self.insert_item(story)?;
                    self.insert_source(item_id, story)?;
                    stats.new_items += 1;
                    Ok(())
                }
            },
        }
    }

    /// The entry's text changed since this source last delivered it.
    fn edited(
        &mut self,
        source: Source,
        story: &Story,
        stats: &mut RefreshStats,
    ) -> rusqlite::Result<()> {
        let hash = &story.content_hash.0[..];
        if let Some(other) = self.item_by_hash(hash)? {
            // The new text is already stored (another feed had it, or the entry was
            // edited back): join that item and drop the old one if nothing else has it.
            self.touch_source(source.id, story, Some(other))?;
            self.tx
                .prepare_cached(
                    "DELETE FROM items WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM item_sources WHERE item_id = ?1)",
                )?
                .execute([source.item_id])?;
            stats.updated_items += 1;
            return Ok(());
        }
        let shared: bool = self
            .tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM item_sources WHERE item_id = ?1 AND id <> ?2)",
            )?
            .query_row(params![source.item_id, source.id], |row| row.get(0))?;
        if shared {
            // Other sources still deliver the old text. Editing the item in place would
            // make each poll of the other feed edit it back; the edited entry gets an
            // item of its own instead.
            let item_id = self.insert_item(story)?;
            self.touch_source(source.id, story, Some(item_id))?;
            stats.new_items += 1;
            return Ok(());
        }
        let sort_time: i64 = self
            .tx
            .prepare_cached(
                "UPDATE items SET uid_pinned = 1,
                                  content_hash = ?2, title = ?3, link = ?4, published = ?5,
                                  sort_time = coalesce(?5, first_seen), updated_at = ?6,
                                  authors = ?7, categories = ?8, text = ?9, html = ?10
                 WHERE id = ?1
                 RETURNING sort_time",
            )?
            .query_row(
                params![
                    source.item_id,
                    hash,
                    story.title,
                    story.link,
                    story.published.map(|t| t.timestamp()),
                    self.at,
                    json_list(&story.authors),
                    json_list(&story.categories),
                    story.text,
                    story.html,
                ],
                |row| row.get(0),
            )?;
        self.tx
            .prepare_cached("DELETE FROM item_tags WHERE item_id = ?1")?
            .execute([source.item_id])?;
        self.tx
            .prepare_cached("DELETE FROM item_topics WHERE item_id = ?1")?
            .execute([source.item_id])?;
        self.write_tags(source.item_id, sort_time, &story.matches)?;
        self.touch_source(source.id, story, None)?;
        stats.updated_items += 1;
        Ok(())
    }

    fn item_by_hash(&self, hash: &[u8]) -> rusqlite::Result<Option<i64>> {
        self.tx
            .prepare_cached("SELECT id FROM items WHERE content_hash = ?1")?
            .query_row([hash], |row| row.get(0))
            .optional()
    }

    /// Marks a source as still delivered, optionally moving it to another item.
    fn touch_source(
        &self,
        source_id: i64,
        story: &Story,
        item_id: Option<i64>,
    ) -> rusqlite::Result<()> {
        self.tx
            .prepare_cached(
                "UPDATE item_sources SET last_seen = ?2, link = ?3,
                                         item_id = coalesce(?4, item_id)
                 WHERE id = ?1",
            )?
            .execute(params![source_id, self.at, story.link, item_id])?;
        Ok(())
    }

    fn insert_source(&self, item_id: i64, story: &Story) -> rusqlite::Result<()> {
        // A second entry with the same id in one document is the same source: only the
        // first is recorded.
        self.tx
            .prepare_cached(
                "INSERT INTO item_sources (feed_id, entry_id, item_id, link, first_seen,
                                           last_seen)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?5)
                 ON CONFLICT (feed_id, entry_id) DO NOTHING",
            )?
            .execute(params![
                self.feed_id,
                story.entry_id,
                item_id,
                story.link,
                self.at
            ])?;
        Ok(())
    }

    /// Inserts a new item with its tags and returns its row id. The caller has checked
    /// that no item has this hash, so only the uid can be taken, and only by a pinned
    /// item (see the `items` table in the first migration).
    fn insert_item(&mut self, story: &Story) -> rusqlite::Result<i64> {
        let base = story.content_hash.item_uid();
        let mut uid = base.clone();
        let mut attempt = 0;
        while self.uid_taken(&uid)? {
            attempt += 1;
            if attempt >= UID_ATTEMPTS {
                return Err(uid_exhausted(&story.content_hash));
            }
            uid = format!("{base}-{attempt}");
        }
        let published = story.published.map(|t| t.timestamp());
        let sort_time = published.unwrap_or(self.at);
        // No RETURNING here: SQLite buffers RETURNING rows in a temporary table, which
        // costs more than the insert itself on this hot path.
        self.tx
            .prepare_cached(
                "INSERT INTO items (uid, uid_pinned, content_hash, sort_time, published,
                                    first_seen, updated_at, title, link, authors,
                                    categories, text, html)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                uid,
                attempt > 0,
                &story.content_hash.0[..],
                sort_time,
                published,
                self.at,
                story.title,
                story.link,
                json_list(&story.authors),
                json_list(&story.categories),
                story.text,
                story.html,
            ])?;
        let item_id = self.tx.last_insert_rowid();
        self.write_tags(item_id, sort_time, &story.matches)?;
        Ok(item_id)
    }

    fn uid_taken(&self, uid: &str) -> rusqlite::Result<bool> {
        self.tx
            .prepare_cached("SELECT EXISTS (SELECT 1 FROM items WHERE uid = ?1 AND uid_pinned)")?
            .query_row([uid], |row| row.get(0))
    }

    fn write_tags(
        &mut self,
        item_id: i64,
        sort_time: i64,
        matches: &[TagMatch],
    ) -> rusqlite::Result<()> {
        let mut topics_done: Vec<i64> = Vec::new();
        for m in matches {
            let topic_id = self.topic_id(&m.topic)?;
            self.tx
                .prepare_cached(
                    "INSERT INTO item_tags (item_id, topic_id, field, byte_offset, term)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    item_id,
                    topic_id,
                    m.field.as_str(),
                    i64::try_from(m.offset).unwrap_or(i64::MAX),
                    m.term
                ])?;
            if !topics_done.contains(&topic_id) {
                topics_done.push(topic_id);
                self.tx
                    .prepare_cached(
                        "INSERT INTO item_topics (topic_id, sort_time, item_id)
                         VALUES (?1, ?2, ?3)
                         ON CONFLICT DO NOTHING",
                    )?
                    .execute(params![topic_id, sort_time, item_id])?;
            }
        }
        Ok(())
    }

    fn topic_id(&mut self, name: &str) -> rusqlite::Result<i64> {
        if let Some(id) = self.topic_ids.get(name) {
            return Ok(*id);
        }
        // DO UPDATE (a no-op write) rather than DO NOTHING so RETURNING also yields the
        // id of a topic that already exists.
        let id: i64 = self
            .tx
            .prepare_cached(
                "INSERT INTO topics (name) VALUES (?1)
                 ON CONFLICT (name) DO UPDATE SET name = excluded.name
                 RETURNING id",
            )?
            .query_row([name], |row| row.get(0))?;
        self.topic_ids.insert(name.to_string(), id);
        Ok(id)
    }
}

/// A list of names as a JSON array. Serializing strings cannot fail; should it ever,
/// an empty list is stored rather than losing the whole refresh.
fn json_list(list: &[String]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".to_string())
}

fn uid_exhausted(hash: &ContentHash) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CONSTRAINT),
        Some(format!(
            "no free item uid for content hash {} after {UID_ATTEMPTS} attempts",
            hash.to_hex()
        )),
    )
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{items, refresh, story, sync, tagged, titles};
    use super::*;
    use crate::model::ItemFilter;

    fn open() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("f.db")).unwrap();
        sync(&mut store, &["a", "b", "c"]);
        (dir, store)
    }

    #[test]
    fn a_failing_refresh_in_a_group_costs_only_itself() {
        let (_dir, mut store) = open();
        let group = [
            refresh("a", 100, vec![story("e1", "one", 50)]),
            refresh("ghost", 100, vec![story("e2", "two", 60)]),
            refresh(
                "b",
                100,
                vec![story("e3", "three", 70), story("e1", "one", 50)],
            ),
        ];
        let results = store.apply_refreshes(&group).unwrap();
        assert_eq!(results[0].as_ref().unwrap().new_items, 1);
        assert!(matches!(results[1], Err(StoreError::UnknownFeed { .. })));
        let third = results[2].as_ref().unwrap();
        assert_eq!((third.new_items, third.new_sources), (1, 1));
        let mut stored = titles(&store, &ItemFilter::default());
        stored.sort();
        assert_eq!(stored, ["one", "three"]);
        // A group that succeeds whole commits whole.
        let ok = [
            refresh("c", 200, vec![story("e4", "four", 80)]),
            refresh("a", 200, vec![story("e1", "one", 50)]),
        ];
        let results = store.apply_refreshes(&ok).unwrap();
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(store.item_count().unwrap(), 3);
    }

    fn count(store: &Store, table: &str) -> i64 {
        store
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    fn edit(mut s: Story, title: &str) -> Story {
        let fresh = story(&s.entry_id, title, 0);
        s.title = fresh.title;
        s.text = fresh.text;
        s.html = fresh.html;
        s.content_hash = fresh.content_hash;
        s
    }

    #[test]
    fn same_story_in_two_feeds_is_one_item_with_both_feeds() {
        let (_dir, mut store) = open();
        let s = tagged(story("a-1", "美俄关系", 100), &["美俄"]);
        let first = store
            .apply_refresh(&refresh("a", 1000, vec![s.clone()]))
            .unwrap();
        assert_eq!(
            (first.new_items, first.new_sources, first.entries),
            (1, 0, 1)
        );
        let mut other = s.clone();
        other.entry_id = "b-77".to_string();
        let second = store
            .apply_refresh(&refresh("b", 1001, vec![other]))
            .unwrap();
        assert_eq!((second.new_items, second.new_sources), (0, 1));

        let all = items(&store, &ItemFilter::default());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].feeds, ["a", "b"]);
        assert_eq!(all[0].tags, ["美俄"]);
        assert_eq!(all[0].id, s.content_hash.item_uid());
        assert_eq!(all[0].content_hash, s.content_hash.to_hex());
        let h = store.feeds().unwrap();
        assert_eq!((h[0].items, h[1].items, h[2].items), (1, 1, 0));
    }

    #[test]
    fn reapplying_a_refresh_adds_nothing() {
        let (_dir, mut store) = open();
        let batch = vec![
            tagged(story("e1", "one", 100), &["t"]),
            story("e2", "two", 200),
        ];
        store
            .apply_refresh(&refresh("a", 1000, batch.clone()))
            .unwrap();
        let again = store.apply_refresh(&refresh("a", 2000, batch)).unwrap();
        assert_eq!(
            again,
            RefreshStats {
                entries: 2,
                ..Default::default()
            }
        );
        assert_eq!(count(&store, "items"), 2);
        assert_eq!(count(&store, "item_sources"), 2);
        assert_eq!(count(&store, "item_tags"), 1);
        let last_seen: i64 = store
            .conn
            .query_row("SELECT min(last_seen) FROM item_sources", [], |r| r.get(0))
            .unwrap();
        assert_eq!(last_seen, 2000);
    }

    #[test]
    fn edited_entry_updates_its_item_and_keeps_the_uid() {
        let (_dir, mut store) = open();
        let original = tagged(story("e1", "普京会晤", 100), &["普京"]);
        store
            .apply_refresh(&refresh("a", 1000, vec![original.clone()]))
            .unwrap();
        let mut edited = tagged(edit(original.clone(), "三方会晤"), &["三方会晤"]);
        edited.published = Some(super::super::testutil::at(500));
        let stats = store
            .apply_refresh(&refresh("a", 2000, vec![edited.clone()]))
            .unwrap();
        assert_eq!((stats.new_items, stats.updated_items), (0, 1));

        let all = items(&store, &ItemFilter::default());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].id, original.content_hash.item_uid());
        assert_eq!(all[0].title, "三方会晤");
        assert_eq!(all[0].content_hash, edited.content_hash.to_hex());
        assert_eq!(all[0].tags, ["三方会晤"], "old tags must go");
        assert_eq!(all[0].published, edited.published);
        // The tag index follows the new sort time.
        let tagged_new = titles(
            &store,
            &ItemFilter {
                tags_all: vec!["三方会晤".into()],
                since: Some(super::super::testutil::at(400)),
                ..Default::default()
            },
        );
        assert_eq!(tagged_new, ["三方会晤"]);
        assert!(
            titles(
                &store,
                &ItemFilter {
                    tags_all: vec!["普京".into()],
                    ..Default::default()
                }
            )
            .is_empty()
        );
        // Later polls with the edited text are plain sightings.
        let again = store
            .apply_refresh(&refresh("a", 3000, vec![edited]))
            .unwrap();
        assert_eq!((again.new_items, again.updated_items), (0, 0));
    }

    #[test]
    fn entry_edited_into_an_existing_story_is_merged_without_orphans() {
        let (_dir, mut store) = open();
        let wire = tagged(story("b-1", "通稿", 100), &["wire"]);
        store
            .apply_refresh(&refresh("b", 1000, vec![wire.clone()]))
            .unwrap();
        let draft = tagged(story("a-1", "草稿", 100), &["draft"]);
        store
            .apply_refresh(&refresh("a", 1000, vec![draft.clone()]))
            .unwrap();
        assert_eq!(count(&store, "items"), 2);

        let mut now_wire = wire.clone();
        now_wire.entry_id = "a-1".to_string();
        let stats = store
            .apply_refresh(&refresh("a", 2000, vec![now_wire]))
            .unwrap();
        assert_eq!((stats.new_items, stats.updated_items), (0, 1));

        let all = items(&store, &ItemFilter::default());
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].title, "通稿");
        assert_eq!(all[0].feeds, ["a", "b"]);
        assert_eq!(all[0].tags, ["wire"]);
        assert_eq!(count(&store, "item_sources"), 2);
        assert_eq!(count(&store, "item_tags"), 1, "the draft's tags cascade");
        assert_eq!(count(&store, "item_topics"), 1);
    }

    #[test]
    fn edit_of_a_shared_story_splits_instead_of_flapping() {
        let (_dir, mut store) = open();
        let s = story("x", "共同", 100);
        store
            .apply_refresh(&refresh("a", 1000, vec![s.clone()]))
            .unwrap();
        store
            .apply_refresh(&refresh("b", 1000, vec![s.clone()]))
            .unwrap();
        let edited = edit(s.clone(), "改过");
        let first = store
            .apply_refresh(&refresh("a", 2000, vec![edited.clone()]))
            .unwrap();
        assert_eq!(first.new_items, 1);
        // Both feeds keep delivering their version: nothing changes any more.
        let b = store
            .apply_refresh(&refresh("b", 3000, vec![s.clone()]))
            .unwrap();
        let a = store
            .apply_refresh(&refresh("a", 3000, vec![edited]))
            .unwrap();
        assert_eq!(
            (a.new_items, a.updated_items, b.new_items, b.updated_items),
            (0, 0, 0, 0)
        );
        let all = items(&store, &ItemFilter::default());
        let mut pairs: Vec<(String, Vec<String>)> =
            all.into_iter().map(|i| (i.title, i.feeds)).collect();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("共同".to_string(), vec!["b".to_string()]),
                ("改过".to_string(), vec!["a".to_string()])
            ]
        );
    }

    #[test]
    fn same_story_twice_in_one_document() {
        let (_dir, mut store) = open();
        let s = story("e1", "重复", 100);
        let mut twin = s.clone();
        twin.entry_id = "e2".to_string();
        let stats = store
            .apply_refresh(&refresh("a", 1000, vec![s.clone(), twin, s]))
            .unwrap();
        assert_eq!(
            (stats.new_items, stats.new_sources, stats.entries),
            (1, 0, 3)
        );
        assert_eq!(count(&store, "items"), 1);
        assert_eq!(count(&store, "item_sources"), 2);
        assert_eq!(items(&store, &ItemFilter::default())[0].feeds, ["a"]);
    }

    #[test]
    fn text_returning_after_an_edit_gets_a_fresh_uid() {
        let (_dir, mut store) = open();
        let s = story("e1", "原文", 100);
        store
            .apply_refresh(&refresh("a", 1000, vec![s.clone()]))
            .unwrap();
        store
            .apply_refresh(&refresh("a", 2000, vec![edit(s.clone(), "新文")]))
            .unwrap();
        // Another feed now delivers the original text: the uid it was named after is
        // taken by the edited item.
        let stats = store
            .apply_refresh(&refresh("b", 3000, vec![s.clone()]))
            .unwrap();
        assert_eq!(stats.new_items, 1);
        let mut ids: Vec<String> = items(&store, &ItemFilter::default())
            .into_iter()
            .map(|i| i.id)
            .collect();
        ids.sort();
        let base = s.content_hash.item_uid();
        assert_eq!(ids, [base.clone(), format!("{base}-1")]);

        // The suffixed item is edited too, and the original text turns up a third time.
        let mut moved = edit(s.clone(), "再改");
        moved.entry_id = s.entry_id.clone();
        store
            .apply_refresh(&refresh("b", 4000, vec![moved]))
            .unwrap();
        store
            .apply_refresh(&refresh("c", 5000, vec![s.clone()]))
            .unwrap();
        let mut ids: Vec<String> = items(&store, &ItemFilter::default())
            .into_iter()
            .map(|i| i.id)
            .collect();
        ids.sort();
        assert_eq!(
            ids,
            [base.clone(), format!("{base}-1"), format!("{base}-2")]
        );
    }

    #[test]
    fn failing_refresh_leaves_nothing_half_written() {
        let (_dir, mut store) = open();
        store
            .apply_refresh(&refresh(
                "a",
                1000,
                vec![tagged(story("e0", "before", 1), &["t"])],
            ))
            .unwrap();
        // Make the third story of the next document fail inside the transaction.
        store
            .conn
            .execute_batch(
                "CREATE TEMP TRIGGER boom BEFORE INSERT ON items WHEN NEW.title = 'boom'
                 BEGIN SELECT RAISE(ABORT, 'boom'); END",
            )
            .unwrap();
        let batch = vec![
            tagged(story("e1", "fine", 2), &["new topic"]),
            edit(story("e0", "before", 1), "edited"),
            story("e2", "boom", 3),
        ];
        let err = store.apply_refresh(&refresh("a", 2000, batch)).unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");

        assert_eq!(titles(&store, &ItemFilter::default()), ["before"]);
        assert_eq!(count(&store, "topics"), 1);
        let h = &store.feeds().unwrap()[0];
        assert_eq!(h.last_fetch, Some(super::super::testutil::at(1000)));
        assert_eq!(h.entries_seen, 1);

        // The topic id cached during the failed write must not be reused.
        store.conn.execute_batch("DROP TRIGGER boom").unwrap();
        store
            .apply_refresh(&refresh(
                "a",
                3000,
                vec![tagged(story("e1", "fine", 2), &["new topic"])],
            ))
            .unwrap();
        let fine = titles(
            &store,
            &ItemFilter {
                tags_all: vec!["new topic".into()],
                ..Default::default()
            },
        );
        assert_eq!(fine, ["fine"]);
    }
}
