//! `run`: the daemon's front door. Loads the config, takes the database lock, opens the
//! store and hands all three to [`crate::daemon::run`]; the loop, signals and systemd
//! messages live there.

use std::path::PathBuf;

use anyhow::Context;

use super::{Cli, load_settings, runtime};
use crate::config::Settings;
use crate::daemon::{self, DbLock, Reloader};
use crate::store::Store;

/// Runs `run` until SIGTERM or SIGINT.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let settings = load_settings(cli)?;
    // The lock comes before the store: a second daemon must not even run migrations.
    let lock = DbLock::acquire(&settings.database)?;
    let store = Store::open(&settings.database)?;
    let reload = reloader(&settings, cli.db.clone());
    let rt = runtime()?;
    let result = rt.block_on(daemon::run(settings, store, reload));
    drop(lock);
    result
}

/// Reads the same file again on SIGHUP, with the same `--db` override.
fn reloader(settings: &Settings, db: Option<PathBuf>) -> Reloader {
    let path = settings.path.clone();
    Box::new(move || {
        let path = path
            .as_deref()
            .context("the daemon runs without a config file; nothing to reload")?;
        let mut settings = Settings::load(path)?;
        if let Some(db) = &db {
            settings.database = db.clone();
        }
        Ok(settings)
    })
}
