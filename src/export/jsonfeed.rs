//! JSON Feed 1.1, written one item at a time.
//!
//! The envelope is written by hand around items serialized with serde, so an export of
//! any size streams. What JSON Feed has no field for (every source feed and link, source
//! categories, the content hash) goes into the `_feedwatch` extension object; topics are
//! `tags`.

use serde::Serialize;

use super::markup::{absolute_url, clean_chars, rfc3339, sanitize_html};
use super::{FeedMeta, GENERATOR, item_id};
use crate::model::ItemView;

#[derive(Serialize)]
struct Author<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct Head<'a> {
    version: &'static str,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    feed_url: Option<String>,
    description: &'a str,
    authors: [Author<'a>; 1],
}

#[derive(Serialize)]
struct Item<'a> {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    title: std::borrow::Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_html: Option<String>,
    content_text: std::borrow::Cow<'a, str>,
    date_published: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author<'a>>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    tags: &'a [String],
    _feedwatch: Extension<'a>,
}

#[derive(Serialize)]
struct Extension<'a> {
    feeds: &'a [String],
    sources: Vec<String>,
    categories: &'a [String],
    content_hash: &'a str,
}

/// The document head: the envelope up to the opening of `items`.
pub(super) fn head(meta: &FeedMeta) -> String {
    let head = Head {
        version: "https://jsonfeed.org/version/1.1",
        title: &meta.title,
        feed_url: meta.link.as_deref().and_then(absolute_url),
        description: &meta.description,
        authors: [Author { name: GENERATOR }],
    };
    let mut s = serde_json::to_string(&head).unwrap_or_else(|_| "{".to_string());
    // Reopen the object to append the items array.
    s.pop();
    s.push_str(",\"items\":[");
    s
}

/// One item, preceded by a comma unless it is the first.
pub(super) fn item(item: &ItemView, first: bool, s: &mut String) -> serde_json::Result<()> {
    let link = item.link.as_deref().and_then(absolute_url);
    let entry = Item {
        id: item_id(item),
        title: clean_chars(&item.title),
        content_html: (!item.html.trim().is_empty())
            .then(|| sanitize_html(&item.html, link.as_deref())),
        content_text: clean_chars(&item.text),
        date_published: rfc3339(item.published.unwrap_or(item.first_seen)),
        authors: item
            .authors
            .iter()
            .filter(|a| !a.trim().is_empty())
            .map(|a| Author { name: a })
            .collect(),
        tags: &item.tags,
        _feedwatch: Extension {
            feeds: &item.feeds,
            sources: item
                .source_links
                .iter()
                .filter_map(|l| absolute_url(l))
                .collect(),
            categories: &item.categories,
            content_hash: &item.content_hash,
        },
        url: link,
    };
    if !first {
        s.push(',');
    }
    s.push('\n');
    s.push_str(&serde_json::to_string(&entry)?);
    Ok(())
}

/// The end of the document.
pub(super) fn tail() -> &'static str {
    "\n]}\n"
}
