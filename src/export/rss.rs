//! RSS 2.0, written as text one item at a time.
//!
//! RSS has no place for several links or for a feed id, so two namespaces fill the
//! gaps: `atom:link rel="related"` carries every source link besides the item's own, and
//! `atom:link rel="self"` the export's address when it is known; authors are
//! `dc:creator` because RSS's own `author` must be an e-mail address. The `guid` is the
//! same stable URN as the Atom id, marked as not a permalink.

use super::markup::{absolute_url, attrs, rfc2822, sanitize_html, text_to_html, xml_escape};
use super::{CATEGORY_SCHEME, FeedMeta, GENERATOR, TOPIC_SCHEME, item_id};
use crate::model::ItemView;

/// The document head, up to the first item.
pub(super) fn head(meta: &FeedMeta, updated: chrono::DateTime<chrono::Utc>) -> String {
    let mut s = String::with_capacity(1024);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    s.push_str(
        "<rss version=\"2.0\" xmlns:atom=\"http://www.w3.org/2005/Atom\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\">\n<channel>\n",
    );
    element(&mut s, "title", &meta.title);
    let link = meta.link.as_deref().and_then(absolute_url);
    // RSS requires a channel link; without a known address the feed's URN stands in.
    element(&mut s, "link", link.as_deref().unwrap_or(&meta.id));
    element(&mut s, "description", &meta.description);
    element(
        &mut s,
        "generator",
        &format!("{GENERATOR} {}", env!("CARGO_PKG_VERSION")),
    );
    element(&mut s, "lastBuildDate", &rfc2822(updated));
    if let Some(link) = &link {
        s.push_str("<atom:link");
        attrs(
            &mut s,
            &[
                ("rel", "self"),
                ("type", "application/rss+xml"),
                ("href", link),
            ],
        );
        s.push_str("/>\n");
    }
    s
}

/// One `<item>`.
pub(super) fn item(item: &ItemView, s: &mut String) {
    s.push_str("<item>\n");
    element(s, "title", &item.title);
    let link = item.link.as_deref().and_then(absolute_url);
    if let Some(link) = &link {
        element(s, "link", link);
    }
    let html = if item.html.trim().is_empty() {
        text_to_html(&item.text)
    } else {
        sanitize_html(&item.html, link.as_deref())
    };
    element(s, "description", &html);
    s.push_str("<guid isPermaLink=\"false\">");
    xml_escape(&item_id(item), s);
    s.push_str("</guid>\n");
    element(
        s,
        "pubDate",
        &rfc2822(item.published.unwrap_or(item.first_seen)),
    );
    for author in item.authors.iter().filter(|a| !a.trim().is_empty()) {
        element(s, "dc:creator", author);
    }
    for tag in &item.tags {
        s.push_str("<category");
        attrs(s, &[("domain", TOPIC_SCHEME)]);
        s.push('>');
        xml_escape(tag, s);
        s.push_str("</category>\n");
    }
    for cat in item.categories.iter().filter(|c| !c.trim().is_empty()) {
        s.push_str("<category");
        attrs(s, &[("domain", CATEGORY_SCHEME)]);
        s.push('>');
        xml_escape(cat, s);
        s.push_str("</category>\n");
    }
    for other in item.source_links.iter().filter_map(|l| absolute_url(l)) {
        if Some(&other) != link.as_ref() {
            s.push_str("<atom:link");
            attrs(s, &[("rel", "related"), ("href", &other)]);
            s.push_str("/>\n");
        }
    }
    s.push_str("</item>\n");
}

/// The end of the document.
pub(super) fn tail() -> &'static str {
    "</channel>\n</rss>\n"
}

fn element(s: &mut String, name: &str, value: &str) {
    s.push('<');
    s.push_str(name);
    s.push('>');
    xml_escape(value, s);
    s.push_str("</");
    s.push_str(name);
    s.push_str(">\n");
}
