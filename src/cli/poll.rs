//! `poll`: one pass over all (or the named) feeds, with a result line per feed.

use std::io::{IsTerminal, Write};
use std::sync::Arc;

use anyhow::Context;
use chrono::Utc;

use super::{Cli, UsageError, load_settings, runtime};
use crate::fetch::Fetcher;
use crate::ingest::{self, FeedReport, Pipeline, ReportKind, StoreWriter};
use crate::store::Store;
use crate::watch::Watchlist;

/// A pass that leaves at most this many items unindexed indexes them before exiting
/// (about half a second of work).
const POLL_INDEX_MAX: u64 = 2_000;

/// Runs `poll`.
pub fn poll(cli: &Cli, only: &[String]) -> anyhow::Result<()> {
    let settings = load_settings(cli)?;
    for name in only {
        if !settings.feeds.iter().any(|f| &f.name == name) {
            return Err(UsageError(format!("--feed {name:?}: no such feed in the config")).into());
        }
    }
    let feeds: Vec<_> = settings
        .feeds
        .iter()
        .filter(|f| only.is_empty() || only.contains(&f.name))
        .cloned()
        .collect();
    let watchlist = Arc::new(Watchlist::new(&settings.topics)?);
    let mut store = Store::open(&settings.database)?;
    let mut validators = ingest::register_feeds(&mut store, &settings.feeds)?;
    if let Some(warning) = super::retag::stale_tags(&mut store, &watchlist)? {
        let _ = writeln!(std::io::stderr(), "warning: {warning}");
    }
    let jobs: Vec<_> = feeds
        .into_iter()
        .map(|f| {
            let v = validators.remove(&f.name).unwrap_or_default();
            (f, v)
        })
        .collect();

    let rt = runtime()?;
    let fetcher = Fetcher::new(&settings.poll).context("cannot build the HTTP client")?;
    let pipeline = Pipeline { fetcher, watchlist };
    let (writer, handle) = StoreWriter::spawn(store).context("cannot start the database writer")?;

    let bar = progress_bar(jobs.len() as u64);
    let stdout = std::io::stdout();
    let summary = rt.block_on(ingest::poll_once(
        &pipeline,
        &writer,
        &jobs,
        settings.poll.concurrency,
        Utc::now(),
        |report| {
            let line = report_line(report);
            match &bar {
                Some(b) => {
                    b.inc(1);
                    b.suspend(|| {
                        let _ = writeln!(stdout.lock(), "{line}");
                    });
                }
                None => {
                    // A closed stdout must not stop the pass: results are in the database.
                    let _ = writeln!(stdout.lock(), "{line}");
                }
            }
        },
    ));
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let changed = summary.new_items + summary.updated_items + summary.new_sources > 0;
    // The search index catches up with what this pass stored when that is a small job
    // (indexing costs several times what storing does, so a large first pass leaves it
    // to the daemon or `feedwatch index`); searches scan what is still waiting, so
    // results stay complete meanwhile.
    let backlog = if changed {
        Some(rt.block_on(async {
            let waiting = writer.with_store(|store| store.search_backlog()).await??;
            if waiting > POLL_INDEX_MAX {
                return anyhow::Ok(waiting);
            }
            ingest::index_search(&writer, None).await
        })?)
    } else {
        None
    };
    if changed {
        rt.block_on(ingest::write_saved_exports(
            &writer,
            &settings.exports,
            Utc::now(),
        ))?;
    }
    drop(writer);
    drop(pipeline);
    handle
        .join()
        .map_err(|_| anyhow::anyhow!("the database writer failed"))?;

    let mut out = stdout.lock();
    let _ = writeln!(
        out,
        "polled {} feeds: {} fetched, {} not modified, {} failed; {} entries, {} new items, {} updated, {} new sources",
        summary.feeds,
        summary.ok,
        summary.not_modified,
        summary.failed,
        summary.entries,
        summary.new_items,
        summary.updated_items,
        summary.new_sources
    );
    if let Some(pending) = backlog.filter(|&n| n > 0) {
        let _ = writeln!(
            out,
            "search index: {pending} items waiting (searches scan them meanwhile; `feedwatch index` or the daemon indexes them)"
        );
    }
    if summary.failed > 0 {
        let _ = writeln!(
            out,
            "{} feeds failed: see `feedwatch feeds` for their errors",
            summary.failed
        );
    }
    Ok(())
}

fn progress_bar(len: u64) -> Option<indicatif::ProgressBar> {
    if len < 20 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} feeds {elapsed}")
    {
        bar.set_style(style);
    }
    Some(bar)
}

/// One line per feed: outcome, name, counts or error.
pub fn report_line(r: &FeedReport) -> String {
    let status = r
        .status
        .map(|s| s.to_string())
        .unwrap_or_else(|| "-".into());
    match r.kind {
        ReportKind::Ok => format!(
            "ok      {}  {} entries, {} new, {} updated, {} new sources ({status}, {} ms)",
            r.feed,
            r.stats.entries,
            r.stats.new_items,
            r.stats.updated_items,
            r.stats.new_sources,
            r.elapsed_ms
        ),
        ReportKind::NotModified => format!(
            "same    {}  not modified ({status}, {} ms)",
            r.feed, r.elapsed_ms
        ),
        ReportKind::Failed => format!(
            "FAILED  {}  {}",
            r.feed,
            r.error.as_deref().unwrap_or("unknown error")
        ),
    }
}
