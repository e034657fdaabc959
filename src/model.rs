//! Domain types handed from one pipeline stage to the next.
//!
//! Nothing here does I/O or reads the clock: these are plain values. Each stage takes
//! some of them and returns others, so the stages never need to import each other.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The feed as `parse` read it: channel metadata plus its entries, markup untouched.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedFeed {
    /// Channel title, as given.
    pub title: Option<String>,
    /// Channel home page.
    pub link: Option<String>,
    /// Declared language (`zh-cn`, `en`, ...), lowercased.
    pub language: Option<String>,
    /// RSS `<ttl>` in minutes, when present.
    pub ttl_minutes: Option<u32>,
    /// Entries in document order.
    pub entries: Vec<ParsedEntry>,
}

/// One entry as parsed, before its text is cleaned.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedEntry {
    /// Our stable id for the entry within its feed: the feed's guid/id when present,
    /// else derived from the canonical link, else from title and content. Never random.
    pub entry_id: String,
    /// Title as given by the feed; may still hold entities or markup.
    pub title: String,
    /// Absolute link to the story, when the entry has one.
    pub link: Option<String>,
    /// Publication time.
    pub published: Option<DateTime<Utc>>,
    /// Last update time claimed by the feed.
    pub updated: Option<DateTime<Utc>>,
    /// Author names.
    pub authors: Vec<String>,
    /// Source categories (`<category>`, Atom `category` term or label). Not topics.
    pub categories: Vec<String>,
    /// The entry's body as HTML: full content when given, else the summary/description.
    pub html: String,
}

/// A content hash: blake3 of the normalized title and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash(pub [u8; 32]);

impl ContentHash {
    /// Lowercase hex of all 32 bytes.
    pub fn to_hex(&self) -> String {
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(char::from_digit(u32::from(b >> 4), 16).unwrap_or('0'));
            s.push(char::from_digit(u32::from(b & 0xf), 16).unwrap_or('0'));
        }
        s
    }

    /// The public, never-changing item id derived from the first hash an item had:
    /// the first 16 bytes in hex.
    pub fn item_uid(&self) -> String {
        self.to_hex()[..32].to_string()
    }
}

/// Which part of an item a watchlist term was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Field {
    /// The plain-text title.
    Title,
    /// The plain-text body.
    Text,
}

impl Field {
    /// The name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Text => "text",
        }
    }

    /// Inverse of [`Field::as_str`].
    pub fn parse(s: &str) -> Option<Field> {
        match s {
            "title" => Some(Field::Title),
            "text" => Some(Field::Text),
            _ => None,
        }
    }
}

/// Why a topic tagged an item: one occurrence of one of its terms.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct TagMatch {
    /// The topic (tag) name.
    pub topic: String,
    /// The term as written in the source text (before folding).
    pub term: String,
    /// Title or text.
    pub field: Field,
    /// Byte offset of the match in that field's plain text.
    pub offset: usize,
}

/// An entry made ready for storage: clean text, identity and tags.
#[derive(Debug, Clone, PartialEq)]
pub struct Story {
    /// The feed's stable entry id (see [`ParsedEntry::entry_id`]).
    pub entry_id: String,
    /// Plain-text title.
    pub title: String,
    /// Link to the story.
    pub link: Option<String>,
    /// Publication time.
    pub published: Option<DateTime<Utc>>,
    /// Author names.
    pub authors: Vec<String>,
    /// Source categories.
    pub categories: Vec<String>,
    /// Raw HTML body, kept for export.
    pub html: String,
    /// Plain text of the body, for display and matching.
    pub text: String,
    /// Content hash of normalized title + text.
    pub content_hash: ContentHash,
    /// Watchlist matches (every occurrence that made a topic apply).
    pub matches: Vec<TagMatch>,
}

/// The one filter shared by `items` and `export`: every set condition must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ItemFilter {
    /// Every one of these topics must be tagged.
    pub tags_all: Vec<String>,
    /// At least one of these topics must be tagged (ignored when empty).
    pub tags_any: Vec<String>,
    /// Item must have a source among these feeds (ignored when empty).
    pub feeds: Vec<String>,
    /// Published (or first seen, when undated) at or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Published (or first seen, when undated) before this time.
    pub until: Option<DateTime<Utc>>,
    /// Substring of title or text (folded comparison).
    pub search: Option<String>,
    /// Only items with no tag at all.
    pub untagged: bool,
    /// At most this many items, newest first.
    pub limit: Option<u64>,
}

/// A stored item as shown by `items` and `check`: the contract's JSON shape.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemView {
    /// Stable public id.
    pub id: String,
    /// Plain-text title.
    pub title: String,
    /// Link to the story.
    pub link: Option<String>,
    /// RFC 3339 publication time.
    pub published: Option<DateTime<Utc>>,
    /// When feedwatch first stored it.
    pub first_seen: DateTime<Utc>,
    /// Names of every feed that delivered it.
    pub feeds: Vec<String>,
    /// Every distinct link the sources gave for it (not part of the JSON output; export
    /// keeps them all).
    #[serde(skip)]
    pub source_links: Vec<String>,
    /// Topic names, sorted.
    pub tags: Vec<String>,
    /// Why each tag applies.
    pub matches: Vec<TagMatch>,
    /// Source categories.
    pub categories: Vec<String>,
    /// Author names.
    pub authors: Vec<String>,
    /// Hex content hash.
    pub content_hash: String,
    /// Plain text.
    pub text: String,
    /// Raw HTML body (not part of the JSON output; used by export).
    #[serde(skip)]
    pub html: String,
}

/// HTTP validators remembered from the last successful fetch, for a conditional GET.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag` as received.
    pub etag: Option<String>,
    /// `Last-Modified` as received.
    pub last_modified: Option<String>,
}
