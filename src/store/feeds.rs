//! Feed rows: registering configured feeds, their validators for conditional GETs, and
//! the health record every refresh updates. Deciding the next poll time and classifying
//! errors is left to the caller; this file records what it is handed.

use rusqlite::{OptionalExtension, Transaction, TransactionBehavior, params};

use super::{FeedHealth, FeedRef, Store, StoreError, clamp_u64, from_secs, sql_err};
use crate::model::Validators;

impl Store {
    /// Makes sure every configured feed has a row (names are keys; rows of feeds no
    /// longer configured are kept, with their items).
    pub fn sync_feeds(&mut self, feeds: &[FeedRef<'_>]) -> Result<(), StoreError> {
        let err = sql_err(&self.path);
        let now = chrono::Utc::now().timestamp();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        {
            // A new URL may be a different server: validators from the old one would make
            // it answer 304 (or nothing useful), so they are dropped with the URL.
            let mut upsert = tx
                .prepare_cached(
                    "INSERT INTO feeds (name, url, created_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (name) DO UPDATE SET
                         url = excluded.url, etag = NULL, last_modified = NULL,
                         final_url = NULL
                     WHERE feeds.url <> excluded.url",
                )
                .map_err(&err)?;
            for feed in feeds {
                upsert
                    .execute(params![feed.name, feed.url, now])
                    .map_err(&err)?;
            }
        }
        tx.commit().map_err(&err)
    }

    /// The validators stored for a feed.
    pub fn validators(&self, feed: &str) -> Result<Validators, StoreError> {
        let found = self
            .conn
            .prepare_cached("SELECT etag, last_modified FROM feeds WHERE name = ?1")
            .and_then(|mut stmt| {
                stmt.query_row([feed], |row| {
                    Ok(Validators {
                        etag: row.get(0)?,
                        last_modified: row.get(1)?,
                    })
                })
                .optional()
            })
            .map_err(sql_err(&self.path))?;
        Ok(found.unwrap_or_default())
    }

    /// Every feed's health record, by name.
    pub fn feeds(&self) -> Result<Vec<FeedHealth>, StoreError> {
        let err = sql_err(&self.path);
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT f.name, f.url, f.last_fetch, f.last_success, f.last_status,
                        f.last_error, f.error_streak, f.entries_seen, f.next_poll,
                        (SELECT count(DISTINCT s.item_id) FROM item_sources s
                         WHERE s.feed_id = f.id)
                 FROM feeds f ORDER BY f.name",
            )
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |row| {
                Ok(FeedHealth {
                    name: row.get(0)?,
                    url: row.get(1)?,
                    last_fetch: row.get::<_, Option<i64>>(2)?.and_then(from_secs),
                    last_success: row.get::<_, Option<i64>>(3)?.and_then(from_secs),
                    last_status: row
                        .get::<_, Option<i64>>(4)?
                        .and_then(|s| u16::try_from(s).ok()),
                    last_error: row.get(5)?,
                    error_streak: u32::try_from(row.get::<_, i64>(6)?).unwrap_or(u32::MAX),
                    entries_seen: clamp_u64(row.get(7)?),
                    next_poll: row.get::<_, Option<i64>>(8)?.and_then(from_secs),
                    items: clamp_u64(row.get(9)?),
                })
            })
            .map_err(&err)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(&err)
    }
}

/// The feed's row id, if it has a row.
pub(super) fn feed_id(tx: &Transaction<'_>, name: &str) -> rusqlite::Result<Option<i64>> {
    tx.prepare_cached("SELECT id FROM feeds WHERE name = ?1")?
        .query_row([name], |row| row.get(0))
        .optional()
}

/// Records a failed fetch: the error, and one more in the streak. Validators and
/// last_success are kept, so the next attempt can still be conditional.
pub(super) fn record_failure(
    tx: &Transaction<'_>,
    feed_id: i64,
    at: i64,
    status: Option<u16>,
    error: &str,
    next_poll: Option<i64>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE feeds SET last_fetch = ?2, last_status = ?3, last_error = ?4,
                          error_streak = error_streak + 1, next_poll = ?5
         WHERE id = ?1",
    )?
    .execute(params![feed_id, at, status, error, next_poll])?;
    Ok(())
}

/// Records a 304: the feed is healthy and nothing else changed.
pub(super) fn record_not_modified(
    tx: &Transaction<'_>,
    feed_id: i64,
    at: i64,
    status: u16,
    next_poll: Option<i64>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE feeds SET last_fetch = ?2, last_success = ?2, last_status = ?3,
                          last_error = NULL, error_streak = 0, next_poll = ?4
         WHERE id = ?1",
    )?
    .execute(params![feed_id, at, status, next_poll])?;
    Ok(())
}

/// What a successful fetch tells about the feed itself.
pub(super) struct Success<'a> {
    pub at: i64,
    pub status: u16,
    pub final_url: &'a str,
    pub validators: &'a Validators,
    pub entries: u64,
    pub next_poll: Option<i64>,
}

/// Records a fetched and parsed document. Validators are replaced even by `None`: a
/// server that stopped sending an ETag must not be asked with the stale one.
pub(super) fn record_success(
    tx: &Transaction<'_>,
    feed_id: i64,
    s: &Success<'_>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE feeds SET last_fetch = ?2, last_success = ?2, last_status = ?3,
                          last_error = NULL, error_streak = 0, next_poll = ?4,
                          final_url = ?5, etag = ?6, last_modified = ?7,
                          entries_seen = ?8
         WHERE id = ?1",
    )?
    .execute(params![
        feed_id,
        s.at,
        s.status,
        s.next_poll,
        s.final_url,
        s.validators.etag,
        s.validators.last_modified,
        i64::try_from(s.entries).unwrap_or(i64::MAX),
    ])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{at, refresh, story, sync};
    use super::super::{FeedRefresh, RefreshOutcome};
    use super::*;

    fn failed(feed: &str, t: i64, error: &str) -> FeedRefresh {
        FeedRefresh {
            feed: feed.to_string(),
            fetched_at: at(t),
            outcome: RefreshOutcome::Failed {
                status: Some(503),
                error: error.to_string(),
            },
            next_poll: Some(at(t + 60)),
        }
    }

    fn health(store: &Store, name: &str) -> FeedHealth {
        store
            .feeds()
            .unwrap()
            .into_iter()
            .find(|f| f.name == name)
            .unwrap()
    }

    #[test]
    fn failure_streak_grows_and_a_success_resets_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("f.db")).unwrap();
        sync(&mut store, &["a"]);
        store
            .apply_refresh(&refresh("a", 100, vec![story("e1", "one", 50)]))
            .unwrap();
        for (i, t) in [200, 300, 400].into_iter().enumerate() {
            let stats = store.apply_refresh(&failed("a", t, "HTTP 503")).unwrap();
            assert_eq!(stats.new_items, 0);
            let h = health(&store, "a");
            assert_eq!(h.error_streak, i as u32 + 1);
            assert_eq!(h.last_error.as_deref(), Some("HTTP 503"));
            assert_eq!(h.last_status, Some(503));
            assert_eq!(h.last_fetch, Some(at(t)));
            assert_eq!(h.last_success, Some(at(100)));
            assert_eq!(h.next_poll, Some(at(t + 60)));
            assert_eq!(h.items, 1, "a failure must not touch items");
        }
        // The validators of the last good fetch survive failures.
        assert_eq!(
            store.validators("a").unwrap().etag.as_deref(),
            Some("\"100\"")
        );
        store
            .apply_refresh(&refresh("a", 500, vec![story("e1", "one", 50)]))
            .unwrap();
        let h = health(&store, "a");
        assert_eq!((h.error_streak, h.last_error), (0, None));
        assert_eq!((h.last_status, h.last_success), (Some(200), Some(at(500))));
        assert_eq!(h.entries_seen, 1);
    }

    #[test]
    fn not_modified_updates_health_only() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("f.db")).unwrap();
        sync(&mut store, &["a"]);
        store
            .apply_refresh(&refresh(
                "a",
                100,
                vec![story("e1", "one", 50), story("e2", "two", 60)],
            ))
            .unwrap();
        store.apply_refresh(&failed("a", 150, "timeout")).unwrap();
        let stats = store
            .apply_refresh(&FeedRefresh {
                feed: "a".to_string(),
                fetched_at: at(200),
                outcome: RefreshOutcome::NotModified { status: 304 },
                next_poll: Some(at(1100)),
            })
            .unwrap();
        assert_eq!(stats, Default::default());
        let h = health(&store, "a");
        assert_eq!(h.last_status, Some(304));
        assert_eq!(
            (h.last_fetch, h.last_success),
            (Some(at(200)), Some(at(200)))
        );
        assert_eq!((h.error_streak, h.last_error), (0, None));
        assert_eq!(h.next_poll, Some(at(1100)));
        assert_eq!((h.entries_seen, h.items), (2, 2));
        assert_eq!(
            store.validators("a").unwrap().etag.as_deref(),
            Some("\"100\"")
        );
    }

    #[test]
    fn sync_keeps_removed_feeds_and_a_new_url_drops_validators() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("f.db")).unwrap();
        sync(&mut store, &["a", "b"]);
        store
            .apply_refresh(&refresh("a", 100, vec![story("e1", "one", 50)]))
            .unwrap();
        store
            .apply_refresh(&refresh("b", 100, vec![story("e1", "two", 50)]))
            .unwrap();

        // Same URL again: validators stay.
        sync(&mut store, &["a"]);
        assert!(store.validators("a").unwrap().etag.is_some());

        store
            .sync_feeds(&[FeedRef {
                name: "b",
                url: "https://moved.example/b.xml",
            }])
            .unwrap();
        assert_eq!(store.validators("b").unwrap(), Validators::default());
        let names: Vec<String> = store.feeds().unwrap().into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(health(&store, "b").url, "https://moved.example/b.xml");
        assert_eq!(store.validators("unknown").unwrap(), Validators::default());
    }

    #[test]
    fn refresh_of_unknown_feed_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("f.db")).unwrap();
        let err = store
            .apply_refresh(&refresh("ghost", 100, vec![story("e1", "one", 50)]))
            .unwrap_err();
        assert!(matches!(err, StoreError::UnknownFeed { .. }));
        assert!(err.to_string().contains("ghost"));
        assert_eq!(store.item_count().unwrap(), 0);
    }
}
