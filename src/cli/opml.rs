//! `opml export` and `opml import FILE [--write]`: the feed list in and out as OPML.
//! Reading and writing OPML is [`crate::export::opml`]; this file handles the config
//! file: appending to it only when the result still validates, and atomically.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::{UsageError, stdout};
use crate::config::Settings;
use crate::export::opml;

/// Prints every configured feed as OPML 2.0.
pub fn export(settings: &Settings) -> anyhow::Result<()> {
    let mut out = stdout();
    out.write_all(opml::write_opml(&settings.feeds, chrono::Utc::now()).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Prints (or, with `write`, appends to the config) `[[feed]]` tables for the feeds of
/// an OPML file.
pub fn import(settings: &Settings, file: &Path, write: bool) -> anyhow::Result<()> {
    let shown = file.display().to_string();
    let text = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
    // OPML is XML: UTF-8 unless declared otherwise; decode() handles both.
    let text = crate::decode::decode(&text, None, None).text;
    let outlines = opml::read_opml(&text, &shown).map_err(|e| UsageError(e.to_string()))?;
    let config = settings.path.as_deref().ok_or_else(|| {
        UsageError("opml import needs a config file (pass --config FILE)".to_string())
    })?;
    let base = config.parent().unwrap_or(Path::new("."));
    let result = opml::import(&outlines, &settings.feeds, base);
    let mut skipped = String::new();
    for (what, why) in &result.skipped {
        skipped.push_str(&format!("# skipped {what}: {why}\n"));
    }
    if !write {
        let mut out = stdout();
        write!(
            out,
            "# {} feeds from {shown}\n{skipped}\n{}",
            result.added.len(),
            result.toml
        )?;
        out.flush()?;
        return Ok(());
    }
    if result.added.is_empty() {
        println!(
            "{skipped}no new feeds in {shown}; {} left as it was",
            config.display()
        );
        return Ok(());
    }
    let current =
        std::fs::read_to_string(config).with_context(|| format!("reading {}", config.display()))?;
    let mut updated = current.clone();
    if !updated.is_empty() && !updated.ends_with('\n') {
        updated.push('\n');
    }
    updated.push_str(&format!("\n# imported from {shown}\n{}", result.toml));
    // Never leave a config behind that the daemon would refuse to load.
    Settings::from_toml(&updated, config)?;
    crate::export::write_atomically(config, |w| {
        w.write_all(updated.as_bytes())
            .map_err(|source| crate::export::ExportError::Io {
                target: config.display().to_string(),
                source,
            })
    })?;
    print!("{skipped}");
    println!("added {} feeds to {}", result.added.len(), config.display());
    Ok(())
}
