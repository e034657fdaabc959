//! Rendering items for the terminal and for other programs: table, JSON, JSONL, CSV.
//!
//! Items are written one at a time as the store streams them, so memory does not grow
//! with the number of items. The data formats (JSON, JSONL, CSV) are
//! [`crate::export::rows`], shared with `export`; only the terminal table lives here.

use std::io::Write;

use anyhow::Context;

use super::ItemFormat;
use crate::export::rows::{RowFormat, RowWriter};
use crate::model::ItemView;

/// Writes a stream of items in one format.
pub struct ItemWriter<W: Write> {
    inner: Inner<W>,
}

enum Inner<W: Write> {
    Rows(RowWriter<W>),
    Table { out: W, count: u64 },
}

impl<W: Write> ItemWriter<W> {
    /// Starts the output (JSON's `[`, CSV's header).
    pub fn new(out: W, format: ItemFormat) -> anyhow::Result<ItemWriter<W>> {
        let rows = match format {
            ItemFormat::Json => RowFormat::Json,
            ItemFormat::Jsonl => RowFormat::Jsonl,
            ItemFormat::Csv => RowFormat::Csv,
            ItemFormat::Table => {
                return Ok(ItemWriter {
                    inner: Inner::Table { out, count: 0 },
                });
            }
        };
        let inner = Inner::Rows(RowWriter::new(out, rows)?);
        Ok(ItemWriter { inner })
    }

    /// Writes one item.
    pub fn item(&mut self, item: &ItemView) -> anyhow::Result<()> {
        match &mut self.inner {
            Inner::Rows(rows) => rows.item(item)?,
            Inner::Table { out, count } => {
                let when = item
                    .published
                    .unwrap_or(item.first_seen)
                    .format("%Y-%m-%d %H:%M")
                    .to_string();
                let feeds = match item.feeds.as_slice() {
                    [] => String::new(),
                    [one] => one.clone(),
                    [first, rest @ ..] => format!("{first} +{}", rest.len()),
                };
                let tags = if item.tags.is_empty() {
                    "-".to_string()
                } else {
                    item.tags.join(",")
                };
                // Source categories follow the title in brackets: they describe the
                // feed's filing, not a watchlist topic, so they stay out of the tags column.
                let categories = if item.categories.is_empty() {
                    String::new()
                } else {
                    format!("  [{}]", one_line(&item.categories.join(", ")))
                };
                writeln!(
                    out,
                    "{when}  {}  {}  {}{categories}",
                    pad(&feeds, 18),
                    pad(&tags, 24),
                    one_line(&item.title)
                )?;
                *count += 1;
            }
        }
        Ok(())
    }

    /// Ends the output (JSON's `]`) and flushes.
    pub fn finish(self) -> anyhow::Result<u64> {
        match self.inner {
            Inner::Rows(rows) => Ok(rows.finish().context("writing output")?.1),
            Inner::Table { mut out, count } => {
                out.flush().context("writing output")?;
                Ok(count)
            }
        }
    }
}

/// Columns on a terminal: CJK characters take two cells.
pub fn width(s: &str) -> usize {
    s.chars().map(|c| if is_wide(c) { 2 } else { 1 }).sum()
}

fn is_wide(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0x303E | 0x3041..=0x33FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6 | 0x20000..=0x3FFFD)
}

/// Pads (or cuts, with `…`) to exactly `cells` terminal columns.
pub fn pad(s: &str, cells: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let total = width(s);
    for c in s.chars() {
        let w = if is_wide(c) { 2 } else { 1 };
        if total > cells && used + w + 1 > cells {
            out.push('…');
            used += 1;
            break;
        }
        out.push(c);
        used += w;
    }
    while used < cells {
        out.push(' ');
        used += 1;
    }
    out
}

/// Collapses line breaks so one item stays on one line.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_stay_on_one_line() {
        let item = ItemView {
            id: "abc".into(),
            title: "特朗普与普京\n会晤".into(),
            link: None,
            published: None,
            first_seen: chrono::DateTime::UNIX_EPOCH,
            feeds: vec!["a".into(), "b".into()],
            source_links: vec![],
            tags: vec![],
            matches: vec![],
            categories: vec![],
            authors: vec![],
            content_hash: "00".into(),
            text: String::new(),
            html: String::new(),
        };
        let mut buf = Vec::new();
        let mut w = ItemWriter::new(&mut buf, ItemFormat::Table).unwrap();
        w.item(&item).unwrap();
        assert_eq!(w.finish().unwrap(), 1);
        let out = String::from_utf8(buf).unwrap();
        assert_eq!(out.lines().count(), 1);
        assert!(
            out.contains("a +1") && out.contains("特朗普与普京 会晤"),
            "{out}"
        );
    }

    #[test]
    fn table_shows_categories_apart_from_tags() {
        let mut item = ItemView {
            id: "abc".into(),
            title: "会晤".into(),
            link: None,
            published: None,
            first_seen: chrono::DateTime::UNIX_EPOCH,
            feeds: vec!["a".into()],
            source_links: vec![],
            tags: vec!["普京".into()],
            matches: vec![],
            categories: vec![],
            authors: vec![],
            content_hash: "00".into(),
            text: String::new(),
            html: String::new(),
        };
        let mut buf = Vec::new();
        let mut w = ItemWriter::new(&mut buf, ItemFormat::Table).unwrap();
        w.item(&item).unwrap();
        item.categories = vec!["国际".into(), "外交".into()];
        w.item(&item).unwrap();
        w.finish().unwrap();
        let out = String::from_utf8(buf).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].ends_with("会晤"), "{out}");
        assert!(lines[1].ends_with("会晤  [国际, 外交]"), "{out}");
        assert!(!lines[1].contains("国际,外交  "), "{out}");
    }

    #[test]
    fn padding_counts_wide_characters() {
        assert_eq!(width(&pad("普京", 6)), 6);
        assert_eq!(width(&pad("特朗普与普京会晤", 6)), 6);
        assert!(pad("特朗普与普京会晤", 6).starts_with("特朗…"));
        assert_eq!(pad("ab", 4), "ab  ");
    }
}
