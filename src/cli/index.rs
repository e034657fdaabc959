//! `index`: brings the search index up to date now. The daemon does this after every
//! cycle that stored something, and `poll` after small passes; this is for a large
//! backlog when no daemon runs (searches stay complete meanwhile, only slower).

use std::io::{IsTerminal, Write};

use super::{Cli, database_path, stdout};
use crate::store::{Store, StoreError};

/// Items indexed per transaction.
const BATCH: usize = 2_000;

/// Runs `index`.
pub fn index(cli: &Cli) -> anyhow::Result<()> {
    let db = database_path(cli)?;
    // Opening for writing would create an empty database; say there is nothing yet.
    if !db.exists() {
        return Err(StoreError::Missing {
            path: db.display().to_string(),
        }
        .into());
    }
    let mut store = Store::open(&db)?;
    let total = store.search_backlog()?;
    let bar = (std::io::stderr().is_terminal() && total > 0).then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} items {elapsed} (eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar
    });
    let mut indexed = 0;
    loop {
        let status = store.index_search(BATCH)?;
        indexed += status.indexed;
        if let Some(b) = &bar {
            b.set_length(indexed + status.pending);
            b.set_position(indexed);
        }
        if status.pending == 0 || status.indexed == 0 {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            let mut out = stdout();
            writeln!(
                out,
                "indexed {indexed} items for search; {} waiting",
                status.pending
            )?;
            out.flush()?;
            return Ok(());
        }
    }
}
