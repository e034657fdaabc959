//! Builders for the store's tests: feeds, stories with real content hashes, refreshes.

use chrono::{DateTime, Utc};

use super::{FeedRef, FeedRefresh, RefreshOutcome, Store};
use crate::model::{ContentHash, Field, ItemFilter, ItemView, Story, TagMatch, Validators};

/// A time `secs` seconds after the epoch.
pub fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

/// Registers feeds by name, with a URL derived from the name.
pub fn sync(store: &mut Store, names: &[&str]) {
    let urls: Vec<String> = names
        .iter()
        .map(|n| format!("https://example.org/{n}.xml"))
        .collect();
    let refs: Vec<FeedRef<'_>> = names
        .iter()
        .zip(&urls)
        .map(|(name, url)| FeedRef { name, url })
        .collect();
    store.sync_feeds(&refs).unwrap();
}

/// The hash a story with this title and body gets.
pub fn hash_of(title: &str, text: &str) -> ContentHash {
    let mut h = blake3::Hasher::new();
    h.update(title.as_bytes());
    h.update(b"\n");
    h.update(text.as_bytes());
    ContentHash(*h.finalize().as_bytes())
}

/// An untagged story whose body is derived from its title; `published` 0 means undated.
pub fn story(entry_id: &str, title: &str, published: i64) -> Story {
    let text = format!("{title} 正文");
    Story {
        entry_id: entry_id.to_string(),
        title: title.to_string(),
        link: Some(format!("https://example.org/{entry_id}")),
        published: (published != 0).then(|| at(published)),
        authors: vec!["记者".to_string()],
        categories: vec!["国际".to_string()],
        html: format!("<p>{text}</p>"),
        content_hash: hash_of(title, &text),
        text,
        matches: Vec::new(),
    }
}

/// The same story tagged with `topics`, one title match each.
pub fn tagged(mut story: Story, topics: &[&str]) -> Story {
    story.matches = topics
        .iter()
        .map(|t| TagMatch {
            topic: (*t).to_string(),
            term: (*t).to_string(),
            field: Field::Title,
            offset: 0,
        })
        .collect();
    story
}

/// A successful (200) refresh of `feed` at `fetched_at` delivering `stories`.
pub fn refresh(feed: &str, fetched_at: i64, stories: Vec<Story>) -> FeedRefresh {
    FeedRefresh {
        feed: feed.to_string(),
        fetched_at: at(fetched_at),
        outcome: RefreshOutcome::Stored {
            status: 200,
            final_url: format!("https://example.org/{feed}.xml"),
            validators: Validators {
                etag: Some(format!("\"{fetched_at}\"")),
                last_modified: None,
            },
            stories,
        },
        next_poll: Some(at(fetched_at + 900)),
    }
}

/// Every item matching `filter`, in the order the store streams them.
pub fn items(store: &Store, filter: &ItemFilter) -> Vec<ItemView> {
    let mut out = Vec::new();
    store
        .for_each_item(filter, |item| {
            out.push(item);
            Ok::<(), super::StoreError>(())
        })
        .unwrap();
    out
}

/// Titles of every item matching `filter`, in streamed order.
pub fn titles(store: &Store, filter: &ItemFilter) -> Vec<String> {
    items(store, filter).into_iter().map(|i| i.title).collect()
}
