//! `check SOURCE`: the whole pipeline on one URL or file, printing what would be stored.
//! Nothing is written.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use chrono::Utc;

use super::{Cli, TableFormat, UsageError, load_settings, runtime, stdout};
use crate::config::{FeedSettings, Settings, Source};
use crate::fetch::{Fetched, Fetcher};
use crate::ingest;
use crate::model::{ItemView, Story, Validators};
use crate::watch::Watchlist;

/// Runs `check`.
pub fn check(
    cli: &Cli,
    source: &str,
    format: TableFormat,
    encoding: Option<&str>,
    timezone: Option<&str>,
) -> anyhow::Result<()> {
    // The config is optional here: its watchlist and limits are used when there is one.
    let settings = match load_settings(cli) {
        Ok(s) => s,
        Err(e) if cli.config.is_none() && e.downcast_ref::<UsageError>().is_some() => {
            Settings::default()
        }
        Err(e) => return Err(e),
    };
    let src =
        Source::parse(source, Path::new(".")).map_err(|e| UsageError(format!("{source}: {e}")))?;
    let encoding = encoding
        .map(|l| {
            crate::decode::encoding_for_label(l)
                .ok_or_else(|| UsageError(format!("--encoding {l:?}: unknown encoding")))
        })
        .transpose()?;
    let timezone = timezone
        .map(|z| {
            crate::config::parse_timezone(z).map_err(|e| UsageError(format!("--timezone: {e}")))
        })
        .transpose()?;
    let feed = FeedSettings {
        name: "check".into(),
        source: src,
        schedule: None,
        encoding,
        timezone,
    };
    let watchlist = Watchlist::new(&settings.topics)?;
    let now = Utc::now();
    let rt = runtime()?;
    let fetched = rt.block_on(async {
        let fetcher = Fetcher::new(&settings.poll)?;
        fetcher.fetch(&feed.source, &Validators::default()).await
    })?;
    let Fetched::Body(body) = fetched else {
        anyhow::bail!("{source}: answered 304 Not Modified to an unconditional request");
    };
    let processed = ingest::process(
        &body.bytes,
        body.charset.as_deref(),
        &feed,
        &body.final_url,
        &watchlist,
        now,
    )
    .with_context(|| format!("checking {source}"))?;
    let views: Vec<ItemView> = processed.stories.iter().map(|s| view(s, now)).collect();

    let mut out = stdout();
    match format {
        TableFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &views)?;
            writeln!(out)?;
        }
        TableFormat::Table => {
            writeln!(
                out,
                "{}: {} entries, read as {} (status {}), title {:?}",
                body.final_url,
                views.len(),
                processed.encoding,
                body.status,
                processed.feed.title.as_deref().unwrap_or("")
            )?;
            for (v, s) in views.iter().zip(&processed.stories) {
                writeln!(out)?;
                writeln!(out, "{}", v.title)?;
                let when = v
                    .published
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_else(|| "undated".into());
                writeln!(out, "  id {}  entry {}  {}", v.id, s.entry_id, when)?;
                if let Some(link) = &v.link {
                    writeln!(out, "  {link}")?;
                }
                if !v.categories.is_empty() {
                    writeln!(out, "  categories: {}", v.categories.join(", "))?;
                }
                for tag in &v.tags {
                    let terms: Vec<String> = v
                        .matches
                        .iter()
                        .filter(|m| &m.topic == tag)
                        .map(|m| format!("{:?} in {} at {}", m.term, m.field.as_str(), m.offset))
                        .collect();
                    writeln!(out, "  tag {tag}: {}", terms.join("; "))?;
                }
                let preview: String = v.text.chars().take(120).collect();
                writeln!(out, "  {}", super::output::one_line(&preview))?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// The item a story would become, in the contract's JSON shape.
fn view(s: &Story, now: chrono::DateTime<Utc>) -> ItemView {
    let mut tags: Vec<String> = s.matches.iter().map(|m| m.topic.clone()).collect();
    tags.sort();
    tags.dedup();
    ItemView {
        id: s.content_hash.item_uid(),
        title: s.title.clone(),
        link: s.link.clone(),
        published: s.published,
        first_seen: now,
        feeds: Vec::new(),
        source_links: s.link.clone().into_iter().collect(),
        tags,
        matches: s.matches.clone(),
        categories: s.categories.clone(),
        authors: s.authors.clone(),
        content_hash: s.content_hash.to_hex(),
        text: s.text.clone(),
        html: s.html.clone(),
    }
}
