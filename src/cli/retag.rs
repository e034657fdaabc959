//! `retag`: the current watchlist applied again to every stored item, so a changed
//! watchlist never needs a re-fetch. Walking the items and rewriting changed tags is the
//! store's job ([`Store::retag`]); matching is the watchlist's. The store also remembers
//! the fingerprint of the watchlist items were tagged with, so commands that tag new items
//! can warn when it changed ([`stale_tags`]).

use std::io::{IsTerminal, Write};

use super::{Cli, load_settings, stdout};
use crate::store::tags::{RetagOptions, RetagStats};
use crate::store::{Store, StoreError};
use crate::watch::Watchlist;

/// Runs `retag` and prints what changed.
pub fn retag(cli: &Cli) -> anyhow::Result<()> {
    let settings = load_settings(cli)?;
    let watchlist = Watchlist::new(&settings.topics)?;
    let db = &settings.database;
    // Opening for writing would create an empty database; say instead that there is
    // nothing stored yet.
    if let Err(e) = std::fs::metadata(db) {
        let path = db.display().to_string();
        return Err(if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::Missing { path }
        } else {
            StoreError::Io { path, source: e }
        }
        .into());
    }
    let mut store = Store::open(db)?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(0);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} items {elapsed} (eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let tag = |title: &str, text: &str| watchlist.tag(title, text);
    let stats = store.retag(&tag, RetagOptions::default(), |done, total| {
        if let Some(b) = &bar {
            b.set_length(total.max(done));
            b.set_position(done);
        }
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let stats = stats?;
    store.set_tagged_with(&watchlist.fingerprint())?;
    let mut out = stdout();
    writeln!(out, "{}", summary(&stats, watchlist.len()))?;
    out.flush()?;
    Ok(())
}

/// Checks the watchlist against the one stored items were tagged with, for commands that
/// tag new items: an empty store (or one that never recorded it) takes the current one;
/// otherwise a changed watchlist gives a warning to show, as old items keep old tags.
pub fn stale_tags(store: &mut Store, watchlist: &Watchlist) -> anyhow::Result<Option<String>> {
    let current = watchlist.fingerprint();
    match store.tagged_with()? {
        Some(recorded) if recorded == current => Ok(None),
        Some(_) if store.item_count()? > 0 => Ok(Some(
            "the watchlist changed since the stored items were tagged: \
             run `feedwatch retag` to tag them again"
                .to_string(),
        )),
        _ => {
            store.set_tagged_with(&current)?;
            Ok(None)
        }
    }
}

/// The one result line: tags are topics on items, matches the rows explaining them.
fn summary(s: &RetagStats, topics: usize) -> String {
    format!(
        "retagged {} items with {} topics: {} tags added, {} tags removed; \
         {} items changed ({} matches added, {} removed)",
        s.items,
        topics,
        s.tags_added,
        s.tags_removed,
        s.items_changed,
        s.matches_added,
        s.matches_removed
    )
}
