//! The only module that speaks SQL. (skeleton)

use std::path::Path;

use chrono::{DateTime, Utc};

use crate::model::{ItemFilter, ItemView, Story, Validators};

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
    path: String,
}

impl Store {
    /// Opens (creating if needed) and migrates the database for writing.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            path: path.display().to_string(),
        })
    }

    /// Opens an existing database read-only, for queries while a writer runs.
    pub fn open_readonly(path: &Path) -> Result<Store, StoreError> {
        Ok(Store {
            path: path.display().to_string(),
        })
    }

    /// Makes sure every configured feed has a row (names are keys; rows of feeds no
    /// longer configured are kept, with their items).
    pub fn sync_feeds(&mut self, feeds: &[FeedRef<'_>]) -> Result<(), StoreError> {
        let _ = feeds;
        Ok(())
    }

    /// The validators stored for a feed.
    pub fn validators(&self, feed: &str) -> Result<Validators, StoreError> {
        let _ = feed;
        Ok(Validators::default())
    }

    /// Writes one refresh in one IMMEDIATE transaction.
    pub fn apply_refresh(&mut self, refresh: &FeedRefresh) -> Result<RefreshStats, StoreError> {
        let _ = refresh;
        Ok(RefreshStats::default())
    }

    /// Calls `each` for every item matching `filter`, newest first.
    pub fn for_each_item<E: From<StoreError>>(
        &self,
        filter: &ItemFilter,
        mut each: impl FnMut(ItemView) -> Result<(), E>,
    ) -> Result<(), E> {
        let _ = (filter, &mut each, &self.path);
        Ok(())
    }

    /// Every feed's health record, by name.
    pub fn feeds(&self) -> Result<Vec<FeedHealth>, StoreError> {
        Ok(Vec::new())
    }
}
