//! Content hashes: one story, one hash. (skeleton)

use crate::model::ContentHash;

/// blake3 of the normalized title and text: insensitive to markup (callers pass plain
/// text), whitespace and Unicode width.
pub fn content_hash(title: &str, text: &str) -> ContentHash {
    let mut h = blake3::Hasher::new();
    h.update(title.as_bytes());
    h.update(b"\0");
    h.update(text.as_bytes());
    ContentHash(*h.finalize().as_bytes())
}
