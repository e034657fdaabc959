//! Re-tagging stored items: the current watchlist applied to every item, so a changed
//! watchlist never needs a re-fetch.
//!
//! Items are walked by row id in batches (keyset pagination, so each batch is one short
//! range scan however far the walk has got). Each batch is read, tagged and written inside
//! one IMMEDIATE transaction: the text tagged is the text stored at commit time even when
//! the daemon edits items meanwhile, and the daemon's own refreshes interleave between
//! batches (the lock is held for one batch only, well inside its busy timeout). Only items
//! whose matches differ are rewritten, so a retag with an unchanged watchlist writes
//! nothing.
//!
//! The store does not tag: the caller hands in the tagging function (the compiled
//! watchlist). Tagging is the costly part, so a batch is tagged on several threads.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{Store, StoreError, sql_err};
use crate::model::TagMatch;

/// Items tagged by one worker at a time: small enough to balance two threads over a
/// batch, large enough that taking the next slice costs nothing.
const SLICE: usize = 32;

/// What one retag changed. Tags count topics on items (a topic newly on an item is one
/// added tag); matches count the rows that explain them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetagStats {
    /// Items looked at.
    pub items: u64,
    /// Items whose tags or matches changed.
    pub items_changed: u64,
    /// Topics newly on an item.
    pub tags_added: u64,
    /// Topics no longer on an item (including topics dropped from the watchlist).
    pub tags_removed: u64,
    /// Match rows written.
    pub matches_added: u64,
    /// Match rows deleted.
    pub matches_removed: u64,
}

/// How a retag runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetagOptions {
    /// Items per transaction.
    pub batch: usize,
    /// Threads that tag a batch (1: the calling thread only).
    pub threads: usize,
}

impl Default for RetagOptions {
    fn default() -> Self {
        RetagOptions {
            batch: 5_000,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// One stored item, as read for tagging.
struct Row {
    id: i64,
    sort_time: i64,
    title: String,
    text: String,
}

/// A match row as the primary key of `item_tags` orders it: topic id, field, offset, term.
type Key = (i64, &'static str, i64, String);

impl Store {
    /// Re-applies `tag` (title, plain text → matches) to every stored item and rewrites the
    /// tags of the items whose matches changed. `progress` is called after each batch with
    /// (items done, items at the start).
    pub fn retag<T>(
        &mut self,
        tag: &T,
        options: RetagOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<RetagStats, StoreError>
    where
        T: Fn(&str, &str) -> Vec<TagMatch> + Sync,
    {
        let total = self.item_count()?;
        let mut stats = RetagStats::default();
        let mut after = i64::MIN;
        loop {
            match self.retag_batch(tag, options, after, &mut stats) {
                Ok(Some(last)) => after = last,
                Ok(None) => return Ok(stats),
                Err(e) => {
                    // Topic ids created inside the rolled-back transaction no longer exist.
                    self.topic_ids.clear();
                    return Err(sql_err(&self.path)(e));
                }
            }
            progress(stats.items, total);
        }
    }

    /// Retags the items after row id `after`; returns the last id done, or `None` when
    /// there were none left.
    fn retag_batch<T>(
        &mut self,
        tag: &T,
        options: RetagOptions,
        after: i64,
        stats: &mut RetagStats,
    ) -> rusqlite::Result<Option<i64>>
    where
        T: Fn(&str, &str) -> Vec<TagMatch> + Sync,
    {
        let Store {
            conn, topic_ids, ..
        } = self;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let rows = read_rows(&tx, after, options.batch.max(1))?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            tx.commit()?;
            return Ok(None);
        };
        let (first, last) = (first.id, last.id);
        let mut stored = read_keys(&tx, first, last)?;
        let tagged = tag_all(tag, &rows, options.threads);

        for (row, matches) in rows.iter().zip(tagged) {
            stats.items += 1;
            let mut new: Vec<Key> = Vec::with_capacity(matches.len());
            for m in &matches {
                new.push((
                    topic_id(&tx, topic_ids, &m.topic)?,
                    m.field.as_str(),
                    i64::try_from(m.offset).unwrap_or(i64::MAX),
                    m.term.clone(),
                ));
            }
            new.sort_unstable();
            new.dedup();
            let old = stored.remove(&row.id).unwrap_or_default();
            if old == new {
                continue;
            }
            count_changes(&old, &new, stats);
            rewrite(&tx, row, &new)?;
        }
        tx.commit()?;
        Ok(Some(last))
    }
}

/// The `meta` key of the fingerprint of the watchlist every item was last tagged with.
const TAGGED_WITH: &str = "watchlist_fingerprint";

impl Store {
    /// The fingerprint of the watchlist every stored item was last tagged with, when one
    /// was recorded (see [`crate::watch::Watchlist::fingerprint`]).
    pub fn tagged_with(&self) -> Result<Option<String>, StoreError> {
        self.conn
            .prepare_cached("SELECT value FROM meta WHERE key = ?1")
            .and_then(|mut stmt| stmt.query_row([TAGGED_WITH], |r| r.get(0)).optional())
            .map_err(sql_err(&self.path))
    }

    /// Records that every stored item is now tagged with the watchlist of this fingerprint.
    pub fn set_tagged_with(&mut self, fingerprint: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut stmt| stmt.execute([TAGGED_WITH, fingerprint]))
            .map(|_| ())
            .map_err(sql_err(&self.path))
    }
}

fn read_rows(conn: &Connection, after: i64, batch: usize) -> rusqlite::Result<Vec<Row>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, sort_time, title, text FROM items WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let limit = i64::try_from(batch).unwrap_or(i64::MAX);
    stmt.query_map(params![after, limit], |r| {
        Ok(Row {
            id: r.get(0)?,
            sort_time: r.get(1)?,
            title: r.get(2)?,
            text: r.get(3)?,
        })
    })?
    .collect()
}

/// The stored match rows of the items with ids in `first..=last`, per item, sorted.
fn read_keys(conn: &Connection, first: i64, last: i64) -> rusqlite::Result<HashMap<i64, Vec<Key>>> {
    let mut stmt = conn.prepare_cached(
        "SELECT item_id, topic_id, field, byte_offset, term FROM item_tags
         WHERE item_id BETWEEN ?1 AND ?2",
    )?;
    let mut out: HashMap<i64, Vec<Key>> = HashMap::new();
    let mut rows = stmt.query(params![first, last])?;
    while let Some(r) = rows.next()? {
        // Any other spelling is impossible under the table's CHECK; it still compares
        // unequal to every new match, so such a row would be rewritten, not kept.
        let field = match r.get_ref(2)?.as_str()? {
            "title" => "title",
            "text" => "text",
            _ => "",
        };
        out.entry(r.get(0)?)
            .or_default()
            .push((r.get(1)?, field, r.get(3)?, r.get(4)?));
    }
    for keys in out.values_mut() {
        keys.sort_unstable();
    }
    Ok(out)
}

/// Tags every row, on up to `threads` threads, keeping the rows' order.
fn tag_all<T>(tag: &T, rows: &[Row], threads: usize) -> Vec<Vec<TagMatch>>
where
    T: Fn(&str, &str) -> Vec<TagMatch> + Sync,
{
    let slices: Vec<&[Row]> = rows.chunks(SLICE).collect();
    let threads = threads.clamp(1, slices.len().max(1));
    if threads == 1 {
        return rows.iter().map(|r| tag(&r.title, &r.text)).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, Vec<Vec<TagMatch>>)> = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(slice) = slices.get(i) else {
                return done;
            };
            done.push((i, slice.iter().map(|r| tag(&r.title, &r.text)).collect()));
        }
    };
    let mut parts = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads).map(|_| s.spawn(work)).collect();
        let mut parts = work();
        for h in helpers {
            match h.join() {
                Ok(more) => parts.extend(more),
                // The tagger panicked: let the panic continue as it would have on one
                // thread.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        parts
    });
    parts.sort_unstable_by_key(|(i, _)| *i);
    parts.into_iter().flat_map(|(_, v)| v).collect()
}

/// Adds the differences between an item's old and new match rows (both sorted) to `stats`.
fn count_changes(old: &[Key], new: &[Key], stats: &mut RetagStats) {
    stats.items_changed += 1;
    let topics = |keys: &[Key]| {
        let mut t: Vec<i64> = keys.iter().map(|k| k.0).collect();
        t.dedup();
        t
    };
    let (old_topics, new_topics) = (topics(old), topics(new));
    stats.tags_added += new_topics
        .iter()
        .filter(|t| old_topics.binary_search(t).is_err())
        .count() as u64;
    stats.tags_removed += old_topics
        .iter()
        .filter(|t| new_topics.binary_search(t).is_err())
        .count() as u64;
    stats.matches_added += new.iter().filter(|k| old.binary_search(k).is_err()).count() as u64;
    stats.matches_removed += old.iter().filter(|k| new.binary_search(k).is_err()).count() as u64;
}

/// Replaces an item's match rows and topic index rows with `new`.
fn rewrite(conn: &Connection, row: &Row, new: &[Key]) -> rusqlite::Result<()> {
    conn.prepare_cached("DELETE FROM item_tags WHERE item_id = ?1")?
        .execute([row.id])?;
    conn.prepare_cached("DELETE FROM item_topics WHERE item_id = ?1")?
        .execute([row.id])?;
    let mut tags = conn.prepare_cached(
        "INSERT INTO item_tags (item_id, topic_id, field, byte_offset, term)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    let mut topics = conn.prepare_cached(
        "INSERT INTO item_topics (topic_id, sort_time, item_id) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
    )?;
    let mut last_topic = None;
    for (topic, field, offset, term) in new {
        tags.execute(params![row.id, topic, field, offset, term])?;
        if last_topic != Some(*topic) {
            last_topic = Some(*topic);
            topics.execute(params![topic, row.sort_time, row.id])?;
        }
    }
    Ok(())
}

/// The row id of a topic, created when new. Ids are cached on the store; the caller
/// clears the cache when the transaction that created them fails.
fn topic_id(
    conn: &Connection,
    cache: &mut HashMap<String, i64>,
    name: &str,
) -> rusqlite::Result<i64> {
    if let Some(id) = cache.get(name) {
        return Ok(*id);
    }
    // A no-op update rather than DO NOTHING, so RETURNING also yields an existing id.
    let id: i64 = conn
        .prepare_cached(
            "INSERT INTO topics (name) VALUES (?1)
             ON CONFLICT (name) DO UPDATE SET name = excluded.name
             RETURNING id",
        )?
        .query_row([name], |row| row.get(0))?;
    cache.insert(name.to_string(), id);
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{items, refresh, story, sync, titles};
    use super::*;
    use crate::model::{Field, ItemFilter};

    /// A tagger that tags every topic whose name occurs in the title, like a watchlist of
    /// plain keywords would.
    fn keywords(topics: &[&str]) -> impl Fn(&str, &str) -> Vec<TagMatch> + Sync {
        let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        move |title: &str, _text: &str| {
            let mut out: Vec<TagMatch> = topics
                .iter()
                .flat_map(|t| {
                    title.match_indices(t.as_str()).map(|(at, s)| TagMatch {
                        topic: t.clone(),
                        term: s.to_string(),
                        field: Field::Title,
                        offset: at,
                    })
                })
                .collect();
            out.sort_by(|a, b| (&a.topic, a.offset).cmp(&(&b.topic, b.offset)));
            out
        }
    }

    fn filter_tag(t: &str) -> ItemFilter {
        ItemFilter {
            tags_all: vec![t.to_string()],
            ..Default::default()
        }
    }

    /// Stores stories titled `titles` (one feed, one refresh), tagged by `tagger`.
    fn stored(
        titles: &[&str],
        tagger: &impl Fn(&str, &str) -> Vec<TagMatch>,
    ) -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("t.db")).unwrap();
        sync(&mut store, &["a"]);
        let stories = titles
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut s = story(&format!("e{i}"), t, 100 + i as i64);
                s.matches = tagger(&s.title, &s.text);
                s
            })
            .collect();
        store.apply_refresh(&refresh("a", 1000, stories)).unwrap();
        (dir, store)
    }

    const TITLES: [&str; 7] = [
        "普京会见特朗普",
        "白宫声明",
        "普京与普京",
        "天气晴朗",
        "特朗普在白宫",
        "乌克兰局势",
        "普京",
    ];

    #[test]
    fn unchanged_watchlist_changes_nothing() {
        let tagger = keywords(&["普京", "白宫"]);
        let (_dir, mut store) = stored(&TITLES, &tagger);
        let before = items(&store, &ItemFilter::default());
        let stats = store
            .retag(
                &tagger,
                RetagOptions {
                    batch: 3,
                    threads: 2,
                },
                |_, _| {},
            )
            .unwrap();
        assert_eq!(
            stats,
            RetagStats {
                items: 7,
                ..Default::default()
            }
        );
        assert_eq!(items(&store, &ItemFilter::default()), before);
    }

    #[test]
    fn changed_watchlist_adds_and_removes_topics() {
        let (_dir, mut store) = stored(&TITLES, &keywords(&["普京", "白宫"]));
        // 白宫 leaves the watchlist, 特朗普 and 乌克兰 join it.
        let now = keywords(&["普京", "特朗普", "乌克兰"]);
        let mut calls = Vec::new();
        let stats = store
            .retag(
                &now,
                RetagOptions {
                    batch: 2,
                    threads: 2,
                },
                |done, total| calls.push((done, total)),
            )
            .unwrap();
        assert_eq!(
            stats,
            RetagStats {
                items: 7,
                items_changed: 4,
                tags_added: 3,
                tags_removed: 2,
                matches_added: 3,
                matches_removed: 2,
            }
        );
        assert_eq!(calls, [(2, 7), (4, 7), (6, 7), (7, 7)]);
        assert_eq!(
            titles(&store, &filter_tag("特朗普")),
            ["特朗普在白宫", "普京会见特朗普"]
        );
        assert_eq!(titles(&store, &filter_tag("乌克兰")), ["乌克兰局势"]);
        assert!(titles(&store, &filter_tag("白宫")).is_empty());
        assert_eq!(
            titles(
                &store,
                &ItemFilter {
                    untagged: true,
                    ..Default::default()
                }
            ),
            ["天气晴朗", "白宫声明"]
        );
        // Every kept match is still explained, and the same retag again is a no-op.
        let both = items(&store, &filter_tag("普京"));
        let last = both.iter().find(|i| i.title == "普京与普京").unwrap();
        assert_eq!(last.matches.len(), 2);
        let again = store
            .retag(&now, RetagOptions::default(), |_, _| {})
            .unwrap();
        assert_eq!(again.items_changed, 0);
    }

    #[test]
    fn one_thread_and_many_agree() {
        let many: Vec<String> = (0..300)
            .map(|i| format!("{} 第{i}条", TITLES[i % 7]))
            .collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        let mut results = Vec::new();
        for threads in [1, 2, 3] {
            let (_dir, mut store) = stored(&refs, &keywords(&["普京"]));
            let stats = store
                .retag(
                    &keywords(&["白宫", "特朗普"]),
                    RetagOptions { batch: 70, threads },
                    |_, _| {},
                )
                .unwrap();
            results.push((stats, items(&store, &ItemFilter::default())));
        }
        assert_eq!(results[0], results[1]);
        assert_eq!(results[0], results[2]);
        assert_eq!(results[0].0.items, 300);
    }

    #[test]
    fn fingerprint_is_kept_until_replaced() {
        let (dir, mut store) = stored(&TITLES, &keywords(&["普京"]));
        assert_eq!(store.tagged_with().unwrap(), None);
        store.set_tagged_with("one").unwrap();
        store.set_tagged_with("two").unwrap();
        drop(store);
        let reader = Store::open_readonly(&dir.path().join("t.db")).unwrap();
        assert_eq!(reader.tagged_with().unwrap().as_deref(), Some("two"));
    }

    #[test]
    fn another_writer_gets_in_between_batches() {
        let (dir, mut store) = stored(&TITLES, &keywords(&["普京"]));
        let mut other = Store::open(&dir.path().join("t.db")).unwrap();
        let mut n = 0;
        store
            .retag(
                &keywords(&["白宫"]),
                RetagOptions {
                    batch: 3,
                    threads: 1,
                },
                |_, _| {
                    // The daemon's refresh must not wait for the whole retag.
                    n += 1;
                    other
                        .apply_refresh(&refresh(
                            "a",
                            2000 + n,
                            vec![story(&format!("d{n}"), "普京白宫", 50)],
                        ))
                        .unwrap();
                },
            )
            .unwrap();
        assert_eq!(n, 3);
        // Items added after their id range was passed keep their ingest tags.
        assert_eq!(store.item_count().unwrap(), 8);
    }
}
