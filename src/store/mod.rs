//! The only module that speaks SQL: it opens the SQLite database (WAL), applies the
//! migrations in `migrations/`, writes each feed refresh in one IMMEDIATE transaction and
//! answers the read-only queries behind `items`, `export` and `feeds`.
//!
//! It stores what it is given: it does not fetch, parse, clean, hash or tag anything, and
//! it never reads the config. Deciding *when* a feed is polled next is the caller's job;
//! the store only records the time it is handed. The daemon is the single writer
//! ([`Store::open`]); CLI commands use [`Store::open_readonly`], which keeps working while
//! the daemon holds a write transaction.
//!
//! Layout: this file owns opening, pragmas, migrations and the shared types; feed rows
//! and their health live in `feeds.rs`, item writes in `items.rs`, the filtered
//! listing in `query.rs`, the search index in `search.rs`, and the writer's WAL
//! checkpoints, which run on a thread of their own, in `checkpoint.rs`.

mod checkpoint;
mod feeds;
mod items;
mod query;
mod search;
pub mod tags;
#[cfg(test)]
pub(crate) mod testutil;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

use crate::model::{Story, Validators};

pub use search::SearchIndexStatus;

/// The schema, oldest first: (file name, SQL). Append only; a landed file is never
/// edited, because `PRAGMA user_version` records how many of them a database has run.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "0001_init.sql",
        include_str!("../../migrations/0001_init.sql"),
    ),
    (
        "0002_meta.sql",
        include_str!("../../migrations/0002_meta.sql"),
    ),
    (
        "0003_search.sql",
        include_str!("../../migrations/0003_search.sql"),
    ),
];

/// How long a statement waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// WAL pages written before a commit also checkpoints (40 MiB at 4 KiB pages).
const WAL_CHECKPOINT_PAGES: i64 = 10_000;

/// With checkpoints on their own thread: log pages past which a commit checkpoints
/// anyway, in case that thread cannot keep up (four times where it restarts the log).
const WAL_BACKSTOP_PAGES: i64 = 65_536;

/// Size the WAL file is truncated back to after a checkpoint, in bytes.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// Prepared statements kept per connection: the write path alone uses about twenty, and
/// an evicted one is parsed again on the next story.
const STATEMENT_CACHE: usize = 64;

/// Page cache of the writer, in KiB (negative `cache_size` means KiB in SQLite). A group
/// commit of a few thousand stories dirties several megabytes of pages; with a cache
/// smaller than that SQLite spills pages to the log before the commit and reads them
/// back from the OS. Not much larger, because every commit also scans the whole cache
/// (to drop pages past the end of the file), and a daemon's commits are many and small.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// Page cache of a read-only connection, in KiB: large listings and filters revisit
/// index pages, and readers never commit.
const READER_CACHE_KIB: i64 = 32 * 1024;

/// A storage failure, naming the database file or the migration.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database file does not exist (read-only open).
    #[error("database {path} does not exist yet: run `feedwatch poll` first")]
    Missing {
        /// The database file.
        path: String,
    },
    /// Migrations failed.
    #[error("database {path}: migration failed: {message}")]
    Migration {
        /// The database file.
        path: String,
        /// Detail.
        message: String,
    },
    /// The folder for the database file could not be created.
    #[error("database {path}: cannot create its folder: {source}")]
    Io {
        /// The database file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A read-only open found a database that a newer feedwatch must first upgrade.
    #[error(
        "database {path} has schema version {found}, this feedwatch needs {expected}: \
         run a command that writes (`feedwatch poll` or `feedwatch run`) once to upgrade it"
    )]
    SchemaOutdated {
        /// The database file.
        path: String,
        /// The version the file has.
        found: u32,
        /// The version this binary needs.
        expected: u32,
    },
    /// The database was written by a newer feedwatch than this one.
    #[error(
        "database {path} has schema version {found}, newer than this feedwatch knows \
         ({expected}): upgrade feedwatch"
    )]
    SchemaTooNew {
        /// The database file.
        path: String,
        /// The version the file has.
        found: u32,
        /// The newest version this binary knows.
        expected: u32,
    },
    /// A refresh named a feed that has no row (call [`Store::sync_feeds`] first).
    #[error("database {path}: feed {feed:?} is not known; sync the configured feeds first")]
    UnknownFeed {
        /// The database file.
        path: String,
        /// The feed name.
        feed: String,
    },
}

/// A configured feed as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedRef<'a> {
    /// Unique name.
    pub name: &'a str,
    /// URL or path as configured.
    pub url: &'a str,
}

/// What one refresh of one feed produced.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshOutcome {
    /// A body was fetched and parsed into stories.
    Stored {
        /// HTTP status.
        status: u16,
        /// URL after redirects.
        final_url: String,
        /// New validators.
        validators: Validators,
        /// The feed's entries, ready to store.
        stories: Vec<Story>,
    },
    /// 304 Not Modified.
    NotModified {
        /// HTTP status (304).
        status: u16,
    },
    /// Fetch, decode or parse failed.
    Failed {
        /// HTTP status, when there was a response.
        status: Option<u16>,
        /// The error, as shown to the user.
        error: String,
    },
}

impl RefreshOutcome {
    /// The stories this outcome carries (none unless a body was stored).
    pub fn story_count(&self) -> usize {
        match self {
            RefreshOutcome::Stored { stories, .. } => stories.len(),
            RefreshOutcome::NotModified { .. } | RefreshOutcome::Failed { .. } => 0,
        }
    }
}

/// One refresh of one feed, written in one IMMEDIATE transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedRefresh {
    /// Feed name.
    pub feed: String,
    /// When the fetch started.
    pub fetched_at: DateTime<Utc>,
    /// What happened.
    pub outcome: RefreshOutcome,
    /// When the feed should be polled next, if known.
    pub next_poll: Option<DateTime<Utc>>,
}

/// Counts from one refresh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshStats {
    /// Items stored for the first time.
    pub new_items: u64,
    /// Existing items whose text changed (entry edited in place).
    pub updated_items: u64,
    /// Existing items that gained this feed as a source.
    pub new_sources: u64,
    /// Entries in the fetched document.
    pub entries: u64,
}

/// A feed's health record, as `feeds` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeedHealth {
    /// Feed name.
    pub name: String,
    /// URL or path.
    pub url: String,
    /// Last fetch attempt.
    pub last_fetch: Option<DateTime<Utc>>,
    /// Last successful fetch (200 or 304).
    pub last_success: Option<DateTime<Utc>>,
    /// Last HTTP status.
    pub last_status: Option<u16>,
    /// Last error, cleared by a success.
    pub last_error: Option<String>,
    /// Consecutive failures.
    pub error_streak: u32,
    /// Entries in the last fetched document.
    pub entries_seen: u64,
    /// Items this feed delivered in all.
    pub items: u64,
    /// Next scheduled poll.
    pub next_poll: Option<DateTime<Utc>>,
}

/// An open database.
#[derive(Debug)]
pub struct Store {
    /// The file, as shown in errors.
    path: String,
    conn: Connection,
    /// Checkpoints on a thread of their own, once [`Store::checkpoint_in_background`] ran.
    checkpointer: Option<checkpoint::Checkpointer>,
    /// Topic name → row id. Only ever filled from committed or about-to-commit writes;
    /// cleared when a write transaction fails, since its ids may have been rolled back.
    topic_ids: HashMap<String, i64>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database for writing.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        if let Some(parent) = path.parent() {
            if !parent.as_os_str().is_empty() {
                std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
                    path: shown.clone(),
                    source,
                })?;
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let err = sql_err(&shown);
        let mut conn = Connection::open_with_flags(path, flags).map_err(&err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
        // WAL lets the CLI read while the daemon writes; NORMAL is durable across
        // application crashes in WAL mode and only risks the last commits on power loss,
        // which the next poll fetches again.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(&err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(&err)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(&err)?;
        // Checkpoints run inside the commit that crosses the limit, copying and syncing
        // every page written since the last one. SQLite's default (1000 pages) checkpoints
        // every few refreshes and rewrites hot index pages each time; a larger WAL
        // saves about a quarter of the CPU of writing new stories. The file is cut back
        // after a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)
            .map_err(&err)?;
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)
            .map_err(&err)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(&err)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(&err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut conn, &shown)?;
        Ok(Store {
            path: shown.clone(),
            conn,
            checkpointer: None,
            topic_ids: HashMap::new(),
        })
    }

    /// Opens an existing database read-only, for queries while a writer runs.
    pub fn open_readonly(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        // Without this check SQLite reports "unable to open database file", which does not
        // tell the user that nothing has been polled yet.
        match std::fs::metadata(path) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing { path: shown });
            }
            Err(source) => {
                return Err(StoreError::Io {
                    path: shown,
                    source,
                });
            }
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let err = sql_err(&shown);
        let conn = Connection::open_with_flags(path, flags).map_err(&err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(&err)?;
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(&err)?;
        conn.pragma_update(None, "cache_size", -READER_CACHE_KIB)
            .map_err(&err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let found = user_version(&conn).map_err(&err)?;
        let expected = latest_version();
        if found < expected {
            return Err(StoreError::SchemaOutdated {
                path: shown.clone(),
                found,
                expected,
            });
        }
        if found > expected {
            return Err(StoreError::SchemaTooNew {
                path: shown.clone(),
                found,
                expected,
            });
        }
        Ok(Store {
            path: shown.clone(),
            conn,
            checkpointer: None,
            topic_ids: HashMap::new(),
        })
    }

    /// Moves WAL checkpoints off this (writing) connection onto a thread of their own,
    /// so commits never wait for the copy and sync (see `checkpoint.rs`). Without it the
    /// connection checkpoints inside its own commits, as SQLite does by default. If the
    /// thread cannot start, the store keeps checkpointing inline and says so in the log.
    pub fn checkpoint_in_background(&mut self) {
        if self.checkpointer.is_some() {
            return;
        }
        let started = checkpoint::Checkpointer::start(Path::new(&self.path)).and_then(
            |(checkpointer, wake)| {
                self.conn
                    .commit_hook(Some(move || {
                        // Full means a round is already due; never block the commit.
                        let _ = wake.try_send(());
                        false
                    }))
                    .map_err(std::io::Error::other)?;
                Ok(checkpointer)
            },
        );
        match started {
            Ok(checkpointer) => {
                // A RESTART round holds the write lock for one sync. SQLite's own busy
                // handler sleeps in growing steps (up to 100 ms), so the writer would
                // oversleep the round several times over; retrying every millisecond
                // resumes it as soon as the round ends.
                if let Err(e) = self.conn.busy_handler(Some(retry_every_millisecond)) {
                    tracing::debug!(database = %self.path, error = %e, "busy handler not set");
                }
                // The thread checkpoints now; the commit-time checkpoint stays only as a
                // backstop, far above what the thread lets the log grow to.
                if let Err(e) =
                    self.conn
                        .pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)
                {
                    tracing::debug!(database = %self.path, error = %e, "wal_autocheckpoint not raised");
                }
                self.checkpointer = Some(checkpointer);
            }
            Err(e) => {
                tracing::warn!(database = %self.path, error = %e, "checkpointing inline: no checkpoint thread");
            }
        }
    }

    /// The schema version of the open database (the number of migrations it has run).
    pub fn schema_version(&self) -> Result<u32, StoreError> {
        user_version(&self.conn).map_err(sql_err(&self.path))
    }

    /// The number of distinct stored items.
    pub fn item_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM items", [], |row| row.get::<_, i64>(0))
            .map(clamp_u64)
            .map_err(sql_err(&self.path))
    }
}

/// Busy handler of a writer with a checkpoint thread: wait a millisecond and retry, for
/// as long as [`BUSY_TIMEOUT`] allows.
fn retry_every_millisecond(attempt: i32) -> bool {
    const STEP: Duration = Duration::from_millis(1);
    let limit = BUSY_TIMEOUT.as_millis();
    if u128::try_from(attempt).unwrap_or(u128::MAX) >= limit {
        return false;
    }
    std::thread::sleep(STEP);
    true
}

impl Drop for Store {
    fn drop(&mut self) {
        if let Some(checkpointer) = self.checkpointer.take() {
            // The hook holds the thread's wake-up sender: dropping it lets the thread run
            // its last round and end, which the checkpointer's drop waits for. The writer
            // connection closes after that and finds the log already copied.
            let _ = self.conn.commit_hook(None::<fn() -> bool>);
            drop(checkpointer);
        }
    }
}

/// The schema version this binary creates and expects.
fn latest_version() -> u32 {
    u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX)
}

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    let v: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    Ok(u32::try_from(v).unwrap_or(0))
}

/// Runs the pending migrations one at a time, so a failure can name its file.
fn migrate(conn: &mut Connection, path: &str) -> Result<(), StoreError> {
    let found = user_version(conn).map_err(sql_err(path))?;
    let expected = latest_version();
    if found > expected {
        return Err(StoreError::SchemaTooNew {
            path: path.to_string(),
            found,
            expected,
        });
    }
    let migrations = Migrations::new(
        MIGRATIONS
            .iter()
            .map(|(file, sql)| M::up(sql).comment(file))
            .collect(),
    );
    for (index, (file, _)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let version = index + 1;
        migrations
            .to_version(conn, version)
            .map_err(|e| StoreError::Migration {
                path: path.to_string(),
                message: format!("migrations/{file} (migration {version}): {e}"),
            })?;
    }
    Ok(())
}

/// Wraps a SQLite error with the database file it happened in.
fn sql_err(path: &str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |source| StoreError::Sqlite {
        path: path.to_string(),
        source,
    }
}

/// Unix seconds as a time; out-of-range values (never written by us) read as `None`.
fn from_secs(secs: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(secs, 0)
}

/// SQLite integers are signed; counts are never negative, but a corrupt row must not wrap.
fn clamp_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use rusqlite::TransactionBehavior;

    use super::testutil::{refresh, story};
    use super::*;
    use crate::model::ItemFilter;

    #[test]
    fn open_creates_folder_and_migrates_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/deeper/feedwatch.db");
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let mode: String = store
            .conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(store);
        // Reopening must neither fail on existing tables nor bump the version.
        let store = Store::open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        let fk: i64 = store
            .conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn readonly_open_of_missing_file_says_missing() {
        let dir = tempfile::tempdir().unwrap();
        let err = Store::open_readonly(&dir.path().join("none.db")).unwrap_err();
        assert!(matches!(err, StoreError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("none.db"));
    }

    #[test]
    fn readonly_open_of_older_schema_asks_for_a_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        Connection::open(&path).unwrap(); // an empty file: user_version 0
        let err = Store::open_readonly(&path).unwrap_err();
        assert!(
            matches!(err, StoreError::SchemaOutdated { found: 0, .. }),
            "{err}"
        );
        assert!(err.to_string().contains("feedwatch poll"));
    }

    #[test]
    fn newer_schema_is_refused_by_reader_and_writer() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.db");
        drop(Store::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", latest_version() + 1)
            .unwrap();
        assert!(matches!(
            Store::open_readonly(&path).unwrap_err(),
            StoreError::SchemaTooNew { .. }
        ));
        assert!(matches!(
            Store::open(&path).unwrap_err(),
            StoreError::SchemaTooNew { .. }
        ));
    }

    #[test]
    fn failing_migration_names_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clash.db");
        // A table the first migration wants to create already exists.
        Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE feeds (x)")
            .unwrap();
        let err = Store::open(&path).unwrap_err();
        let shown = err.to_string();
        assert!(matches!(err, StoreError::Migration { .. }), "{shown}");
        assert!(shown.contains("0001_init.sql"), "{shown}");
        assert!(shown.contains("clash.db"), "{shown}");
    }

    #[test]
    fn readonly_reads_after_writer_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.db");
        let mut store = Store::open(&path).unwrap();
        testutil::sync(&mut store, &["a"]);
        store
            .apply_refresh(&refresh("a", 100, vec![story("e1", "one", 50)]))
            .unwrap();
        drop(store);
        let reader = Store::open_readonly(&path).unwrap();
        assert_eq!(reader.item_count().unwrap(), 1);
        let mut reader = reader;
        let write = reader.sync_feeds(&[FeedRef {
            name: "b",
            url: "u",
        }]);
        assert!(write.is_err(), "a read-only store must not write");
    }

    #[test]
    fn reader_works_while_writer_holds_immediate_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("busy.db");
        let mut writer = Store::open(&path).unwrap();
        testutil::sync(&mut writer, &["a"]);
        writer
            .apply_refresh(&refresh("a", 100, vec![story("e1", "committed", 50)]))
            .unwrap();

        let (locked_tx, locked_rx) = mpsc::channel();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let tx = writer
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .unwrap();
            tx.execute("UPDATE feeds SET last_error = 'pending'", [])
                .unwrap();
            locked_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            tx.commit().unwrap();
        });
        locked_rx.recv().unwrap();

        let reader = Store::open_readonly(&path).unwrap();
        assert_eq!(reader.item_count().unwrap(), 1);
        let mut titles = Vec::new();
        reader
            .for_each_item(&ItemFilter::default(), |item| {
                titles.push(item.title);
                Ok::<(), StoreError>(())
            })
            .unwrap();
        assert_eq!(titles, ["committed"]);
        // The uncommitted write is invisible.
        assert_eq!(reader.feeds().unwrap()[0].last_error, None);

        release_tx.send(()).unwrap();
        holder.join().unwrap();
        assert_eq!(
            reader.feeds().unwrap()[0].last_error.as_deref(),
            Some("pending")
        );
    }
}
