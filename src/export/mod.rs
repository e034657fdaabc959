//! Exporting stored items: filtered feeds (Atom, RSS 2.0, JSON Feed) and data files
//! (JSON lines, CSV), written as a stream, to any writer or atomically to a file, plus
//! the saved exports of the config and OPML for the feed list.
//!
//! Which items go out is decided by the store's listing ([`Store::for_each_item`]) with
//! the same [`ItemFilter`] `items` uses; this module only renders. Items arrive newest
//! first and leave one at a time, so memory stays flat for any number of items. Every
//! item keeps one id in every format and every export, derived from its stable uid
//! ([`item_id`]), so a reader subscribed to an exported file never sees an item twice.
//! HTML is sanitized before it is written (`markup`). Parsing the command line and
//! finding the config are the CLI's job.

mod atom;
mod jsonfeed;
mod markup;
pub mod opml;
pub mod rows;
mod rss;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::ExportSpec;
use crate::model::{ItemFilter, ItemView};
use crate::store::{Store, StoreError};
use rows::{RowFormat, RowWriter};

/// Our name in `generator` elements and as the feed's author.
pub const GENERATOR: &str = "feedwatch";

/// The scheme (Atom) or domain (RSS) of categories that are watchlist topics.
pub const TOPIC_SCHEME: &str = "urn:feedwatch:topic";

/// The scheme (Atom) or domain (RSS) of categories the source feed gave.
pub const CATEGORY_SCHEME: &str = "urn:feedwatch:category";

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Atom 1.0 feed
    Atom,
    /// RSS 2.0 feed
    Rss,
    /// JSON Feed 1.1
    Jsonfeed,
    /// One JSON object per line (the `items` shape)
    Jsonl,
    /// Comma-separated values with a header
    Csv,
}

impl Format {
    /// Every format, in the order they are documented.
    pub const ALL: [Format; 5] = [
        Format::Atom,
        Format::Rss,
        Format::Jsonfeed,
        Format::Jsonl,
        Format::Csv,
    ];

    /// The name used on the command line and in the config.
    pub fn name(self) -> &'static str {
        match self {
            Format::Atom => "atom",
            Format::Rss => "rss",
            Format::Jsonfeed => "jsonfeed",
            Format::Jsonl => "jsonl",
            Format::Csv => "csv",
        }
    }

    /// Inverse of [`Format::name`].
    pub fn parse(s: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == s.trim())
    }
}

/// What a feed says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedMeta {
    /// Title, saying what the filter is.
    pub title: String,
    /// One sentence on what the feed holds.
    pub description: String,
    /// Stable feed id (Atom `id`), see [`feed_id`].
    pub id: String,
    /// Where the exported file is served, when known (Atom and RSS `self`, JSON Feed
    /// `feed_url`, RSS channel link).
    pub link: Option<String>,
    /// The time of writing, the feed's `updated` when it has no items.
    pub now: DateTime<Utc>,
}

/// A stable feed id for a key (a filter's description, a saved export's name).
pub fn feed_id(key: &str) -> String {
    let hash = blake3::hash(key.as_bytes()).to_hex();
    format!("urn:feedwatch:export:{}", &hash.as_str()[..32])
}

/// The id of an item in every format: its stable uid as a URN.
pub fn item_id(item: &ItemView) -> String {
    format!("urn:feedwatch:item:{}", item.id)
}

/// An export failure, naming the file (or standard output) or the saved export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Reading the items failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing failed.
    #[error("writing {target}: {source}")]
    Io {
        /// The file, or "standard output".
        target: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A saved export could not be prepared.
    #[error("export {name:?}: {message}")]
    Spec {
        /// The saved export's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// Streams every item matching `filter` to `out` in `format` and returns how many were
/// written. `target` names `out` in errors. An empty result is a valid, empty document.
pub fn export<W: Write>(
    store: &Store,
    filter: &ItemFilter,
    format: Format,
    meta: &FeedMeta,
    out: W,
    target: &str,
) -> Result<u64, ExportError> {
    let io = |source: std::io::Error| ExportError::Io {
        target: target.to_string(),
        source,
    };
    let rows = match format {
        Format::Jsonl => Some(RowFormat::Jsonl),
        Format::Csv => Some(RowFormat::Csv),
        Format::Atom | Format::Rss | Format::Jsonfeed => None,
    };
    if let Some(rows) = rows {
        let mut w = RowWriter::new(out, rows).map_err(io)?;
        store.for_each_item(filter, |item| w.item(&item).map_err(io))?;
        return Ok(w.finish().map_err(io)?.1);
    }

    let mut out = out;
    let mut buf = String::with_capacity(16 * 1024);
    let mut count = 0u64;
    store.for_each_item(filter, |item| {
        // The head waits for the first (newest) item: its time is the feed's `updated`.
        if count == 0 {
            buf.push_str(&head(
                format,
                meta,
                item.published.unwrap_or(item.first_seen),
            ));
        }
        match format {
            Format::Atom => atom::entry(&item, &mut buf),
            Format::Rss => rss::item(&item, &mut buf),
            _ => jsonfeed::item(&item, count == 0, &mut buf)
                .map_err(|e| io(std::io::Error::other(e)))?,
        }
        count += 1;
        out.write_all(buf.as_bytes()).map_err(io)?;
        buf.clear();
        Ok::<(), ExportError>(())
    })?;
    if count == 0 {
        buf.push_str(&head(format, meta, meta.now));
    }
    buf.push_str(match format {
        Format::Atom => atom::tail(),
        Format::Rss => rss::tail(),
        _ => jsonfeed::tail(),
    });
    out.write_all(buf.as_bytes()).map_err(io)?;
    out.flush().map_err(io)?;
    Ok(count)
}

fn head(format: Format, meta: &FeedMeta, updated: DateTime<Utc>) -> String {
    match format {
        Format::Atom => atom::head(meta, updated),
        Format::Rss => rss::head(meta, updated),
        _ => jsonfeed::head(meta),
    }
}

/// Writes a file so that a reader never sees it half written: into a hidden temporary
/// file beside it, flushed and synced, then renamed over the old one. On failure the
/// old file stays as it was and the temporary file is removed.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<T, ExportError>,
) -> Result<T, ExportError> {
    let target = path.display().to_string();
    let io = |source: std::io::Error| ExportError::Io {
        target: target.clone(),
        source,
    };
    let Some(name) = path.file_name() else {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "not a file name",
        )));
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Same folder, so the rename is atomic; a leading dot keeps web servers from
    // serving it.
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = File::create(&tmp).map_err(&io).and_then(|file| {
        let mut w = BufWriter::with_capacity(64 * 1024, file);
        let value = write(&mut w)?;
        let file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(&io)?;
        std::fs::rename(&tmp, path).map_err(&io)?;
        Ok(value)
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// What writing one saved export did.
#[derive(Debug)]
pub struct SavedExport {
    /// The `[[export]]` name.
    pub name: String,
    /// The file written.
    pub path: PathBuf,
    /// Items written, or why it failed (the old file is then left as it was).
    pub result: Result<u64, ExportError>,
}

/// Writes every saved export (`[[export]]` in the config) atomically, each on its own:
/// one failing does not stop the others. Relative times in their filters (`since =
/// "7d"`) are read against `now`.
pub fn write_saved_exports(
    store: &Store,
    specs: &[ExportSpec],
    now: DateTime<Utc>,
) -> Vec<SavedExport> {
    specs
        .iter()
        .map(|spec| SavedExport {
            name: spec.name.clone(),
            path: spec.path.clone(),
            result: write_saved(store, spec, now),
        })
        .collect()
}

fn write_saved(store: &Store, spec: &ExportSpec, now: DateTime<Utc>) -> Result<u64, ExportError> {
    let filter = spec.filter.to_filter(now).map_err(|e| ExportError::Spec {
        name: spec.name.clone(),
        message: e.0,
    })?;
    let meta = spec_meta(spec, now);
    let target = spec.path.display().to_string();
    write_atomically(&spec.path, |w| {
        export(store, &filter, spec.format, &meta, w, &target)
    })
}

/// The feed metadata of a saved export: its own title or one describing its filter,
/// and an id derived from its name, so editing the filter keeps readers subscribed.
pub fn spec_meta(spec: &ExportSpec, now: DateTime<Utc>) -> FeedMeta {
    let what = spec.filter.describe();
    FeedMeta {
        title: spec
            .title
            .clone()
            .unwrap_or_else(|| format!("{GENERATOR}: {what}")),
        description: format!("Items stored by {GENERATOR}, newest first: {what}"),
        id: feed_id(&format!("saved export {}", spec.name)),
        link: spec.link.clone(),
        now,
    }
}
