//! The streaming HTML → text pass: one forward scan over the bytes, no DOM.
//!
//! Owns tag recognition (including the `<\/p>` escaped closing tags scraped articles
//! carry), which elements break lines and which vanish, dropping scripts, styles,
//! comments and declarations, and whitespace: collapsing, trimming lines, and dropping
//! source line breaks between CJK characters. Reference decoding lives in `entities`;
//! folding for matching lives in `fold`.
//!
//! Runs of plain text are found with `memchr` and copied whole, so the cost is close to
//! a copy for text-heavy news HTML. Nothing here allocates per tag.

use memchr::{memchr, memchr2, memchr3, memmem};

use super::entities::{self, Decoded};

/// Converts `html` to text; `inline` puts everything on one line (titles).
pub(crate) fn convert(html: &str, inline: bool) -> String {
    if let Some(unescaped) = unescape_markup(html) {
        return convert_html(&unescaped, inline);
    }
    convert_html(html, inline)
}

/// Feeds sometimes escape a body twice, so after XML decoding it still reads
/// `&lt;p&gt;…&lt;/p&gt;`. When the input has no tag at all but escaped tags, one layer
/// of XML escaping is undone so the markup is read as markup rather than shown.
/// (A plain-text body that merely mentions `&lt;p&gt;` loses that mention; news text
/// with no other markup rarely does that, while double-escaped feeds are common.)
fn unescape_markup(html: &str) -> Option<String> {
    let b = html.as_bytes();
    if memchr(b'<', b).is_some() {
        return None;
    }
    let escaped_tag = memmem::find_iter(b, b"&lt;").any(|k| {
        b.get(k + 4)
            .is_some_and(|&c| c.is_ascii_alphabetic() || c == b'/' || c == b'!')
    });
    if !escaped_tag {
        return None;
    }
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(k) = memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..k]);
        rest = &rest[k..];
        let (ch, len) = [
            ("&lt;", '<'),
            ("&gt;", '>'),
            ("&quot;", '"'),
            ("&amp;", '&'),
        ]
        .iter()
        .find(|(name, _)| rest.starts_with(name))
        .map_or(('&', 1), |(name, ch)| (*ch, name.len()));
        out.push(ch);
        rest = &rest[len..];
    }
    out.push_str(rest);
    Some(out)
}

fn convert_html(html: &str, inline: bool) -> String {
    let mut w = Writer {
        out: String::with_capacity(html.len()),
        inline,
        ws: Ws::None,
        brk: 0,
        pre: 0,
        unclosed: Vec::new(),
        cdata_unclosed: false,
    };
    w.run(html);
    w.out
}

/// Whitespace seen since the last text, strongest kind wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ws {
    None,
    /// Spaces or tabs only.
    Space,
    /// Contained a source line break: dropped between two CJK characters, since a line
    /// break inside Chinese text is an artefact of the HTML source, not a word gap.
    Newline,
    /// `&nbsp;`: the author asked for a space, so it is kept even between CJK.
    Forced,
}

/// What an element does to the text around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Produces nothing: `三方<strong>会晤</strong>` reads `三方会晤`.
    Inline,
    /// Ends the paragraph: a blank line.
    Block,
    /// Ends the line: list items, table rows, definitions.
    Line,
    /// `<br>`: each one adds a line break, so `<br><br>` makes a blank line.
    Br,
    /// Table cells: a space, so neighbouring cells do not glue together.
    Cell,
    /// `<pre>`: a block in which source line breaks are kept.
    Pre,
    /// Dropped with its content. `Raw(true)` elements (scripts, styles) drop the rest
    /// of the input when never closed, as browsers do; the others are then ignored.
    Raw(bool),
    /// `<head>`: dropped up to `</head>` or `<body>`.
    Head,
}

fn kind(name: &[u8]) -> Kind {
    match name {
        b"p" | b"div" | b"h1" | b"h2" | b"h3" | b"h4" | b"h5" | b"h6" | b"blockquote"
        | b"section" | b"article" | b"header" | b"footer" | b"ul" | b"ol" | b"dl" | b"table"
        | b"hr" | b"figure" | b"aside" | b"nav" | b"main" | b"address" | b"details"
        | b"fieldset" | b"form" | b"center" | b"hgroup" | b"menu" | b"thead" | b"tbody"
        | b"tfoot" | b"body" | b"html" => Kind::Block,
        b"li" | b"tr" | b"dd" | b"dt" | b"figcaption" | b"caption" | b"summary" | b"option"
        | b"legend" => Kind::Line,
        b"br" => Kind::Br,
        b"td" | b"th" => Kind::Cell,
        b"pre" | b"listing" | b"plaintext" => Kind::Pre,
        b"script" | b"style" => Kind::Raw(true),
        b"noscript" | b"template" | b"title" | b"textarea" | b"iframe" | b"noembed"
        | b"noframes" | b"xmp" | b"svg" | b"math" | b"object" | b"select" | b"video" | b"audio"
        | b"canvas" => Kind::Raw(false),
        b"head" => Kind::Head,
        _ => Kind::Inline,
    }
}

/// Bytes that end a plain run inside a text segment: ASCII whitespace, and the lead
/// byte of U+00A0 (a literal no-break space reads as a space).
static STOP: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\r' as usize] = true;
    t[0x0c] = true;
    t[0xc2] = true;
    t
};

/// Longest tag name we classify; longer names are unknown, hence inline.
const MAX_TAG: usize = 12;

struct Writer {
    out: String,
    inline: bool,
    ws: Ws,
    /// Line breaks owed before the next text (0, 1 or 2).
    brk: u8,
    /// Depth of open `<pre>` elements.
    pre: u32,
    /// Elements whose closing tag was searched for and not found before the given end
    /// of input: a later search would fail too, and repeating it for every unclosed
    /// `<noscript>` would make hostile input quadratic.
    unclosed: Vec<(Vec<u8>, usize)>,
    /// A CDATA section opened and `]]>` never came: no later opener needs to look.
    cdata_unclosed: bool,
}

impl Writer {
    fn run(&mut self, s: &str) {
        let b = s.as_bytes();
        let n = b.len();
        let mut i = 0;
        // End of the open CDATA section: its content is read as HTML, its markers dropped.
        let mut cdata_end: Option<usize> = None;
        while i < n {
            let end = cdata_end.unwrap_or(n);
            if i >= end {
                i = end + 3;
                cdata_end = None;
                continue;
            }
            let Some(off) = memchr2(b'<', b'&', &b[i..end]) else {
                self.text(s, i, end);
                i = end;
                continue;
            };
            let j = i + off;
            if j > i {
                self.text(s, i, j);
            }
            if b[j] == b'&' {
                i = self.reference(s, j);
                continue;
            }
            if b[j..end].starts_with(b"<![CDATA[") {
                i = j + 9;
                if cdata_end.is_none() && !self.cdata_unclosed {
                    cdata_end = memmem::find(&b[i..], b"]]>").map(|k| i + k);
                    self.cdata_unclosed = cdata_end.is_none();
                }
                continue;
            }
            i = self.tag(s, j, end);
        }
    }

    /// Handles the reference at `amp`; returns where to continue.
    fn reference(&mut self, s: &str, amp: usize) -> usize {
        let Some((decoded, next)) = entities::decode(s, amp) else {
            self.emit("&");
            return amp + 1;
        };
        match decoded {
            Decoded::Str("\u{a0}") | Decoded::Char('\u{a0}') => self.space(Ws::Forced),
            Decoded::Str(" " | "\t") | Decoded::Char(' ' | '\t' | '\x0c') => self.space(Ws::Space),
            Decoded::Str("\n") | Decoded::Char('\n' | '\r') => self.newlines(1),
            Decoded::Str(v) => self.emit(v),
            Decoded::Char(c) => self.emit(c.encode_utf8(&mut [0u8; 4])),
        }
        next
    }

    /// Handles the `<` at `lt`; returns where to continue. `end` bounds the scan (the
    /// input or the open CDATA section).
    fn tag(&mut self, s: &str, lt: usize, end: usize) -> usize {
        let b = &s.as_bytes()[..end];
        let mut p = lt + 1;
        match b.get(p) {
            Some(b'!') => {
                if b[p..].starts_with(b"!--") {
                    // `lt + 2` lets `<!-->` close itself, as HTML5 does.
                    return memmem::find(&b[lt + 2..], b"-->").map_or(end, |k| lt + 2 + k + 3);
                }
                return memchr(b'>', &b[p..]).map_or(end, |k| p + k + 1);
            }
            Some(b'?') => return memchr(b'>', &b[p..]).map_or(end, |k| p + k + 1),
            _ => {}
        }
        // Scraped articles escape closing tags as `<\/p>`: read them as `</p>`.
        if b.get(p) == Some(&b'\\') && b.get(p + 1) == Some(&b'/') {
            p += 1;
        }
        let closing = b.get(p) == Some(&b'/');
        if closing {
            p += 1;
        }
        if !b.get(p).is_some_and(u8::is_ascii_alphabetic) {
            // `a < b`, `<3`, a `<` at the end: text, not markup.
            self.emit("<");
            return lt + 1;
        }
        let name_len = b[p..]
            .iter()
            .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'-' || c == b':')
            .count();
        let mut name = [0u8; MAX_TAG];
        let name = if name_len <= MAX_TAG {
            for (dst, src) in name.iter_mut().zip(&b[p..p + name_len]) {
                *dst = src.to_ascii_lowercase();
            }
            &name[..name_len]
        } else {
            &[][..]
        };
        // A tag never closed swallows the rest of the input, as in browsers.
        let Some(after) = tag_end(b, p + name_len) else {
            return end;
        };
        let k = kind(name);
        if closing {
            match k {
                Kind::Block => self.brk(2),
                Kind::Line => self.brk(1),
                Kind::Br => self.br(),
                Kind::Cell => self.space(Ws::Space),
                Kind::Pre => {
                    self.brk(2);
                    self.pre = self.pre.saturating_sub(1);
                }
                Kind::Inline | Kind::Raw(_) | Kind::Head => {}
            }
            return after;
        }
        match k {
            Kind::Inline => {}
            Kind::Block => self.brk(2),
            Kind::Line => self.brk(1),
            Kind::Br => self.br(),
            Kind::Cell => self.space(Ws::Space),
            Kind::Pre => {
                self.brk(2);
                self.pre = self.pre.saturating_add(1);
            }
            Kind::Raw(drop_rest) => {
                // XHTML content may write `<script src="x"/>`: an empty element.
                if b[..after].ends_with(b"/>") {
                    return after;
                }
                return match self.find_close(b, after, name) {
                    Some(next) => next,
                    None if drop_rest => end,
                    None => after,
                };
            }
            Kind::Head => {
                // `<head>` ends at `</head>` or, when that was left out, at `<body>`.
                let close = self.find_close(b, after, name);
                let body_key = (b"<body".to_vec(), b.len());
                let upto = close.unwrap_or(b.len());
                let body = if close.is_none() && self.unclosed.contains(&body_key) {
                    None
                } else {
                    memchr::memchr_iter(b'<', &b[after..upto])
                        .map(|k| after + k)
                        .find(|&k| starts_tag(b, k + 1, b"body"))
                };
                if close.is_none() && body.is_none() {
                    self.unclosed.push(body_key);
                }
                return body.or(close).unwrap_or(after);
            }
        }
        after
    }

    /// `find_close`, remembering failures.
    fn find_close(&mut self, b: &[u8], from: usize, name: &[u8]) -> Option<usize> {
        if self
            .unclosed
            .iter()
            .any(|(n, end)| n == name && *end == b.len())
        {
            return None;
        }
        let found = find_close(b, from, name);
        if found.is_none() {
            self.unclosed.push((name.to_vec(), b.len()));
        }
        found
    }

    /// Handles a run of text between markup: `s[from..to]`.
    fn text(&mut self, s: &str, from: usize, to: usize) {
        let b = s.as_bytes();
        let mut i = from;
        while i < to {
            let j = next_space(b, i, to);
            if j > i {
                self.emit(&s[i..j]);
            }
            // A run of whitespace: classify it and skip it.
            let mut k = j;
            let mut newlines = 0u32;
            let mut cr = false;
            let mut forced = false;
            while k < to {
                match b[k] {
                    b' ' | b'\t' | 0x0c => k += 1,
                    b'\n' => {
                        newlines += 1;
                        k += 1;
                    }
                    b'\r' => {
                        cr = true;
                        k += 1;
                    }
                    0xc2 if b.get(k + 1) == Some(&0xa0) => {
                        forced = true;
                        k += 2;
                    }
                    _ => break,
                }
            }
            if newlines == 0 && cr {
                newlines = 1;
            }
            if forced {
                self.space(Ws::Forced);
            }
            if newlines > 0 {
                self.newlines(newlines);
            } else if k > j && !forced {
                self.space(Ws::Space);
            }
            i = k;
        }
    }

    fn space(&mut self, ws: Ws) {
        self.ws = self.ws.max(ws);
    }

    /// Source line breaks: whitespace, except inside `<pre>` where they are kept.
    fn newlines(&mut self, count: u32) {
        if self.pre > 0 && !self.inline {
            self.brk = self.brk.saturating_add(count.min(2) as u8).min(2);
        } else {
            self.space(Ws::Newline);
        }
    }

    fn brk(&mut self, level: u8) {
        if self.inline {
            self.space(Ws::Space);
        } else {
            self.brk = self.brk.max(level);
        }
    }

    fn br(&mut self) {
        if self.inline {
            self.space(Ws::Space);
        } else {
            self.brk = (self.brk + 1).min(2);
        }
    }

    /// Appends visible text (never starting or ending inside whitespace handling),
    /// first settling the breaks or the space owed before it. Breaks and spaces are
    /// owed rather than written so that nothing trails a line or the output.
    fn emit(&mut self, t: &str) {
        if t.is_empty() {
            return;
        }
        if self.brk > 0 {
            if !self.out.is_empty() {
                self.out.push_str(if self.brk >= 2 { "\n\n" } else { "\n" });
            }
            self.brk = 0;
            self.ws = Ws::None;
        } else if self.ws != Ws::None {
            let ws = std::mem::replace(&mut self.ws, Ws::None);
            if let Some(last) = self.out.chars().next_back() {
                let glue =
                    ws == Ws::Newline && is_cjk(last) && t.chars().next().is_some_and(is_cjk);
                if !glue {
                    self.out.push(' ');
                }
            }
        }
        self.out.push_str(t);
    }
}

/// Finds the next whitespace in `b[from..to]`: ASCII whitespace or U+00A0. A single
/// space between two words is not reported: copying it with the words gives the same
/// output as collapsing it, and English text would otherwise be emitted word by word.
fn next_space(b: &[u8], from: usize, to: usize) -> usize {
    let mut k = from;
    loop {
        let j = next_stop(b, k, to);
        if j >= to {
            return to;
        }
        let lone_space = b[j] == b' '
            && j > from
            && !STOP[usize::from(b[j - 1])]
            && b.get(j + 1)
                .is_some_and(|&c| j + 1 < to && !STOP[usize::from(c)]);
        if b[j] == 0xc2 && b.get(j + 1) != Some(&0xa0) || lone_space {
            k = j + 1;
            continue;
        }
        return j;
    }
}

/// The next byte in `b[from..to]` that `STOP` flags. CJK text has almost none, so eight
/// bytes are checked at once: none below 0x21 and none equal to 0xC2.
fn next_stop(b: &[u8], from: usize, to: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut k = from;
    while k < to {
        if let Some(word) = b.get(k..k + 8).filter(|_| k + 8 <= to) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            let w = u64::from_le_bytes(bytes);
            let below_21 = w.wrapping_sub(ONES * 0x21) & !w & HIGH;
            let x = w ^ (ONES * 0xc2);
            let is_c2 = x.wrapping_sub(ONES) & !x & HIGH;
            if below_21 | is_c2 == 0 {
                k += 8;
                continue;
            }
        }
        let end = (k + 8).min(to);
        if let Some(off) = b[k..end].iter().position(|&c| STOP[usize::from(c)]) {
            return k + off;
        }
        k = end;
    }
    to
}

/// Finds the `>` closing a tag whose attributes start at `from`; returns the index after
/// it. Quoted attribute values may hold `>`; an unbalanced quote falls back to the next
/// `>` rather than swallowing the document.
fn tag_end(b: &[u8], from: usize) -> Option<usize> {
    let mut k = from;
    loop {
        let off = memchr3(b'>', b'"', b'\'', &b[k..])?;
        let q = k + off;
        if b[q] == b'>' {
            return Some(q + 1);
        }
        let is_value = b[from..q]
            .iter()
            .rev()
            .find(|c| !c.is_ascii_whitespace())
            .is_some_and(|&c| c == b'=');
        if is_value {
            if let Some(close) = memchr(b[q], &b[q + 1..]) {
                k = q + 1 + close + 1;
                continue;
            }
            return memchr(b'>', &b[q + 1..]).map(|g| q + 1 + g + 1);
        }
        k = q + 1;
    }
}

/// Finds the closing tag `</name>` (or `<\/name>`) at or after `from`; returns the index
/// after its `>`.
fn find_close(b: &[u8], from: usize, name: &[u8]) -> Option<usize> {
    let mut k = from;
    while let Some(off) = memchr(b'<', &b[k..]) {
        let lt = k + off;
        let mut q = lt + 1;
        if b.get(q) == Some(&b'\\') {
            q += 1;
        }
        if b.get(q) == Some(&b'/') && starts_tag(b, q + 1, name) {
            let name_end = q + 1 + name.len();
            return Some(memchr(b'>', &b[name_end..]).map_or(b.len(), |g| name_end + g + 1));
        }
        k = lt + 1;
    }
    None
}

/// Whether a tag name equal to `name` (ASCII case-insensitive) starts at `p`.
fn starts_tag(b: &[u8], p: usize, name: &[u8]) -> bool {
    let Some(candidate) = b.get(p..p + name.len()) else {
        return false;
    };
    candidate.eq_ignore_ascii_case(name)
        && !b
            .get(p + name.len())
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'-' || *c == b':')
}

/// Scripts written without spaces between words: Han ideographs, kana, CJK punctuation
/// and full-width forms. Hangul is left out because Korean separates words with spaces.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{2FDF}'
        | '\u{3000}'..='\u{303F}'
        | '\u{3040}'..='\u{30FF}'
        | '\u{3100}'..='\u{312F}'
        | '\u{3190}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FE30}'..='\u{FE4F}'
        | '\u{FF00}'..='\u{FFEF}'
        | '\u{20000}'..='\u{3FFFF}')
}
