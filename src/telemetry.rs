//! tracing setup: journald under systemd, plain fmt on stderr elsewhere.
//!
//! The filter comes from `FEEDWATCH_LOG`, else `RUST_LOG`, else the default level the
//! command asks for. When `JOURNAL_STREAM` is set (stderr is connected to the journal),
//! events go to journald with their fields and levels intact; otherwise to stderr, with
//! colours only on a terminal. Library code only emits events; this module decides where
//! they go.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. `default_level` applies when no variable is set.
pub fn init(default_level: &str) {
    let filter = std::env::var("FEEDWATCH_LOG")
        .ok()
        .or_else(|| std::env::var("RUST_LOG").ok())
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("feedwatch={default_level},warn")));
    let registry = tracing_subscriber::registry().with(filter);
    if std::env::var_os("JOURNAL_STREAM").is_some() {
        if let Ok(journald) = tracing_journald::layer() {
            let _ = registry
                .with(journald.with_syslog_identifier("feedwatch".into()))
                .try_init();
            return;
        }
    }
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false);
    let _ = registry.with(fmt).try_init();
}
