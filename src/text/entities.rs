//! Character references (`&amp;`, `&#8212;`, `&#x201C;`) decoded one at a time.
//!
//! Owns the rules for what counts as a reference and what it becomes: every HTML5 named
//! reference (the WHATWG table, via `htmlize::ENTITIES`), decimal and hex numeric
//! references with the HTML5 repairs (C1 bytes read as windows-1252, invalid code points
//! become U+FFFD), and feeds' double escaping (`&amp;nbsp;`, `&amp;#8212;`). Whitespace
//! handling and where references may appear are left to the converter in `html`.

/// What a reference decodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A named reference's expansion (one or two characters).
    Str(&'static str),
    /// A numeric reference's character.
    Char(char),
}

/// Longest name we look up; the longest HTML5 name (`&CounterClockwiseContourIntegral;`)
/// is 31 letters.
const MAX_NAME: usize = 32;

/// windows-1252 meanings of the C1 range, which HTML5 applies to `&#128;`..`&#159;`
/// because pages written in that code page put them there (`&#151;` is an em dash).
/// Zero marks the five positions windows-1252 leaves undefined.
const C1_REPAIR: [u16; 32] = [
    0x20AC, 0, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039,
    0x0152, 0, 0x017D, 0, 0, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC,
    0x2122, 0x0161, 0x203A, 0x0153, 0, 0x017E, 0x0178,
];

/// Decodes the reference whose `&` is at byte `amp` of `s`.
///
/// Returns the decoded value and the byte index just past the reference, or `None` when
/// the `&` does not start a reference (it is then a literal ampersand).
pub(crate) fn decode(s: &str, amp: usize) -> Option<(Decoded, usize)> {
    let b = s.as_bytes();
    let (first, mut end) = decode_at(b, amp + 1, false)?;
    if first != Decoded::Str("&") || !b[amp..end].ends_with(b";") {
        return Some((first, end));
    }
    // `&amp;` followed by what would be a reference is a double-escaped reference: feeds
    // escape HTML that was already escaped. Any number of `amp;` layers are peeled.
    while b.get(end..end + 4) == Some(b"amp;") {
        end += 4;
    }
    match decode_at(b, end, true) {
        Some(inner) => Some(inner),
        None => Some((first, end)),
    }
}

/// Decodes a reference whose body starts at `p` (just after the `&`). In `strict` mode
/// (inside a double escape) a terminating `;` is required, since a bare name after
/// `&amp;` is far more often ordinary text than a reference.
fn decode_at(b: &[u8], p: usize, strict: bool) -> Option<(Decoded, usize)> {
    match b.get(p)? {
        b'#' => numeric(b, p + 1, strict),
        c if c.is_ascii_alphabetic() => named(b, p, strict),
        _ => None,
    }
}

fn numeric(b: &[u8], p: usize, strict: bool) -> Option<(Decoded, usize)> {
    let (radix, start) = match b.get(p) {
        Some(b'x' | b'X') => (16, p + 1),
        _ => (10, p),
    };
    let mut q = start;
    let mut value: u32 = 0;
    while let Some(d) = b.get(q).and_then(|&c| char::from(c).to_digit(radix)) {
        // Saturate instead of overflowing: anything past U+10FFFF is invalid anyway.
        value = value.saturating_mul(radix).saturating_add(d).min(0x11_0000);
        q += 1;
    }
    if q == start {
        return None;
    }
    if b.get(q) == Some(&b';') {
        q += 1;
    } else if strict {
        return None;
    }
    Some((Decoded::Char(numeric_char(value)), q))
}

fn numeric_char(value: u32) -> char {
    let repaired = match value {
        0 => 0xFFFD,
        0x80..=0x9F => match C1_REPAIR[(value - 0x80) as usize] {
            0 => value,
            r => u32::from(r),
        },
        v => v,
    };
    // from_u32 rejects surrogates and values past U+10FFFF.
    char::from_u32(repaired).unwrap_or('\u{FFFD}')
}

fn named(b: &[u8], p: usize, strict: bool) -> Option<(Decoded, usize)> {
    let len = b[p..]
        .iter()
        .take(MAX_NAME + 1)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if len > MAX_NAME {
        return None;
    }
    let has_semi = b.get(p + len) == Some(&b';');
    if strict && !has_semi {
        return None;
    }
    if has_semi && let Some(value) = common(&b[p..p + len]) {
        return Some((Decoded::Str(value), p + len + 1));
    }
    // Table keys are spelled with their `&` and (when required) `;`.
    let mut key = [0u8; MAX_NAME + 2];
    key[0] = b'&';
    key[1..=len].copy_from_slice(&b[p..p + len]);
    let key_len = if has_semi {
        key[len + 1] = b';';
        len + 2
    } else {
        len + 1
    };
    // Without `;` only the legacy names (`&copy`, `&nbsp`, `&amp`) are in the table, and
    // only when the whole alphanumeric run is the name: `&copy2025` stays literal.
    let value = htmlize::ENTITIES.get(&key[..key_len])?;
    let value = std::str::from_utf8(value).ok()?;
    let end = p + len + usize::from(has_semi);
    Some((Decoded::Str(value), end))
}

/// The names news HTML uses most, answered without hashing into the full table.
fn common(name: &[u8]) -> Option<&'static str> {
    Some(match name {
        b"amp" => "&",
        b"lt" => "<",
        b"gt" => ">",
        b"quot" => "\"",
        b"apos" => "'",
        b"nbsp" => "\u{a0}",
        b"mdash" => "\u{2014}",
        b"ndash" => "\u{2013}",
        b"hellip" => "\u{2026}",
        b"ldquo" => "\u{201C}",
        b"rdquo" => "\u{201D}",
        b"lsquo" => "\u{2018}",
        b"rsquo" => "\u{2019}",
        b"middot" => "\u{b7}",
        b"laquo" => "\u{ab}",
        b"raquo" => "\u{bb}",
        b"bull" => "\u{2022}",
        b"copy" => "\u{a9}",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str) -> Option<(String, usize)> {
        decode(s, 0).map(|(d, end)| {
            let text = match d {
                Decoded::Str(v) => v.to_string(),
                Decoded::Char(c) => c.to_string(),
            };
            (text, end)
        })
    }

    #[test]
    fn common_names_agree_with_the_full_table() {
        for name in [
            "amp", "lt", "gt", "quot", "apos", "nbsp", "mdash", "ndash", "hellip", "ldquo",
            "rdquo", "lsquo", "rsquo", "middot", "laquo", "raquo", "bull", "copy",
        ] {
            let key = format!("&{name};");
            let full = htmlize::ENTITIES.get(key.as_bytes()).copied();
            assert_eq!(common(name.as_bytes()).map(str::as_bytes), full, "{name}");
        }
    }

    #[test]
    fn references_decode_to_what_readers_expect() {
        type Case<'a> = (&'a str, &'a str, Option<(&'a str, usize)>);
        let cases: &[Case] = &[
            ("amp", "&amp;x", Some(("&", 5))),
            ("nbsp", "&nbsp;", Some(("\u{a0}", 6))),
            ("ldquo", "&ldquo;", Some(("\u{201C}", 7))),
            ("mdash", "&mdash;", Some(("—", 7))),
            ("hellip", "&hellip;", Some(("…", 8))),
            ("eacute", "&eacute;", Some(("é", 8))),
            ("greek", "&Omega;", Some(("Ω", 7))),
            ("arrow", "&rarr;", Some(("→", 6))),
            ("math", "&le;", Some(("≤", 4))),
            ("euro", "&euro;", Some(("€", 6))),
            ("two chars", "&NotEqualTilde;", Some(("≂\u{338}", 15))),
            ("decimal", "&#8212;", Some(("—", 7))),
            ("hex", "&#x201C;", Some(("\u{201C}", 8))),
            ("hex upper", "&#X201c;", Some(("\u{201C}", 8))),
            ("decimal no semicolon", "&#8212 x", Some(("—", 6))),
            ("cp1252 repair", "&#151;", Some(("—", 6))),
            ("cp1252 hole kept", "&#129;", Some(("\u{81}", 6))),
            ("zero", "&#0;", Some(("\u{FFFD}", 4))),
            ("surrogate", "&#xD800;", Some(("\u{FFFD}", 8))),
            ("too big", "&#x110000;", Some(("\u{FFFD}", 10))),
            ("huge", "&#99999999999999999999;", Some(("\u{FFFD}", 23))),
            ("legacy bare", "&copy 2025", Some(("©", 5))),
            ("double nbsp", "&amp;nbsp;", Some(("\u{a0}", 10))),
            ("double numeric", "&amp;#8212;", Some(("—", 11))),
            ("triple", "&amp;amp;quot;", Some(("\"", 14))),
            ("double amp alone", "&amp;amp; x", Some(("&", 9))),
            ("double needs semicolon", "&amp;copy 2025", Some(("&", 5))),
            ("unknown", "&bogus;", None),
            ("bare not legacy", "&hellip", None),
            ("glued to text", "&copy2025", None),
            ("bare ampersand", "& b", None),
            ("AT&T", "&T", None),
            ("empty numeric", "&#;", None),
            ("end of input", "&", None),
        ];
        for (name, input, want) in cases {
            let got = dec(input);
            let want = want.map(|(t, e)| (t.to_string(), e));
            assert_eq!(got, want, "case {name}: {input:?}");
        }
    }
}
