//! Bytes → UTF-8, exactly once.
//!
//! This module owns the choice of a fetched body's character encoding and its
//! transcoding to UTF-8. The precedence is: the feed's `encoding` override, a byte-order
//! mark, the XML declaration, the HTTP charset, "the bytes are valid UTF-8", and finally
//! GB18030 (the superset of GB2312/GBK that unlabelled Chinese feeds nearly always use).
//! When the chosen encoding meets malformed bytes and another plausible candidate reads
//! them cleanly, that candidate wins: feeds labelled `utf-8` or `gb2312` while holding GBK
//! bytes are common. The output starts at `<?xml` (leading whitespace and BOM removed) and
//! its declaration says UTF-8, so feed-rs, which trusts the declaration, never decodes a
//! second time. Parsing the document is left to `parse`.

use std::ops::Range;

use encoding_rs::{BIG5, DecoderResult, Encoding, GB18030, UTF_8, UTF_16BE, UTF_16LE};

/// How the encoding was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncodingSource {
    /// The feed's `encoding` setting.
    Override,
    /// A byte-order mark.
    Bom,
    /// The XML declaration.
    XmlDeclaration,
    /// The HTTP `Content-Type` charset.
    HttpCharset,
    /// The bytes were valid UTF-8.
    ValidUtf8,
    /// Nothing said; GB18030 was assumed.
    Gb18030Fallback,
    /// The encoding chosen by the rules above met malformed bytes, and this one read them
    /// cleanly (a mislabelled feed).
    Detected,
}

/// The document as UTF-8, with its XML declaration rewritten to say so.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// UTF-8 text, leading whitespace before `<?xml` removed.
    pub text: String,
    /// The encoding the bytes were read as.
    pub encoding: &'static Encoding,
    /// Why that encoding.
    pub source: EncodingSource,
    /// Whether any malformed sequence was replaced with U+FFFD.
    pub had_errors: bool,
}

/// The XML declaration may not be longer than this for us to find its `encoding`.
const MAX_DECL_LEN: usize = 1024;

/// Decodes a fetched body. `http_charset` is the `charset` parameter of the
/// Content-Type header, `forced` the feed's `encoding` setting.
pub fn decode(
    bytes: &[u8],
    http_charset: Option<&str>,
    forced: Option<&'static Encoding>,
) -> Decoded {
    let bom = Encoding::for_bom(bytes);
    // Kept from the "valid UTF-8" rule so the common case validates once.
    let mut validated: Option<&str> = None;
    let after_bom = bom.map_or(bytes, |(_, len)| &bytes[len..]);

    let (encoding, source) = if let Some(enc) = forced {
        (enc, EncodingSource::Override)
    } else if let Some((enc, _)) = bom {
        (enc, EncodingSource::Bom)
    } else if let Some(enc) = sniff_utf16(bytes) {
        // A BOM-less UTF-16 document still announces itself: `<?` in 16-bit units.
        (enc, EncodingSource::XmlDeclaration)
    } else if let Some(enc) = declared_encoding(trim_ascii_start(bytes)) {
        (enc, EncodingSource::XmlDeclaration)
    } else if let Some(enc) = http_charset.and_then(encoding_for_label).map(ascii_view) {
        (enc, EncodingSource::HttpCharset)
    } else if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
        validated = Some(text);
        (UTF_8, EncodingSource::ValidUtf8)
    } else {
        (GB18030, EncodingSource::Gb18030Fallback)
    };

    // A BOM is dropped only when it belongs to the encoding in use; otherwise its bytes are
    // content (and the candidate check below may still fix a wrong override).
    let body = match bom {
        Some((bom_enc, _)) if bom_enc == encoding => after_bom,
        _ => bytes,
    };

    if encoding.is_ascii_compatible() {
        let validated =
            validated.map(|text| text.trim_start_matches(|c: char| c.is_ascii_whitespace()));
        decode_ascii_compatible(trim_ascii_start(body), validated, encoding, source)
    } else {
        decode_utf16(body, encoding, source)
    }
}

/// Looks up an encoding label, with the aliases Chinese feeds use (`cp936`, `euc-cn`,
/// `gb2312`, `gbk` → GB18030; `big5`, `cp950` → Big5-HKSCS).
pub fn encoding_for_label(label: &str) -> Option<&'static Encoding> {
    let label = label.trim().trim_matches(|c| c == '"' || c == '\'');
    let is = |name: &str| label.eq_ignore_ascii_case(name);
    // Feeds labelled with any GB2312/GBK name routinely hold GBK-only (or GB18030-only)
    // characters, and GB18030 decodes all of them, so every alias maps to the superset.
    // encoding_rs does not know `cp936` or `euc-cn`.
    const GB: [&str; 17] = [
        "gb2312",
        "gb_2312",
        "gb_2312-80",
        "gb-2312",
        "gbk",
        "x-gbk",
        "cp936",
        "ms936",
        "windows-936",
        "euc-cn",
        "x-euc-cn",
        "csgb2312",
        "csiso58gb231280",
        "iso-ir-58",
        "chinese",
        "gb18030",
        "936",
    ];
    const BIG5_LABELS: [&str; 9] = [
        "big5",
        "big-5",
        "big5-hkscs",
        "cn-big5",
        "csbig5",
        "x-x-big5",
        "cp950",
        "ms950",
        "windows-950",
    ];
    if GB.iter().any(|name| is(name)) {
        return Some(GB18030);
    }
    if BIG5_LABELS.iter().any(|name| is(name)) {
        return Some(BIG5);
    }
    match Encoding::for_label(label.as_bytes()) {
        // The WHATWG "replacement" encoding turns a whole document into one U+FFFD; for a
        // feed an unknown label is better than that, so the next rule gets a say.
        Some(enc) if enc == encoding_rs::REPLACEMENT => None,
        other => other,
    }
}

/// A label found in ASCII bytes (a declaration or a header) cannot honestly mean UTF-16;
/// read such documents as UTF-8, as browsers do.
fn ascii_view(enc: &'static Encoding) -> &'static Encoding {
    if enc == UTF_16LE || enc == UTF_16BE {
        UTF_8
    } else {
        enc
    }
}

fn trim_ascii_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// XML 1.0 appendix F: `<?` as UTF-16 code units without a BOM.
fn sniff_utf16(bytes: &[u8]) -> Option<&'static Encoding> {
    match bytes {
        [0x3C, 0x00, 0x3F, 0x00, ..] => Some(UTF_16LE),
        [0x00, 0x3C, 0x00, 0x3F, ..] => Some(UTF_16BE),
        _ => None,
    }
}

/// Where the XML declaration ends and where its `encoding` value lies, in `doc`, which
/// must start at `<?xml`.
#[derive(Debug, Clone, PartialEq)]
struct XmlDecl {
    /// Offset just past `?>`.
    end: usize,
    /// The encoding value, quotes excluded.
    encoding: Option<Range<usize>>,
}

fn find_xml_decl(doc: &[u8]) -> Option<XmlDecl> {
    let rest = doc.strip_prefix(b"<?xml")?;
    if !rest
        .first()
        .is_some_and(|b| b.is_ascii_whitespace() || *b == b'?')
    {
        return None;
    }
    let window = &doc[..doc.len().min(MAX_DECL_LEN)];
    let close = window.windows(2).position(|w| w == b"?>")?;
    let decl = &doc[..close];
    let end = close + 2;

    let mut encoding = None;
    let mut from = 5;
    while let Some(pos) = find(&decl[from..], b"encoding").map(|p| p + from) {
        from = pos + 8;
        // `encoding` must be a whole pseudo-attribute name, not the tail of another word.
        if !decl[pos - 1].is_ascii_whitespace() {
            continue;
        }
        let mut i = from;
        while decl.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        if decl.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        while decl.get(i).is_some_and(|b| b.is_ascii_whitespace()) {
            i += 1;
        }
        let Some(&quote) = decl.get(i).filter(|b| **b == b'"' || **b == b'\'') else {
            continue;
        };
        let value_start = i + 1;
        if let Some(len) = decl[value_start..].iter().position(|b| *b == quote) {
            encoding = Some(value_start..value_start + len);
        }
        break;
    }
    Some(XmlDecl { end, encoding })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The encoding named by the XML declaration at the start of `doc`, if any and known.
fn declared_encoding(doc: &[u8]) -> Option<&'static Encoding> {
    let decl = find_xml_decl(doc)?;
    let label = std::str::from_utf8(&doc[decl.encoding?]).ok()?;
    encoding_for_label(label).map(ascii_view)
}

fn is_utf8_label(label: &[u8]) -> bool {
    label.eq_ignore_ascii_case(b"utf-8") || label.eq_ignore_ascii_case(b"utf8")
}

/// Copies the declaration of `doc` (if any) into `out` with its encoding set to UTF-8, and
/// returns how many bytes of `doc` it covered.
fn push_utf8_decl(doc: &[u8], out: &mut String) -> usize {
    let Some(decl) = find_xml_decl(doc) else {
        return 0;
    };
    // A declaration that is not ASCII is not one we can copy byte for byte; leave it to
    // the decoder (feed-rs then meets it and, at worst, reports the document malformed).
    let Ok(text) = std::str::from_utf8(&doc[..decl.end]) else {
        return 0;
    };
    if !text.is_ascii() {
        return 0;
    }
    match decl.encoding {
        Some(range) if !is_utf8_label(&doc[range.clone()]) => {
            out.push_str(&text[..range.start]);
            out.push_str("UTF-8");
            out.push_str(&text[range.end..]);
        }
        _ => out.push_str(text),
    }
    decl.end
}

/// `validated` is `doc` itself when it is already known to be UTF-8.
fn decode_ascii_compatible(
    doc: &[u8],
    validated: Option<&str>,
    encoding: &'static Encoding,
    source: EncodingSource,
) -> Decoded {
    // The common case, UTF-8 bytes, is one validation and one copy.
    let mut out = String::with_capacity(capacity_for(encoding, doc.len()));
    let decl_len = push_utf8_decl(doc, &mut out);
    let rest = &doc[decl_len..];
    if let Some(text) = validated.and_then(|text| text.get(decl_len..)) {
        out.push_str(text);
        return Decoded {
            text: out,
            encoding,
            source,
            had_errors: false,
        };
    }
    let mark = out.len();
    // Non-ASCII bytes that happen to be valid UTF-8 are, in practice, never text in a
    // legacy encoding: a site that moved to UTF-8 and kept its old label. Every legacy
    // decoder would read them "cleanly" as mojibake, so check before trusting the label.
    // The operator's override is the exception: it says "trust me".
    if encoding != UTF_8 && source != EncodingSource::Override && !rest.is_ascii() {
        if let Ok(text) = simdutf8::basic::from_utf8(rest) {
            out.push_str(text);
            return Decoded {
                text: out,
                encoding: UTF_8,
                source: EncodingSource::Detected,
                had_errors: false,
            };
        }
    }
    if decode_clean_into(encoding, rest, &mut out) {
        return Decoded {
            text: out,
            encoding,
            source,
            had_errors: false,
        };
    }
    out.truncate(mark);

    let (lossy, _) = encoding.decode_without_bom_handling(rest);
    match better_candidate(encoding, rest, &lossy) {
        Some((candidate, text)) => {
            out.push_str(&text);
            Decoded {
                text: out,
                encoding: candidate,
                source: EncodingSource::Detected,
                had_errors: false,
            }
        }
        None => {
            out.push_str(&lossy);
            Decoded {
                text: out,
                encoding,
                source,
                had_errors: true,
            }
        }
    }
}

fn capacity_for(encoding: &'static Encoding, len: usize) -> usize {
    if encoding == UTF_8 {
        len
    } else {
        encoding
            .new_decoder_without_bom_handling()
            .max_utf8_buffer_length_without_replacement(len)
            .unwrap_or(len)
    }
}

/// Appends `bytes` decoded as `encoding` to `out`; false (with `out` partly written) at
/// the first malformed sequence.
fn decode_clean_into(encoding: &'static Encoding, bytes: &[u8], out: &mut String) -> bool {
    if encoding == UTF_8 {
        return match simdutf8::basic::from_utf8(bytes) {
            Ok(text) => {
                out.push_str(text);
                true
            }
            Err(_) => false,
        };
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let mut input = bytes;
    loop {
        let need = decoder
            .max_utf8_buffer_length_without_replacement(input.len())
            .unwrap_or(input.len());
        out.reserve(need);
        let (result, read) = decoder.decode_to_string_without_replacement(input, out, true);
        input = &input[read..];
        match result {
            DecoderResult::InputEmpty => return true,
            DecoderResult::Malformed(_, _) => return false,
            DecoderResult::OutputFull => continue,
        }
    }
}

/// When `chosen` met malformed bytes: the candidate that reads `bytes` without error and
/// looks like text. UTF-8 validity is specific enough to trust on its own; GB18030 accepts
/// almost any byte pairs (Big5 text included), so a legacy candidate must also show more
/// of the most common Chinese characters than the damaged decoding did.
fn better_candidate(
    chosen: &'static Encoding,
    bytes: &[u8],
    chosen_lossy: &str,
) -> Option<(&'static Encoding, String)> {
    if chosen != UTF_8 {
        if let Ok(text) = simdutf8::basic::from_utf8(bytes) {
            return Some((UTF_8, text.to_owned()));
        }
    }
    let floor = common_hanzi_count(chosen_lossy);
    let mut best: Option<(usize, &'static Encoding, String)> = None;
    for candidate in [GB18030, BIG5] {
        if candidate == chosen {
            continue;
        }
        let mut text = String::new();
        if !decode_clean_into(candidate, bytes, &mut text) {
            continue;
        }
        let score = common_hanzi_count(&text);
        if score > floor && best.as_ref().is_none_or(|(s, _, _)| score > *s) {
            best = Some((score, candidate, text));
        }
    }
    best.map(|(_, enc, text)| (enc, text))
}

/// How many of the text's characters are among the most frequent Chinese characters
/// (simplified and traditional forms). Mojibake almost never lands on them.
fn common_hanzi_count(text: &str) -> usize {
    text.chars()
        .filter(|c| {
            matches!(
                c,
                '的' | '一'
                    | '是'
                    | '不'
                    | '了'
                    | '在'
                    | '人'
                    | '有'
                    | '我'
                    | '他'
                    | '这'
                    | '這'
                    | '个'
                    | '個'
                    | '们'
                    | '們'
                    | '中'
                    | '来'
                    | '來'
                    | '上'
                    | '大'
                    | '为'
                    | '為'
                    | '和'
                    | '国'
                    | '國'
                    | '地'
                    | '到'
                    | '以'
                    | '说'
                    | '說'
                    | '时'
                    | '時'
                    | '要'
                    | '就'
                    | '出'
                    | '会'
                    | '會'
                    | '也'
                    | '你'
                    | '对'
                    | '對'
                    | '生'
                    | '能'
                    | '子'
                    | '年'
                    | '月'
                    | '日'
                    | '发'
                    | '發'
                    | '后'
                    | '後'
                    | '新'
                    | '文'
                    | '学'
                    | '學'
                    | '与'
                    | '與'
            )
        })
        .count()
}

/// UTF-16 documents (BOM, override or sniffed): decode whole, then tidy the head.
fn decode_utf16(body: &[u8], encoding: &'static Encoding, source: EncodingSource) -> Decoded {
    let (text, had_errors) = encoding.decode_without_bom_handling(body);
    let trimmed = text.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == '\u{feff}');
    let mut out = String::with_capacity(trimmed.len());
    let decl_len = push_utf8_decl(trimmed.as_bytes(), &mut out);
    // The declaration is ASCII and ends with '>', so `decl_len` is a char boundary.
    out.push_str(trimmed.get(decl_len..).unwrap_or_default());
    Decoded {
        text: out,
        encoding,
        source,
        had_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GBK_TITLE: &str = "美俄关系与三方会晤的新闻";

    fn gbk(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = GB18030.encode(text);
        assert!(!unmappable);
        bytes.into_owned()
    }

    fn big5(text: &str) -> Vec<u8> {
        let (bytes, _, unmappable) = BIG5.encode(text);
        assert!(!unmappable);
        bytes.into_owned()
    }

    fn rss(decl: &str, title: &str) -> String {
        format!(
            "{decl}<rss version=\"2.0\"><channel><title>{title}</title>\
             <item><title>{title}</title><guid>1</guid></item></channel></rss>"
        )
    }

    #[test]
    fn precedence_table() {
        let utf8_doc = rss(r#"<?xml version="1.0" encoding="UTF-8"?>"#, GBK_TITLE);
        let gbk_doc = gbk(&rss(
            r#"<?xml version="1.0" encoding="gb2312"?>"#,
            GBK_TITLE,
        ));
        let gbk_undeclared = gbk(&rss(r#"<?xml version="1.0"?>"#, GBK_TITLE));
        let mut bom_doc = vec![0xEF, 0xBB, 0xBF];
        bom_doc.extend_from_slice(rss(r#"<?xml version="1.0"?>"#, GBK_TITLE).as_bytes());
        let mut utf16_doc = vec![0xFF, 0xFE];
        for unit in rss(r#"<?xml version="1.0" encoding="UTF-16"?>"#, GBK_TITLE).encode_utf16() {
            utf16_doc.extend_from_slice(&unit.to_le_bytes());
        }
        let big5_doc = big5(&rss(r#"<?xml version="1.0"?>"#, "臺灣新聞"));

        struct Case {
            name: &'static str,
            bytes: Vec<u8>,
            http: Option<&'static str>,
            forced: Option<&'static Encoding>,
            encoding: &'static Encoding,
            source: EncodingSource,
            title: &'static str,
        }
        let cases = [
            Case {
                name: "override beats a wrong declaration",
                bytes: gbk(&rss(
                    r#"<?xml version="1.0" encoding="iso-8859-1"?>"#,
                    GBK_TITLE,
                )),
                http: Some("utf-8"),
                forced: encoding_for_label("gbk"),
                encoding: GB18030,
                source: EncodingSource::Override,
                title: GBK_TITLE,
            },
            Case {
                name: "utf-8 BOM beats HTTP charset",
                bytes: bom_doc,
                http: Some("gbk"),
                forced: None,
                encoding: UTF_8,
                source: EncodingSource::Bom,
                title: GBK_TITLE,
            },
            Case {
                name: "utf-16 BOM",
                bytes: utf16_doc,
                http: None,
                forced: None,
                encoding: UTF_16LE,
                source: EncodingSource::Bom,
                title: GBK_TITLE,
            },
            Case {
                name: "declaration beats HTTP charset",
                bytes: gbk_doc.clone(),
                http: Some("iso-8859-1"),
                forced: None,
                encoding: GB18030,
                source: EncodingSource::XmlDeclaration,
                title: GBK_TITLE,
            },
            Case {
                name: "HTTP charset when no declared encoding",
                bytes: big5_doc,
                http: Some("big5"),
                forced: None,
                encoding: BIG5,
                source: EncodingSource::HttpCharset,
                title: "臺灣新聞",
            },
            Case {
                name: "valid utf-8 with nothing declared",
                bytes: rss("", GBK_TITLE).into_bytes(),
                http: None,
                forced: None,
                encoding: UTF_8,
                source: EncodingSource::ValidUtf8,
                title: GBK_TITLE,
            },
            Case {
                name: "gbk bytes with nothing declared",
                bytes: gbk_undeclared,
                http: None,
                forced: None,
                encoding: GB18030,
                source: EncodingSource::Gb18030Fallback,
                title: GBK_TITLE,
            },
            Case {
                name: "declared utf-8, and it is",
                bytes: utf8_doc.into_bytes(),
                http: Some("gbk"),
                forced: None,
                encoding: UTF_8,
                source: EncodingSource::XmlDeclaration,
                title: GBK_TITLE,
            },
            Case {
                name: "gbk bytes under a wrong utf-8 declaration",
                bytes: gbk(&rss(r#"<?xml version="1.0" encoding="utf-8"?>"#, GBK_TITLE)),
                http: None,
                forced: None,
                encoding: GB18030,
                source: EncodingSource::Detected,
                title: GBK_TITLE,
            },
            Case {
                name: "gbk bytes under a wrong utf-8 HTTP charset",
                bytes: gbk(&rss("", GBK_TITLE)),
                http: Some("UTF-8"),
                forced: None,
                encoding: GB18030,
                source: EncodingSource::Detected,
                title: GBK_TITLE,
            },
            Case {
                name: "utf-8 bytes under a wrong gbk declaration",
                bytes: rss(r#"<?xml version="1.0" encoding="gbk"?>"#, GBK_TITLE).into_bytes(),
                http: None,
                forced: None,
                encoding: UTF_8,
                source: EncodingSource::Detected,
                title: GBK_TITLE,
            },
        ];
        for case in cases {
            let got = decode(&case.bytes, case.http, case.forced);
            assert_eq!(got.encoding, case.encoding, "{}", case.name);
            assert_eq!(got.source, case.source, "{}", case.name);
            assert!(!got.had_errors, "{}", case.name);
            assert!(!got.text.contains('\u{fffd}'), "{}", case.name);
            assert!(got.text.contains(case.title), "{}: {}", case.name, got.text);
            assert!(got.text.starts_with('<'), "{}: {:?}", case.name, got.text);
            let head = &got.text[..got.text.find('>').unwrap_or(0)];
            assert!(
                !head.contains("encoding")
                    || head.contains("encoding=\"UTF-8\"")
                    || head.contains("encoding=\"utf-8\""),
                "{}: declaration not rewritten: {head}",
                case.name
            );
        }
    }

    #[test]
    fn declaration_is_rewritten_and_whitespace_trimmed() {
        let doc = gbk(&format!(
            "\r\n  \n<?xml version='1.0' encoding='GB2312' standalone='yes'?>\n{}",
            "<rss version=\"2.0\"><channel><title>新闻</title></channel></rss>"
        ));
        let got = decode(&doc, None, None);
        assert!(
            got.text
                .starts_with("<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n<rss"),
            "{}",
            got.text
        );
        assert!(got.text.contains("<title>新闻</title>"));
    }

    #[test]
    fn leading_whitespace_after_bom_is_trimmed() {
        let mut doc = vec![0xEF, 0xBB, 0xBF, b'\n', b' '];
        doc.extend_from_slice(b"<?xml version=\"1.0\"?><rss/>");
        let got = decode(&doc, None, None);
        assert_eq!(got.text, "<?xml version=\"1.0\"?><rss/>");
    }

    #[test]
    fn truly_broken_bytes_are_replaced_and_reported() {
        // 0xFF is invalid in UTF-8, GB18030 and Big5 alike.
        let doc = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><rss>\xFF\xFF</rss>";
        let got = decode(doc, None, None);
        assert!(got.had_errors);
        assert_eq!(got.encoding, UTF_8);
        assert!(got.text.contains('\u{fffd}'));
    }

    #[test]
    fn big5_with_one_bad_pair_stays_big5() {
        // GB18030 would read these bytes "cleanly" as mojibake; one damaged pair must not
        // flip a whole Big5 feed.
        let mut doc = big5(
            "<?xml version=\"1.0\" encoding=\"big5\"?><rss><title>這是臺灣的新聞，我們在這裡說明",
        );
        doc.extend_from_slice(&[0xA1, 0x80]);
        doc.extend_from_slice(&big5("。</title></rss>"));
        assert!(
            GB18030
                .decode_without_bom_handling_and_without_replacement(&doc)
                .is_some(),
            "the trap this test guards against: GB18030 accepts these bytes"
        );
        let got = decode(&doc, None, None);
        assert_eq!(got.encoding, BIG5);
        assert!(got.had_errors);
        assert!(got.text.contains("這是臺灣的新聞"));
    }

    #[test]
    fn labels_and_aliases() {
        let cases = [
            ("gb2312", Some(GB18030)),
            (" GBK ", Some(GB18030)),
            ("cp936", Some(GB18030)),
            ("EUC-CN", Some(GB18030)),
            ("x-gbk", Some(GB18030)),
            ("GB_2312-80", Some(GB18030)),
            ("gb18030", Some(GB18030)),
            ("big5", Some(BIG5)),
            ("Big5-HKSCS", Some(BIG5)),
            ("cp950", Some(BIG5)),
            ("utf-8", Some(UTF_8)),
            ("\"utf-8\"", Some(UTF_8)),
            ("shift_jis", Some(encoding_rs::SHIFT_JIS)),
            ("iso-2022-kr", None),
            ("klingon", None),
            ("", None),
        ];
        for (label, want) in cases {
            assert_eq!(encoding_for_label(label), want, "{label:?}");
        }
    }

    #[test]
    fn decl_parser_edge_cases() {
        let cases: [(&[u8], Option<&str>); 7] = [
            (b"<?xml version=\"1.0\" encoding=\"gbk\"?>", Some("gbk")),
            (b"<?xml version='1.0' encoding = 'big5' ?>", Some("big5")),
            (b"<?xml version=\"1.0\"?><a encoding=\"x\"/>", None),
            (b"<?xml version=\"1.0\" xencoding=\"x\"?>", None),
            (b"<?xml-stylesheet href=\"a\"?>", None),
            (b"<?xml version=\"1.0\" encoding=\"gbk", None),
            (b"<rss/>", None),
        ];
        for (doc, want) in cases {
            let got = find_xml_decl(doc)
                .and_then(|d| d.encoding)
                .map(|r| String::from_utf8_lossy(&doc[r]).into_owned());
            assert_eq!(got.as_deref(), want, "{}", String::from_utf8_lossy(doc));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let inputs: [&[u8]; 8] = [
            b"",
            b"   ",
            b"\xEF\xBB",
            b"\xFF\xFE<",
            b"<?xml",
            b"<?xml encoding=\"\xFF\xFE\"?>",
            b"<\0?\0",
            b"<?xml version=\"1.0\" encoding=\"utf-16\"?><a/>",
        ];
        for input in inputs {
            let _ = decode(input, Some("\u{0}"), None);
            let _ = decode(input, None, Some(UTF_16BE));
        }
        let utf16_label = decode(
            b"<?xml version=\"1.0\" encoding=\"utf-16\"?><a/>",
            None,
            None,
        );
        assert_eq!(utf16_label.encoding, UTF_8);
    }

    /// Real feeds saved under the shared samples folder: every one must decode without a
    /// replacement character and parse into titled entries. Each row names a title that
    /// is in the file, so a wrong encoding (mojibake) cannot pass.
    #[test]
    fn shared_sample_feeds() {
        use std::collections::HashSet;
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/samples/feeds");
        if !root.is_dir() {
            println!("skipped: ../shared not found");
            return;
        }
        let expected: [(&str, &'static Encoding, usize, &str); 11] = [
            (
                "mislabelled/254.blog.westca.com.xml",
                GB18030,
                4,
                "不归移民漫画系列：专业工作",
            ),
            (
                "mislabelled/blog.online-edu.org.xml",
                GB18030,
                15,
                "卖给公司的万金油",
            ),
            (
                "mislabelled/home.donews.com.xml",
                GB18030,
                20,
                "经济观察报：闪联，从松散组织变成公司",
            ),
            (
                "mislabelled/kelet.512j.com.xml",
                GB18030,
                7,
                "【译】常见CSS和HTML的代码问题(二)",
            ),
            (
                "mislabelled/tw.blog.xubg.com.xml",
                BIG5,
                10,
                "雙CPU伺服器，安裝RAID 5",
            ),
            (
                "mislabelled/www2.tianyablog.com.xml",
                GB18030,
                20,
                "谁来关注普通人“说真话”的权益",
            ),
            (
                "utf8-modern/atom_ruanyifeng.xml",
                UTF_8,
                3,
                "终于有人做了 Subagent，TRAE 国内版 SOLO 模式来了",
            ),
            (
                "utf8-modern/atom_v2ex.xml",
                UTF_8,
                50,
                "[成都] 成都的人都是铁肺吗？",
            ),
            (
                "utf8-modern/podcast_ld.xml",
                UTF_8,
                190,
                "炒币大赛，阿里赢麻了，OpenAI亏惨了，但赢的真是AI吗？",
            ),
            (
                "utf8-modern/rss_meituan.xml",
                UTF_8,
                10,
                "美团 LongCat 团队发布全模态一站式评测基准 UNO-Bench",
            ),
            (
                "utf8-modern/rss_ruanyifeng.xml",
                UTF_8,
                6,
                "科技爱好者周刊（第 375 期）：一扇门的 Bug",
            ),
        ];
        let ctx = crate::parse::ParseContext {
            feed_url: "https://samples.example/feed.xml",
            timezone: None,
            now: chrono::Utc::now(),
        };
        let mut seen = 0;
        for folder in ["mislabelled", "utf8-modern"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(folder))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            paths.sort();
            for path in paths {
                let name = format!("{folder}/{}", path.file_name().unwrap().to_string_lossy());
                let Some((_, encoding, count, title)) = expected.iter().find(|row| row.0 == name)
                else {
                    panic!("{name}: new sample without an expectation row");
                };
                seen += 1;
                let decoded = decode(&std::fs::read(&path).unwrap(), None, None);
                assert_eq!(decoded.encoding, *encoding, "{name}");
                assert!(!decoded.had_errors, "{name}");
                assert!(!decoded.text.contains('\u{fffd}'), "{name}");
                let feed = crate::parse::parse(&decoded.text, &ctx)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(feed.entries.len(), *count, "{name}");
                assert!(
                    feed.entries.iter().all(|e| !e.title.trim().is_empty()),
                    "{name}: an entry without a title"
                );
                let is_cjk = |c: char| ('\u{4e00}'..='\u{9fff}').contains(&c);
                assert!(
                    feed.entries
                        .iter()
                        .filter(|e| e.title.chars().any(is_cjk))
                        .count()
                        * 2
                        >= feed.entries.len(),
                    "{name}: most titles should be Chinese"
                );
                assert!(
                    feed.entries.iter().any(|e| e.title == *title),
                    "{name}: no entry titled {title:?}"
                );
                let ids: HashSet<_> = feed.entries.iter().map(|e| &e.entry_id).collect();
                assert_eq!(ids.len(), feed.entries.len(), "{name}: entry ids collide");
            }
        }
        assert_eq!(
            seen,
            expected.len(),
            "a sample named in the table is missing"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

        #[test]
        fn arbitrary_bytes_decode_to_valid_text(
            prefix in proptest::sample::select(vec![&b""[..], b"\xEF\xBB\xBF", b"\xFF\xFE", b" \n<?xml version=\"1.0\" encoding=\"gbk\"?>"]),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        ) {
            let mut bytes = prefix.to_vec();
            bytes.extend_from_slice(&body);
            let decoded = decode(&bytes, Some("big5"), None);
            let head = decoded.text.chars().next();
            let trimmed = !head.is_some_and(|c| c.is_ascii_whitespace() || c == '\u{feff}');
            proptest::prop_assert!(trimmed, "leading whitespace or BOM kept");
            // U+FFFD may only appear when reported, or when the input spelled it out.
            let spelled = |seq: &[u8]| bytes.windows(seq.len()).any(|w| w == seq);
            if decoded.text.contains('\u{fffd}') {
                proptest::prop_assert!(
                    decoded.had_errors || spelled(b"\xEF\xBF\xBD") || spelled(b"\x84\x31\xA4\x37")
                );
            }
        }
    }
}
