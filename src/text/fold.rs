//! The folded form of text: the key for matching. (skeleton)

/// NFKC, lowercase, Traditional→Simplified, zero-width and soft hyphens removed.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}
