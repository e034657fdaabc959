//! Feed documents → [`ParsedFeed`] via feed-rs. (skeleton)

use chrono::{DateTime, Utc};

use crate::model::ParsedFeed;

/// What `parse` needs to know about the feed besides its text.
#[derive(Debug, Clone)]
pub struct ParseContext<'a> {
    /// The feed's URL (base for relative links and for derived ids).
    pub feed_url: &'a str,
    /// The feed's configured zone, for offset-less dates and `CST`.
    pub timezone: Option<chrono_tz::Tz>,
    /// The current time (dates far in the future are clamped to it).
    pub now: DateTime<Utc>,
}

/// Why a document could not be read as a feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is an HTML page, not a feed.
    #[error("not a feed: the body is an HTML page")]
    HtmlPage,
    /// The body is empty.
    #[error("empty body")]
    Empty,
    /// feed-rs rejected it.
    #[error("malformed feed: {0}")]
    Malformed(String),
}

/// Parses a UTF-8 feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed).
pub fn parse(text: &str, ctx: &ParseContext<'_>) -> Result<ParsedFeed, ParseError> {
    let _ = (text, ctx);
    Err(ParseError::Empty)
}
