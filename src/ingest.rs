//! `refresh(feed)`: the pipeline in order, and the feed's health record.
//!
//! This is the one place that knows the order of the stages: fetch → decode → parse →
//! text → identity → watch → store. Each stage hands a typed value to the next and none
//! of them knows the others. A failure at any stage becomes the feed's health record
//! ([`RefreshOutcome::Failed`]) and never stops other feeds. The CPU-bound middle runs on
//! tokio's blocking pool; the single writer ([`StoreWriter`]) owns the database
//! connection on a thread of its own, so SQLite sees one writer and one IMMEDIATE
//! transaction per feed refresh. Scheduling and output formatting live elsewhere.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc as std_mpsc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::config::FeedSettings;
use crate::fetch::{CacheHints, FetchError, Fetched, Fetcher};
use crate::model::{ParsedFeed, Story, Validators};
use crate::store::{FeedRef, FeedRefresh, RefreshOutcome, RefreshStats, Store, StoreError};
use crate::watch::Watchlist;
use crate::{decode, identity, parse, text};

/// Why a fetched body could not become stories.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Fetching failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The document is not a readable feed.
    #[error("{url}: {source}")]
    Parse {
        /// The feed URL.
        url: String,
        /// What the parser said.
        source: parse::ParseError,
    },
}

/// What processing one document produced (pure: no I/O).
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The feed as parsed (entries emptied: they became `stories`).
    pub feed: ParsedFeed,
    /// Entries ready to store, in document order.
    pub stories: Vec<Story>,
    /// Label of the encoding the bytes were read as.
    pub encoding: &'static str,
}

/// Runs decode → parse → text → identity → watch on one fetched document.
pub fn process(
    bytes: &[u8],
    charset: Option<&str>,
    feed: &FeedSettings,
    feed_url: &str,
    watchlist: &Watchlist,
    now: DateTime<Utc>,
) -> Result<Processed, IngestError> {
    let decoded = decode::decode(bytes, charset, feed.encoding);
    let ctx = parse::ParseContext {
        feed_url,
        timezone: feed.timezone,
        now,
    };
    let mut parsed = parse::parse(&decoded.text, &ctx).map_err(|source| IngestError::Parse {
        url: feed_url.to_string(),
        source,
    })?;
    let entries = std::mem::take(&mut parsed.entries);
    let stories = entries
        .into_iter()
        .map(|e| {
            let title = text::inline_text(&e.title);
            let body = text::html_to_text(&e.html);
            let content_hash = identity::content_hash(&title, &body);
            let matches = watchlist.tag(&title, &body);
            Story {
                entry_id: e.entry_id,
                title,
                link: e.link,
                published: e.published,
                authors: e.authors,
                categories: e.categories,
                html: e.html,
                text: body,
                content_hash,
                matches,
            }
        })
        .collect();
    Ok(Processed {
        feed: parsed,
        stories,
        encoding: decoded.encoding.name(),
    })
}

/// Makes sure every configured feed has its row (removed feeds keep theirs, with their
/// items) and returns each configured feed's stored validators, for conditional GETs.
pub fn register_feeds(
    store: &mut Store,
    feeds: &[FeedSettings],
) -> Result<HashMap<String, Validators>, StoreError> {
    let urls: Vec<String> = feeds.iter().map(|f| f.source.to_string()).collect();
    let refs: Vec<FeedRef<'_>> = feeds
        .iter()
        .zip(&urls)
        .map(|(f, url)| FeedRef { name: &f.name, url })
        .collect();
    store.sync_feeds(&refs)?;
    feeds
        .iter()
        .map(|f| Ok((f.name.clone(), store.validators(&f.name)?)))
        .collect()
}

/// The shared parts every refresh needs.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// The HTTP client with its limits.
    pub fetcher: Fetcher,
    /// The compiled watchlist.
    pub watchlist: Arc<Watchlist>,
}

/// One refresh's result: what to store plus what the scheduler may want to know.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// What to write.
    pub refresh: FeedRefresh,
    /// Caching hints from the response (Retry-After, max-age, Expires).
    pub hints: CacheHints,
    /// RSS `<ttl>` in minutes, when the document had one.
    pub ttl_minutes: Option<u32>,
    /// Wall time of fetch + processing.
    pub elapsed_ms: u64,
}

/// Fetches and processes one feed. Never fails: a failure is the outcome.
pub async fn refresh(
    pipeline: &Pipeline,
    feed: &FeedSettings,
    validators: &Validators,
    now: DateTime<Utc>,
) -> Refreshed {
    let started = Instant::now();
    let url = feed.source.to_string();
    let mut ttl_minutes = None;
    let span = tracing::debug_span!("refresh", feed = %feed.name);
    let fetched = pipeline
        .fetcher
        .fetch(&feed.source, validators)
        .instrument(span)
        .await;
    let (outcome, hints) = match fetched {
        Ok(Fetched::NotModified { hints }) => (RefreshOutcome::NotModified { status: 304 }, hints),
        Ok(Fetched::Body(body)) => {
            let feed_owned = feed.clone();
            let watchlist = Arc::clone(&pipeline.watchlist);
            let status = body.status;
            let final_url = body.final_url.clone();
            let new_validators = body.validators.clone();
            let hints = body.hints.clone();
            let work = tokio::task::spawn_blocking(move || {
                process(
                    &body.bytes,
                    body.charset.as_deref(),
                    &feed_owned,
                    &body.final_url,
                    &watchlist,
                    now,
                )
            })
            .await;
            let outcome = match work {
                Ok(Ok(p)) => {
                    ttl_minutes = p.feed.ttl_minutes;
                    RefreshOutcome::Stored {
                        status,
                        final_url,
                        validators: new_validators,
                        stories: p.stories,
                    }
                }
                Ok(Err(e)) => RefreshOutcome::Failed {
                    status: Some(status),
                    error: e.to_string(),
                },
                Err(join) => RefreshOutcome::Failed {
                    status: Some(status),
                    error: format!("{url}: processing failed: {join}"),
                },
            };
            (outcome, hints)
        }
        Err(e) => {
            let hints = match &e {
                FetchError::Status { hints, .. } => hints.clone(),
                _ => CacheHints::default(),
            };
            (
                RefreshOutcome::Failed {
                    status: e.status(),
                    error: e.to_string(),
                },
                hints,
            )
        }
    };
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match &outcome {
        RefreshOutcome::Failed { status, error } => {
            tracing::warn!(feed = %feed.name, url = %url, status = ?status, error = %error, elapsed_ms, "feed failed");
        }
        RefreshOutcome::NotModified { .. } => {
            tracing::debug!(feed = %feed.name, url = %url, status = 304, elapsed_ms, "not modified");
        }
        RefreshOutcome::Stored {
            status, stories, ..
        } => {
            tracing::debug!(feed = %feed.name, url = %url, status, entries = stories.len(), elapsed_ms, "fetched");
        }
    }
    Refreshed {
        refresh: FeedRefresh {
            feed: feed.name.clone(),
            fetched_at: now,
            outcome,
            next_poll: None,
        },
        hints,
        ttl_minutes,
        elapsed_ms,
    }
}

/// Why a refresh could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The database refused it.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The commit of a group of refreshes failed; nothing of the group was written.
    #[error("commit failed: {0}")]
    Commit(String),
    /// The writer thread is gone (shutting down, or it panicked).
    #[error("the database writer stopped before storing feed {feed:?}")]
    WriterGone {
        /// The feed whose refresh was lost.
        feed: String,
    },
}

/// Work for the writer thread.
enum WriteJob {
    /// A refresh to store; refreshes waiting together share one commit.
    Refresh(
        FeedRefresh,
        oneshot::Sender<Result<RefreshStats, WriteError>>,
    ),
    /// Anything else that needs the read-write connection.
    Run(Box<dyn FnOnce(&mut Store) + Send>),
}

/// At most this many refreshes share one commit: large enough to write the hot index
/// pages once per group, small enough that a group stays a fraction of a second.
const MAX_GROUP: usize = 64;

/// How long the writer waits for more refreshes to join the first one's commit. Every
/// commit rewrites the index pages its stories landed on (the content hash and newest-
/// first indexes are spread over the whole table), so a cold poll committing each refresh
/// as it came wrote its indexes over and over: with 1 000 feeds, 377 commits of one to
/// three refreshes and a log two and a half times the database. A refresh waits at most
/// this long longer to be durable.
const GROUP_WINDOW: Duration = Duration::from_millis(25);

/// A group this many stories large commits without waiting out the window.
const GROUP_STORIES: usize = 2_000;

/// The single database writer: a thread that owns the read-write connection and writes
/// refreshes in order, those already waiting together in one commit (each refresh stays
/// all-or-nothing; see `Store::apply_refreshes`).
#[derive(Debug, Clone)]
pub struct StoreWriter {
    tx: std_mpsc::Sender<WriteJob>,
}

impl StoreWriter {
    /// Moves the store onto a writer thread. The thread ends when every clone of the
    /// writer is dropped; join the handle to be sure the last commit happened.
    pub fn spawn(
        mut store: Store,
    ) -> std::io::Result<(StoreWriter, std::thread::JoinHandle<Store>)> {
        // Commits are this thread's whole job; checkpoints go to one of their own.
        store.checkpoint_in_background();
        let (tx, rx) = std_mpsc::channel::<WriteJob>();
        let handle = std::thread::Builder::new()
            .name("feedwatch-writer".into())
            .spawn(move || {
                let mut pending: Option<WriteJob> = None;
                loop {
                    let job = match pending.take() {
                        Some(job) => job,
                        None => match rx.recv() {
                            Ok(job) => job,
                            Err(_) => break,
                        },
                    };
                    let first = match job {
                        WriteJob::Run(work) => {
                            work(&mut store);
                            continue;
                        }
                        WriteJob::Refresh(refresh, reply) => (refresh, reply),
                    };
                    // Group commit: refreshes arriving within GROUP_WINDOW of the first
                    // go into the same transaction. Other work keeps its place in the
                    // queue, after the group.
                    let window_ends = Instant::now() + GROUP_WINDOW;
                    let mut stories = first.0.outcome.story_count();
                    let mut jobs = vec![first];
                    while jobs.len() < MAX_GROUP && stories < GROUP_STORIES {
                        let left = window_ends.saturating_duration_since(Instant::now());
                        match rx.recv_timeout(left) {
                            Ok(WriteJob::Refresh(refresh, reply)) => {
                                stories += refresh.outcome.story_count();
                                jobs.push((refresh, reply));
                            }
                            Ok(other) => {
                                pending = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    let (refreshes, replies): (Vec<FeedRefresh>, Vec<_>) = jobs.into_iter().unzip();
                    tracing::trace!(refreshes = refreshes.len(), stories, "group commit");
                    match store.apply_refreshes(&refreshes) {
                        Ok(results) => {
                            for (reply, result) in replies.into_iter().zip(results) {
                                // The caller may have gone away (shutdown); the write
                                // still happened.
                                let _ = reply.send(result.map_err(WriteError::from));
                            }
                        }
                        Err(e) => {
                            let message = e.to_string();
                            for reply in replies {
                                let _ = reply.send(Err(WriteError::Commit(message.clone())));
                            }
                        }
                    }
                }
                store
            })?;
        Ok((StoreWriter { tx }, handle))
    }

    /// Writes one refresh and waits for its commit.
    pub async fn apply(&self, refresh: FeedRefresh) -> Result<RefreshStats, WriteError> {
        let feed = refresh.feed.clone();
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(WriteJob::Refresh(refresh, reply))
            .map_err(|_| WriteError::WriterGone { feed: feed.clone() })?;
        wait.await.map_err(|_| WriteError::WriterGone { feed })?
    }

    /// Runs `job` on the writer thread, after every write queued before it, and returns
    /// its result; `Err` means the writer thread is gone.
    pub async fn with_store<R: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Store) -> R + Send + 'static,
    ) -> Result<R, WriterGone> {
        let (reply, wait) = oneshot::channel();
        self.tx
            .send(WriteJob::Run(Box::new(move |store: &mut Store| {
                // The caller may have gone away (shutdown); the work still happened.
                let _ = reply.send(job(store));
            })))
            .map_err(|_| WriterGone)?;
        wait.await.map_err(|_| WriterGone)
    }
}

/// The writer thread has stopped (shutting down, or it panicked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the database writer has stopped")]
pub struct WriterGone;

/// How one feed's refresh ended, for reporting.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedReport {
    /// Feed name.
    pub feed: String,
    /// `ok`, `not modified` or `failed`.
    pub kind: ReportKind,
    /// HTTP status, if any.
    pub status: Option<u16>,
    /// Counts written.
    pub stats: RefreshStats,
    /// The error, for failures.
    pub error: Option<String>,
    /// Wall time of fetch + processing.
    pub elapsed_ms: u64,
}

/// The three ways a refresh ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportKind {
    /// Fetched and stored.
    Ok,
    /// 304.
    NotModified,
    /// Fetch, parse or store failed.
    Failed,
}

/// Totals of one pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PollSummary {
    /// Feeds refreshed.
    pub feeds: u64,
    /// Feeds fetched and stored.
    pub ok: u64,
    /// Feeds answering 304.
    pub not_modified: u64,
    /// Feeds that failed.
    pub failed: u64,
    /// Entries seen.
    pub entries: u64,
    /// New items.
    pub new_items: u64,
    /// Items updated in place.
    pub updated_items: u64,
    /// Existing items that gained a source.
    pub new_sources: u64,
}

impl PollSummary {
    fn add(&mut self, r: &FeedReport) {
        self.feeds += 1;
        match r.kind {
            ReportKind::Ok => self.ok += 1,
            ReportKind::NotModified => self.not_modified += 1,
            ReportKind::Failed => self.failed += 1,
        }
        self.entries += r.stats.entries;
        self.new_items += r.stats.new_items;
        self.updated_items += r.stats.updated_items;
        self.new_sources += r.stats.new_sources;
    }
}

/// Refreshes and stores one feed, turning a storage failure into a failed report.
pub async fn refresh_and_store(
    pipeline: &Pipeline,
    writer: &StoreWriter,
    feed: &FeedSettings,
    validators: &Validators,
    now: DateTime<Utc>,
) -> (FeedReport, Refreshed) {
    refresh_and_store_with(pipeline, writer, feed, validators, now, |_| None).await
}

/// [`refresh_and_store`], with `next_poll` deciding the stored next poll time from the
/// refresh before it is written (the scheduler's hook).
pub async fn refresh_and_store_with(
    pipeline: &Pipeline,
    writer: &StoreWriter,
    feed: &FeedSettings,
    validators: &Validators,
    now: DateTime<Utc>,
    next_poll: impl FnOnce(&Refreshed) -> Option<DateTime<Utc>>,
) -> (FeedReport, Refreshed) {
    let mut refreshed = refresh(pipeline, feed, validators, now).await;
    refreshed.refresh.next_poll = next_poll(&refreshed);
    store_refreshed(writer, feed, refreshed).await
}

/// Writes a refresh and reports on it. The stories go to the writer; the returned
/// [`Refreshed`] keeps everything else (outcome, validators, hints) without them.
pub async fn store_refreshed(
    writer: &StoreWriter,
    feed: &FeedSettings,
    mut refreshed: Refreshed,
) -> (FeedReport, Refreshed) {
    let (kind, status, mut error) = match &refreshed.refresh.outcome {
        RefreshOutcome::Stored { status, .. } => (ReportKind::Ok, Some(*status), None),
        RefreshOutcome::NotModified { status } => (ReportKind::NotModified, Some(*status), None),
        RefreshOutcome::Failed { status, error } => {
            (ReportKind::Failed, *status, Some(error.clone()))
        }
    };
    let mut kind = kind;
    let light = FeedRefresh {
        feed: refreshed.refresh.feed.clone(),
        fetched_at: refreshed.refresh.fetched_at,
        outcome: match &refreshed.refresh.outcome {
            RefreshOutcome::Stored {
                status,
                final_url,
                validators,
                ..
            } => RefreshOutcome::Stored {
                status: *status,
                final_url: final_url.clone(),
                validators: validators.clone(),
                stories: Vec::new(),
            },
            other => other.clone(),
        },
        next_poll: refreshed.refresh.next_poll,
    };
    let full = std::mem::replace(&mut refreshed.refresh, light);
    let stats = match writer.apply(full).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(feed = %feed.name, error = %e, "storing failed");
            kind = ReportKind::Failed;
            error = Some(format!("feed {:?}: {e}", feed.name));
            RefreshStats::default()
        }
    };
    let report = FeedReport {
        feed: feed.name.clone(),
        kind,
        status,
        stats,
        error,
        elapsed_ms: refreshed.elapsed_ms,
    };
    (report, refreshed)
}

/// One pass over `feeds`: each is refreshed (at most `concurrency` at once) and stored;
/// `on_feed` sees every feed's report as it finishes.
pub async fn poll_once(
    pipeline: &Pipeline,
    writer: &StoreWriter,
    feeds: &[(FeedSettings, Validators)],
    concurrency: usize,
    now: DateTime<Utc>,
    mut on_feed: impl FnMut(&FeedReport),
) -> PollSummary {
    let mut summary = PollSummary::default();
    let limit = concurrency.max(1);
    // Fetching and processing take `concurrency` slots; a finished refresh hands its
    // slot on while it waits for the writer, so the CPU-bound middle never idles behind
    // a commit. Enough refreshes may wait to fill two group commits, so fetching and
    // processing go on while the writer waits for a checkpoint's sync; the bound keeps
    // memory at about fifteen megabytes of stories.
    let waiting = (2 * limit).max(2 * MAX_GROUP);
    let mut refreshing =
        futures_util::stream::iter(feeds.iter())
            .map(|(feed, validators)| async move {
                (feed, refresh(pipeline, feed, validators, now).await)
            })
            .buffer_unordered(limit)
            .fuse();
    let mut writing = futures_util::stream::FuturesUnordered::new();
    loop {
        tokio::select! {
            Some((feed, refreshed)) = refreshing.next(), if writing.len() < waiting => {
                writing.push(store_refreshed(writer, feed, refreshed));
            }
            Some((report, _)) = writing.next(), if !writing.is_empty() => {
                summary.add(&report);
                on_feed(&report);
            }
            else => break,
        }
    }
    summary
}

/// How many items one search-index batch takes: about a tenth of a second of work, so
/// refreshes queued behind it on the writer thread wait little.
const INDEX_BATCH: usize = 500;

/// Catches the search index up with stored items, batch by batch on the writer thread so
/// refresh writes interleave, until nothing waits or `budget` has passed. Returns the
/// items still waiting (searches scan those, so results stay complete meanwhile).
pub async fn index_search(writer: &StoreWriter, budget: Option<Duration>) -> anyhow::Result<u64> {
    let started = Instant::now();
    loop {
        let status = writer
            .with_store(|store| store.index_search(INDEX_BATCH))
            .await??;
        if status.pending == 0 || budget.is_some_and(|b| started.elapsed() >= b) {
            if status.indexed > 0 || status.pending > 0 {
                tracing::debug!(pending = status.pending, "search index");
            }
            return Ok(status.pending);
        }
    }
}

/// Rewrites every saved export (`[[export]]`) from the store; a failing one is logged
/// and leaves its old file in place.
pub async fn write_saved_exports(
    writer: &StoreWriter,
    specs: &[crate::config::ExportSpec],
    now: DateTime<Utc>,
) -> Result<(), WriterGone> {
    if specs.is_empty() {
        return Ok(());
    }
    let specs = specs.to_vec();
    let results = writer
        .with_store(move |store| crate::export::write_saved_exports(store, &specs, now))
        .await?;
    for r in results {
        match r.result {
            Ok(items) => {
                tracing::info!(export = %r.name, path = %r.path.display(), items, "export written");
            }
            Err(e) => {
                tracing::warn!(export = %r.name, path = %r.path.display(), error = %e, "export failed");
            }
        }
    }
    Ok(())
}
