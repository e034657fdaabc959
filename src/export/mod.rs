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

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ::rss::validation::Validate;
    use chrono::TimeZone;

    use super::*;
    use crate::store::testutil::{refresh, story, sync, tagged};

    const HOSTILE_HTML: &str = "<p onclick=\"steal()\">正文<script>alert('x')</script>\
        <a href=\"javascript:alert(1)\">链接</a><a href=\"/rel/page.html\">相对</a>\
        <img src=\"data:image/png;base64,AAAA\"><iframe src=\"https://evil.example\"></iframe></p>";

    /// A store with three items: one hostile, one in two feeds, one without HTML.
    fn fixture() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut w = Store::open(&path).unwrap();
        sync(&mut w, &["新华", "bbc"]);
        let mut evil = tagged(
            story("e1", "<script>alert(1)</script> & 普京", 300),
            &["普京"],
        );
        evil.html = HOSTILE_HTML.to_string();
        evil.link = Some("https://news.example.org/world/evil.html".into());
        let shared = tagged(
            story("e2", "美俄关系出现新变化", 200),
            &["美俄关系", "普京"],
        );
        let mut plain = story("e3", "无正文 \u{1}控制字符", 100);
        plain.html = String::new();
        plain.authors = Vec::new();
        w.apply_refresh(&refresh("新华", 1000, vec![evil, shared.clone(), plain]))
            .unwrap();
        let mut mirrored = shared;
        mirrored.entry_id = "b-9".into();
        mirrored.link = Some("https://bbc.example/9".into());
        w.apply_refresh(&refresh("bbc", 1100, vec![mirrored]))
            .unwrap();
        drop(w);
        (dir, Store::open_readonly(&path).unwrap())
    }

    fn meta() -> FeedMeta {
        FeedMeta {
            title: "feedwatch: tag 普京".into(),
            description: "Items stored by feedwatch".into(),
            id: feed_id("tag 普京"),
            link: Some("https://example.org/exports/putin.xml".into()),
            now: Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap(),
        }
    }

    fn render(store: &Store, filter: &ItemFilter, format: Format) -> String {
        let mut out = Vec::new();
        export(store, filter, format, &meta(), &mut out, "test").unwrap();
        String::from_utf8(out).unwrap()
    }

    fn views(store: &Store) -> Vec<ItemView> {
        crate::store::testutil::items(store, &ItemFilter::default())
    }

    #[test]
    fn every_feed_format_parses_back_with_titles_links_tags_and_ids() {
        let (_dir, store) = fixture();
        let want = views(&store);
        for format in [Format::Atom, Format::Rss, Format::Jsonfeed] {
            let text = render(&store, &ItemFilter::default(), format);
            let feed = feed_rs::parser::parse(Cursor::new(text.as_bytes()))
                .unwrap_or_else(|e| panic!("{format:?}: {e}\n{text}"));
            assert_eq!(feed.entries.len(), want.len(), "{format:?}");
            for (entry, item) in feed.entries.iter().zip(&want) {
                let title = entry.title.as_ref().map(|t| t.content.clone());
                // XML cannot carry U+0001; every other character comes back byte-exact.
                assert_eq!(
                    title.as_deref(),
                    Some(markup::clean_chars(&item.title).as_ref()),
                    "{format:?}"
                );
                assert_eq!(entry.id, item_id(item), "{format:?}");
                let links: Vec<&str> = entry.links.iter().map(|l| l.href.as_str()).collect();
                for link in item.link.iter().chain(&item.source_links) {
                    // feed-rs reads neither RSS items' atom:link elements nor JSON
                    // Feed extensions (`_feedwatch.sources`).
                    let related = match format {
                        Format::Rss => format!("<atom:link rel=\"related\" href=\"{link}\"/>"),
                        _ => format!("\"{link}\""),
                    };
                    assert!(
                        links.contains(&link.as_str())
                            || (format != Format::Atom && text.contains(&related)),
                        "{format:?}: {link} in {links:?}"
                    );
                }
                let mut topics: Vec<String> = entry
                    .categories
                    .iter()
                    .filter(|c| c.scheme.as_deref() != Some(CATEGORY_SCHEME))
                    .map(|c| c.term.clone())
                    .collect();
                topics.sort();
                assert_eq!(topics, item.tags, "{format:?}");
            }
            assert_eq!(
                feed.title.map(|t| t.content).as_deref(),
                Some("feedwatch: tag 普京")
            );
        }
    }

    #[test]
    fn atom_meets_the_rfc_rules_the_schema_cannot_check() {
        let (_dir, store) = fixture();
        let text = render(&store, &ItemFilter::default(), Format::Atom);
        let feed = atom_syndication::Feed::read_from(text.as_bytes()).unwrap();
        assert!(!feed.authors().is_empty(), "feed author");
        assert_eq!(feed.id(), feed_id("tag 普京"));
        // Newest item's time, not the time of writing.
        assert_eq!(feed.updated().to_rfc3339(), "1970-01-01T00:05:00+00:00");
        let mut ids: Vec<&str> = feed.entries().iter().map(|e| e.id()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), feed.entries().len(), "unique ids");
        for e in feed.entries() {
            assert!(!e.authors().is_empty(), "entry {} has an author", e.id());
            let alternates = e.links().iter().filter(|l| l.rel() == "alternate").count();
            assert!(alternates <= 1);
        }
        let shared = feed
            .entries()
            .iter()
            .find(|e| e.title().as_str() == "美俄关系出现新变化")
            .unwrap();
        let related: Vec<&str> = shared
            .links()
            .iter()
            .filter(|l| l.rel() == "related")
            .map(|l| l.href())
            .collect();
        assert_eq!(related, ["https://bbc.example/9"]);
        let plain = feed
            .entries()
            .iter()
            .find(|e| e.title().as_str().starts_with("无正文"))
            .unwrap();
        assert_eq!(
            plain.authors()[0].name(),
            "新华",
            "source feed stands in for authors"
        );
    }

    #[test]
    fn rss_passes_the_rss_crates_validation() {
        let (_dir, store) = fixture();
        for filter in [
            ItemFilter::default(),
            ItemFilter {
                tags_all: vec!["nothing".into()],
                ..Default::default()
            },
        ] {
            let text = render(&store, &filter, Format::Rss);
            let channel = ::rss::Channel::read_from(text.as_bytes()).unwrap();
            channel.validate().unwrap_or_else(|e| panic!("{e}\n{text}"));
            for item in channel.items() {
                let guid = item.guid().unwrap();
                assert!(!guid.is_permalink() && guid.value().starts_with("urn:feedwatch:item:"));
            }
        }
    }

    #[test]
    fn hostile_content_does_not_survive_in_any_format() {
        let (_dir, store) = fixture();
        for format in [Format::Atom, Format::Rss, Format::Jsonfeed] {
            let text = render(&store, &ItemFilter::default(), format);
            let feed = feed_rs::parser::parse(Cursor::new(text.as_bytes())).unwrap();
            let evil = feed
                .entries
                .iter()
                .find(|e| {
                    e.title
                        .as_ref()
                        .is_some_and(|t| t.content.contains("普京") && t.content.contains('&'))
                })
                .unwrap();
            // The title is text: the script tag is there as characters, never as markup.
            assert_eq!(
                evil.title.as_ref().unwrap().content,
                "<script>alert(1)</script> & 普京"
            );
            let body = evil
                .content
                .as_ref()
                .and_then(|c| c.body.clone())
                .or_else(|| evil.summary.as_ref().map(|s| s.content.clone()))
                .unwrap();
            for bad in [
                "<script",
                "onclick",
                "javascript:",
                "data:",
                "iframe",
                "alert",
            ] {
                assert!(!body.contains(bad), "{format:?} keeps {bad}: {body}");
            }
            assert!(
                body.contains("https://news.example.org/rel/page.html"),
                "{format:?}: {body}"
            );
            assert!(body.contains("正文"), "{format:?}");
        }
    }

    #[test]
    fn empty_results_are_valid_empty_feeds() {
        let (_dir, store) = fixture();
        let none = ItemFilter {
            search: Some("不存在的词".into()),
            ..Default::default()
        };
        for format in [Format::Atom, Format::Rss, Format::Jsonfeed] {
            let text = render(&store, &none, format);
            let feed = feed_rs::parser::parse(Cursor::new(text.as_bytes()))
                .unwrap_or_else(|e| panic!("{format:?}: {e}\n{text}"));
            assert!(feed.entries.is_empty());
        }
        let atom = render(&store, &none, Format::Atom);
        assert!(
            atom.contains("<updated>2030-01-01T00:00:00Z</updated>"),
            "{atom}"
        );
        let json: serde_json::Value =
            serde_json::from_str(&render(&store, &none, Format::Jsonfeed)).unwrap();
        assert_eq!(json["items"], serde_json::json!([]));
        assert_eq!(render(&store, &none, Format::Jsonl), "");
        assert_eq!(
            render(&store, &none, Format::Csv).lines().count(),
            1,
            "header only"
        );
    }

    #[test]
    fn ids_are_the_same_in_every_export_and_format() {
        let (_dir, store) = fixture();
        let ids = |format| -> Vec<String> {
            let text = render(&store, &ItemFilter::default(), format);
            feed_rs::parser::parse(Cursor::new(text.as_bytes()))
                .unwrap()
                .entries
                .into_iter()
                .map(|e| e.id)
                .collect()
        };
        let atom = ids(Format::Atom);
        assert_eq!(atom, ids(Format::Atom), "same export twice");
        assert_eq!(atom, ids(Format::Rss));
        assert_eq!(atom, ids(Format::Jsonfeed));
        let uids: Vec<String> = views(&store).iter().map(item_id).collect();
        assert_eq!(atom, uids);
    }

    #[test]
    fn a_failed_atomic_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("feed.xml");
        std::fs::write(&path, "old").unwrap();
        let result: Result<(), ExportError> = write_atomically(&path, |w| {
            w.write_all(b"half a fee").unwrap();
            Err(ExportError::Spec {
                name: "x".into(),
                message: "stopped".into(),
            })
        });
        assert!(result.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        write_atomically(&path, |w| {
            w.write_all(b"new").map_err(|source| ExportError::Io {
                target: "x".into(),
                source,
            })
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }

    #[test]
    fn saved_exports_are_written_each_on_its_own() {
        let (dir, store) = fixture();
        let spec = |name: &str, path: std::path::PathBuf, format| ExportSpec {
            name: name.into(),
            format,
            path,
            title: None,
            link: None,
            filter: crate::cli::FilterArgs {
                tags: vec!["普京".into()],
                since: Some("100000d".into()),
                ..Default::default()
            },
        };
        let specs = vec![
            spec(
                "broken",
                dir.path().join("missing/folder/a.xml"),
                Format::Atom,
            ),
            spec("putin", dir.path().join("putin.json"), Format::Jsonfeed),
        ];
        let done = write_saved_exports(&store, &specs, Utc::now());
        assert!(done[0].result.is_err());
        assert!(
            done[0]
                .result
                .as_ref()
                .unwrap_err()
                .to_string()
                .contains("missing/folder/a.xml")
        );
        assert_eq!(*done[1].result.as_ref().unwrap(), 2);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("putin.json")).unwrap())
                .unwrap();
        assert_eq!(json["title"], "feedwatch: tag 普京, since 100000d");
        assert_eq!(json["items"].as_array().unwrap().len(), 2);
    }
}
