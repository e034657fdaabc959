//! Content hashes: one story, one hash.
//!
//! Owns the definition of "the same story" used to deduplicate items across feeds and
//! polls: NFKC normalization with every whitespace character removed, then
//! `blake3(domain ‖ title length ‖ title ‖ blake3(text))`. Callers pass plain text (markup and entities are `text`'s job);
//! case is kept, since the hash vouches for the text we store and show, and a change of
//! case is a change readers see. Script (Traditional/Simplified) is kept for the same
//! reason; fuzzy sameness is the matcher's business, not the key's.
//!
//! Normalizing Chinese news text through the general NFKC iterator runs at about
//! 100 MB/s, so the common characters (ASCII, CJK ideographs, CJK and general
//! punctuation, full-width ASCII forms) take a byte-level path whose output is identical
//! to NFKC; only the rest goes through `unicode-normalization`. Normalized bytes are
//! streamed into the hasher through a small buffer, never built as one big string.

use unicode_normalization::UnicodeNormalization;

use crate::model::ContentHash;

/// Names the normalization, so a future change of rules cannot collide with old hashes.
const DOMAIN: &[u8] = b"feedwatch content v1\0";

/// Bytes gathered before handing them to the hasher: large enough for blake3's SIMD path.
const CHUNK: usize = 16 * 1024;

/// blake3 of the normalized title and text: insensitive to markup (callers pass plain
/// text), whitespace and Unicode width.
pub fn content_hash(title: &str, text: &str) -> ContentHash {
    // The text is hashed on its own, so its stream starts on a blake3 chunk boundary and
    // whole chunks go through the SIMD path; the title and the text's digest are then
    // hashed together. The title's normalized length goes first, so the title/text
    // boundary is unambiguous: ("ab", "c") and ("a", "bc") hash differently.
    let mut text_hasher = blake3::Hasher::new();
    let mut buf = Vec::with_capacity(CHUNK + 1024);
    normalize(text, &mut buf, |buf| {
        // Hand over whole 1 KiB blake3 chunks, keeping at least the last few bytes,
        // which a following combining mark may still recompose.
        let ready = buf.len().saturating_sub(8) / 1024 * 1024;
        if ready >= CHUNK / 2 {
            text_hasher.update(&buf[..ready]);
            buf.drain(..ready);
        }
    });
    text_hasher.update(&buf);

    let mut title_norm = Vec::with_capacity(title.len());
    normalize(title, &mut title_norm, |_| {});
    let mut hasher = blake3::Hasher::new();
    hasher.update(DOMAIN);
    hasher.update(&(title_norm.len() as u64).to_le_bytes());
    hasher.update(&title_norm);
    hasher.update(text_hasher.finalize().as_bytes());
    ContentHash(*hasher.finalize().as_bytes())
}

/// `!` through `~`: what the full-width forms U+FF01..U+FF5E normalize to.
static PRINTABLE_ASCII: [u8; 94] = {
    let mut t = [0u8; 94];
    let mut k = 0;
    while k < 94 {
        t[k] = b'!' + k as u8;
        k += 1;
    }
    t
};

/// How a character on the fast path normalizes.
enum Fast {
    /// NFKC leaves it alone.
    Keep,
    /// NFKC with whitespace removed maps it to these ASCII bytes: full-width ＡＢＣ and
    /// `，`, `…` (three dots), and spaces (nothing).
    Map(&'static [u8]),
}

/// Characters whose NFKC form is known without context: they are starters that never
/// combine with a preceding character, so a normalization boundary always falls before
/// them. Everything else takes the general path. (U+00C0..U+00FF is listed for the
/// run scanner's sake, which recognises it by its lead byte.)
fn fast(c: u32) -> Option<Fast> {
    match c {
        0xA0 => Some(Fast::Map(b"")),
        0xC0..=0xFF => Some(Fast::Keep),
        0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 => Some(Fast::Map(b"")),
        0x2024 => Some(Fast::Map(b".")),
        0x2025 => Some(Fast::Map(b"..")),
        0x2026 => Some(Fast::Map(b"...")),
        0x2010 | 0x2012..=0x2016 | 0x2018..=0x2023 => Some(Fast::Keep),
        0x3001..=0x3029 | 0x3030..=0x3035 | 0x303B..=0x303F => Some(Fast::Keep),
        0x3400..=0x9FFF => Some(Fast::Keep),
        // Full-width ASCII variants are exactly ASCII shifted by 0xFEE0.
        0xFF01..=0xFF5E => {
            let k = (c - 0xFF01) as usize;
            PRINTABLE_ASCII.get(k..=k).map(Fast::Map)
        }
        _ => None,
    }
}

/// Appends NFKC(`s`) minus all whitespace to `out`, calling `flush` now and then so the
/// caller can drain `out`. `flush` must leave at least the last 4 bytes in place.
fn normalize(s: &str, out: &mut Vec<u8>, mut flush: impl FnMut(&mut Vec<u8>)) {
    let b = s.as_bytes();
    let n = b.len();
    let mut i = 0;
    // Start of the pending verbatim segment: characters NFKC keeps, copied in one piece
    // when something that is not copied as is comes along.
    let mut seg = 0;
    while i < n {
        // Most characters need no decision: skip to the next one that might. Stepping a
        // whole character at a time lets the CPU run ahead on predicted branches.
        let limit = n.min(i + CHUNK);
        let mut j = i;
        while j < limit {
            let c = b[j];
            if c.wrapping_sub(0xE4) < 6 {
                // U+4000..U+9FFF: CJK ideographs (and Yijing symbols), all kept.
                j += 3;
            } else if c < 0x80 {
                if is_ascii_space(c) {
                    // Dropped: close the segment without leaving the loop.
                    out.extend_from_slice(&b[seg..j]);
                    seg = j + 1;
                }
                j += 1;
            } else if c == 0xC3 {
                // U+00C0..U+00FF: accented Latin letters, kept.
                j += 2;
            } else {
                break;
            }
        }
        if j >= limit {
            i = limit.max(j);
            out.extend_from_slice(&b[seg..i]);
            seg = i;
            flush(out);
            continue;
        }
        i = j;
        let lead = b[i];
        {
            let (kind, len) = if (0xE0..0xF0).contains(&lead) && i + 2 < n {
                (fast(decode3(b, i)), 3)
            } else if lead == 0xC2 && b.get(i + 1) == Some(&0xA0) {
                (fast(0xA0), 2)
            } else {
                (None, 0)
            };
            match kind {
                Some(Fast::Keep) => i += len,
                Some(Fast::Map(m)) => {
                    out.extend_from_slice(&b[seg..i]);
                    out.extend_from_slice(m);
                    i += len;
                    seg = i;
                }
                None => {
                    out.extend_from_slice(&b[seg..i]);
                    i = slow_run(s, i, out);
                    seg = i;
                }
            }
        }
        if out.len() >= CHUNK {
            flush(out);
        }
    }
    out.extend_from_slice(&b[seg..]);
    flush(out);
}

/// Normalizes the slow run that starts with the character at `i`, together with the
/// character before it (whose output is taken back from `out`, since the slow character
/// may recompose with it: `Ｅ` + U+0301 → `É`). Returns where the run ends: at the next
/// fast character, a normalization boundary, so nothing after it recomposes into it.
fn slow_run(s: &str, i: usize, out: &mut Vec<u8>) -> usize {
    let b = s.as_bytes();
    // The character before a slow run is always a fast one (a slow run extends up to
    // the next fast character), so what it produced is known from the character alone.
    let start = (0..i).rev().find(|&k| !is_continuation(b[k])).unwrap_or(0);
    let produced = match i - start {
        0 => 0,
        1 if is_ascii_space(b[start]) => 0,
        2 if b[start..].starts_with("\u{a0}".as_bytes()) => 0,
        3 => match fast(decode3(b, start)) {
            Some(Fast::Map(m)) => m.len(),
            _ => 3,
        },
        len => len,
    };
    out.truncate(out.len().saturating_sub(produced));
    let end = slow_run_end(s, i);
    let mut tmp = [0u8; 4];
    for c in s[start..end].nfkc().filter(|c| !c.is_whitespace()) {
        out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
    }
    end
}

/// char::is_whitespace for ASCII: tab, LF, VT, FF, CR and space.
fn is_ascii_space(b: u8) -> bool {
    matches!(b, b'\t'..=b'\r' | b' ')
}

fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The code point of the 3-byte UTF-8 sequence at `i` (the caller checked the lead).
fn decode3(b: &[u8], i: usize) -> u32 {
    (u32::from(b[i] & 0x0F) << 12) | (u32::from(b[i + 1] & 0x3F) << 6) | u32::from(b[i + 2] & 0x3F)
}

/// The index of the first fast character at or after the slow character at `from`.
fn slow_run_end(s: &str, from: usize) -> usize {
    s[from..]
        .char_indices()
        .skip(1)
        .find(|&(_, c)| c.is_ascii() || fast(u32::from(c)).is_some())
        .map_or(s.len(), |(k, _)| from + k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::html_to_text;

    /// The definition the fast path must reproduce byte for byte.
    fn reference_norm(s: &str) -> String {
        s.nfkc().filter(|c| !c.is_whitespace()).collect()
    }

    fn norm(s: &str) -> String {
        let mut out = Vec::new();
        normalize(s, &mut out, |_| {});
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn fast_path_matches_nfkc() {
        let cases = [
            ("ascii", "a  b\n\nc"),
            ("full width", "ＡＢＣ，１２３！"),
            ("cjk punctuation", "“美俄关系”——新篇章：会晤？（注）"),
            ("ideographic space", "中\u{3000}文"),
            ("ellipsis", "等待…"),
            ("full width then combining", "Ｅ\u{301}"),
            ("ascii then combining", "e\u{301}x"),
            ("space then combining", "e \u{301}"),
            ("hangul jamo", "\u{1100}\u{1161}\u{11A8}"),
            ("hangul syllable then jamo", "가\u{11A8}"),
            ("kana voicing", "か\u{3099}"),
            ("ligature", "ﬁnance"),
            ("latin-1 then combining", "café\u{301} naïve Å\u{30A}"),
            ("superscript", "x²"),
            ("circled", "①②"),
            ("combining at start", "\u{301}a"),
            ("nbsp", "a\u{a0}b"),
            ("line separator", "a\u{2028}b"),
            ("compat ideograph", "\u{F900}\u{2F800}"),
        ];
        for (name, s) in cases {
            assert_eq!(norm(s), reference_norm(s), "case {name}");
        }
    }

    #[test]
    fn fast_characters_are_their_own_nfkc_and_boundaries() {
        let ranges = [
            (0xA0, 0xFF),
            (0x2000, 0x206F),
            (0x3000, 0x303F),
            (0x3400, 0x9FFF),
            (0xFF00, 0xFF65),
        ];
        for (lo, hi) in ranges {
            for cp in lo..=hi {
                let Some(kind) = fast(cp) else { continue };
                let c = char::from_u32(cp).unwrap();
                let want: String = c.to_string().nfkc().collect();
                let got = match kind {
                    Fast::Keep => {
                        // "Maybe" would mean it can combine with what precedes it.
                        assert_eq!(
                            unicode_normalization::is_nfkc_quick(std::iter::once(c)),
                            unicode_normalization::IsNormalized::Yes,
                            "U+{cp:04X}"
                        );
                        c.to_string()
                    }
                    Fast::Map(m) => String::from_utf8(m.to_vec()).unwrap(),
                };
                assert_eq!(got, reference_norm(&want), "U+{cp:04X}");
                assert_eq!(
                    unicode_normalization::char::canonical_combining_class(c),
                    0,
                    "U+{cp:04X}"
                );
            }
        }
    }

    #[test]
    fn same_story_hashes_alike() {
        let base = content_hash("美俄关系 新篇章", "第一段。\n\n第二段 text.");
        let cases = [
            (
                "markup",
                "美俄关系 新篇章",
                html_to_text("<p>第一段。</p><p>第二段 <b>text</b>.</p>"),
            ),
            (
                "escaped closing tags",
                "美俄关系 新篇章",
                html_to_text("第一段。<\\/p>第二段 text.<\\/p>"),
            ),
            (
                "entities",
                "美俄关系&nbsp;新篇章",
                html_to_text("<p>第一段&#12290;</p>第二段&nbsp;text&#46;"),
            ),
            (
                "whitespace",
                "美俄关系新篇章",
                "第一段。 第二段\ttext.".to_string(),
            ),
            (
                "reflowed",
                " 美俄 关系 新篇章 ",
                "第一段。\n第二段\ntext.".to_string(),
            ),
            (
                "width",
                "美俄关系\u{3000}新篇章",
                "第一段。第二段 ｔｅｘｔ．".to_string(),
            ),
        ];
        for (name, title, text) in cases {
            // Titles go through inline_text in the pipeline.
            let title = crate::text::inline_text(title);
            assert_eq!(content_hash(&title, &text), base, "case {name}");
        }
    }

    #[test]
    fn different_story_hashes_differently() {
        let base = content_hash("Title", "Body text.");
        let cases = [
            ("title", content_hash("Title 2", "Body text.")),
            ("text", content_hash("Title", "Body text!")),
            ("case kept", content_hash("Title", "body text.")),
            ("boundary moved", content_hash("TitleBody", "text.")),
            ("empty title", content_hash("", "TitleBody text.")),
        ];
        for (name, h) in cases {
            assert_ne!(h, base, "case {name}");
        }
        assert_ne!(content_hash("ab", "c"), content_hash("a", "bc"));
    }

    #[test]
    fn long_text_streams_through_chunks() {
        // Long enough to flush several chunks, with a recomposition right at the end.
        let text = "美俄关系，ＡＢ c\n".repeat(5000) + "Ｅ\u{301}";
        let flat = reference_norm(&text);
        let mut want = blake3::Hasher::new();
        want.update(DOMAIN);
        want.update(&0u64.to_le_bytes());
        want.update(blake3::hash(flat.as_bytes()).as_bytes());
        assert_eq!(content_hash("", &text).0, *want.finalize().as_bytes());
    }

    mod prop {
        use super::*;
        use proptest::prelude::*;

        proptest! {
            #[test]
            fn matches_reference_on_any_string(s in any::<String>()) {
                prop_assert_eq!(norm(&s), reference_norm(&s));
            }

            #[test]
            fn matches_reference_on_tricky_mixes(
                s in "[a-zEéÅ \\n\u{3000}\u{a0}中文，。ＡＥ①ﬁ가か\u{301}\u{308}\u{3099}\u{11A8}\u{1161}\u{1100}\u{2026}\u{2014}\u{2028}\u{2002}\u{2025}]{0,40}"
            ) {
                prop_assert_eq!(norm(&s), reference_norm(&s));
            }
        }
    }
}
