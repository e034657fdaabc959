//! Feed documents → [`ParsedFeed`] via feed-rs.
//!
//! This module owns everything between a UTF-8 document and our typed entries: spotting
//! bodies that are not feeds (empty, an HTML page), repairing the bare `&` that would
//! make feed-rs reject a whole feed, reading dates the way Chinese feeds write them
//! (`CST` = +08:00, `2025年06月10日 04:00`, offset-less times in the feed's zone), and
//! giving each entry an id that is ours and stable across polls. Markup is kept raw:
//! turning HTML into text belongs to the text stage, and choosing the encoding to
//! `decode`.

use std::borrow::Cow;
use std::panic::{AssertUnwindSafe, catch_unwind};

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime,
    Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use feed_rs::model::{Entry, Feed, Link};
use url::Url;

use crate::model::{ParsedEntry, ParsedFeed};

/// What `parse` needs to know about the feed besides its text.
#[derive(Debug, Clone)]
pub struct ParseContext<'a> {
    /// The feed's URL (base for relative links and for derived ids).
    pub feed_url: &'a str,
    /// The feed's configured zone, for offset-less dates and `CST`.
    pub timezone: Option<chrono_tz::Tz>,
    /// The current time (dates far in the future are clamped to it).
    pub now: DateTime<Utc>,
}

/// Why a document could not be read as a feed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is an HTML page, not a feed.
    #[error("not a feed: the body is an HTML page")]
    HtmlPage,
    /// The body is empty.
    #[error("empty body")]
    Empty,
    /// feed-rs rejected it.
    #[error("malformed feed: {0}")]
    Malformed(String),
}

/// Dates further than this past `now` are taken as wrong and clamped to `now`; the slack
/// absorbs clock skew and a feed's own time-zone slips.
const FUTURE_SLACK_HOURS: i64 = 24;

/// How far into the document we look for its declared language.
const HEAD_SCAN_LEN: usize = 16 * 1024;

/// Parses a UTF-8 feed document (RSS 0.9x/1.0/2.0, Atom, JSON Feed).
pub fn parse(text: &str, ctx: &ParseContext<'_>) -> Result<ParsedFeed, ParseError> {
    let doc = text.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if doc.trim_end().is_empty() {
        return Err(ParseError::Empty);
    }
    let is_json = doc.starts_with('{');
    if !is_json && looks_like_html(doc) {
        return Err(ParseError::HtmlPage);
    }

    let head_language = declared_language(doc);
    let rules = DateRules {
        zone: ctx.timezone,
        cst_is_china: head_language.as_deref().is_some_and(is_chinese_language)
            || ctx.timezone.is_some_and(is_chinese_zone),
    };
    // JSON strings may hold a bare `&` legitimately; only XML needs the repair.
    let prepared = if is_json {
        Cow::Borrowed(doc)
    } else {
        escape_bare_ampersands(doc)
    };
    // feed-rs fails the whole document when given a base it cannot parse (a plain path).
    let base = Url::parse(ctx.feed_url)
        .ok()
        .filter(|url| !url.cannot_be_a_base());

    let parser = feed_rs::parser::Builder::new()
        .base_uri(base.as_ref().map(Url::as_str))
        // An empty id marks "the feed gave none"; we derive our own below, from the
        // link or the content, so a re-poll never sees a new random id.
        .id_generator(|_, _, _| String::new())
        .sanitize_content(false)
        .timestamp_parser(move |raw| parse_date(raw, &rules))
        .build();
    // A panic deep in a third-party parser must cost one feed, not the daemon.
    let feed = catch_unwind(AssertUnwindSafe(|| parser.parse(prepared.as_bytes())))
        .map_err(|_| ParseError::Malformed("the feed parser crashed on this document".into()))?
        .map_err(|err| ParseError::Malformed(err.to_string()))?;

    Ok(convert(feed, ctx, base.as_ref(), head_language))
}

fn convert(
    feed: Feed,
    ctx: &ParseContext<'_>,
    base: Option<&Url>,
    head_language: Option<String>,
) -> ParsedFeed {
    let language = feed
        .language
        .map(|lang| lang.trim().to_lowercase())
        .filter(|lang| !lang.is_empty())
        .or(head_language);
    let latest = ctx.now + Duration::hours(FUTURE_SLACK_HOURS);
    let clamp = |date: Option<DateTime<Utc>>| date.map(|d| if d > latest { ctx.now } else { d });
    let entries = feed
        .entries
        .into_iter()
        .map(|entry| convert_entry(entry, base, &clamp))
        .collect();
    ParsedFeed {
        title: feed
            .title
            .map(|t| t.content)
            .filter(|t| !t.trim().is_empty()),
        link: pick_link(&feed.links).map(|href| absolute(href, base)),
        language,
        ttl_minutes: feed.ttl,
        entries,
    }
}

fn convert_entry(
    entry: Entry,
    base: Option<&Url>,
    clamp: &dyn Fn(Option<DateTime<Utc>>) -> Option<DateTime<Utc>>,
) -> ParsedEntry {
    let guid = entry.id.trim();
    // RSS 2.0: a guid is a permalink unless it says otherwise, and feed-rs does not turn
    // it into a link, so an item with only `<guid>https://…</guid>` would lose its link.
    let link = pick_link(&entry.links)
        .map(|href| absolute(href, base))
        .or_else(|| {
            (guid.starts_with("http://") || guid.starts_with("https://")).then(|| guid.to_owned())
        });
    let title = entry.title.map(|t| t.content).unwrap_or_default();
    let html = entry
        .content
        .and_then(|c| c.body)
        .filter(|body| !body.trim().is_empty())
        .or_else(|| {
            entry
                .summary
                .map(|s| s.content)
                .filter(|s| !s.trim().is_empty())
        })
        .or_else(|| {
            // Podcast and video feeds often carry their only text in media:description.
            entry
                .media
                .into_iter()
                .filter_map(|m| m.description)
                .map(|d| d.content)
                .find(|d| !d.trim().is_empty())
        })
        .unwrap_or_default();

    let entry_id = if !guid.is_empty() {
        guid.to_owned()
    } else if let Some(link) = &link {
        format!("link:{}", short_hash(&[canonical_link(link).as_bytes()]))
    } else {
        format!(
            "text:{}",
            short_hash(&[title.trim().as_bytes(), b"\0", html.trim().as_bytes()])
        )
    };

    let updated = clamp(entry.updated);
    // Many Atom feeds give only <updated>; it is the best publication time they offer.
    let published = clamp(entry.published).or(updated);
    let authors = entry
        .authors
        .into_iter()
        .filter_map(|p| p.name.or(p.email))
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect();
    let mut categories: Vec<String> = Vec::with_capacity(entry.categories.len());
    for category in entry.categories {
        // A label is the human-readable name; a term may be a machine key.
        let name = category
            .label
            .filter(|l| !l.trim().is_empty())
            .unwrap_or(category.term);
        let name = name.trim();
        if !name.is_empty() && !categories.iter().any(|c| c == name) {
            categories.push(name.to_owned());
        }
    }

    ParsedEntry {
        entry_id,
        title,
        link,
        published,
        updated,
        authors,
        categories,
        html,
    }
}

/// The alternate (or untyped) link, else the first link that is not about the feed
/// itself or an attachment.
fn pick_link(links: &[Link]) -> Option<&str> {
    let usable = |l: &&Link| !l.href.trim().is_empty();
    links
        .iter()
        .filter(usable)
        .find(|l| {
            l.rel
                .as_deref()
                .is_none_or(|rel| rel.eq_ignore_ascii_case("alternate"))
        })
        .or_else(|| {
            links.iter().filter(usable).find(|l| {
                !l.rel.as_deref().is_some_and(|rel| {
                    ["self", "enclosure", "edit", "hub", "replies"]
                        .iter()
                        .any(|r| rel.eq_ignore_ascii_case(r))
                })
            })
        })
        .map(|l| l.href.trim())
}

/// Resolves `href` against the feed's URL. feed-rs already resolved what it could
/// against `xml:base`, so absolute http(s) links skip the URL parser.
fn absolute(href: &str, base: Option<&Url>) -> String {
    if href.starts_with("https://") || href.starts_with("http://") {
        return href.to_owned();
    }
    match (Url::parse(href), base) {
        (Ok(url), _) => url.into(),
        (Err(url::ParseError::RelativeUrlWithoutBase), Some(base)) => base
            .join(href)
            .map(String::from)
            .unwrap_or_else(|_| href.to_owned()),
        _ => href.to_owned(),
    }
}

/// The link as an identity key: trimmed, with a fragment dropped when it only points
/// into the page (`#comments`, `#more-12`, tracking tags). Other fragments stay: old
/// blogs list every post as `/blog/#005788` on one page, and dropping those would give
/// all their entries one id.
fn canonical_link(link: &str) -> &str {
    let link = link.trim();
    let Some((page, fragment)) = link.split_once('#') else {
        return link;
    };
    let lower = fragment.to_ascii_lowercase();
    let decorative = lower.is_empty()
        || [
            "comments",
            "respond",
            "more",
            "disqus_thread",
            "comment",
            "reply",
        ]
        .contains(&lower.as_str())
        || ["more-", "comment-", "utm_", "xtor=", "at_", "ref="]
            .iter()
            .any(|prefix| lower.starts_with(prefix));
    if decorative { page } else { link }
}

/// blake3 of the parts, the first 16 bytes in hex: collision-free for any real feed.
fn short_hash(parts: &[&[u8]]) -> String {
    let mut hasher = blake3::Hasher::new();
    for part in parts {
        hasher.update(part);
    }
    let hex = hasher.finalize().to_hex();
    hex.as_str().get(..32).unwrap_or(hex.as_str()).to_owned()
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.as_bytes()
        .get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()))
}

/// Whether the first markup after the prolog is an HTML doctype or `<html>`: a site
/// that answers a feed URL with its home page or a login wall.
fn looks_like_html(doc: &str) -> bool {
    let mut rest = doc;
    loop {
        rest = rest.trim_start();
        if rest.starts_with("<?") {
            match rest.find("?>") {
                Some(end) => rest = &rest[end + 2..],
                None => return false,
            }
        } else if rest.starts_with("<!--") {
            match rest.find("-->") {
                Some(end) => rest = &rest[end + 3..],
                None => return false,
            }
        } else if starts_with_ignore_case(rest, "<!doctype") {
            let after = rest.get(9..).unwrap_or_default().trim_start();
            return starts_with_ignore_case(after, "html");
        } else if let Some(tag) = rest.strip_prefix('<') {
            let name_len = tag
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == ':' || c == '-'))
                .unwrap_or(tag.len());
            return tag[..name_len].eq_ignore_ascii_case("html");
        } else {
            return false;
        }
    }
}

/// The language the feed declares before its first entry (`<language>`, `dc:language`,
/// `xml:lang`, JSON Feed `"language"`), lowercased. The date parser needs it before
/// feed-rs has read anything.
fn declared_language(doc: &str) -> Option<String> {
    let mut end = doc.len().min(HEAD_SCAN_LEN);
    while !doc.is_char_boundary(end) {
        end -= 1;
    }
    let mut head = &doc[..end];
    for marker in ["<item", "<entry"] {
        if let Some(pos) = head.find(marker) {
            head = &head[..pos];
        }
    }
    for pattern in ["<language>", "<dc:language>", "xml:lang=", "\"language\""] {
        let Some(pos) = head.find(pattern) else {
            continue;
        };
        let value = head[pos + pattern.len()..]
            .trim_start_matches(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ':'));
        let len = value
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(value.len());
        if len > 0 {
            return Some(value[..len].to_ascii_lowercase());
        }
    }
    None
}

fn is_chinese_language(lang: &str) -> bool {
    starts_with_ignore_case(lang, "zh")
}

fn is_chinese_zone(tz: Tz) -> bool {
    matches!(
        tz,
        Tz::Asia__Shanghai
            | Tz::Asia__Chongqing
            | Tz::Asia__Chungking
            | Tz::Asia__Harbin
            | Tz::Asia__Urumqi
            | Tz::Asia__Taipei
            | Tz::Asia__Hong_Kong
            | Tz::Asia__Macau
            | Tz::Asia__Macao
            | Tz::PRC
            | Tz::ROC
            | Tz::Hongkong
    )
}

/// Replaces every `&` that does not start a well-formed entity or character reference
/// with `&amp;`, outside CDATA sections. feed-rs rejects the whole feed at one `AT&T`.
/// Borrows when there is nothing to repair, which is nearly always.
fn escape_bare_ampersands(doc: &str) -> Cow<'_, str> {
    const CDATA_OPEN: &str = "<![CDATA[";
    let bytes = doc.as_bytes();
    // Nearly every document has only well-formed references; proving that needs no
    // CDATA bookkeeping, which costs a second pass over the whole text.
    let all_references = doc
        .match_indices('&')
        .all(|(amp, _)| is_reference(&bytes[amp + 1..]));
    if all_references {
        return Cow::Borrowed(doc);
    }
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut pos = 0;
    let mut next_cdata = doc.find(CDATA_OPEN);
    while let Some(amp) = doc[pos..].find('&').map(|i| i + pos) {
        if let Some(cdata) = next_cdata.filter(|c| *c < amp) {
            let body = cdata + CDATA_OPEN.len();
            pos = doc[body..].find("]]>").map_or(doc.len(), |i| body + i + 3);
            next_cdata = doc[pos..].find(CDATA_OPEN).map(|i| i + pos);
            continue;
        }
        if !is_reference(&bytes[amp + 1..]) {
            let buf = out.get_or_insert_with(|| String::with_capacity(doc.len() + 64));
            buf.push_str(&doc[copied..amp]);
            buf.push_str("&amp;");
            copied = amp + 1;
        }
        pos = amp + 1;
    }
    match out {
        Some(mut buf) => {
            buf.push_str(&doc[copied..]);
            Cow::Owned(buf)
        }
        None => Cow::Borrowed(doc),
    }
}

/// Whether the bytes after an `&` form `name;`, `#digits;` or `#xhex;` naming a character
/// XML allows. Unknown names such as `&nbsp;` count: feed-rs keeps them literally, and
/// the text stage decodes them as HTML.
fn is_reference(after: &[u8]) -> bool {
    const MAX_LEN: usize = 32;
    let window = &after[..after.len().min(MAX_LEN + 2)];
    let Some(semi) = window.iter().position(|b| *b == b';') else {
        return false;
    };
    let body = &window[..semi];
    match body {
        [b'#', b'x' | b'X', hex @ ..] if !hex.is_empty() => {
            hex.iter().all(u8::is_ascii_hexdigit)
                && std::str::from_utf8(hex)
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .is_some_and(is_xml_char)
        }
        [b'#', dec @ ..] if !dec.is_empty() => {
            dec.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(dec)
                    .ok()
                    .and_then(|d| d.parse::<u32>().ok())
                    .is_some_and(is_xml_char)
        }
        [first, rest @ ..] => {
            (first.is_ascii_alphabetic() || *first == b'_')
                && rest
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        }
        [] => false,
    }
}

/// XML 1.0 `Char` production; quick-xml refuses references to anything else.
fn is_xml_char(code: u32) -> bool {
    matches!(code, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x1_0000..=0x10_FFFF)
}

/// How to read dates that carry no usable offset.
#[derive(Debug, Clone, Copy)]
struct DateRules {
    /// Zone for dates without an offset; UTC when unset.
    zone: Option<Tz>,
    /// `CST` is China Standard Time (+08:00) rather than US Central (-06:00).
    cst_is_china: bool,
}

/// Reads a feed timestamp: RFC 3339 and RFC 2822 via chrono, then a lenient reader for
/// what real feeds write (`2025-06-10 04:00:00`, `2025/06/10 04:00`, `GMT+8`,
/// `2025年06月10日 04时00分`, named zones, missing seconds, day names).
fn parse_date(raw: &str, rules: &DateRules) -> Option<DateTime<Utc>> {
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(date) = DateTime::parse_from_rfc3339(text) {
        return Some(date.to_utc());
    }
    // chrono reads `CST` as US Central; the lenient reader knows better.
    let mentions_cst = text
        .as_bytes()
        .windows(3)
        .any(|w| w.eq_ignore_ascii_case(b"cst"));
    if !mentions_cst {
        if let Ok(date) = DateTime::parse_from_rfc2822(text) {
            return Some(date.to_utc());
        }
    }
    parse_date_lenient(text, rules)
}

/// A cursor over a date string; advances by whole chars only.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        self.text.get(self.pos..).unwrap_or_default()
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, wanted: &[char]) -> bool {
        match self.peek() {
            Some(c) if wanted.contains(&c) => {
                self.pos += c.len_utf8();
                true
            }
            _ => false,
        }
    }

    fn eat_str(&mut self, wanted: &str) -> bool {
        if self.rest().starts_with(wanted) {
            self.pos += wanted.len();
            true
        } else {
            false
        }
    }

    fn skip_blanks(&mut self) {
        let rest = self.rest();
        let trimmed = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
        self.pos += rest.len() - trimmed.len();
    }

    /// Up to nine ASCII digits: their value and how many there were.
    fn number(&mut self) -> Option<(u32, usize)> {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if len == 0 || len > 9 {
            return None;
        }
        self.pos += len;
        rest[..len].parse().ok().map(|n| (n, len))
    }

    fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }
}

fn month_from_name(word: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let prefix = word.get(..3)?;
    MONTHS
        .iter()
        .position(|m| prefix.eq_ignore_ascii_case(m))
        .and_then(|i| u32::try_from(i + 1).ok())
}

fn is_day_name(word: &str) -> bool {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    word.get(..3)
        .is_some_and(|prefix| DAYS.iter().any(|d| prefix.eq_ignore_ascii_case(d)))
}

fn full_year(year: u32, digits: usize) -> u32 {
    // RFC 822 two-digit years.
    match (digits, year) {
        (2, 0..=69) => 2000 + year,
        (2, _) => 1900 + year,
        _ => year,
    }
}

/// Where a parsed time lies: a fixed offset, or "whatever the feed's zone says".
enum Zone {
    Fixed(FixedOffset),
    Local,
}

fn parse_date_lenient(text: &str, rules: &DateRules) -> Option<DateTime<Utc>> {
    let mut cur = Cursor { text, pos: 0 };
    cur.skip_blanks();
    skip_chinese_day_name(&mut cur);

    let (year, month, day);
    if cur.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
        let word = cur.word();
        if is_day_name(word) {
            cur.skip_blanks();
            let (y, m, d) = day_month_year(&mut cur)?;
            (year, month, day) = (y, m, d);
        } else {
            // US style: `June 10, 2025 04:00 PM`.
            month = month_from_name(word)?;
            cur.skip_blanks();
            day = cur.number()?.0;
            cur.skip_blanks();
            let (y, digits) = cur.number()?;
            year = full_year(y, digits);
        }
    } else {
        let start = cur.pos;
        let (first, digits) = cur.number()?;
        if digits == 4 {
            year = first;
            if !cur.eat(&['-', '/', '.', '年']) {
                return None;
            }
            month = cur.number()?.0;
            if !cur.eat(&['-', '/', '.', '月']) {
                return None;
            }
            day = cur.number()?.0;
            cur.eat(&['日', '号', '號']);
        } else {
            cur.pos = start;
            (year, month, day) = day_month_year(&mut cur)?;
        }
    }

    cur.skip_blanks();
    skip_chinese_day_name(&mut cur);
    cur.eat(&['T', 't']);
    cur.skip_blanks();

    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
    if cur.peek().is_some_and(|c| c.is_ascii_digit()) {
        hour = cur.number()?.0;
        if !cur.eat(&[':', '时', '時', '点', '點']) {
            return None;
        }
        if cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            minute = cur.number()?.0;
        }
        let after_minutes = cur.eat(&[':', '分']);
        if after_minutes && cur.peek().is_some_and(|c| c.is_ascii_digit()) {
            second = cur.number()?.0;
            cur.eat(&['秒']);
            if cur.eat(&['.', ',']) {
                let rest = cur.rest();
                let len = rest
                    .find(|c: char| !c.is_ascii_digit())
                    .unwrap_or(rest.len());
                let frac = &rest[..len];
                cur.pos += len;
                // Nanoseconds: the first nine digits, right-padded.
                let mut value = 0u32;
                for i in 0..9 {
                    let digit = frac.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
                    value = value * 10 + digit;
                }
                nanos = value;
            }
        }
        cur.skip_blanks();
        let save = cur.pos;
        let meridiem = cur.word();
        if meridiem.eq_ignore_ascii_case("pm") && hour < 12 {
            hour += 12;
        } else if meridiem.eq_ignore_ascii_case("am") && hour == 12 {
            hour = 0;
        } else if !meridiem.eq_ignore_ascii_case("am") && !meridiem.eq_ignore_ascii_case("pm") {
            cur.pos = save;
        }
    }

    cur.skip_blanks();
    let zone = parse_zone(&mut cur, rules)?;

    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    // `24:00` is midnight at the end of the day; a leap second reads as :59.
    let (date, hour) = if hour == 24 && minute == 0 && second == 0 {
        (date.succ_opt()?, 0)
    } else {
        (date, hour)
    };
    let time = NaiveTime::from_hms_nano_opt(hour, minute, second.min(59), nanos)?;
    let naive = NaiveDateTime::new(date, time);
    let utc = match zone {
        Zone::Fixed(offset) => offset.from_local_datetime(&naive).single()?.to_utc(),
        Zone::Local => match rules.zone {
            Some(tz) => match tz.from_local_datetime(&naive) {
                LocalResult::Single(d) => d.to_utc(),
                LocalResult::Ambiguous(earliest, _) => earliest.to_utc(),
                // In a DST gap: use the offset in force just after it.
                LocalResult::None => {
                    let offset = tz.offset_from_utc_datetime(&naive).fix();
                    offset.from_local_datetime(&naive).single()?.to_utc()
                }
            },
            None => naive.and_utc(),
        },
    };
    // Year 0 or 60000 is a typo, not a date.
    (1970..=9999).contains(&utc.year()).then_some(utc)
}

/// `10 Jun 2025`, `10-Jun-2025`, `10 June 25`.
fn day_month_year(cur: &mut Cursor<'_>) -> Option<(u32, u32, u32)> {
    let (day, digits) = cur.number()?;
    if digits > 2 {
        return None;
    }
    cur.skip_blanks();
    cur.eat(&['-']);
    let month = month_from_name(cur.word())?;
    cur.eat(&['-', '.']);
    cur.skip_blanks();
    let (year, digits) = cur.number()?;
    Some((full_year(year, digits), month, day))
}

fn skip_chinese_day_name(cur: &mut Cursor<'_>) {
    // 星期二, 礼拜二, 周二: the day name is redundant with the date.
    if cur.eat_str("星期") || cur.eat_str("礼拜") || cur.eat_str("禮拜") || cur.eat(&['周', '週'])
    {
        cur.eat(&['一', '二', '三', '四', '五', '六', '日', '天']);
        cur.skip_blanks();
    }
}

fn parse_zone(cur: &mut Cursor<'_>, rules: &DateRules) -> Option<Zone> {
    let hours = |h: i32| FixedOffset::east_opt(h * 3600).map(Zone::Fixed);
    match cur.peek() {
        None | Some('(') => Some(Zone::Local),
        Some(sign @ ('+' | '-')) => {
            cur.pos += 1;
            numeric_offset(cur, sign)
        }
        Some(c) if c.is_ascii_alphabetic() => {
            let word = cur.word().to_ascii_uppercase();
            match word.as_str() {
                "Z" | "GMT" | "UTC" | "UT" => match cur.peek() {
                    Some(sign @ ('+' | '-')) => {
                        cur.pos += 1;
                        numeric_offset(cur, sign)
                    }
                    _ => hours(0),
                },
                "CST" if rules.cst_is_china => hours(8),
                "CST" => hours(-6),
                "EST" => hours(-5),
                "EDT" | "CDT" => hours(if word == "EDT" { -4 } else { -5 }),
                "MST" => hours(-7),
                "MDT" => hours(-6),
                "PST" => hours(-8),
                "PDT" => hours(-7),
                "BST" | "CET" | "WAT" => hours(1),
                "CEST" | "EET" | "SAST" => hours(2),
                "EEST" | "MSK" => hours(3),
                "HKT" | "SGT" | "AWST" | "PHT" => hours(8),
                "JST" | "KST" => hours(9),
                "AEST" => hours(10),
                "AEDT" => hours(11),
                // An unknown name: the feed's zone is a better guess than no date.
                _ => Some(Zone::Local),
            }
        }
        Some(_) if cur.eat_str("北京时间") || cur.eat_str("北京時間") => hours(8),
        Some(_) => Some(Zone::Local),
    }
}

/// `+8`, `+08`, `+08:00`, `+0800`, `-530`, after the sign.
fn numeric_offset(cur: &mut Cursor<'_>, sign: char) -> Option<Zone> {
    let (value, digits) = cur.number()?;
    let (hours, minutes) = match digits {
        1 | 2 => {
            let minutes = if cur.eat(&[':']) { cur.number()?.0 } else { 0 };
            (value, minutes)
        }
        3 | 4 => (value / 100, value % 100),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = i32::try_from(hours * 3600 + minutes * 60).ok()?;
    let seconds = if sign == '-' { -seconds } else { seconds };
    FixedOffset::east_opt(seconds).map(Zone::Fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    fn fixture(name: &str) -> String {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/parse")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn ctx(feed_url: &str) -> ParseContext<'_> {
        ParseContext {
            feed_url,
            timezone: None,
            now: utc("2025-07-01T00:00:00Z"),
        }
    }

    fn parse_fixture(name: &str, feed_url: &str) -> ParsedFeed {
        parse(&fixture(name), &ctx(feed_url)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    #[test]
    fn rss2_channel_and_entries() {
        let feed = parse_fixture("rss2.xml", "https://news.example.cn/rss.xml");
        assert_eq!(feed.title.as_deref(), Some("国际新闻 - 示例频道"));
        assert_eq!(feed.link.as_deref(), Some("https://news.example.cn/world/"));
        assert_eq!(feed.language.as_deref(), Some("zh-cn"));
        assert_eq!(feed.ttl_minutes, Some(30));
        assert_eq!(feed.entries.len(), 3);

        let first = &feed.entries[0];
        assert_eq!(first.entry_id, "news-2025-0610-001");
        assert_eq!(first.title, "美俄关系出现新变化");
        assert_eq!(first.authors, ["新华社记者 张三"]);
        assert_eq!(first.categories, ["国际", "外交"]);
        // content:encoded wins over the description summary, markup kept raw.
        assert!(
            first.html.starts_with("<p>全文：美俄两国外长<b>通话</b>"),
            "{}",
            first.html
        );
        assert!(first.html.contains("<script>"));
        // CST in a zh-CN feed is China Standard Time.
        assert_eq!(first.published, Some(utc("2025-06-10T04:00:00Z")));
    }

    #[test]
    fn rss2_relative_link_and_derived_ids() {
        let feed = parse_fixture("rss2.xml", "https://news.example.cn/rss.xml");
        let second = &feed.entries[1];
        assert_eq!(
            second.link.as_deref(),
            Some("https://news.example.cn/world/2025/06/10/2.html#comments")
        );
        // Link-derived id ignores a decorative fragment.
        let canonical = "https://news.example.cn/world/2025/06/10/2.html";
        assert_eq!(
            second.entry_id,
            format!("link:{}", short_hash(&[canonical.as_bytes()]))
        );
        assert_eq!(second.html, "<p>会晤地点尚未公布。</p>");
        // Offset-less date, no configured zone: UTC.
        assert_eq!(second.published, Some(utc("2025-06-10T08:30:00Z")));

        let third = &feed.entries[2];
        assert!(third.link.is_none());
        assert!(third.entry_id.starts_with("text:"), "{}", third.entry_id);
        assert_ne!(third.entry_id, second.entry_id);
    }

    #[test]
    fn ids_are_stable_across_polls() {
        let a = parse_fixture("rss2.xml", "https://news.example.cn/rss.xml");
        let b = parse_fixture("rss2.xml", "https://news.example.cn/rss.xml");
        let ids = |f: &ParsedFeed| {
            f.entries
                .iter()
                .map(|e| e.entry_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_eq!(a, b);
    }

    #[test]
    fn offset_less_dates_use_the_feed_zone() {
        let mut context = ctx("https://news.example.cn/rss.xml");
        context.timezone = Some(Tz::Asia__Shanghai);
        let feed = parse(&fixture("rss2.xml"), &context).unwrap();
        assert_eq!(feed.entries[1].published, Some(utc("2025-06-10T00:30:00Z")));
    }

    #[test]
    fn cst_depends_on_language_and_zone() {
        let feed = parse_fixture("rss2-cst-en.xml", "https://midwest.example.com/rss");
        assert_eq!(feed.language.as_deref(), Some("en-us"));
        assert_eq!(feed.entries[0].published, Some(utc("2025-06-10T18:00:00Z")));

        let mut context = ctx("https://midwest.example.com/rss");
        context.timezone = Some(Tz::Asia__Taipei);
        let feed = parse(&fixture("rss2-cst-en.xml"), &context).unwrap();
        assert_eq!(feed.entries[0].published, Some(utc("2025-06-10T04:00:00Z")));
    }

    #[test]
    fn rss1_rdf() {
        let feed = parse_fixture("rss1.rdf", "https://blog.example.tw/index.rdf");
        assert_eq!(feed.title.as_deref(), Some("臺灣部落格"));
        assert_eq!(feed.language.as_deref(), Some("zh-tw"));
        let entry = &feed.entries[0];
        assert_eq!(entry.title, "美俄關係的新發展");
        assert_eq!(
            entry.link.as_deref(),
            Some("https://blog.example.tw/posts/1")
        );
        assert_eq!(entry.html, "繁體中文的摘要。");
        assert_eq!(entry.published, Some(utc("2025-06-09T20:00:00Z")));
        assert!(entry.entry_id.starts_with("link:"), "{}", entry.entry_id);
    }

    #[test]
    fn rss091() {
        let feed = parse_fixture("rss091.xml", "http://wire.example.com/rss");
        assert_eq!(feed.title.as_deref(), Some("Old School Wire"));
        assert_eq!(feed.entries.len(), 1);
        let entry = &feed.entries[0];
        assert_eq!(entry.title, "Markets close higher");
        assert_eq!(
            entry.link.as_deref(),
            Some("http://wire.example.com/stories/42")
        );
        assert_eq!(entry.html, "Stocks rose on Tuesday.");
    }

    #[test]
    fn atom() {
        let feed = parse_fixture("atom.xml", "https://atom.example.org/blog/atom.xml");
        assert_eq!(feed.title.as_deref(), Some("原子博客"));
        assert_eq!(feed.link.as_deref(), Some("https://atom.example.org/blog/"));
        assert_eq!(feed.language.as_deref(), Some("zh-cn"));
        let first = &feed.entries[0];
        assert_eq!(first.entry_id, "tag:atom.example.org,2025:/blog/1");
        assert_eq!(first.title, "三方会晤 &lt;纪要&gt;");
        // rel=alternate beats rel=edit; xml:base resolves the relative href.
        assert_eq!(
            first.link.as_deref(),
            Some("https://atom.example.org/blog/posts/1.html")
        );
        assert_eq!(first.html, "<p>会晤纪要全文</p>");
        assert_eq!(first.authors, ["李四"]);
        assert_eq!(first.categories, ["外交", "world"]);
        assert_eq!(first.published, Some(utc("2025-06-09T02:00:00Z")));
        assert_eq!(first.updated, Some(utc("2025-06-10T01:00:00Z")));
        // Only <updated>: it stands in for the publication time.
        let second = &feed.entries[1];
        assert_eq!(second.published, Some(utc("2025-06-08T00:00:00Z")));
        assert_eq!(second.html, "<p>摘要二</p>");
    }

    #[test]
    fn json_feed() {
        let feed = parse_fixture("jsonfeed.json", "https://json.example.com/feed.json");
        assert_eq!(feed.title.as_deref(), Some("JSON 新闻"));
        assert_eq!(feed.language.as_deref(), Some("zh-hans"));
        let first = &feed.entries[0];
        assert_eq!(first.entry_id, "item-1");
        // A bare `&` is fine in JSON and must not be "repaired".
        assert_eq!(first.title, "美俄关系 & 三方会晤");
        assert_eq!(first.html, "<p>正文 &amp; 细节</p>");
        assert_eq!(first.published, Some(utc("2025-06-09T20:00:00Z")));
        assert_eq!(first.authors, ["赵六"]);
        assert_eq!(first.categories, ["国际", "外交"]);
        let second = &feed.entries[1];
        assert_eq!(second.link.as_deref(), Some("https://json.example.com/a/2"));
        assert_eq!(second.html, "纯文本内容");
    }

    #[test]
    fn bare_ampersands_and_nbsp() {
        let feed = parse_fixture("bare-ampersand.xml", "https://amp.example.com/rss");
        assert_eq!(feed.title.as_deref(), Some("AT&T News & Views"));
        assert_eq!(
            feed.link.as_deref(),
            Some("https://amp.example.com/?a=1&b=2")
        );
        let entry = &feed.entries[0];
        // `&nbsp;` is passed on for the text stage to decode as HTML.
        assert_eq!(entry.title, "AT&T and T-Mobile: a & b&nbsp;together");
        assert_eq!(
            entry.link.as_deref(),
            Some("https://amp.example.com/story?id=1&lang=zh")
        );
        assert_eq!(entry.html, "Price&nbsp;cut & more 中文 <i>R&D</i>");
    }

    #[test]
    fn path_feed_url_is_no_base() {
        let feed = parse_fixture("rss2.xml", "feeds/news.xml");
        assert_eq!(
            feed.entries[1].link.as_deref(),
            Some("/world/2025/06/10/2.html#comments")
        );
    }

    #[test]
    fn future_dates_are_clamped() {
        let doc = "<rss version=\"2.0\"><channel><item><guid>1</guid>\
                   <pubDate>2031-01-01T00:00:00Z</pubDate></item></channel></rss>";
        let context = ctx("https://x.example/");
        let feed = parse(doc, &context).unwrap();
        assert_eq!(feed.entries[0].published, Some(context.now));
    }

    #[test]
    fn documents_that_are_not_feeds() {
        let url = "https://x.example/feed";
        assert!(matches!(parse("", &ctx(url)), Err(ParseError::Empty)));
        assert!(matches!(
            parse(" \r\n\t ", &ctx(url)),
            Err(ParseError::Empty)
        ));
        assert!(matches!(
            parse(&fixture("html-page.html"), &ctx(url)),
            Err(ParseError::HtmlPage)
        ));
        match parse(&fixture("malformed.xml"), &ctx(url)) {
            Err(ParseError::Malformed(msg)) => assert!(!msg.is_empty()),
            other => panic!("malformed.xml: {other:?}"),
        }
        match parse("just some words", &ctx(url)) {
            Err(ParseError::Malformed(msg)) => assert!(msg.contains("root"), "{msg}"),
            other => panic!("plain text: {other:?}"),
        }
    }

    #[test]
    fn truncated_document() {
        // A body cut off mid-transfer is reported, not half-read: the next poll retries.
        let result = parse(
            &fixture("truncated.xml"),
            &ctx("https://news.example.cn/rss.xml"),
        );
        match result {
            Err(ParseError::Malformed(msg)) => assert!(msg.contains("end of input"), "{msg}"),
            other => panic!("truncated.xml: {other:?}"),
        }
    }

    #[test]
    fn date_table() {
        let plain = DateRules {
            zone: None,
            cst_is_china: false,
        };
        let china = DateRules {
            zone: Some(Tz::Asia__Shanghai),
            cst_is_china: true,
        };
        let new_york = DateRules {
            zone: Some(Tz::America__New_York),
            cst_is_china: false,
        };
        let cases: &[(&str, &str, DateRules, Option<&str>)] = &[
            (
                "rfc3339",
                "2025-06-10T04:00:00+08:00",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "rfc3339 Z with fraction",
                "2025-06-10T04:00:00.123Z",
                plain,
                Some("2025-06-10T04:00:00.123Z"),
            ),
            (
                "rfc3339 offset without colon",
                "2025-06-10T04:00:00+0800",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "rfc2822",
                "Tue, 10 Jun 2025 04:00:00 +0800",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "rfc2822 GMT",
                "Tue, 10 Jun 2025 04:00:00 GMT",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "missing seconds",
                "Tue, 10 Jun 2025 04:00 +0000",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "single-digit day",
                "Tue, 3 Jun 2025 04:00:00 GMT",
                plain,
                Some("2025-06-03T04:00:00Z"),
            ),
            (
                "long day and month names",
                "Tuesday, 10 June 2025 04:00:00 GMT",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "no day name",
                "10 Jun 2025 04:00:00 UTC",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "wrong day name",
                "Wed, 10 Jun 2025 04:00:00 GMT",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "Z zone",
                "10 Jun 2025 04:00:00 Z",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "EST",
                "Tue, 10 Jun 2025 04:00:00 EST",
                plain,
                Some("2025-06-10T09:00:00Z"),
            ),
            (
                "EDT",
                "Tue, 10 Jun 2025 04:00:00 EDT",
                plain,
                Some("2025-06-10T08:00:00Z"),
            ),
            (
                "PST",
                "Tue, 10 Jun 2025 04:00:00 PST",
                plain,
                Some("2025-06-10T12:00:00Z"),
            ),
            (
                "CST elsewhere is US Central",
                "Tue, 10 Jun 2025 04:00:00 CST",
                plain,
                Some("2025-06-10T10:00:00Z"),
            ),
            (
                "lowercase cst in China",
                "Tue, 10 Jun 2025 04:00:00 cst",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "CST in China",
                "Tue, 10 Jun 2025 04:00:00 CST",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "GMT+8",
                "Tue, 10 Jun 2025 04:00:00 GMT+8",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "GMT+0800",
                "Tue, 10 Jun 2025 04:00:00 GMT+0800",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "UTC+8",
                "2025-06-10 04:00:00 UTC+8",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "UTC-05:30",
                "2025-06-10 04:00:00 UTC-05:30",
                plain,
                Some("2025-06-10T09:30:00Z"),
            ),
            (
                "space-separated, no offset, no zone",
                "2025-06-10 04:00:00",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "space-separated, feed zone",
                "2025-06-10 04:00:00",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "T without offset, feed zone",
                "2025-06-10T04:00:00",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "slashes, no seconds",
                "2025/06/10 04:00",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "slashes, single digits",
                "2025/6/1 4:05",
                plain,
                Some("2025-06-01T04:05:00Z"),
            ),
            (
                "date only",
                "2025-06-10",
                plain,
                Some("2025-06-10T00:00:00Z"),
            ),
            (
                "Chinese date and time",
                "2025年06月10日 04:00",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "Chinese 时分秒",
                "2025年6月10日 4时05分06秒",
                china,
                Some("2025-06-09T20:05:06Z"),
            ),
            (
                "Chinese with weekday",
                "2025年06月10日 星期二 04:00",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "Beijing time label",
                "2025-06-10 04:00 北京时间",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "explicit offset beats feed zone",
                "2025-06-10 04:00:00 +0000",
                china,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "offset without colon after space",
                "2025-06-10 04:00:00 +08:00",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "US month-first",
                "Jun 10, 2025 4:00 PM EST",
                plain,
                Some("2025-06-10T21:00:00Z"),
            ),
            (
                "12 AM",
                "Jun 10, 2025 12:30 AM GMT",
                plain,
                Some("2025-06-10T00:30:00Z"),
            ),
            (
                "two-digit year",
                "Tue, 10 Jun 25 04:00:00 GMT",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "hyphenated RFC 850",
                "10-Jun-2025 04:00:00 GMT",
                plain,
                Some("2025-06-10T04:00:00Z"),
            ),
            (
                "24:00",
                "2025-06-10 24:00:00",
                plain,
                Some("2025-06-11T00:00:00Z"),
            ),
            (
                "comment after offset",
                "Tue, 10 Jun 2025 04:00:00 +0800 (CST)",
                plain,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "unknown zone uses feed zone",
                "2025-06-10 04:00:00 XYZT",
                china,
                Some("2025-06-09T20:00:00Z"),
            ),
            (
                "DST in feed zone",
                "2025-07-01 12:00",
                new_york,
                Some("2025-07-01T16:00:00Z"),
            ),
            (
                "DST gap",
                "2025-03-09 02:30",
                new_york,
                Some("2025-03-09T07:30:00Z"),
            ),
            ("empty", "  ", plain, None),
            ("garbage", "soon", plain, None),
            ("month 13", "2025-13-10 04:00", plain, None),
            ("February 30", "30 Feb 2025 04:00:00 GMT", plain, None),
            ("offset out of range", "2025-06-10 04:00 +2500", plain, None),
            ("year 0", "0000-06-10", plain, None),
            ("non-ASCII junk", "二〇二五年", plain, None),
        ];
        for (name, input, rules, want) in cases {
            let got = parse_date(input, rules);
            assert_eq!(got, want.map(utc), "{name}: {input:?}");
        }
    }

    #[test]
    fn ampersand_repair() {
        let cases = [
            (
                "nothing to repair",
                "<t>AT&amp;T &#38; &#x26; &nbsp;</t>",
                "<t>AT&amp;T &#38; &#x26; &nbsp;</t>",
            ),
            ("bare", "<t>AT&T</t>", "<t>AT&amp;T</t>"),
            ("spaced", "<t>a & b</t>", "<t>a &amp; b</t>"),
            ("at the end", "<t>a&", "<t>a&amp;"),
            ("query string", "<l>?a=1&b=2</l>", "<l>?a=1&amp;b=2</l>"),
            (
                "bad char ref",
                "<t>&#0; &#xD800; &#x;</t>",
                "<t>&amp;#0; &amp;#xD800; &amp;#x;</t>",
            ),
            (
                "inside CDATA untouched",
                "<t><![CDATA[a & b]]> & c</t>",
                "<t><![CDATA[a & b]]> &amp; c</t>",
            ),
            (
                "unterminated CDATA",
                "<t><![CDATA[a & b",
                "<t><![CDATA[a & b",
            ),
            ("CJK around", "<t>美&俄</t>", "<t>美&amp;俄</t>"),
        ];
        for (name, input, want) in cases {
            let got = escape_bare_ampersands(input);
            assert_eq!(got, want, "{name}");
        }
        for untouched in ["<a>no ampersand</a>", "<t><![CDATA[a & b]]> &amp;</t>"] {
            assert!(
                matches!(escape_bare_ampersands(untouched), Cow::Borrowed(_)),
                "{untouched}"
            );
        }
    }

    #[test]
    fn canonical_links() {
        let cases = [
            ("plain", " https://a.example/p/1 ", "https://a.example/p/1"),
            (
                "comments anchor",
                "https://a.example/p/1#comments",
                "https://a.example/p/1",
            ),
            (
                "more anchor",
                "https://a.example/p/1#more-1234",
                "https://a.example/p/1",
            ),
            (
                "tracking",
                "https://a.example/p/1#xtor=RSS-1",
                "https://a.example/p/1",
            ),
            (
                "empty fragment",
                "https://a.example/p/1#",
                "https://a.example/p/1",
            ),
            (
                "post anchor kept",
                "https://a.example/blog/#005788",
                "https://a.example/blog/#005788",
            ),
        ];
        for (name, input, want) in cases {
            assert_eq!(canonical_link(input), want, "{name}");
        }
    }

    #[test]
    fn html_detection() {
        let cases = [
            (
                "doctype",
                "<!DOCTYPE html><html><body>x</body></html>",
                true,
            ),
            ("lowercase doctype", "<!doctype HTML>", true),
            ("bare html", "<html lang=\"zh\"><head>", true),
            (
                "xhtml",
                "<?xml version=\"1.0\"?>\n<!-- x -->\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0//EN\"><html>",
                true,
            ),
            (
                "rss 0.91 doctype",
                "<?xml version=\"1.0\"?><!DOCTYPE rss SYSTEM \"rss-0.91.dtd\"><rss>",
                false,
            ),
            ("rss", "<rss version=\"2.0\">", false),
            ("htmlish name", "<htmlfeed>", false),
        ];
        for (name, input, want) in cases {
            assert_eq!(looks_like_html(input), want, "{name}");
        }
    }

    #[test]
    fn language_scan() {
        let cases = [
            (
                "rss",
                "<rss><channel><language>zh-CN</language><item>",
                Some("zh-cn"),
            ),
            (
                "dc",
                "<rdf:RDF><channel><dc:language>zh</dc:language>",
                Some("zh"),
            ),
            (
                "atom",
                "<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"zh-TW\">",
                Some("zh-tw"),
            ),
            (
                "json",
                "{\"version\": \"x\", \"language\": \"zh-Hans\"}",
                Some("zh-hans"),
            ),
            (
                "item-level only",
                "<rss><channel><item><language>zh</language>",
                None,
            ),
            ("none", "<rss><channel><title>x</title>", None),
        ];
        for (name, input, want) in cases {
            assert_eq!(declared_language(input).as_deref(), want, "{name}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Any cut or splice of a real fixture gives a feed or an error, never a panic.
        #[test]
        fn damaged_documents_never_panic(cut in 0usize..4000, junk in "[<>&;#\\]\\[!?/a-z\u{4e2d} ]{0,12}") {
            let doc = fixture("rss2.xml");
            let mut at = cut.min(doc.len());
            while !doc.is_char_boundary(at) {
                at -= 1;
            }
            let damaged = format!("{}{junk}{}", &doc[..at], &doc[at..]);
            let _ = parse(&damaged, &ctx("https://x.example/"));
            let _ = parse(&doc[..at], &ctx("not a url"));
        }

        #[test]
        fn arbitrary_dates_never_panic(text in "\\PC{0,40}") {
            let rules = DateRules { zone: Some(Tz::Asia__Shanghai), cst_is_china: true };
            let _ = parse_date(&text, &rules);
        }
    }
}
