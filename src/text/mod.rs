//! HTML → plain text, and the folded form used as a matching key. (skeleton)

pub mod fold;

pub use fold::fold;

/// Converts an HTML fragment to plain text: block elements become line breaks
/// (paragraphs separated by a blank line), entities decoded, scripts and styles dropped,
/// whitespace collapsed, `<\/p>`-style escaped tags treated as tags.
pub fn html_to_text(html: &str) -> String {
    html.to_string()
}

/// Converts a title (which may hold entities or inline markup) to one line of plain text.
pub fn inline_text(s: &str) -> String {
    s.to_string()
}
