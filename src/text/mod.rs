//! HTML → plain text, and the folded form used as a matching key.
//!
//! This module owns turning feed markup into the text we store, show and hash:
//! [`html_to_text`] for bodies (paragraphs kept apart by a blank line, so a keyword
//! never matches across two paragraphs) and [`inline_text`] for titles (one line). The
//! scanner lives in `html`, reference decoding in `entities`. The matching key
//! ([`fold`]: NFKC, case, script) is a separate concern in `fold`; nothing here folds.

mod entities;
pub mod fold;
mod html;

pub use fold::fold;

/// Converts an HTML fragment to plain text: block elements become line breaks
/// (paragraphs separated by a blank line), entities decoded, scripts and styles dropped,
/// whitespace collapsed, `<\/p>`-style escaped tags treated as tags.
pub fn html_to_text(html: &str) -> String {
    html::convert(html, false)
}

/// Converts a title (which may hold entities or inline markup) to one line of plain text.
pub fn inline_text(s: &str) -> String {
    html::convert(s, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_to_text_cases() {
        let words = "word ".repeat(40);
        let cases: &[(&str, &str, &str)] = &[
            // Blocks and lines.
            ("paragraphs", "<p>one</p><p>two</p>", "one\n\ntwo"),
            (
                "paragraphs never glue",
                "<p>美俄</p><p>关系</p>",
                "美俄\n\n关系",
            ),
            ("div", "<div>a</div><div>b</div>", "a\n\nb"),
            ("headings", "<h1>Title</h1><p>body</p>", "Title\n\nbody"),
            ("br", "a<br>b<br/>c", "a\nb\nc"),
            ("br twice is a blank line", "a<br><br>b", "a\n\nb"),
            (
                "br thrice is still one blank line",
                "a<br><br><br>b",
                "a\n\nb",
            ),
            ("closing br", "a</br>b", "a\nb"),
            (
                "list items",
                "<ul><li>x</li><li>y</li></ul><p>z</p>",
                "x\ny\n\nz",
            ),
            ("list after text", "intro<ul><li>x</li></ul>", "intro\n\nx"),
            (
                "table rows and cells",
                "<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
                "a b\nc",
            ),
            ("hr", "a<hr>b", "a\n\nb"),
            (
                "figure",
                "<figure><img src=x><figcaption>cap</figcaption></figure>after",
                "cap\n\nafter",
            ),
            (
                "no leading or trailing breaks",
                "<p></p><br><p>x</p><br><div></div>",
                "x",
            ),
            (
                "empty paragraphs collapse",
                "<p>a</p><p> </p><p></p><p>b</p>",
                "a\n\nb",
            ),
            ("uppercase tags", "<P>a</P><BR>b", "a\n\nb"),
            (
                "no wrapping",
                &format!("<p>{}</p>", "word ".repeat(40)),
                words.trim_end(),
            ),
            // Inline markup vanishes.
            ("strong", "三方<strong>会晤</strong>", "三方会晤"),
            (
                "nested inline",
                "<a href=\"/x\"><b><i>link</i></b></a> text",
                "link text",
            ),
            (
                "span with attributes",
                "<span class='a' data-x=\"1>2\">x</span>y",
                "xy",
            ),
            ("unknown tag is inline", "a<custom-el>b</custom-el>c", "abc"),
            // Escaped closing tags from scraped articles.
            (
                "escaped close",
                "<p>第一段<\\/p><p>第二段<\\/p>",
                "第一段\n\n第二段",
            ),
            (
                "escaped inline close",
                "三方<strong>会晤<\\/strong>",
                "三方会晤",
            ),
            // Dropped content.
            ("script", "a<script>var x = '<p>';</script>b", "ab"),
            ("script escaped close", "a<script>x()<\\/script>b", "ab"),
            ("style", "<style>p{color:red}</style><p>x</p>", "x"),
            ("noscript", "a<noscript>enable js</noscript>b", "ab"),
            (
                "video fallback",
                "a<video src=x>no video support</video>b",
                "ab",
            ),
            (
                "svg icon",
                "<p><svg><text>icon</text></svg>标题</p>",
                "标题",
            ),
            ("template", "a<template><p>t</p></template>b", "ab"),
            (
                "head",
                "<html><head><title>T</title><meta x></head><body><p>b</p></body></html>",
                "b",
            ),
            ("head without close", "<head><title>T</title><body>b", "b"),
            ("comment", "a<!-- <p>hidden</p> -->b", "ab"),
            ("empty comment", "a<!-->b", "ab"),
            ("doctype", "<!DOCTYPE html><p>x</p>", "x"),
            (
                "processing instruction",
                "<?xml version=\"1.0\"?><p>x</p>",
                "x",
            ),
            ("cdata markers", "<![CDATA[<p>a</p>]]>b", "a\n\nb"),
            ("self-closing script", "a<script src=\"x\"/>b", "ab"),
            // Entities.
            (
                "named",
                "&ldquo;Hi&rdquo; &mdash; caf&eacute;",
                "\u{201C}Hi\u{201D} — café",
            ),
            ("numeric", "&#8212;&#x201C;", "—\u{201C}"),
            ("double escaped", "a&amp;nbsp;b&amp;#8212;c", "a b—c"),
            ("nbsp is a space", "a&nbsp;b", "a b"),
            ("nbsp runs collapse", "a&nbsp;&nbsp; &nbsp;b", "a b"),
            ("nbsp trimmed at line edges", "<p>&nbsp;x&nbsp;</p>", "x"),
            ("literal nbsp", "a\u{a0}b", "a b"),
            ("unknown entity literal", "&bogus; &", "&bogus; &"),
            ("ampersand in text", "AT&T and R&D", "AT&T and R&D"),
            ("lt is text beside markup", "<b>&lt;p&gt;</b>", "<p>"),
            (
                "lt comparison",
                "a &lt; b &amp;&amp; c &gt; d",
                "a < b && c > d",
            ),
            (
                "double-escaped markup",
                "&lt;p&gt;第一段&amp;nbsp;&lt;strong&gt;会晤&lt;/strong&gt;&lt;/p&gt;&lt;p&gt;二&lt;/p&gt;",
                "第一段 会晤\n\n二",
            ),
            (
                "double-escaped entity inside",
                "&lt;p&gt;a &amp;amp; b&lt;/p&gt;",
                "a & b",
            ),
            ("invalid code point", "a&#xD800;b", "a\u{FFFD}b"),
            // Whitespace.
            ("collapse", "a  \t b\n\n c", "a b c"),
            ("trim lines", "<p>  a  </p><p>\n b \n</p>", "a\n\nb"),
            (
                "CJK source line break vanishes",
                "<p>美国总统\n  特朗普</p>",
                "美国总统特朗普",
            ),
            (
                "CJK space kept",
                "根据一份 最近的报告",
                "根据一份 最近的报告",
            ),
            (
                "Latin source line break is a space",
                "hello\nworld",
                "hello world",
            ),
            (
                "mixed source line break is a space",
                "会晤\nTrump",
                "会晤 Trump",
            ),
            ("nbsp kept between CJK", "中&nbsp;\n文", "中 文"),
            ("space across inline tags", "a <b>b</b> c", "a b c"),
            (
                "pre keeps lines",
                "<pre>line 1\nline 2\n\n\n\nline 3</pre>after",
                "line 1\nline 2\n\nline 3\n\nafter",
            ),
            ("crlf", "a\r\nb", "a b"),
            // Stray `<`.
            ("less than", "a < b", "a < b"),
            ("heart", "I <3 feeds", "I <3 feeds"),
            ("lt at end", "end <", "end <"),
            ("lt slash space", "a </ b", "a </ b"),
            // Plain text.
            ("plain", "  just   text \n", "just text"),
            ("empty", "", ""),
        ];
        for (name, input, want) in cases {
            assert_eq!(html_to_text(input), *want, "case {name}: {input:?}");
        }
    }

    #[test]
    fn inline_text_cases() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "entities",
                "Tom &amp; Jerry &#8212; &ldquo;live&rdquo;",
                "Tom & Jerry — \u{201C}live\u{201D}",
            ),
            ("inline markup", "三方<strong>会晤</strong>", "三方会晤"),
            (
                "blocks become spaces",
                "<p>one</p><p>two</p>a<br>b",
                "one two a b",
            ),
            ("whitespace", "  a \n\t b  ", "a b"),
            ("double escaped", "a&amp;nbsp;b", "a b"),
            ("CJK line break", "特朗普与\n普京", "特朗普与普京"),
            ("bare ampersand", "Q&A", "Q&A"),
        ];
        for (name, input, want) in cases {
            assert_eq!(inline_text(input), *want, "case {name}: {input:?}");
        }
    }

    /// The shape of a scraped Chinese article: opening tags lost, escaped closing tags
    /// left behind, inline emphasis inside sentences, a bullet list.
    #[test]
    fn scraped_article_shape() {
        let html = "标题：会谈前景<\\/h1>\n\n\
            据报道，双方 可能于下周会面<\\/strong>，并讨论\n举行 三方会晤<\\/strong> 的可能性。<\\/p>\n\n\
            分析人士认为，会谈 意义重大<\\/strong>。<\\/p>\n\n\
            <ul><li>第一点：<strong>经济<\\/strong>合作。<\\/li>\
            <li>第二点：安全<\\/li> <\\/ul>\n\n结语。<\\/p>";
        let want = "标题：会谈前景\n\n\
            据报道，双方 可能于下周会面，并讨论举行 三方会晤 的可能性。\n\n\
            分析人士认为，会谈 意义重大。\n\n\
            第一点：经济合作。\n第二点：安全\n\n结语。";
        assert_eq!(html_to_text(html), want);
    }

    #[test]
    fn hostile_input_does_not_break_the_converter() {
        let long_attr = format!("<p title=\"{}\">x</p>y", "a".repeat(100_000));
        let many_cdata = "<![CDATA[".repeat(10_000) + "x";
        // Linear, not quadratic: each search for a closing tag that never comes is done once.
        let many_noscript = "<noscript>x".repeat(20_000);
        let many_head = "<head>x".repeat(20_000);
        let xs = "x".repeat(20_000);
        let cases: &[(&str, &str, &str)] = &[
            ("unclosed tag", "text <p class=\"x", "text"),
            (
                "unclosed quote falls back to >",
                "a<p title=\"x>b",
                "a\n\nb",
            ),
            ("script never closed", "keep<script>lose it all", "keep"),
            ("style never closed", "keep<style>p{}", "keep"),
            ("noscript never closed is ignored", "a<noscript>b", "ab"),
            ("comment never closed", "keep<!-- lost", "keep"),
            ("cdata never closed", "<![CDATA[<p>x", "x"),
            ("nul bytes", "a\0b<p\0>c", "a\0b\n\nc"),
            ("lone lt", "<", "<"),
            ("lone amp", "&", "&"),
            ("lone hash", "&#", "&#"),
            ("long attribute", &long_attr, "x\n\ny"),
            ("many cdata openers", &many_cdata, "x"),
            ("many unclosed noscripts", &many_noscript, &xs),
            ("many unclosed heads", &many_head, &xs),
            ("long tag name", &format!("a<{}>b", "x".repeat(1000)), "ab"),
        ];
        for (name, input, want) in cases {
            assert_eq!(html_to_text(input), *want, "case {name}");
        }
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn never_panics(s in any::<String>()) {
                let _ = html_to_text(&s);
                let _ = inline_text(&s);
            }

            #[test]
            fn never_panics_on_markup_soup(s in "([<>/\\\\!&#;\"'=a-z\\-\\[\\]\\n 中文\u{a0}]|CDATA|script|amp;|nbsp;){0,60}") {
                let _ = html_to_text(&s);
                let _ = inline_text(&s);
            }

            /// Input made only of well-formed tags and tag-free text leaves no tag behind,
            /// no run of blank lines and no edge whitespace.
            #[test]
            fn tags_never_leak(parts in proptest::collection::vec(
                prop_oneof![
                    "<(p|div|br|li|ul|span|strong|a|h2|td|tr)( [a-z]{1,5}=\"[^\"<>]{0,8}\")?>",
                    "<\\\\?/(p|div|li|ul|span|strong|a|h2|td|tr)>",
                    "[a-zA-Z0-9中文会晤，。 \\n]{0,12}",
                ],
                0..30,
            )) {
                let input = parts.concat();
                let out = html_to_text(&input);
                for t in ["<p", "<div", "<br", "<li", "<ul", "<span", "<strong", "<a", "<h2", "<td", "<tr", "</", "<\\/"] {
                    prop_assert!(!out.contains(t), "{t} leaked from {input:?}: {out:?}");
                }
                prop_assert!(!out.contains("\n\n\n"));
                prop_assert_eq!(out.trim(), out.as_str());
                prop_assert!(out.lines().all(|l| l.trim() == l));
                prop_assert!(!inline_text(&input).contains('\n'));
            }
        }
    }
}
