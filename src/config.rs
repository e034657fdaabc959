//! Configuration: TOML → validated [`Settings`], once, at start-up.
//!
//! Raw serde structs mirror the file (unknown keys rejected, every value spanned so errors
//! can point at a line); [`Settings::load`] turns them into runtime values and checks what
//! serde cannot: durations, sizes, URLs, encodings, time zones, cron schedules, unique
//! names and compilable topics. Defaults have one home, the `Default` impls here; the
//! documented example in `config/feedwatch.example.toml` mirrors them and a test keeps the
//! two in step. Nothing here touches the network or the database.

use std::collections::HashSet;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::model::Field;

/// The documented example config, printed by `feedwatch config example`.
pub const EXAMPLE: &str = include_str!("../config/feedwatch.example.toml");

/// Where a feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `http://` or `https://`.
    Http(url::Url),
    /// `file://` URL or a plain path (resolved against the config file's folder).
    File(PathBuf),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Http(u) => write!(f, "{u}"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Source {
    /// Reads a feed location: an http(s) URL, a `file://` URL, or a path resolved
    /// against `base` when relative.
    pub fn parse(raw: &str, base: &Path) -> Result<Source, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("is empty".into());
        }
        if let Some((scheme, _)) = raw.split_once("://") {
            let url =
                url::Url::parse(raw).map_err(|e| format!("{raw:?} is not a valid URL: {e}"))?;
            return match scheme.to_ascii_lowercase().as_str() {
                "http" | "https" => Ok(Source::Http(url)),
                "file" => url
                    .to_file_path()
                    .map(Source::File)
                    .map_err(|()| format!("{raw:?} is not a usable file URL")),
                other => Err(format!(
                    "{raw:?}: unsupported scheme {other:?} (use http, https, file or a path)"
                )),
            };
        }
        let path = Path::new(raw);
        Ok(Source::File(if path.is_absolute() {
            path.to_path_buf()
        } else {
            base.join(path)
        }))
    }
}

/// Settings of the `[poll]` table, shared by every feed.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    /// Default cron schedule (6/7 fields with seconds, or 5-field crontab).
    pub schedule: String,
    /// Feeds refreshed at once.
    pub concurrency: usize,
    /// Requests at once to one host.
    pub per_host: usize,
    /// Total time for one request, body included.
    pub timeout: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// Largest body accepted, counted after decompression.
    pub max_body: u64,
    /// Redirects followed before giving up.
    pub max_redirects: usize,
    /// User-Agent header.
    pub user_agent: String,
    /// The zone schedules are read in.
    pub timezone: crate::schedule::ScheduleZone,
    /// Longest wait between two polls of a feed, whatever backoff or the server ask for.
    pub max_backoff: Duration,
    /// Time in-flight refreshes get to finish when the daemon stops.
    pub drain_timeout: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        PollSettings {
            schedule: "0 */15 * * * *".to_string(),
            concurrency: 16,
            per_host: 4,
            timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(10),
            max_body: 15 * 1024 * 1024,
            max_redirects: 5,
            user_agent: concat!("feedwatch/", env!("CARGO_PKG_VERSION")).to_string(),
            timezone: crate::schedule::ScheduleZone::Local,
            max_backoff: Duration::from_secs(24 * 3600),
            drain_timeout: Duration::from_secs(10),
        }
    }
}

/// The default database file name, relative to the config file's folder.
pub const DEFAULT_DATABASE: &str = "feedwatch.db";

/// One `[[feed]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSettings {
    /// Unique name.
    pub name: String,
    /// Where to fetch it.
    pub source: Source,
    /// Own cron schedule, overriding `[poll] schedule`.
    pub schedule: Option<String>,
    /// Forced character encoding.
    pub encoding: Option<&'static encoding_rs::Encoding>,
    /// Zone for dates without an offset and for `CST`.
    pub timezone: Option<chrono_tz::Tz>,
}

/// One watchlist topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    /// Tag name.
    pub name: String,
    /// Any of these tags the item.
    pub terms: Vec<String>,
    /// Each of these must also appear.
    pub all: Vec<String>,
    /// Any of these stops the tag.
    pub none: Vec<String>,
    /// Which fields are searched.
    pub fields: Vec<Field>,
}

impl TopicSpec {
    /// A topic whose only term is its name, searched in title and text.
    pub fn keyword(name: &str) -> TopicSpec {
        TopicSpec {
            name: name.to_string(),
            terms: vec![name.to_string()],
            all: Vec::new(),
            none: Vec::new(),
            fields: vec![Field::Title, Field::Text],
        }
    }
}

/// One `[[export]]`: a filtered feed or data file the daemon rewrites after every cycle
/// in which something changed.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSpec {
    /// Unique name; the exported feed's id is derived from it.
    pub name: String,
    /// Output format.
    pub format: crate::export::Format,
    /// The file written (atomically), resolved against the config file's folder.
    pub path: PathBuf,
    /// Feed title, overriding the one describing the filter.
    pub title: Option<String>,
    /// The URL the file is served at, for the feed's `self` link.
    pub link: Option<String>,
    /// Which items: the same filter as `items` and `export` on the command line,
    /// with relative times read when the file is written.
    pub filter: crate::cli::FilterArgs,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The file it was read from (None for built-in defaults).
    pub path: Option<PathBuf>,
    /// SQLite database file.
    pub database: PathBuf,
    /// `[poll]`.
    pub poll: PollSettings,
    /// `[[feed]]` tables in file order.
    pub feeds: Vec<FeedSettings>,
    /// `watchlist` shorthand topics followed by `[[topic]]` tables.
    pub topics: Vec<TopicSpec>,
    /// `[[export]]` tables in file order.
    pub exports: Vec<ExportSpec>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            path: None,
            database: PathBuf::from(DEFAULT_DATABASE),
            poll: PollSettings::default(),
            feeds: Vec::new(),
            topics: Vec::new(),
            exports: Vec::new(),
        }
    }
}

/// A config error: the file, the line (when known), the key and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// The config file.
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The key path, like `feed[2].url`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.message)
    }
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    watchlist: Vec<Spanned<String>>,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default, rename = "feed")]
    feeds: Vec<Spanned<RawFeed>>,
    #[serde(default, rename = "topic")]
    topics: Vec<Spanned<RawTopic>>,
    #[serde(default, rename = "export")]
    exports: Vec<Spanned<RawExport>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    database: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    schedule: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    per_host: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    max_body: Option<Spanned<SizeValue>>,
    max_redirects: Option<Spanned<i64>>,
    user_agent: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
    max_backoff: Option<Spanned<String>>,
    drain_timeout: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SizeValue {
    Bytes(i64),
    Text(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    name: Option<Spanned<String>>,
    url: Option<Spanned<String>>,
    schedule: Option<Spanned<String>>,
    encoding: Option<Spanned<String>>,
    timezone: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopic {
    name: Option<Spanned<String>>,
    terms: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    all: Vec<Spanned<String>>,
    #[serde(default)]
    none: Vec<Spanned<String>>,
    fields: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExport {
    name: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    title: Option<Spanned<String>>,
    link: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<Spanned<String>>,
    #[serde(default)]
    any_tags: Vec<Spanned<String>>,
    #[serde(default)]
    feeds: Vec<Spanned<String>>,
    since: Option<Spanned<String>>,
    until: Option<Spanned<String>>,
    search: Option<Spanned<String>>,
    #[serde(default)]
    untagged: bool,
    limit: Option<Spanned<i64>>,
}

/// Turns byte spans into 1-based line numbers and builds errors for one file.
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(
        &self,
        span: Option<Range<usize>>,
        key: impl Into<String>,
        msg: impl Into<String>,
    ) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line: span.map(|s| self.line(s)),
            key: key.into(),
            message: msg.into(),
        }
    }
}

impl Settings {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: path.to_path_buf(),
            line: None,
            key: String::new(),
            message: format!("cannot read: {e}"),
        })?;
        Settings::from_toml(&text, path)
    }

    /// Validates config text as if read from `path` (relative paths resolve against the
    /// folder of `path`).
    pub fn from_toml(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let ctx = Ctx { file: path, text };
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            let key = e.span().map(|s| key_at(text, s.start)).unwrap_or_default();
            ctx.err(e.span(), key, msg)
        })?;
        let base = path
            .parent()
            .map(|p| {
                if p.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    p
                }
            })
            .unwrap_or(Path::new("."));
        let defaults = PollSettings::default();

        let database = match &raw.storage.database {
            Some(db) if db.get_ref().trim().is_empty() => {
                return Err(ctx.err(Some(db.span()), "storage.database", "is empty"));
            }
            Some(db) => base.join(db.get_ref()),
            None => base.join(DEFAULT_DATABASE),
        };

        let p = &raw.poll;
        let schedule = match &p.schedule {
            Some(s) => {
                crate::schedule::parse(s.get_ref())
                    .map_err(|e| ctx.err(Some(s.span()), "poll.schedule", e))?;
                s.get_ref().clone()
            }
            None => defaults.schedule.clone(),
        };
        let positive = |v: &Option<Spanned<i64>>, key: &str, default: usize| match v {
            Some(n) if *n.get_ref() >= 1 => Ok(usize::try_from(*n.get_ref()).unwrap_or(usize::MAX)),
            Some(n) => Err(ctx.err(Some(n.span()), key, "must be 1 or more")),
            None => Ok(default),
        };
        let duration = |v: &Option<Spanned<String>>, key: &str, default: Duration| match v {
            Some(s) => parse_duration(s.get_ref()).map_err(|e| ctx.err(Some(s.span()), key, e)),
            None => Ok(default),
        };
        let max_body = match &p.max_body {
            Some(v) => match v.get_ref() {
                SizeValue::Bytes(n) if *n > 0 => u64::try_from(*n).unwrap_or(u64::MAX),
                SizeValue::Bytes(_) => {
                    return Err(ctx.err(Some(v.span()), "poll.max_body", "must be positive"));
                }
                SizeValue::Text(s) => {
                    parse_size(s).map_err(|e| ctx.err(Some(v.span()), "poll.max_body", e))?
                }
            },
            None => defaults.max_body,
        };
        let max_redirects = match &p.max_redirects {
            Some(n) if (0..=50).contains(n.get_ref()) => usize::try_from(*n.get_ref()).unwrap_or(0),
            Some(n) => {
                return Err(ctx.err(Some(n.span()), "poll.max_redirects", "must be 0 to 50"));
            }
            None => defaults.max_redirects,
        };
        let poll = PollSettings {
            schedule,
            concurrency: positive(&p.concurrency, "poll.concurrency", defaults.concurrency)?,
            per_host: positive(&p.per_host, "poll.per_host", defaults.per_host)?,
            timeout: duration(&p.timeout, "poll.timeout", defaults.timeout)?,
            connect_timeout: duration(
                &p.connect_timeout,
                "poll.connect_timeout",
                defaults.connect_timeout,
            )?,
            max_body,
            max_redirects,
            user_agent: match &p.user_agent {
                Some(ua) if ua.get_ref().trim().is_empty() => {
                    return Err(ctx.err(Some(ua.span()), "poll.user_agent", "is empty"));
                }
                Some(ua) => ua.get_ref().clone(),
                None => defaults.user_agent.clone(),
            },
            timezone: match &p.timezone {
                Some(tz) => crate::schedule::ScheduleZone::parse(tz.get_ref())
                    .map_err(|e| ctx.err(Some(tz.span()), "poll.timezone", e))?,
                None => defaults.timezone,
            },
            max_backoff: duration(&p.max_backoff, "poll.max_backoff", defaults.max_backoff)?,
            drain_timeout: duration(
                &p.drain_timeout,
                "poll.drain_timeout",
                defaults.drain_timeout,
            )?,
        };

        let mut feeds = Vec::with_capacity(raw.feeds.len());
        let mut names = HashSet::new();
        for (i, spanned) in raw.feeds.iter().enumerate() {
            let span = spanned.span();
            let f = spanned.get_ref();
            let key = |k: &str| format!("feed[{}].{k}", i + 1);
            let name = match &f.name {
                Some(n) if n.get_ref().trim().is_empty() => {
                    return Err(ctx.err(Some(n.span()), key("name"), "is empty"));
                }
                Some(n) => n,
                None => {
                    return Err(ctx.err(
                        Some(span),
                        key("name"),
                        "missing: every feed needs a name",
                    ));
                }
            };
            let fname = name.get_ref().trim().to_string();
            if !names.insert(fname.clone()) {
                return Err(ctx.err(
                    Some(name.span()),
                    key("name"),
                    format!("duplicate feed name {fname:?}"),
                ));
            }
            let url = f.url.as_ref().ok_or_else(|| {
                ctx.err(
                    Some(span.clone()),
                    key("url"),
                    format!("missing: feed {fname:?} has no url"),
                )
            })?;
            let source = Source::parse(url.get_ref(), base)
                .map_err(|e| ctx.err(Some(url.span()), key("url"), e))?;
            let schedule = match &f.schedule {
                Some(s) => {
                    crate::schedule::parse(s.get_ref())
                        .map_err(|e| ctx.err(Some(s.span()), key("schedule"), e))?;
                    Some(s.get_ref().clone())
                }
                None => None,
            };
            let encoding = match &f.encoding {
                Some(e) => Some(crate::decode::encoding_for_label(e.get_ref()).ok_or_else(
                    || {
                        ctx.err(
                            Some(e.span()),
                            key("encoding"),
                            format!("unknown encoding {:?}", e.get_ref()),
                        )
                    },
                )?),
                None => None,
            };
            let timezone = match &f.timezone {
                Some(tz) => Some(
                    parse_timezone(tz.get_ref())
                        .map_err(|e| ctx.err(Some(tz.span()), key("timezone"), e))?,
                ),
                None => None,
            };
            feeds.push(FeedSettings {
                name: fname,
                source,
                schedule,
                encoding,
                timezone,
            });
        }

        let mut topics = Vec::new();
        let mut spans = Vec::new();
        for kw in &raw.watchlist {
            topics.push(TopicSpec::keyword(kw.get_ref().trim()));
            spans.push((kw.span(), "watchlist".to_string()));
        }
        for (i, spanned) in raw.topics.iter().enumerate() {
            let t = spanned.get_ref();
            let key = format!("topic[{}]", i + 1);
            let name = t.name.as_ref().ok_or_else(|| {
                ctx.err(
                    Some(spanned.span()),
                    format!("{key}.name"),
                    "missing: every topic needs a name",
                )
            })?;
            let name_str = name.get_ref().trim().to_string();
            let list =
                |v: &[Spanned<String>]| v.iter().map(|s| s.get_ref().clone()).collect::<Vec<_>>();
            let terms = match &t.terms {
                Some(terms) if terms.is_empty() => {
                    return Err(ctx.err(
                        Some(spanned.span()),
                        format!("{key}.terms"),
                        format!(
                            "topic {name_str:?}: terms is empty (leave it out to use the name)"
                        ),
                    ));
                }
                Some(terms) => list(terms),
                None => vec![name_str.clone()],
            };
            let fields = match &t.fields {
                Some(fields) => {
                    let mut out = Vec::new();
                    for f in fields {
                        let field = Field::parse(f.get_ref()).ok_or_else(|| {
                            ctx.err(
                                Some(f.span()),
                                format!("{key}.fields"),
                                format!(
                                    "unknown field {:?} (use \"title\" or \"text\")",
                                    f.get_ref()
                                ),
                            )
                        })?;
                        if !out.contains(&field) {
                            out.push(field);
                        }
                    }
                    if out.is_empty() {
                        return Err(ctx.err(
                            Some(spanned.span()),
                            format!("{key}.fields"),
                            format!("topic {name_str:?}: fields is empty"),
                        ));
                    }
                    out
                }
                None => vec![Field::Title, Field::Text],
            };
            topics.push(TopicSpec {
                name: name_str,
                terms,
                all: list(&t.all),
                none: list(&t.none),
                fields,
            });
            spans.push((name.span(), key));
        }
        // Names, empty terms, duplicates and terms that fold to nothing are checked by
        // the watchlist compiler, the one place that knows how terms are folded; map its
        // complaint back to the topic's line.
        if let Err(e) = crate::watch::Watchlist::new(&topics) {
            let crate::watch::WatchError::BadTopic { topic, .. } = &e;
            let at = topics.iter().rposition(|t| &t.name == topic);
            let (span, key) = match at.and_then(|i| spans.get(i)) {
                Some((s, k)) => (Some(s.clone()), k.clone()),
                None => (None, "topic".to_string()),
            };
            return Err(ctx.err(span, key, e.to_string()));
        }

        let exports = exports(&ctx, &raw.exports, base, &feeds, &topics)?;

        Ok(Settings {
            path: Some(path.to_path_buf()),
            database,
            poll,
            feeds,
            topics,
            exports,
        })
    }

    /// The schedule a feed polls on.
    pub fn schedule_of<'a>(&'a self, feed: &'a FeedSettings) -> &'a str {
        feed.schedule.as_deref().unwrap_or(&self.poll.schedule)
    }
}

/// Validates the `[[export]]` tables. Filters are checked by building them the way the
/// command line does; tags and feeds must name configured topics and feeds, since a typo
/// there would silently give an empty feed forever.
fn exports(
    ctx: &Ctx<'_>,
    raw: &[Spanned<RawExport>],
    base: &Path,
    feeds: &[FeedSettings],
    topics: &[TopicSpec],
) -> Result<Vec<ExportSpec>, ConfigError> {
    let mut out: Vec<ExportSpec> = Vec::with_capacity(raw.len());
    for (i, spanned) in raw.iter().enumerate() {
        let span = spanned.span();
        let e = spanned.get_ref();
        let key = |k: &str| format!("export[{}].{k}", i + 1);
        let text = |v: &Option<Spanned<String>>, k: &str| -> Result<Option<String>, ConfigError> {
            match v {
                Some(s) if s.get_ref().trim().is_empty() => {
                    Err(ctx.err(Some(s.span()), key(k), "is empty"))
                }
                Some(s) => Ok(Some(s.get_ref().trim().to_string())),
                None => Ok(None),
            }
        };
        let name = text(&e.name, "name")?.ok_or_else(|| {
            ctx.err(
                Some(span.clone()),
                key("name"),
                "missing: every export needs a name",
            )
        })?;
        if out.iter().any(|o| o.name == name) {
            return Err(ctx.err(
                e.name.as_ref().map(|n| n.span()),
                key("name"),
                format!("duplicate export name {name:?}"),
            ));
        }
        let format = match &e.format {
            Some(f) => crate::export::Format::parse(f.get_ref()).ok_or_else(|| {
                let names: Vec<&str> = crate::export::Format::ALL
                    .iter()
                    .map(|f| f.name())
                    .collect();
                ctx.err(
                    Some(f.span()),
                    key("format"),
                    format!(
                        "unknown format {:?} (use one of {})",
                        f.get_ref(),
                        names.join(", ")
                    ),
                )
            })?,
            None => {
                return Err(ctx.err(
                    Some(span.clone()),
                    key("format"),
                    format!("missing: export {name:?} needs a format"),
                ));
            }
        };
        let path = text(&e.path, "path")?.ok_or_else(|| {
            ctx.err(
                Some(span.clone()),
                key("path"),
                format!("missing: export {name:?} needs a path to write"),
            )
        })?;
        let path = base.join(path);
        if let Some(other) = out.iter().find(|o| o.path == path) {
            return Err(ctx.err(
                e.path.as_ref().map(|p| p.span()),
                key("path"),
                format!("export {:?} writes the same file", other.name),
            ));
        }
        let link = text(&e.link, "link")?;
        if let (Some(l), Some(spanned)) = (&link, &e.link) {
            match url::Url::parse(l) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {}
                _ => {
                    return Err(ctx.err(
                        Some(spanned.span()),
                        key("link"),
                        format!("{l:?} is not an http(s) URL"),
                    ));
                }
            }
        }
        for (list, k) in [(&e.tags, "tags"), (&e.any_tags, "any_tags")] {
            if let Some(t) = list
                .iter()
                .find(|t| !topics.iter().any(|topic| topic.name == t.get_ref().trim()))
            {
                return Err(ctx.err(
                    Some(t.span()),
                    key(k),
                    format!("{:?} is not a topic of the watchlist", t.get_ref()),
                ));
            }
        }
        for f in &e.feeds {
            if !feeds.iter().any(|feed| feed.name == f.get_ref().trim()) {
                return Err(ctx.err(
                    Some(f.span()),
                    key("feeds"),
                    format!("{:?} is not a configured feed", f.get_ref()),
                ));
            }
        }
        let limit = match &e.limit {
            Some(n) if *n.get_ref() >= 1 => u64::try_from(*n.get_ref()).ok(),
            Some(n) => return Err(ctx.err(Some(n.span()), key("limit"), "must be 1 or more")),
            None => None,
        };
        let list = |v: &[Spanned<String>]| -> Vec<String> {
            v.iter().map(|s| s.get_ref().trim().to_string()).collect()
        };
        let filter = crate::cli::FilterArgs {
            tags: list(&e.tags),
            any_tags: list(&e.any_tags),
            feeds: list(&e.feeds),
            since: e.since.as_ref().map(|s| s.get_ref().clone()),
            until: e.until.as_ref().map(|s| s.get_ref().clone()),
            search: e.search.as_ref().map(|s| s.get_ref().clone()),
            untagged: e.untagged,
            limit,
        };
        if let Err(problem) = filter.to_filter(chrono::Utc::now()) {
            // The message starts with the command-line option it is about.
            let (k, at) = [
                ("since", &e.since),
                ("until", &e.until),
                ("search", &e.search),
            ]
            .into_iter()
            .find(|(k, _)| problem.0.starts_with(&format!("--{k}")))
            .map_or(("", None), |(k, v)| (k, v.as_ref().map(|s| s.span())));
            return Err(ctx.err(at.or(Some(span.clone())), key(k), problem.0));
        }
        out.push(ExportSpec {
            name,
            format,
            path,
            title: text(&e.title, "title")?,
            link,
            filter,
        });
    }
    Ok(out)
}

/// The dotted key a byte offset sits on (`poll.concurrency`), for serde's errors that
/// name only the value: the `[table]` header above it plus the key left of `=`.
fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let Some(before) = text.get(..offset) else {
        return String::new();
    };
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let Some((key, _)) = line.split_once('=') else {
        return String::new();
    };
    let key = key.trim();
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('['))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim());
    match table {
        Some(t) if !t.is_empty() => format!("{t}.{key}"),
        _ => key.to_string(),
    }
}

/// Finds the config file: the explicit path (from `--config` or `FEEDWATCH_CONFIG`), else
/// `./feedwatch.toml`, `$XDG_CONFIG_HOME/feedwatch/config.toml` (`~/.config` when unset),
/// `/etc/feedwatch/config.toml`. Returns the candidates tried when none exists.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, Vec<PathBuf>> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let mut candidates = vec![PathBuf::from("feedwatch.toml")];
    let xdg = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(x) = xdg {
        candidates.push(x.join("feedwatch").join("config.toml"));
    }
    candidates.push(PathBuf::from("/etc/feedwatch/config.toml"));
    match candidates.iter().find(|c| c.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(candidates),
    }
}

/// Reads `20s`, `500ms`, `1m30s`, `2h`, `1d`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let bad =
        || format!("{s:?} is not a duration (use e.g. \"500ms\", \"20s\", \"5m\", \"2h\", \"1d\")");
    if t.is_empty() {
        return Err(bad());
    }
    let mut total = Duration::ZERO;
    let mut rest = t;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = rest[digits..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let part = match unit {
            "ms" => Duration::from_millis(n),
            "s" | "sec" | "secs" => Duration::from_secs(n),
            "m" | "min" | "mins" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(part);
        rest = rest[unit_len..].trim_start();
    }
    if total.is_zero() {
        return Err(format!("{s:?} must be longer than zero"));
    }
    Ok(total)
}

/// Reads `15MiB`, `512KiB`, `2MB`, `1048576`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("{s:?} is not a size (use e.g. \"15MiB\", \"512KiB\", \"2MB\")");
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    if digits == 0 {
        return Err(bad());
    }
    let n: u64 = t[..digits].parse().map_err(|_| bad())?;
    let mult: u64 = match t[digits..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1000,
        "kib" => 1024,
        "mb" | "m" => 1_000_000,
        "mib" => 1024 * 1024,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1024 * 1024 * 1024,
        _ => return Err(bad()),
    };
    match n.checked_mul(mult) {
        Some(0) => Err(format!("{s:?} must be larger than zero")),
        Some(v) => Ok(v),
        None => Err(bad()),
    }
}

/// Reads an IANA zone name (`Asia/Shanghai`, `UTC`).
pub fn parse_timezone(s: &str) -> Result<chrono_tz::Tz, String> {
    s.trim()
        .parse::<chrono_tz::Tz>()
        .map_err(|_| format!("unknown time zone {s:?} (use an IANA name like \"Asia/Shanghai\")"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Settings, ConfigError> {
        Settings::from_toml(text, Path::new("/etc/fw/feedwatch.toml"))
    }

    #[test]
    fn example_config_equals_the_defaults() {
        let s = Settings::from_toml(EXAMPLE, Path::new("/x/feedwatch.toml")).unwrap();
        assert_eq!(s.poll, PollSettings::default());
        assert_eq!(s.database, Path::new("/x").join(DEFAULT_DATABASE));
        // The example documents one feed and one topic of each kind, and nothing else.
        assert!(!s.feeds.is_empty());
        assert!(!s.topics.is_empty());
    }

    #[test]
    fn empty_config_is_all_defaults() {
        let s = load("").unwrap();
        assert_eq!(s.poll, PollSettings::default());
        assert_eq!(s.database, PathBuf::from("/etc/fw/feedwatch.db"));
        assert!(s.feeds.is_empty());
    }

    #[test]
    fn relative_paths_resolve_against_the_config_folder() {
        let s = load(
            "[storage]\ndatabase = \"state/fw.db\"\n[[feed]]\nname = \"a\"\nurl = \"demo/a.xml\"\n\
             [[feed]]\nname = \"b\"\nurl = \"file:///srv/b.xml\"\n[[feed]]\nname = \"c\"\nurl = \"https://example.org/c\"\n",
        )
        .unwrap();
        assert_eq!(s.database, PathBuf::from("/etc/fw/state/fw.db"));
        assert_eq!(
            s.feeds[0].source,
            Source::File(PathBuf::from("/etc/fw/demo/a.xml"))
        );
        assert_eq!(s.feeds[1].source, Source::File(PathBuf::from("/srv/b.xml")));
        assert!(matches!(s.feeds[2].source, Source::Http(_)));
    }

    #[test]
    fn errors_name_file_key_and_line() {
        let cases: &[(&str, &str, usize, &str)] = &[
            ("unknown key", "[poll]\nconcurency = 3\n", 2, "concurency"),
            (
                "bad duration",
                "[poll]\ntimeout = \"20 parsecs\"\n",
                2,
                "poll.timeout",
            ),
            (
                "bad size",
                "[poll]\nmax_body = \"lots\"\n",
                2,
                "poll.max_body",
            ),
            (
                "zero concurrency",
                "[poll]\nconcurrency = 0\n",
                2,
                "poll.concurrency",
            ),
            (
                "duplicate feed",
                "[[feed]]\nname = \"a\"\nurl = \"a.xml\"\n\n[[feed]]\nname = \"a\"\nurl = \"b.xml\"\n",
                6,
                "duplicate feed name",
            ),
            (
                "feed without url",
                "\n[[feed]]\nname = \"a\"\n",
                2,
                "feed[1].url",
            ),
            (
                "feed without name",
                "[[feed]]\nurl = \"a.xml\"\n",
                1,
                "feed[1].name",
            ),
            (
                "bad scheme",
                "[[feed]]\nname = \"a\"\nurl = \"ftp://x/y\"\n",
                3,
                "unsupported scheme",
            ),
            (
                "bad encoding",
                "[[feed]]\nname = \"a\"\nurl = \"a\"\nencoding = \"klingon\"\n",
                4,
                "klingon",
            ),
            (
                "bad zone",
                "[[feed]]\nname = \"a\"\nurl = \"a\"\ntimezone = \"Mars/Base\"\n",
                4,
                "Mars/Base",
            ),
            (
                "bad schedule",
                "[poll]\nschedule = \"every tuesday\"\n",
                2,
                "poll.schedule",
            ),
            (
                "bad schedule zone",
                "[poll]\ntimezone = \"Mars/Base\"\n",
                2,
                "poll.timezone",
            ),
            (
                "bad max_backoff",
                "[poll]\nmax_backoff = \"forever\"\n",
                2,
                "poll.max_backoff",
            ),
            (
                "bad field",
                "[[topic]]\nname = \"x\"\nfields = [\"body\"]\n",
                3,
                "body",
            ),
            (
                "duplicate topic",
                "watchlist = [\"普京\"]\n[[topic]]\nname = \"普京\"\n",
                3,
                "普京",
            ),
            (
                "empty term",
                "[[topic]]\nname = \"x\"\nterms = [\"\"]\n",
                2,
                "topic[1]",
            ),
            (
                "wrong type",
                "[poll]\nconcurrency = \"many\"\n",
                2,
                "concurrency",
            ),
            ("toml syntax", "[poll\n", 1, ""),
        ];
        for (name, text, line, needle) in cases {
            let e = load(text).expect_err(name);
            assert_eq!(e.line, Some(*line), "{name}: {e}");
            let shown = e.to_string();
            assert!(
                shown.starts_with("/etc/fw/feedwatch.toml:"),
                "{name}: {shown}"
            );
            assert!(shown.contains(needle), "{name}: {shown} lacks {needle:?}");
        }
    }

    #[test]
    fn topics_from_shorthand_and_tables() {
        let s = load(
            "watchlist = [\"美俄关系\", \"三方会晤\"]\n[[topic]]\nname = \"特朗普\"\nterms = [\"特朗普\", \"川普\"]\nnone = [\"体育\"]\nfields = [\"title\"]\n",
        )
        .unwrap();
        let names: Vec<_> = s.topics.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["美俄关系", "三方会晤", "特朗普"]);
        assert_eq!(s.topics[0].terms, ["美俄关系"]);
        assert_eq!(s.topics[2].terms, ["特朗普", "川普"]);
        assert_eq!(s.topics[2].none, ["体育"]);
        assert_eq!(s.topics[2].fields, [Field::Title]);
    }

    #[test]
    fn the_commented_export_example_is_valid() {
        let start = EXAMPLE.find("# [[export]]").unwrap();
        let mut text = EXAMPLE[..start].to_string();
        for line in EXAMPLE[start..].lines() {
            let line = line.strip_prefix("# ").unwrap_or(line);
            // Commented-out keys inside the block stay comments.
            if !line.starts_with("# ") {
                text.push_str(line);
                text.push('\n');
            }
        }
        let s = Settings::from_toml(&text, Path::new("/x/feedwatch.toml")).unwrap();
        let e = &s.exports[0];
        assert_eq!(e.name, "us-russia");
        assert_eq!(e.format, crate::export::Format::Atom);
        assert_eq!(e.path, Path::new("/x/exports/us-russia.xml"));
        assert_eq!(e.filter.tags, ["美俄关系"]);
        assert_eq!(e.filter.since.as_deref(), Some("7d"));
        assert_eq!(e.filter.limit, Some(500));
        assert!(s.exports.len() == 1 && load("").unwrap().exports.is_empty());
    }

    #[test]
    fn export_errors_name_the_key_and_line() {
        let head = "watchlist = [\"普京\"]\n[[feed]]\nname = \"a\"\nurl = \"a.xml\"\n";
        let cases: &[(&str, &str, usize, &str)] = &[
            (
                "no format",
                "[[export]]\nname = \"x\"\npath = \"x\"\n",
                5,
                "export[1].format",
            ),
            (
                "bad format",
                "[[export]]\nname = \"x\"\nformat = \"pdf\"\npath = \"x\"\n",
                7,
                "pdf",
            ),
            (
                "no path",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\n",
                5,
                "export[1].path",
            ),
            (
                "unknown tag",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\npath = \"x\"\ntags = [\"普金\"]\n",
                9,
                "普金",
            ),
            (
                "unknown feed",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\npath = \"x\"\nfeeds = [\"b\"]\n",
                9,
                "export[1].feeds",
            ),
            (
                "bad since",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\npath = \"x\"\nsince = \"soon\"\n",
                9,
                "export[1].since",
            ),
            (
                "bad link",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\npath = \"x\"\nlink = \"ftp://x\"\n",
                9,
                "export[1].link",
            ),
            (
                "zero limit",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\npath = \"x\"\nlimit = 0\n",
                9,
                "export[1].limit",
            ),
            (
                "same path",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\npath = \"x\"\n[[export]]\nname = \"y\"\nformat = \"atom\"\npath = \"x\"\n",
                12,
                "same file",
            ),
            (
                "same name",
                "[[export]]\nname = \"x\"\nformat = \"rss\"\npath = \"x\"\n[[export]]\nname = \"x\"\nformat = \"atom\"\npath = \"y\"\n",
                10,
                "duplicate export name",
            ),
        ];
        for (name, text, line, needle) in cases {
            let e = load(&format!("{head}{text}")).expect_err(name);
            assert_eq!(e.line, Some(*line), "{name}: {e}");
            assert!(
                e.to_string().contains(needle),
                "{name}: {e} lacks {needle:?}"
            );
        }
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("20s"), Ok(Duration::from_secs(20)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1d"), Ok(Duration::from_secs(86_400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("s").is_err());
        assert!(parse_duration("10 years").is_err());
        assert_eq!(parse_size("15MiB"), Ok(15 * 1024 * 1024));
        assert_eq!(parse_size("2MB"), Ok(2_000_000));
        assert_eq!(parse_size("512"), Ok(512));
        assert!(parse_size("0").is_err());
        assert!(parse_size("99999999999999GiB").is_err());
    }
}
