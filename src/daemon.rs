//! `feedwatch run`: the long-lived scheduler, fit for systemd.
//!
//! This module owns the daemon's life: the database lock that keeps a second daemon off
//! the same database, the per-feed state (next due time, error streak, validators), the
//! loop that starts due refreshes under one daemon-wide concurrency limit, the signals
//! (SIGTERM/SIGINT stop with a bounded drain, SIGHUP reloads the config), and the
//! messages to the service manager (`READY`, `STATUS`, `RELOADING`, `STOPPING`,
//! `WATCHDOG`), all of which are no-ops outside systemd.
//!
//! It decides nothing about timing itself: [`schedule::next_poll`] turns each refresh's
//! outcome into the next poll time, which is stored with the refresh in the same
//! transaction. Fetching, processing and writing belong to [`ingest`]; per-host limits to
//! the shared [`Fetcher`]; the config file to [`config`](crate::config).

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, TimeDelta, Utc};
use sd_notify::NotifyState;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;

use crate::config::{FeedSettings, PollSettings, Settings};
use crate::fetch::Fetcher;
use crate::ingest::{self, FeedReport, Pipeline, ReportKind, StoreWriter};
use crate::model::Validators;
use crate::schedule::{self, Hints, Outcome, Plan};
use crate::store::{FeedHealth, RefreshOutcome, Store, StoreError};
use crate::watch::Watchlist;

/// How often the loop looks at the wall clock even when nothing is due: a suspended
/// machine or a clock that jumped is noticed within this time.
const RECHECK: Duration = Duration::from_secs(60);
/// A wall clock that falls behind the monotonic clock by more than this has been set
/// back; due times are moved back with it.
const CLOCK_STEP: Duration = Duration::from_secs(5);

/// Why `run` could not take the database.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another daemon holds the lock.
    #[error(
        "database {db} is in use by another `feedwatch run` (it holds {lock}); stop that one \
         first. Read-only commands such as `items` and `feeds` work alongside it"
    )]
    Held {
        /// The database file.
        db: String,
        /// The lock file.
        lock: String,
    },
    /// The lock file could not be created or locked.
    #[error("cannot lock database {db} through {lock}: {source}")]
    Io {
        /// The database file.
        db: String,
        /// The lock file.
        lock: String,
        /// What the system said.
        source: std::io::Error,
    },
}

/// The daemon's exclusive claim on a database, held until dropped (or the process dies:
/// the kernel releases it, so a killed daemon never leaves a stale lock behind).
#[derive(Debug)]
pub struct DbLock {
    _file: File,
}

impl DbLock {
    /// The lock file used for `database`: the same name with `.lock` appended.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_os_string();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock without waiting, or says who holds it.
    pub fn acquire(database: &Path) -> Result<DbLock, LockError> {
        let lock = Self::path_for(database);
        let names = || (database.display().to_string(), lock.display().to_string());
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|source| {
                let (db, lock) = names();
                LockError::Io { db, lock, source }
            })?;
        // flock(2), not fcntl: it is independent of SQLite's own POSIX locks on the
        // database file and is released when the process dies.
        match fs4::FileExt::try_lock(&file) {
            Ok(()) => Ok(DbLock { _file: file }),
            Err(fs4::TryLockError::WouldBlock) => {
                let (db, lock) = names();
                Err(LockError::Held { db, lock })
            }
            Err(fs4::TryLockError::Error(source)) => {
                let (db, lock) = names();
                Err(LockError::Io { db, lock, source })
            }
        }
    }
}

/// Reads the config again on SIGHUP; an error keeps the running config.
pub type Reloader = Box<dyn FnMut() -> anyhow::Result<Settings> + Send>;

/// Sends states to the service manager. Without `NOTIFY_SOCKET` this does nothing; a
/// failed send is logged and otherwise ignored (the daemon works without systemd).
fn notify(states: &[NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::debug!(error = %e, "sd_notify failed");
    }
}

/// One feed as the scheduler tracks it.
#[derive(Debug)]
struct FeedState {
    settings: FeedSettings,
    /// The schedule expression the plan was built from.
    schedule: String,
    plan: Plan,
    validators: Validators,
    due: DateTime<Utc>,
    streak: u32,
    running: bool,
}

impl FeedState {
    fn new(
        settings: FeedSettings,
        poll: &PollSettings,
        schedule: &str,
        stored: Option<&FeedHealth>,
        validators: Validators,
        now: DateTime<Utc>,
    ) -> anyhow::Result<FeedState> {
        let plan = plan_for(&settings.name, schedule, poll)?;
        let streak = stored.map(|h| h.error_streak).unwrap_or(0);
        let due = first_due(&plan, stored.and_then(|h| h.next_poll), streak, now);
        Ok(FeedState {
            settings,
            schedule: schedule.to_string(),
            plan,
            validators,
            due,
            streak,
            running: false,
        })
    }
}

fn plan_for(name: &str, expr: &str, poll: &PollSettings) -> anyhow::Result<Plan> {
    let schedule =
        schedule::parse(expr).map_err(|e| anyhow::anyhow!("feed {name:?}: schedule {e}"))?;
    Ok(Plan {
        schedule,
        zone: poll.timezone,
        max_backoff: poll.max_backoff,
        seed: schedule::feed_seed(name),
    })
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When a feed first polls after the daemon starts (or the feed is added): a stored
/// backoff is kept so a restart does not hammer a failing feed, a healthy feed keeps its
/// stored time unless its schedule now comes sooner, and a feed never polled or overdue
/// polls at once, shifted by its offset so a thousand of them do not start together.
/// Overdue feeds poll once: missed ticks are never replayed.
fn first_due(
    plan: &Plan,
    stored: Option<DateTime<Utc>>,
    streak: u32,
    now: DateTime<Utc>,
) -> DateTime<Utc> {
    let every = schedule::interval(&plan.schedule, plan.zone, now);
    let soon = add(now, schedule::spread(plan.seed, every));
    match stored {
        Some(t) if t > now => {
            let t = t.min(add(now, plan.max_backoff));
            if streak > 0 {
                t
            } else {
                t.min(schedule::next_poll(
                    plan,
                    now,
                    Outcome::Success,
                    0,
                    &Hints::default(),
                ))
            }
        }
        _ => soon,
    }
}

/// What a finished refresh tells the loop.
#[derive(Debug)]
struct Done {
    report: FeedReport,
    /// The schedule the next poll was computed with.
    schedule: String,
    url: String,
    outcome: Outcome,
    streak: u32,
    hints: Hints,
    next: DateTime<Utc>,
    validators: Option<Validators>,
}

fn hints_of(r: &ingest::Refreshed) -> Hints {
    Hints {
        retry_after: r.hints.retry_after,
        max_age: r.hints.max_age.map(Duration::from_secs),
        expires: r.hints.expires,
        ttl: r
            .ttl_minutes
            .map(|m| Duration::from_secs(u64::from(m).saturating_mul(60))),
    }
}

/// Everything one refresh task owns.
struct Job {
    pipeline: Pipeline,
    writer: StoreWriter,
    feed: FeedSettings,
    validators: Validators,
    plan: Plan,
    schedule: String,
    streak_before: u32,
    /// Held until the refresh is stored: the daemon-wide concurrency limit.
    _permit: OwnedSemaphorePermit,
}

/// Refreshes one feed, decides its next poll and stores both in one transaction.
async fn refresh_one(job: Job) -> Done {
    let Job {
        pipeline,
        writer,
        feed,
        validators,
        plan,
        schedule,
        streak_before,
        _permit,
    } = job;
    let now = Utc::now();
    let mut decided = None;
    let (report, refreshed) =
        ingest::refresh_and_store_with(&pipeline, &writer, &feed, &validators, now, |r| {
            let outcome = match r.refresh.outcome {
                RefreshOutcome::Failed { .. } => Outcome::Failure,
                _ => Outcome::Success,
            };
            let streak = match outcome {
                Outcome::Failure => streak_before.saturating_add(1),
                Outcome::Success => 0,
            };
            let hints = hints_of(r);
            let next = schedule::next_poll(&plan, now, outcome, streak, &hints);
            decided = Some((outcome, streak, hints, next));
            Some(next)
        })
        .await;
    let hints = hints_of(&refreshed);
    let (mut outcome, mut streak, _, mut next) = decided.unwrap_or((
        Outcome::Failure,
        streak_before.saturating_add(1),
        hints.clone(),
        now,
    ));
    // The refresh went fine but could not be stored: for scheduling, that is a failure.
    if report.kind == ReportKind::Failed && outcome == Outcome::Success {
        outcome = Outcome::Failure;
        streak = streak_before.saturating_add(1);
        next = schedule::next_poll(&plan, now, outcome, streak, &hints);
    }
    let validators = match (&report.kind, &refreshed.refresh.outcome) {
        (ReportKind::Ok, RefreshOutcome::Stored { validators, .. }) => Some(validators.clone()),
        _ => None,
    };
    tracing::debug!(feed = %feed.name, error_streak = streak, next_poll = %next, "scheduled");
    Done {
        report,
        schedule,
        url: feed.source.to_string(),
        outcome,
        streak,
        hints,
        next,
        validators,
    }
}

/// Counts of one cycle: from the first refresh started after an idle spell until no
/// refresh runs and none is due.
#[derive(Debug)]
struct Cycle {
    started: Instant,
    polled: u64,
    ok: u64,
    not_modified: u64,
    failed: u64,
    new_items: u64,
    /// New items, updated items and new sources: whether saved exports are stale.
    changed: u64,
}

impl Cycle {
    fn new() -> Cycle {
        Cycle {
            started: Instant::now(),
            polled: 0,
            ok: 0,
            not_modified: 0,
            failed: 0,
            new_items: 0,
            changed: 0,
        }
    }

    fn add(&mut self, r: &FeedReport) {
        self.polled += 1;
        match r.kind {
            ReportKind::Ok => self.ok += 1,
            ReportKind::NotModified => self.not_modified += 1,
            ReportKind::Failed => self.failed += 1,
        }
        self.new_items += r.stats.new_items;
        self.changed += r.stats.new_items + r.stats.updated_items + r.stats.new_sources;
    }
}

/// Every configured feed with the stored health and validators the scheduler starts from.
struct Loaded {
    health: HashMap<String, FeedHealth>,
    validators: HashMap<String, Validators>,
}

/// Makes sure every configured feed has a row and reads back what the scheduler needs,
/// on the writer thread (the only read-write connection).
async fn load_feeds(writer: &StoreWriter, feeds: &[FeedSettings]) -> anyhow::Result<Loaded> {
    let feeds = feeds.to_vec();
    let loaded = writer
        .with_store(move |store: &mut Store| -> Result<Loaded, StoreError> {
            let validators = ingest::register_feeds(store, &feeds)?;
            let health = store
                .feeds()?
                .into_iter()
                .map(|h| (h.name.clone(), h))
                .collect();
            Ok(Loaded { health, validators })
        })
        .await
        .context("cannot read the feeds' state")??;
    Ok(loaded)
}

fn build_pipeline(settings: &Settings, fetcher: Option<Fetcher>) -> anyhow::Result<Pipeline> {
    let fetcher = match fetcher {
        Some(f) => f,
        None => Fetcher::new(&settings.poll).context("cannot build the HTTP client")?,
    };
    let watchlist = Arc::new(Watchlist::new(&settings.topics).context("watchlist")?);
    Ok(Pipeline { fetcher, watchlist })
}

/// The poll settings that shape the HTTP client; a reload that changes none of them
/// keeps the client, so per-host limits keep counting requests already in flight.
fn client_settings(p: &PollSettings) -> impl PartialEq + use<> {
    (
        p.concurrency,
        p.per_host,
        p.timeout,
        p.connect_timeout,
        p.max_body,
        p.max_redirects,
        p.user_agent.clone(),
    )
}

/// The running daemon's state.
struct Daemon {
    settings: Settings,
    pipeline: Pipeline,
    writer: StoreWriter,
    permits: Arc<Semaphore>,
    feeds: HashMap<String, FeedState>,
    tasks: JoinSet<Done>,
    cycle: Option<Cycle>,
    /// A cycle ends when nothing runs and nothing is due for this long: half the
    /// shortest schedule interval, so the feeds of one tick, spread over a few seconds,
    /// make one cycle and one log line.
    quiet: Duration,
    last_cycle_new: u64,
    new_since_start: u64,
    /// Search indexing and saved exports after a cycle with changes.
    background: Option<tokio::task::JoinHandle<()>>,
}

/// Half the shortest schedule interval among `feeds`, at most [`RECHECK`].
fn quiet_gap<'a>(feeds: impl Iterator<Item = &'a FeedState>, now: DateTime<Utc>) -> Duration {
    feeds
        .map(|f| schedule::interval(&f.plan.schedule, f.plan.zone, now) / 2)
        .min()
        .unwrap_or(RECHECK)
        .min(RECHECK)
}

impl Daemon {
    /// Starts every due feed the concurrency limit allows, earliest first.
    fn start_due(&mut self, now: DateTime<Utc>) {
        let mut due: Vec<(DateTime<Utc>, String)> = self
            .feeds
            .values()
            .filter(|f| !f.running && f.due <= now)
            .map(|f| (f.due, f.settings.name.clone()))
            .collect();
        due.sort();
        for (_, name) in due {
            let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                break;
            };
            let Some(f) = self.feeds.get_mut(&name) else {
                continue;
            };
            f.running = true;
            self.cycle.get_or_insert_with(Cycle::new);
            self.tasks.spawn(refresh_one(Job {
                pipeline: self.pipeline.clone(),
                writer: self.writer.clone(),
                feed: f.settings.clone(),
                validators: f.validators.clone(),
                plan: f.plan.clone(),
                schedule: f.schedule.clone(),
                streak_before: f.streak,
                _permit: permit,
            }));
        }
    }

    /// Takes a finished refresh into the feed's state.
    fn finish(&mut self, done: Done, now: DateTime<Utc>) {
        self.cycle.get_or_insert_with(Cycle::new).add(&done.report);
        self.new_since_start += done.report.stats.new_items;
        // A feed removed by a reload while it ran is simply forgotten; its items stay.
        let Some(f) = self.feeds.get_mut(&done.report.feed) else {
            return;
        };
        f.running = false;
        f.streak = done.streak;
        f.due = if f.schedule == done.schedule {
            done.next
        } else {
            // Reloaded with a new schedule while this refresh ran.
            schedule::next_poll(&f.plan, now, done.outcome, done.streak, &done.hints)
        };
        if let Some(v) = done.validators {
            if f.settings.source.to_string() == done.url {
                f.validators = v;
            }
        }
    }

    /// Closes the cycle once nothing runs and nothing is due for a while: one log line
    /// and STATUS.
    fn maybe_close_cycle(&mut self, now: DateTime<Utc>) {
        let Some(started) = self.cycle.as_ref().map(|c| c.started) else {
            return;
        };
        let horizon = add(now, self.quiet);
        let idle = self.tasks.is_empty() && self.feeds.values().all(|f| f.due >= horizon);
        // A daemon that is never idle (feeds slower than their schedule) still reports.
        if !idle && started.elapsed() < RECHECK {
            return;
        }
        let Some(c) = self.cycle.take() else {
            return;
        };
        let elapsed_ms = u64::try_from(c.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        tracing::info!(
            feeds = c.polled,
            ok = c.ok,
            not_modified = c.not_modified,
            failed = c.failed,
            items_new = c.new_items,
            elapsed_ms,
            "cycle done"
        );
        self.last_cycle_new = c.new_items;
        self.send_status(now);
        if c.changed > 0 {
            self.after_changes(now);
        }
    }

    /// After a cycle that stored something: the search index catches up (in small
    /// batches, so refreshes interleave) and saved exports are rewritten. Runs beside
    /// the scheduler; an error is logged, never fatal.
    fn after_changes(&mut self, now: DateTime<Utc>) {
        if self.background.as_ref().is_some_and(|bg| !bg.is_finished()) {
            // The previous round is still indexing; it picks up this cycle's items too,
            // and the next cycle with changes rewrites the exports.
            return;
        }
        let writer = self.writer.clone();
        let exports = self.settings.exports.clone();
        self.background = Some(tokio::spawn(async move {
            if let Err(e) = ingest::index_search(&writer, None).await {
                tracing::warn!(error = %e, "search indexing failed");
            }
            if let Err(e) = ingest::write_saved_exports(&writer, &exports, now).await {
                tracing::warn!(error = %e, "saved exports not written");
            }
        }));
    }

    fn status_line(&self, now: DateTime<Utc>) -> String {
        let soon = add(now, RECHECK);
        let due = self.feeds.values().filter(|f| f.due <= soon).count();
        let failing = self.feeds.values().filter(|f| f.streak > 0).count();
        let n = self.feeds.len();
        format!(
            "{n} feed{}, {due} due within a minute, {failing} failing; {} new items stored in the last cycle, {} since start",
            if n == 1 { "" } else { "s" },
            self.last_cycle_new,
            self.new_since_start
        )
    }

    fn send_status(&self, now: DateTime<Utc>) {
        notify(&[NotifyState::Status(&self.status_line(now))]);
    }

    /// How long the loop may sleep: until the next feed not already waiting for a permit
    /// is due, and never longer than [`RECHECK`].
    fn sleep_for(&self, now: DateTime<Utc>) -> Duration {
        self.feeds
            .values()
            .filter(|f| !f.running && f.due > now)
            .map(|f| (f.due - now).to_std().unwrap_or(Duration::ZERO))
            .min()
            .unwrap_or(RECHECK)
            .min(RECHECK)
    }

    /// Moves every due time back by `by` after the wall clock was set back, so feeds do
    /// not wait for the lost time on top of their interval.
    fn clock_set_back(&mut self, by: TimeDelta) {
        for f in self.feeds.values_mut() {
            f.due = f.due.checked_sub_signed(by).unwrap_or(f.due);
        }
    }

    /// Applies a reloaded config; on error the running config stays untouched.
    async fn reload(&mut self, new: Settings) -> anyhow::Result<()> {
        if new.database != self.settings.database {
            tracing::warn!(
                database = %self.settings.database.display(),
                "storage.database changed in the config; restart the daemon to switch databases"
            );
        }
        let keep_client = client_settings(&new.poll) == client_settings(&self.settings.poll);
        let pipeline = build_pipeline(&new, keep_client.then(|| self.pipeline.fetcher.clone()))?;
        // Build every feed's new state before touching the running one.
        let mut plans = Vec::with_capacity(new.feeds.len());
        for f in &new.feeds {
            let expr = new.schedule_of(f).to_string();
            plans.push((plan_for(&f.name, &expr, &new.poll)?, expr));
        }
        let loaded = load_feeds(&self.writer, &new.feeds).await?;
        let now = Utc::now();
        let mut feeds = HashMap::with_capacity(new.feeds.len());
        let (mut added, mut changed) = (0usize, 0usize);
        for (f, (plan, expr)) in new.feeds.iter().zip(plans) {
            let state = match self.feeds.remove(&f.name) {
                Some(mut old) if old.settings.source == f.source => {
                    let replanned = old.schedule != expr
                        || old.plan.zone != plan.zone
                        || old.plan.max_backoff != plan.max_backoff;
                    if replanned || old.settings != *f {
                        changed += 1;
                    }
                    old.settings = f.clone();
                    if replanned {
                        old.plan = plan;
                        old.schedule = expr;
                        if !old.running && old.streak == 0 {
                            old.due = schedule::next_poll(
                                &old.plan,
                                now,
                                Outcome::Success,
                                0,
                                &Hints::default(),
                            );
                        }
                    }
                    old
                }
                other => {
                    // New, or moved to another URL: its old validators and backoff belong
                    // to the old address.
                    let moved = other.is_some();
                    if moved {
                        changed += 1;
                    } else {
                        added += 1;
                    }
                    let stored = if moved {
                        None
                    } else {
                        loaded.health.get(&f.name)
                    };
                    let validators = if moved {
                        Validators::default()
                    } else {
                        loaded.validators.get(&f.name).cloned().unwrap_or_default()
                    };
                    let mut s =
                        FeedState::new(f.clone(), &new.poll, &expr, stored, validators, now)?;
                    s.running = other.is_some_and(|o| o.running);
                    s
                }
            };
            feeds.insert(f.name.clone(), state);
        }
        let removed = self.feeds.len();
        if new.poll.concurrency != self.settings.poll.concurrency {
            // Refreshes in flight keep their permits from the old limit and finish.
            self.permits = Arc::new(Semaphore::new(new.poll.concurrency));
        }
        self.feeds = feeds;
        self.quiet = quiet_gap(self.feeds.values(), now);
        self.pipeline = pipeline;
        let database = std::mem::take(&mut self.settings.database);
        self.settings = new;
        self.settings.database = database;
        tracing::info!(
            feeds = self.feeds.len(),
            added,
            removed,
            changed,
            topics = self.settings.topics.len(),
            "config reloaded"
        );
        Ok(())
    }
}

/// Waits for the next SIGTERM or SIGINT.
async fn stop_signal(term: &mut Signal, int: &mut Signal) -> &'static str {
    tokio::select! {
        _ = term.recv() => "SIGTERM",
        _ = int.recv() => "SIGINT",
    }
}

/// Runs the daemon until SIGTERM or SIGINT: polls every feed of `settings` on its
/// schedule into `store`, reloads through `reload` on SIGHUP, and on a stop signal lets
/// refreshes in flight finish for up to `[poll] drain_timeout` before returning.
/// Everything committed stays committed; a refresh cut short writes nothing.
pub async fn run(settings: Settings, store: Store, mut reload: Reloader) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;

    let pipeline = build_pipeline(&settings, None)?;
    let (writer, writer_thread) =
        StoreWriter::spawn(store).context("cannot start the database writer")?;
    let loaded = load_feeds(&writer, &settings.feeds).await?;
    let now = Utc::now();
    let mut feeds = HashMap::with_capacity(settings.feeds.len());
    for f in &settings.feeds {
        let expr = settings.schedule_of(f).to_string();
        let state = FeedState::new(
            f.clone(),
            &settings.poll,
            &expr,
            loaded.health.get(&f.name),
            loaded.validators.get(&f.name).cloned().unwrap_or_default(),
            now,
        )?;
        feeds.insert(f.name.clone(), state);
    }
    let mut d = Daemon {
        permits: Arc::new(Semaphore::new(settings.poll.concurrency)),
        settings,
        pipeline,
        writer,
        tasks: JoinSet::new(),
        cycle: None,
        last_cycle_new: 0,
        background: None,
        quiet: quiet_gap(feeds.values(), now),
        feeds,
        new_since_start: 0,
    };

    tracing::info!(
        feeds = d.feeds.len(),
        database = %d.settings.database.display(),
        concurrency = d.settings.poll.concurrency,
        timezone = %d.settings.poll.timezone,
        "daemon started"
    );
    notify(&[
        NotifyState::Ready,
        NotifyState::Status(&format!("started with {} feeds", d.feeds.len())),
    ]);

    let watchdog = sd_notify::watchdog_enabled();
    let mut watchdog_tick = tokio::time::interval(
        watchdog
            .map(|w| w / 2)
            .unwrap_or(Duration::from_secs(3600))
            .max(Duration::from_millis(100)),
    );
    watchdog_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    let mut last_wall = Utc::now();
    let mut last_mono = Instant::now();
    let stopped_by = loop {
        let now = Utc::now();
        let expected = add(last_wall, last_mono.elapsed());
        if expected - now > TimeDelta::from_std(CLOCK_STEP).unwrap_or(TimeDelta::MAX) {
            tracing::warn!(
                by_ms = (expected - now).num_milliseconds(),
                "wall clock was set back; moving due times with it"
            );
            d.clock_set_back(expected - now);
        }
        last_wall = now;
        last_mono = Instant::now();

        d.start_due(now);
        d.maybe_close_cycle(now);
        let nap = d.sleep_for(now);

        tokio::select! {
            Some(joined) = d.tasks.join_next(), if !d.tasks.is_empty() => match joined {
                Ok(done) => d.finish(done, Utc::now()),
                Err(e) => tracing::error!(error = %e, "a refresh task failed"),
            },
            _ = tokio::time::sleep(nap) => {}
            which = stop_signal(&mut term, &mut int) => break which,
            _ = hup.recv() => {
                // MONOTONIC_USEC lets newer service managers match RELOADING to READY.
                match NotifyState::monotonic_usec_now() {
                    Ok(at) => notify(&[NotifyState::Reloading, at]),
                    Err(_) => notify(&[NotifyState::Reloading]),
                }
                let result = match reload() {
                    Ok(new) => d.reload(new).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = result {
                    tracing::error!(error = %format!("{e:#}"), "config reload rejected; keeping the running config");
                }
                notify(&[NotifyState::Ready, NotifyState::Status(&d.status_line(Utc::now()))]);
            }
            _ = watchdog_tick.tick(), if watchdog.is_some() => {
                // Only a loop that runs and a writer thread that answers earn a ping.
                let limit = watchdog.map(|w| w / 4).unwrap_or(RECHECK);
                match tokio::time::timeout(limit, d.writer.with_store(|_| ())).await {
                    Ok(Ok(())) => notify(&[NotifyState::Watchdog]),
                    _ => tracing::warn!("database writer did not answer; withholding the watchdog ping"),
                }
            }
        }
    };

    let in_flight = d.tasks.len();
    tracing::info!(signal = stopped_by, in_flight, "stopping");
    notify(&[
        NotifyState::Stopping,
        NotifyState::Status(&format!("stopping: {in_flight} refreshes finishing")),
    ]);
    let drain = d.settings.poll.drain_timeout;
    let drained = tokio::select! {
        r = tokio::time::timeout(drain, async {
            while let Some(joined) = d.tasks.join_next().await {
                if let Ok(done) = joined {
                    d.finish(done, Utc::now());
                }
            }
        }) => r.is_ok(),
        which = stop_signal(&mut term, &mut int) => {
            tracing::warn!(signal = which, "second stop signal: cutting the drain short");
            false
        }
    };
    if !drained {
        tracing::warn!(
            cut_short = d.tasks.len(),
            "refreshes cut short; they stored nothing and run again on the next start"
        );
        d.tasks.shutdown().await;
    }
    // Indexing and saved exports wait for the next start; stop between two batches.
    if let Some(bg) = d.background.take() {
        bg.abort();
        let _ = bg.await;
    }
    let Daemon { writer, .. } = d;
    drop(writer);
    // Writes queued before the stop finish on the writer thread, each refresh whole;
    // waiting for the thread makes sure the last commit is on disk.
    tokio::task::spawn_blocking(move || writer_thread.join())
        .await
        .context("waiting for the database writer")?
        .map_err(|_| anyhow::anyhow!("the database writer failed while stopping"))?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn plan(expr: &str) -> Plan {
        Plan {
            schedule: schedule::parse(expr).unwrap(),
            zone: schedule::ScheduleZone::Named(chrono_tz::UTC),
            max_backoff: Duration::from_secs(24 * 3600),
            seed: 42,
        }
    }

    #[test]
    fn restarts_keep_backoff_and_never_replay_missed_ticks() {
        let now = Utc.with_ymd_and_hms(2025, 6, 10, 12, 0, 10).unwrap();
        let p = plan("0 */15 * * * *");
        let offset = schedule::spread(42, Duration::from_secs(900));
        let soon = add(now, offset);
        let tick = add(
            Utc.with_ymd_and_hms(2025, 6, 10, 12, 15, 0).unwrap(),
            offset,
        );
        let h = |h: u32| Some(Utc.with_ymd_and_hms(2025, 6, 10, h, 0, 0).unwrap());
        let cases = [
            ("never polled: at once", None, 0, soon),
            ("overdue by hours: once, at once", h(3), 0, soon),
            ("failing with backoff: keeps it", h(18), 3, h(18).unwrap()),
            ("healthy: the schedule if sooner", h(18), 0, tick),
            (
                "backoff beyond the cap: capped",
                Some(now + TimeDelta::days(9)),
                5,
                now + TimeDelta::days(1),
            ),
        ];
        for (name, stored, streak, want) in cases {
            assert_eq!(first_due(&p, stored, streak, now), want, "{name}");
        }
    }

    #[test]
    fn a_second_lock_on_one_database_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("fw.db");
        let first = DbLock::acquire(&db).unwrap();
        let err = DbLock::acquire(&db).unwrap_err().to_string();
        assert!(err.contains("in use by another `feedwatch run`"), "{err}");
        assert!(err.contains("fw.db"), "{err}");
        drop(first);
        assert!(DbLock::acquire(&db).is_ok(), "the lock is released on drop");
    }
}
