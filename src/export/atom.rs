//! Atom 1.0 (RFC 4287), written as text one entry at a time.
//!
//! Beyond the schema: the feed always has an author (so entries without one are
//! covered), each entry also names its own authors or, failing that, its source feeds;
//! ids are stable URNs; every date is RFC 3339 in UTC; there is at most one
//! `alternate` link and every other source link is `related`; topics and source
//! categories are `category` elements told apart by `scheme`.

use std::fmt::Write as _;

use super::markup::{absolute_url, attrs, rfc3339, sanitize_html, xml_escape};
use super::{CATEGORY_SCHEME, FeedMeta, GENERATOR, TOPIC_SCHEME, item_id};
use crate::model::ItemView;

/// The document head, up to the first entry.
pub(super) fn head(meta: &FeedMeta, updated: chrono::DateTime<chrono::Utc>) -> String {
    let mut s = String::with_capacity(1024);
    s.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    s.push_str("<feed xmlns=\"http://www.w3.org/2005/Atom\">\n");
    element(&mut s, "  ", "id", &meta.id);
    s.push_str("  <title type=\"text\">");
    xml_escape(&meta.title, &mut s);
    s.push_str("</title>\n  <subtitle type=\"text\">");
    xml_escape(&meta.description, &mut s);
    s.push_str("</subtitle>\n");
    element(&mut s, "  ", "updated", &rfc3339(updated));
    s.push_str("  <author><name>");
    xml_escape(GENERATOR, &mut s);
    s.push_str("</name></author>\n");
    if let Some(link) = meta.link.as_deref().and_then(absolute_url) {
        s.push_str("  <link");
        attrs(
            &mut s,
            &[
                ("rel", "self"),
                ("type", "application/atom+xml"),
                ("href", &link),
            ],
        );
        s.push_str("/>\n");
    }
    s.push_str("  <generator");
    attrs(&mut s, &[("version", env!("CARGO_PKG_VERSION"))]);
    s.push('>');
    xml_escape(GENERATOR, &mut s);
    s.push_str("</generator>\n");
    s
}

/// One `<entry>`.
pub(super) fn entry(item: &ItemView, s: &mut String) {
    s.push_str("  <entry>\n");
    element(s, "    ", "id", &item_id(item));
    s.push_str("    <title type=\"text\">");
    xml_escape(&item.title, s);
    s.push_str("</title>\n");
    element(
        s,
        "    ",
        "updated",
        &rfc3339(item.published.unwrap_or(item.first_seen)),
    );
    if let Some(p) = item.published {
        element(s, "    ", "published", &rfc3339(p));
    }
    let names: &[String] = if item.authors.is_empty() {
        &item.feeds
    } else {
        &item.authors
    };
    for name in names.iter().filter(|n| !n.trim().is_empty()) {
        s.push_str("    <author><name>");
        xml_escape(name, s);
        s.push_str("</name></author>\n");
    }
    let link = item.link.as_deref().and_then(absolute_url);
    if let Some(link) = &link {
        s.push_str("    <link");
        attrs(s, &[("rel", "alternate"), ("href", link)]);
        s.push_str("/>\n");
    }
    for other in item.source_links.iter().filter_map(|l| absolute_url(l)) {
        if Some(&other) != link.as_ref() {
            s.push_str("    <link");
            attrs(s, &[("rel", "related"), ("href", &other)]);
            s.push_str("/>\n");
        }
    }
    for tag in &item.tags {
        s.push_str("    <category");
        attrs(
            s,
            &[("term", tag), ("scheme", TOPIC_SCHEME), ("label", tag)],
        );
        s.push_str("/>\n");
    }
    for cat in item.categories.iter().filter(|c| !c.trim().is_empty()) {
        s.push_str("    <category");
        attrs(s, &[("term", cat), ("scheme", CATEGORY_SCHEME)]);
        s.push_str("/>\n");
    }
    if item.html.trim().is_empty() {
        s.push_str("    <content type=\"text\">");
        xml_escape(&item.text, s);
    } else {
        s.push_str("    <content type=\"html\">");
        xml_escape(&sanitize_html(&item.html, link.as_deref()), s);
    }
    s.push_str("</content>\n  </entry>\n");
}

/// The end of the document.
pub(super) fn tail() -> &'static str {
    "</feed>\n"
}

fn element(s: &mut String, indent: &str, name: &str, value: &str) {
    let _ = write!(s, "{indent}<{name}>");
    xml_escape(value, s);
    let _ = writeln!(s, "</{name}>");
}
