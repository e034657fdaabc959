//! `items` and `feeds`: read-only queries, safe while the daemon writes.

use std::io::Write;
use std::path::Path;

use super::output::{ItemWriter, pad};
use super::{ItemFormat, TableFormat, stdout};
use crate::config::Settings;
use crate::model::ItemFilter;
use crate::store::{FeedHealth, Store, StoreError};

/// Runs `items`.
pub fn items(db: &Path, filter: &ItemFilter, format: ItemFormat) -> anyhow::Result<()> {
    let store = Store::open_readonly(db)?;
    let mut w = ItemWriter::new(stdout(), format)?;
    store.for_each_item(filter, |item| w.item(&item))?;
    w.finish()?;
    Ok(())
}

/// Runs `feeds`: every configured feed with its health record (feeds that were removed
/// from the config but still have items are listed after them).
pub fn feeds(settings: &Settings, format: TableFormat) -> anyhow::Result<()> {
    let stored = match Store::open_readonly(&settings.database) {
        Ok(store) => store.feeds()?,
        Err(StoreError::Missing { .. }) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let mut rows: Vec<(FeedHealth, bool)> = settings
        .feeds
        .iter()
        .map(|f| {
            let health = stored
                .iter()
                .find(|h| h.name == f.name)
                .cloned()
                .unwrap_or_else(|| FeedHealth {
                    name: f.name.clone(),
                    url: f.source.to_string(),
                    last_fetch: None,
                    last_success: None,
                    last_status: None,
                    last_error: None,
                    error_streak: 0,
                    entries_seen: 0,
                    items: 0,
                    next_poll: None,
                });
            (health, true)
        })
        .collect();
    for h in &stored {
        if !settings.feeds.iter().any(|f| f.name == h.name) {
            rows.push((h.clone(), false));
        }
    }
    let mut out = stdout();
    match format {
        TableFormat::Json => {
            let list: Vec<serde_json::Value> = rows
                .iter()
                .map(|(h, configured)| {
                    let mut v = serde_json::to_value(h).unwrap_or(serde_json::Value::Null);
                    if let Some(obj) = v.as_object_mut() {
                        obj.insert("configured".into(), (*configured).into());
                    }
                    v
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &list)?;
            writeln!(out)?;
        }
        TableFormat::Table => {
            writeln!(
                out,
                "{}  {}  {}  {}  {}  {}  LAST ERROR",
                pad("FEED", 20),
                pad("STATUS", 6),
                pad("LAST FETCH", 16),
                pad("ERRORS", 6),
                pad("ITEMS", 6),
                pad("NEXT POLL", 16),
            )?;
            for (h, configured) in &rows {
                let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                    t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                        .unwrap_or_else(|| "never".into())
                };
                let status = h
                    .last_status
                    .map(|s| s.to_string())
                    .unwrap_or_else(|| "-".into());
                let mut error = h.last_error.clone().unwrap_or_default();
                if !configured {
                    error = format!("(no longer configured) {error}");
                }
                writeln!(
                    out,
                    "{}  {}  {}  {}  {}  {}  {}",
                    pad(&h.name, 20),
                    pad(&status, 6),
                    pad(&when(h.last_fetch), 16),
                    pad(&h.error_streak.to_string(), 6),
                    pad(&h.items.to_string(), 6),
                    pad(
                        &h.next_poll
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "-".into()),
                        16
                    ),
                    error
                )?;
            }
        }
    }
    out.flush()?;
    Ok(())
}
