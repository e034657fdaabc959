//! `export`: stored items as a feed or data file, on standard output or written
//! atomically to a file. The rendering is [`crate::export`]; this file turns the command
//! line into a filter and feed metadata.

use std::path::Path;

use chrono::{DateTime, Utc};

use super::{FilterArgs, UsageError, stdout};
use crate::export::{FeedMeta, Format, GENERATOR, feed_id, write_atomically};
use crate::store::Store;

/// Search backlog above which a search warns that it scans unindexed items.
const BACKLOG_WARNING: u64 = 20_000;

/// What `export` was asked for.
pub struct Request<'a> {
    /// The filters, as given.
    pub filter: &'a FilterArgs,
    /// Output format.
    pub format: Format,
    /// File to write instead of standard output.
    pub output: Option<&'a Path>,
    /// Title overriding the one describing the filter.
    pub title: Option<&'a str>,
    /// URL the file is served at.
    pub link: Option<&'a str>,
}

/// Runs `export`.
pub fn export(db: &Path, req: &Request<'_>, now: DateTime<Utc>) -> anyhow::Result<()> {
    let filter = req.filter.to_filter(now)?;
    if let Some(link) = req.link {
        match url::Url::parse(link) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => {}
            _ => {
                return Err(UsageError(format!("--link {link:?}: not an http(s) URL")).into());
            }
        }
    }
    let store = Store::open_readonly(db)?;
    if filter.search.is_some() {
        let backlog = store.search_backlog()?;
        if backlog > BACKLOG_WARNING {
            tracing::warn!(
                backlog,
                "the search index is behind; unindexed items are scanned one by one \
                 until the next poll or daemon cycle indexes them"
            );
        }
    }
    let what = req.filter.describe();
    let meta = FeedMeta {
        title: req
            .title
            .map(str::to_string)
            .unwrap_or_else(|| format!("{GENERATOR}: {what}")),
        description: format!("Items stored by {GENERATOR}, newest first: {what}"),
        id: feed_id(&what),
        link: req.link.map(str::to_string),
        now,
    };
    match req.output {
        Some(path) => {
            let target = path.display().to_string();
            let n = write_atomically(path, |w| {
                crate::export::export(&store, &filter, req.format, &meta, w, &target)
            })?;
            println!("exported {n} items to {target}");
        }
        None => {
            crate::export::export(
                &store,
                &filter,
                req.format,
                &meta,
                stdout(),
                "standard output",
            )?;
        }
    }
    Ok(())
}
