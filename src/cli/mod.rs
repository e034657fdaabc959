//! Command-line definitions, dispatch and output formatting.
//!
//! clap parses the raw arguments once into [`Cli`]; [`run`] loads the config the command
//! needs and calls the library. Commands return `anyhow` errors with context; only
//! `main` prints them and chooses the exit code ([`exit_code`]). One file per command
//! group: `run`, `poll`, `items` (items and feeds), `retag`, `index`, `export`, `opml`, `check`,
//! `config_cmd`;
//! `output` formats rows for the terminal.

mod check;
mod config_cmd;
mod export;
mod index;
mod items;
mod opml;
mod output;
mod poll;
mod retag;
mod run;

use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{ConfigError, Settings};
use crate::model::ItemFilter;

/// feedwatch: watch news feeds for topics, store each story once, query and export.
#[derive(Debug, Parser)]
#[command(name = "feedwatch", version, about, propagate_version = true)]
pub struct Cli {
    /// Config file [default: ./feedwatch.toml, then $XDG_CONFIG_HOME/feedwatch/config.toml,
    /// then /etc/feedwatch/config.toml]
    #[arg(long, global = true, env = "FEEDWATCH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database file, overriding [storage] database
    #[arg(long, global = true, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: poll every feed on its schedule until SIGTERM or SIGINT; SIGHUP
    /// reloads the config
    Run,
    /// Fetch every feed (or the named ones) once, store new items, print results and exit
    Poll {
        /// Only this feed (repeatable)
        #[arg(long = "feed", value_name = "NAME")]
        feeds: Vec<String>,
    },
    /// List stored items, newest first
    Items {
        /// Which items.
        #[command(flatten)]
        filter: FilterArgs,
        /// Output format
        #[arg(long, value_enum, default_value_t = ItemFormat::Table)]
        format: ItemFormat,
    },
    /// Write stored items as a feed (Atom, RSS, JSON Feed) or data file (JSONL, CSV),
    /// newest first, with the same filters as `items`
    Export {
        /// Which items.
        #[command(flatten)]
        filter: FilterArgs,
        /// Output format
        #[arg(long, value_enum)]
        format: crate::export::Format,
        /// Write to FILE (atomically: a temporary file renamed into place) instead of
        /// standard output
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        /// Feed title [default: one saying what the filter is]
        #[arg(long)]
        title: Option<String>,
        /// URL the exported file will be served at (the feed's self link)
        #[arg(long, value_name = "URL")]
        link: Option<String>,
    },
    /// Feed lists as OPML: export the configured feeds, or import another reader's list
    Opml {
        /// Which.
        #[command(subcommand)]
        command: OpmlCommand,
    },
    /// Show configured feeds with their health
    Feeds {
        /// Output format
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Apply the current watchlist again to every stored item and print the tags added and
    /// removed (nothing is fetched)
    Retag,
    /// Bring the search index up to date now (the daemon does this after each cycle)
    Index,
    /// Run one URL or file through the whole pipeline and print what would be stored
    /// (writes nothing)
    Check {
        /// URL (http, https, file) or path of a feed
        source: String,
        /// Output format
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
        /// Force a character encoding (gbk, big5, ...)
        #[arg(long)]
        encoding: Option<String>,
        /// Time zone for dates without an offset, and for CST
        #[arg(long)]
        timezone: Option<String>,
    },
    /// Validate the config, or print the documented example
    Config {
        /// Which.
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the config file and summarise it
    Check,
    /// Print the fully commented example config (every key at its default)
    Example,
}

/// `opml` subcommands.
#[derive(Debug, Subcommand)]
pub enum OpmlCommand {
    /// Print every configured feed as OPML 2.0
    Export,
    /// Print `[[feed]]` tables for the feeds in an OPML file (nested outlines are
    /// flattened; their folder names become a comment above each feed)
    Import {
        /// The OPML file (from Miniflux, FreshRSS, newsboat, ...)
        file: PathBuf,
        /// Append the new feeds to the config file instead of printing them
        #[arg(long)]
        write: bool,
    },
}

/// The filters shared by `items` and `export` (and `[[export]]` in the config): parsed
/// once into [`ItemFilter`].
#[derive(Debug, Clone, Args, Default, PartialEq, Eq)]
pub struct FilterArgs {
    /// Only items tagged with this topic (repeatable: all must match)
    #[arg(long = "tag", value_name = "TOPIC")]
    pub tags: Vec<String>,
    /// Only items tagged with at least one of these topics (repeatable)
    #[arg(long = "any-tag", value_name = "TOPIC")]
    pub any_tags: Vec<String>,
    /// Only items from this feed (repeatable)
    #[arg(long = "feed", value_name = "NAME")]
    pub feeds: Vec<String>,
    /// Only items published at or after T (RFC 3339, YYYY-MM-DD, or relative: 24h, 7d)
    #[arg(long, value_name = "T")]
    pub since: Option<String>,
    /// Only items published before T (RFC 3339, YYYY-MM-DD, or relative: 24h, 7d)
    #[arg(long, value_name = "T")]
    pub until: Option<String>,
    /// Only items whose title or text contains TEXT (case, width and script folded)
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Only items without any tag
    #[arg(long)]
    pub untagged: bool,
    /// At most N items
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,
}

impl FilterArgs {
    /// Builds the filter; times are read relative to `now`.
    pub fn to_filter(&self, now: DateTime<Utc>) -> Result<ItemFilter, UsageError> {
        let search = match &self.search {
            // Folding drops zero-width characters, so a text of only those is empty too.
            Some(s) if crate::text::fold(s).trim().is_empty() => {
                return Err(UsageError("--search: the text is empty".into()));
            }
            other => other.clone(),
        };
        Ok(ItemFilter {
            tags_all: self.tags.clone(),
            tags_any: self.any_tags.clone(),
            feeds: self.feeds.clone(),
            since: self
                .since
                .as_deref()
                .map(|t| parse_time(t, now, "--since"))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| parse_time(t, now, "--until"))
                .transpose()?,
            search,
            untagged: self.untagged,
            limit: self.limit,
        })
    }
}

impl FilterArgs {
    /// Says in a few words which items the filter selects, as written (relative times
    /// stay relative): `tag 美俄关系, search "普京", since 7d`, or `all items`.
    pub fn describe(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.tags.is_empty() {
            parts.push(format!("tag {}", self.tags.join(" + ")));
        }
        if !self.any_tags.is_empty() {
            parts.push(format!("any tag of {}", self.any_tags.join(", ")));
        }
        if !self.feeds.is_empty() {
            let noun = if self.feeds.len() == 1 {
                "feed"
            } else {
                "feeds"
            };
            parts.push(format!("{noun} {}", self.feeds.join(", ")));
        }
        if let Some(s) = &self.search {
            parts.push(format!("search \"{}\"", s.trim()));
        }
        if self.untagged {
            parts.push("untagged".into());
        }
        if let Some(t) = &self.since {
            parts.push(format!("since {}", t.trim()));
        }
        if let Some(t) = &self.until {
            parts.push(format!("until {}", t.trim()));
        }
        if let Some(n) = self.limit {
            parts.push(format!("newest {n}"));
        }
        if parts.is_empty() {
            "all items".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// Reads RFC 3339, `YYYY-MM-DD` (midnight UTC) or a relative age (`30m`, `24h`, `7d`).
pub fn parse_time(s: &str, now: DateTime<Utc>, option: &str) -> Result<DateTime<Utc>, UsageError> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.with_timezone(&Utc));
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if let Some(dt) = d.and_hms_opt(0, 0, 0) {
            return Ok(Utc.from_utc_datetime(&dt));
        }
    }
    if let Ok(age) = crate::config::parse_duration(t) {
        if let Ok(age) = chrono::Duration::from_std(age) {
            if let Some(at) = now.checked_sub_signed(age) {
                return Ok(at);
            }
        }
    }
    Err(UsageError(format!(
        "{option} {s:?}: not a time (use RFC 3339, YYYY-MM-DD, or an age like 24h or 7d)"
    )))
}

/// `items` formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ItemFormat {
    /// Aligned columns for people
    Table,
    /// One JSON array
    Json,
    /// One JSON object per line
    Jsonl,
    /// Comma-separated values with a header
    Csv,
}

/// Formats of `feeds` and `check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned columns for people
    Table,
    /// JSON
    Json,
}

/// Bad usage: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error: 2 for bad usage or config, 1 for everything else.
pub fn exit_code(err: &anyhow::Error) -> i32 {
    if err
        .chain()
        .any(|e| e.is::<ConfigError>() || e.is::<UsageError>())
    {
        2
    } else {
        1
    }
}

/// True when the error is a closed stdout (`feedwatch items | head`): not a failure.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Loads the config a command needs, applying `--db`.
pub fn load_settings(cli: &Cli) -> anyhow::Result<Settings> {
    let path = crate::config::locate(cli.config.as_deref()).map_err(|tried| {
        let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        UsageError(format!(
            "no config file found (looked for {}); pass --config FILE or see `feedwatch config example`",
            list.join(", ")
        ))
    })?;
    let mut settings = Settings::load(&path)?;
    if let Some(db) = &cli.db {
        settings.database = db.clone();
    }
    Ok(settings)
}

/// The database path when only `--db` or a config may say it.
fn database_path(cli: &Cli) -> anyhow::Result<PathBuf> {
    match &cli.db {
        Some(db) => Ok(db.clone()),
        None => Ok(load_settings(cli)?.database),
    }
}

impl Cli {
    /// The log level when neither `FEEDWATCH_LOG` nor `RUST_LOG` is set: the daemon logs
    /// its lifecycle and one line per cycle; one-shot commands only warnings.
    pub fn default_log_level(&self) -> &'static str {
        match self.command {
            Command::Run => "info",
            _ => "warn",
        }
    }
}

/// Runs a parsed command line. The default log level depends on the command.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Run => run::run(&cli),
        Command::Poll { feeds } => poll::poll(&cli, feeds),
        Command::Items { filter, format } => {
            let db = database_path(&cli)?;
            items::items(&db, &filter.to_filter(Utc::now())?, *format)
        }
        Command::Export {
            filter,
            format,
            output,
            title,
            link,
        } => {
            let db = database_path(&cli)?;
            let request = export::Request {
                filter,
                format: *format,
                output: output.as_deref(),
                title: title.as_deref(),
                link: link.as_deref(),
            };
            export::export(&db, &request, Utc::now())
        }
        Command::Opml { command } => match command {
            OpmlCommand::Export => opml::export(&load_settings(&cli)?),
            OpmlCommand::Import { file, write } => {
                opml::import(&load_settings(&cli)?, file, *write)
            }
        },
        Command::Feeds { format } => {
            let settings = load_settings(&cli)?;
            items::feeds(&settings, *format)
        }
        Command::Retag => retag::retag(&cli),
        Command::Index => index::index(&cli),
        Command::Check {
            source,
            format,
            encoding,
            timezone,
        } => check::check(
            &cli,
            source,
            *format,
            encoding.as_deref(),
            timezone.as_deref(),
        ),
        Command::Config { command } => match command {
            ConfigCommand::Example => config_cmd::example(),
            ConfigCommand::Check => config_cmd::check(&cli),
        },
    }
}

/// Builds the tokio runtime used by network commands.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .on_thread_start(yield_to_the_writer)
        .build()
        .context("cannot start the async runtime")
}

/// How many nice levels the runtime's threads (fetching, decompressing, parsing,
/// tagging) sit below the rest of the process.
const RUNTIME_NICENESS: i32 = 8;

/// Lowers the calling runtime thread's scheduling priority by [`RUNTIME_NICENESS`].
///
/// A poll is a pipeline into one database writer, and on a busy machine the kernel
/// shares the CPUs out per runnable thread: four parsing threads left the writer a fifth
/// of the time it needed, its queue filled, and the poll ended with the writer working
/// alone through the backlog while the other cores idled. With the fetch and parse side
/// a few nice levels down, the writer runs whenever it has work and the rest of the
/// pipeline fills the remaining CPU time; nothing changes on an idle machine.
/// Relative to the process's own niceness, so a `Nice=` in the unit still applies.
fn yield_to_the_writer() {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        let current = rustix::process::getpriority_process(Some(me)).unwrap_or(0);
        let lower = current.saturating_add(RUNTIME_NICENESS).min(19);
        if let Err(e) = rustix::process::setpriority_process(Some(me), lower) {
            tracing::debug!(error = %e, "runtime thread priority unchanged");
        }
    }
}

/// Writes to stdout through a buffer; a closed pipe surfaces as `BrokenPipe`.
fn stdout() -> std::io::BufWriter<std::io::StdoutLock<'static>> {
    std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock())
}

fn display(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn runtime_threads_run_below_the_writer() {
        fn own() -> i32 {
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
        }
        let writer = std::thread::spawn(own).join().unwrap();
        let rt = runtime().unwrap();
        let worker = rt.block_on(async { tokio::spawn(async { own() }).await.unwrap() });
        let blocking = rt.block_on(async { tokio::task::spawn_blocking(own).await.unwrap() });
        let expected = (writer + RUNTIME_NICENESS).min(19);
        assert_eq!(worker, expected);
        assert_eq!(blocking, expected);
        assert!(worker > writer || writer == 19);
    }

    #[test]
    fn times() {
        let now = Utc.with_ymd_and_hms(2025, 6, 10, 12, 0, 0).unwrap();
        let cases = [
            (
                "rfc3339",
                "2025-06-01T08:00:00+08:00",
                Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
            ),
            (
                "date",
                "2025-06-01",
                Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap(),
            ),
            (
                "hours",
                "24h",
                Utc.with_ymd_and_hms(2025, 6, 9, 12, 0, 0).unwrap(),
            ),
            (
                "days",
                "7d",
                Utc.with_ymd_and_hms(2025, 6, 3, 12, 0, 0).unwrap(),
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(parse_time(input, now, "--since").unwrap(), want, "{name}");
        }
        let e = parse_time("last tuesday", now, "--since").unwrap_err();
        assert!(e.0.contains("--since"), "{e}");
    }
}
