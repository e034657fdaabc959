//! `config check` and `config example`.

use std::io::Write;

use super::{Cli, display, load_settings, stdout};

/// Prints the documented example config.
pub fn example() -> anyhow::Result<()> {
    let mut out = stdout();
    out.write_all(crate::config::EXAMPLE.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Validates the config and prints a summary of it.
pub fn check(cli: &Cli) -> anyhow::Result<()> {
    let s = load_settings(cli)?;
    let mut out = stdout();
    let path = s.path.as_deref().map(display).unwrap_or_default();
    writeln!(out, "{path}: ok")?;
    writeln!(out, "  database  {}", display(&s.database))?;
    writeln!(out, "  schedule  {}", s.poll.schedule)?;
    writeln!(out, "  feeds     {}", s.feeds.len())?;
    writeln!(out, "  topics    {}", s.topics.len())?;
    out.flush()?;
    Ok(())
}
