//! Rendering items for the terminal and for other programs: table, JSON, JSONL, CSV.
//!
//! Items are written one at a time as the store streams them, so memory does not grow
//! with the number of items. JSON keys follow the interface contract.

use std::io::Write;

use anyhow::Context;

use super::ItemFormat;
use crate::model::ItemView;

/// Writes a stream of items in one format.
pub struct ItemWriter<W: Write> {
    out: W,
    format: ItemFormat,
    count: u64,
}

const CSV_HEADER: [&str; 10] = [
    "id",
    "published",
    "first_seen",
    "feeds",
    "tags",
    "title",
    "link",
    "content_hash",
    "categories",
    "text",
];

impl<W: Write> ItemWriter<W> {
    /// Starts the output (JSON's `[`, CSV's header).
    pub fn new(mut out: W, format: ItemFormat) -> anyhow::Result<ItemWriter<W>> {
        match format {
            ItemFormat::Json => out.write_all(b"[")?,
            ItemFormat::Csv => csv_record(&mut out, CSV_HEADER)?,
            ItemFormat::Table | ItemFormat::Jsonl => {}
        }
        Ok(ItemWriter {
            out,
            format,
            count: 0,
        })
    }

    /// Writes one item.
    pub fn item(&mut self, item: &ItemView) -> anyhow::Result<()> {
        match self.format {
            ItemFormat::Json => {
                self.out
                    .write_all(if self.count == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut self.out, item)?;
            }
            ItemFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, item)?;
                self.out.write_all(b"\n")?;
            }
            ItemFormat::Csv => {
                let published = item.published.map(|t| t.to_rfc3339()).unwrap_or_default();
                csv_record(
                    &mut self.out,
                    [
                        item.id.as_str(),
                        &published,
                        &item.first_seen.to_rfc3339(),
                        &item.feeds.join(";"),
                        &item.tags.join(";"),
                        &item.title,
                        item.link.as_deref().unwrap_or(""),
                        &item.content_hash,
                        &item.categories.join(";"),
                        &item.text,
                    ],
                )?;
            }
            ItemFormat::Table => {
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
                writeln!(
                    self.out,
                    "{when}  {}  {}  {}",
                    pad(&feeds, 18),
                    pad(&tags, 24),
                    one_line(&item.title)
                )?;
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Ends the output (JSON's `]`) and flushes.
    pub fn finish(mut self) -> anyhow::Result<u64> {
        if self.format == ItemFormat::Json {
            self.out
                .write_all(if self.count == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        self.out.flush().context("writing output")?;
        Ok(self.count)
    }
}

/// Writes one CSV record (RFC 4180 quoting) straight to `out`.
fn csv_record<'a, W: Write>(
    out: &mut W,
    fields: impl IntoIterator<Item = &'a str>,
) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(256));
    w.write_record(fields)?;
    let buf = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing CSV: {}", e.error()))?;
    out.write_all(&buf)?;
    Ok(())
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
    use chrono::{TimeZone, Utc};

    fn item() -> ItemView {
        ItemView {
            id: "abc".into(),
            title: "特朗普与普京, \"会晤\"".into(),
            link: Some("https://example.org/a".into()),
            published: Some(Utc.with_ymd_and_hms(2025, 6, 10, 4, 0, 0).unwrap()),
            first_seen: Utc.with_ymd_and_hms(2025, 6, 10, 5, 0, 0).unwrap(),
            feeds: vec!["a".into(), "b".into()],
            source_links: vec![],
            tags: vec!["普京".into()],
            matches: vec![],
            categories: vec![],
            authors: vec![],
            content_hash: "00".into(),
            text: "第一段\n\n第二段".into(),
            html: String::new(),
        }
    }

    fn render(format: ItemFormat, n: usize) -> String {
        let mut buf = Vec::new();
        let mut w = ItemWriter::new(&mut buf, format).unwrap();
        for _ in 0..n {
            w.item(&item()).unwrap();
        }
        w.finish().unwrap();
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_is_one_array_even_when_empty() {
        let empty: serde_json::Value = serde_json::from_str(&render(ItemFormat::Json, 0)).unwrap();
        assert_eq!(empty, serde_json::json!([]));
        let two: serde_json::Value = serde_json::from_str(&render(ItemFormat::Json, 2)).unwrap();
        assert_eq!(two.as_array().unwrap().len(), 2);
        assert_eq!(two[0]["feeds"], serde_json::json!(["a", "b"]));
        assert_eq!(two[0]["published"], "2025-06-10T04:00:00Z");
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let out = render(ItemFormat::Jsonl, 3);
        assert_eq!(out.lines().count(), 3);
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["title"], "特朗普与普京, \"会晤\"");
        }
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let out = render(ItemFormat::Csv, 1);
        let mut r = csv::Reader::from_reader(out.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[5], "特朗普与普京, \"会晤\"");
        assert_eq!(&rec[3], "a;b");
        assert_eq!(&rec[9], "第一段\n\n第二段");
    }

    #[test]
    fn padding_counts_wide_characters() {
        assert_eq!(width(&pad("普京", 6)), 6);
        assert_eq!(width(&pad("特朗普与普京会晤", 6)), 6);
        assert!(pad("特朗普与普京会晤", 6).starts_with("特朗…"));
        assert_eq!(pad("ab", 4), "ab  ");
    }
}
