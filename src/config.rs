//! Configuration: TOML → validated [`Settings`], once, at start-up.
//!
//! (skeleton: validation is filled in by the config work)

use std::path::PathBuf;
use std::time::Duration;

/// Where a feed is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `http://` or `https://`.
    Http(url::Url),
    /// `file://` URL or a plain path (resolved against the config file's folder).
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Http(u) => write!(f, "{u}"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
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
}

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
    pub fields: Vec<crate::model::Field>,
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
        }
    }
}
