//! Items as data rows for other programs: one JSON array, JSON lines, or CSV.
//!
//! This is the one implementation behind both `items --format json|jsonl|csv` and
//! `export --format jsonl|csv`. Items are written one at a time as the store streams
//! them, so memory does not grow with the number of items. JSON keys follow the
//! interface contract (the serde shape of [`ItemView`]). Terminal tables are the CLI's
//! business.

use std::io::Write;

use crate::model::ItemView;

/// The data-row formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowFormat {
    /// One JSON array.
    Json,
    /// One JSON object per line.
    Jsonl,
    /// Comma-separated values with a header (RFC 4180 quoting).
    Csv,
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

/// Writes a stream of items as rows.
pub struct RowWriter<W: Write> {
    out: W,
    format: RowFormat,
    count: u64,
}

impl<W: Write> RowWriter<W> {
    /// Starts the output (JSON's `[`, CSV's header).
    pub fn new(mut out: W, format: RowFormat) -> std::io::Result<RowWriter<W>> {
        match format {
            RowFormat::Json => out.write_all(b"[")?,
            RowFormat::Csv => csv_record(&mut out, CSV_HEADER)?,
            RowFormat::Jsonl => {}
        }
        Ok(RowWriter {
            out,
            format,
            count: 0,
        })
    }

    /// Writes one item.
    pub fn item(&mut self, item: &ItemView) -> std::io::Result<()> {
        match self.format {
            RowFormat::Json => {
                self.out
                    .write_all(if self.count == 0 { b"\n" } else { b",\n" })?;
                serde_json::to_writer(&mut self.out, item)?;
            }
            RowFormat::Jsonl => {
                serde_json::to_writer(&mut self.out, item)?;
                self.out.write_all(b"\n")?;
            }
            RowFormat::Csv => {
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
        }
        self.count += 1;
        Ok(())
    }

    /// Ends the output (JSON's `]`), flushes, and returns the writer and the item count.
    pub fn finish(mut self) -> std::io::Result<(W, u64)> {
        if self.format == RowFormat::Json {
            self.out
                .write_all(if self.count == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        Ok((self.out, self.count))
    }
}

/// Writes one CSV record straight to `out`.
fn csv_record<'a, W: Write>(
    out: &mut W,
    fields: impl IntoIterator<Item = &'a str>,
) -> std::io::Result<()> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(256));
    w.write_record(fields)?;
    let buf = w
        .into_inner()
        .map_err(|e| std::io::Error::other(format!("writing CSV: {}", e.error())))?;
    out.write_all(&buf)
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

    fn render(format: RowFormat, n: usize) -> String {
        let mut w = RowWriter::new(Vec::new(), format).unwrap();
        for _ in 0..n {
            w.item(&item()).unwrap();
        }
        let (buf, count) = w.finish().unwrap();
        assert_eq!(count, n as u64);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_is_one_array_even_when_empty() {
        let empty: serde_json::Value = serde_json::from_str(&render(RowFormat::Json, 0)).unwrap();
        assert_eq!(empty, serde_json::json!([]));
        let two: serde_json::Value = serde_json::from_str(&render(RowFormat::Json, 2)).unwrap();
        assert_eq!(two.as_array().unwrap().len(), 2);
        assert_eq!(two[0]["feeds"], serde_json::json!(["a", "b"]));
        assert_eq!(two[0]["published"], "2025-06-10T04:00:00Z");
        assert!(two[0].get("html").is_none() && two[0].get("source_links").is_none());
    }

    #[test]
    fn jsonl_is_one_object_per_line() {
        let out = render(RowFormat::Jsonl, 3);
        assert_eq!(out.lines().count(), 3);
        for line in out.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["title"], "特朗普与普京, \"会晤\"");
        }
    }

    #[test]
    fn csv_quotes_commas_quotes_and_newlines() {
        let out = render(RowFormat::Csv, 1);
        let mut r = csv::Reader::from_reader(out.as_bytes());
        let rec = r.records().next().unwrap().unwrap();
        assert_eq!(&rec[5], "特朗普与普京, \"会晤\"");
        assert_eq!(&rec[3], "a;b");
        assert_eq!(&rec[9], "第一段\n\n第二段");
    }
}
