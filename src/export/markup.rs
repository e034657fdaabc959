//! The text hygiene every feed renderer shares: XML escaping that also drops characters
//! XML 1.0 forbids, HTML sanitizing with ammonia, plain text turned into safe HTML, and
//! the date forms the formats want.
//!
//! Stored HTML comes from feeds we do not control, so it is never written as it is: it is
//! cleaned here (no scripts, no event handlers, no `javascript:`/`vbscript:`/`data:`
//! URLs, relative links made absolute against the entry's own link) and then escaped
//! once more for the XML or JSON it goes into. Plain-text fields are only ever escaped.

use std::collections::HashSet;
use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};

/// Characters XML 1.0 cannot carry at all (not even as references): C0 controls other
/// than tab, newline and carriage return, and the noncharacters U+FFFE and U+FFFF.
fn xml_allowed(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{B}' | '\u{C}' | '\u{E}'..='\u{1F}' | '\u{FFFE}' | '\u{FFFF}')
}

/// Escapes text for XML element content and attribute values (quotes included) and
/// drops characters XML cannot carry.
pub fn xml_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // A bare CR would be read back as LF; keep it as written.
            '\r' => out.push_str("&#13;"),
            c if xml_allowed(c) => out.push(c),
            _ => {}
        }
    }
}

/// Text without the characters XML 1.0 forbids, for values handed to JSON as well, so
/// every format carries the same text.
pub fn clean_chars(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().all(xml_allowed) {
        std::borrow::Cow::Borrowed(s)
    } else {
        std::borrow::Cow::Owned(s.chars().filter(|c| xml_allowed(*c)).collect())
    }
}

/// URL schemes a link in exported HTML may use. Everything else (`javascript:`,
/// `vbscript:`, `data:`, `file:`, ...) is removed with its attribute.
const URL_SCHEMES: &[&str] = &["http", "https", "mailto", "ftp", "tel"];

/// Cleans an entry's HTML for export. Relative URLs are resolved against `base` (the
/// entry's link) when it is an absolute http(s) URL, and removed otherwise: a reader
/// would resolve them against the export file's location, which is wrong.
pub fn sanitize_html(html: &str, base: Option<&str>) -> String {
    let base = base
        .and_then(|b| url::Url::parse(b).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"));
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(URL_SCHEMES.iter().copied().collect::<HashSet<_>>())
        .link_rel(Some("noopener noreferrer"))
        .url_relative(match base {
            Some(b) => ammonia::UrlRelative::RewriteWithBase(b),
            None => ammonia::UrlRelative::Deny,
        });
    let cleaned = builder.clean(html).to_string();
    clean_chars(&cleaned).into_owned()
}

/// Plain text as HTML: escaped, one paragraph per blank-line-separated block, single
/// line breaks kept.
pub fn text_to_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for para in text.split("\n\n").map(str::trim).filter(|p| !p.is_empty()) {
        out.push_str("<p>");
        for (n, line) in para.lines().enumerate() {
            if n > 0 {
                out.push_str("<br>");
            }
            html_escape(line, &mut out);
        }
        out.push_str("</p>");
    }
    out
}

fn html_escape(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if xml_allowed(c) => out.push(c),
            _ => {}
        }
    }
}

/// RFC 3339 in UTC with whole seconds (`2025-06-10T04:00:00Z`): Atom and JSON Feed.
pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// RFC 822/2822 (`Tue, 10 Jun 2025 04:00:00 +0000`): RSS 2.0.
pub fn rfc2822(t: DateTime<Utc>) -> String {
    t.to_rfc2822()
}

/// An absolute URL as written, or `None` when it does not parse (a reader or validator
/// would reject the whole element).
pub fn absolute_url(s: &str) -> Option<String> {
    url::Url::parse(s.trim()).ok().map(|_| s.trim().to_string())
}

/// Writes `<name attr="value"...>` attribute pairs, escaped.
pub fn attrs(out: &mut String, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        let _ = write!(out, " {k}=\"");
        xml_escape(v, out);
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xml_text(s: &str) -> String {
        let mut out = String::new();
        xml_escape(s, &mut out);
        out
    }

    #[test]
    fn hostile_html_is_defused() {
        let base = Some("https://news.example.org/world/a.html");
        let cases: &[(&str, &str, &[&str], &[&str])] = &[
            (
                "script",
                "<p>hi</p><script>alert(1)</script>",
                &["<p>hi</p>"],
                &["script", "alert"],
            ),
            (
                "event handler",
                "<img src=\"x.png\" onerror=\"alert(1)\"><b onclick=\"x()\">b</b>",
                &["https://news.example.org/world/x.png", "<b>b</b>"],
                &["onerror", "onclick", "alert"],
            ),
            (
                "javascript url",
                "<a href=\"javascript:alert(1)\">x</a><a href=\"JaVaScRiPt:alert(2)\">y</a>",
                &[">x</a>", ">y</a>"],
                &["javascript", "JaVaScRiPt", "alert"],
            ),
            (
                "entity-hidden javascript url",
                "<a href=\"&#106;avascript:alert(1)\">x</a>",
                &[">x</a>"],
                &["avascript", "alert"],
            ),
            (
                "vbscript and data urls",
                "<a href=\"vbscript:msgbox(1)\">v</a><img src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
                &[">v</a>"],
                &["vbscript", "data:", "base64"],
            ),
            (
                "style and iframe",
                "<style>p{}</style><iframe src=\"https://evil\"></iframe><p style=\"x\">t</p>",
                &["<p>t</p>"],
                &["style", "iframe", "evil"],
            ),
            (
                "svg with script",
                "<svg><script>alert(1)</script><a xlink:href=\"javascript:1\">s</a></svg>",
                &[],
                &["script", "javascript", "svg"],
            ),
            (
                "relative links become absolute",
                "<a href=\"../b.html\">b</a><a href=\"/c\">c</a><img src=\"img/p.jpg\">",
                &[
                    "https://news.example.org/b.html",
                    "https://news.example.org/c",
                    "https://news.example.org/world/img/p.jpg",
                ],
                &["\"../b.html\"", "\"/c\""],
            ),
            (
                "comment and meta",
                "<!-- <script>x</script> --><meta http-equiv=\"refresh\" content=\"0\">ok",
                &["ok"],
                &["script", "refresh", "<!--"],
            ),
            (
                "forbidden control characters",
                "<p>a\u{1}b\u{B}c</p>",
                &["<p>abc</p>"],
                &["\u{1}"],
            ),
        ];
        for (name, html, must, must_not) in cases {
            let out = sanitize_html(html, base);
            for m in *must {
                assert!(out.contains(m), "{name}: {out:?} lacks {m:?}");
            }
            for m in *must_not {
                assert!(!out.contains(m), "{name}: {out:?} keeps {m:?}");
            }
        }
    }

    #[test]
    fn relative_links_without_a_usable_base_are_dropped() {
        for base in [None, Some("not a url"), Some("file:///etc/passwd")] {
            let out = sanitize_html("<a href=\"/x\">x</a><a href=\"https://a.org/\">a</a>", base);
            assert!(!out.contains("\"/x\""), "{base:?}: {out}");
            assert!(out.contains("https://a.org/"), "{base:?}: {out}");
        }
    }

    #[test]
    fn escaping_covers_markup_and_forbidden_characters() {
        assert_eq!(
            xml_text("<b>\"普京\" & 'x'</b>\u{0}\u{FFFF}\t\n"),
            "&lt;b&gt;&quot;普京&quot; &amp; &apos;x&apos;&lt;/b&gt;\t\n"
        );
        assert_eq!(
            text_to_html("第一段<script>\n下一行\n\n第二段 & more"),
            "<p>第一段&lt;script&gt;<br>下一行</p><p>第二段 &amp; more</p>"
        );
        assert_eq!(clean_chars("a\u{7}b"), "ab");
    }
}
