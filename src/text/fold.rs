//! The folded form of text: the key that watchlist terms, search and hashing compare.
//!
//! Folding removes the differences a reader does not see or does not care about:
//! zero-width characters and soft hyphens vanish, NFKC turns full-width `Ｇ７` into `G7`,
//! letters are lowercased, and Traditional Chinese becomes Simplified (OpenCC tables via
//! zhconv, never the GPL MediaWiki ones). [`fold_with_map`] also keeps a map from the folded
//! text back to the original, so a match can be reported as the user wrote it.
//!
//! This module owns only folding. Turning HTML into plain text (entities, markup) is the job
//! of the parent `text` module and must happen first; matching is the job of `watch`.
//!
//! Speed matters here: ingest folds every title and body. Han ideographs and ASCII, almost
//! all of a Chinese news story, are copied in runs without any table lookup; only the rare
//! characters that normalization can change are normalized, one small unit at a time.

use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::automaton::Automaton;
use aho_corasick::{Anchored, MatchKind, StartKind, dfa};
use unicode_normalization::char::{canonical_combining_class, decompose_compatible};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

/// Version of the folding rules. Bump it whenever [`fold`] can give a different result for
/// some input, so that keys derived from folded text (tags, search columns) get rebuilt.
pub const FOLD_VERSION: u32 = 1;

/// NFKC, lowercase, Traditional→Simplified, zero-width and soft hyphens removed.
///
/// Idempotent: `fold(&fold(s)) == fold(s)`.
pub fn fold(s: &str) -> String {
    fold_with_map(s).text
}

/// Folded text together with the way back to the text it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Folded {
    /// The folded text.
    pub text: String,
    segs: Vec<Seg>,
    source_len: usize,
}

/// One stretch of folded text and where it came from. A linear stretch has the same byte
/// length as its source, character by character, so offsets inside it carry over; an atomic
/// stretch (a normalized unit, a conversion that changed byte lengths) maps as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seg {
    folded: usize,
    source: usize,
    atomic_end: Option<usize>,
}

impl Folded {
    /// The byte range of the original text that folded into `folded` (a range of
    /// [`Folded::text`] on character boundaries). The result lies on character boundaries of
    /// the original and covers at least the characters that produced the range.
    pub fn source_range(&self, folded: Range<usize>) -> Range<usize> {
        if folded.start >= folded.end || self.segs.is_empty() {
            let at = self.source_start(folded.start);
            return at..at;
        }
        let start = self.source_start(folded.start);
        let end = self.source_end(folded.end).max(start);
        start..end
    }

    fn source_start(&self, p: usize) -> usize {
        if p >= self.text.len() {
            return self.source_len;
        }
        let i = self
            .segs
            .partition_point(|s| s.folded <= p)
            .saturating_sub(1);
        match self.segs.get(i) {
            Some(Seg {
                folded,
                source,
                atomic_end: None,
            }) => source + (p - folded),
            Some(seg) => seg.source,
            None => 0,
        }
    }

    fn source_end(&self, q: usize) -> usize {
        if q == 0 {
            return self.source_start(0);
        }
        let i = self
            .segs
            .partition_point(|s| s.folded < q)
            .saturating_sub(1);
        match self.segs.get(i) {
            Some(Seg {
                folded,
                source,
                atomic_end: None,
            }) => (source + (q - folded)).min(self.source_len),
            Some(Seg {
                atomic_end: Some(end),
                ..
            }) => *end,
            None => self.source_len,
        }
    }
}

/// Folds `s` and keeps the map back to it; see [`Folded::source_range`].
pub fn fold_with_map(s: &str) -> Folded {
    let first = normalize_stage(s);
    let Some(hans) = HANS.as_ref() else {
        return first;
    };
    convert_stage(first, hans)
}

fn is_zero_width(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
    )
}

/// How a character takes part in normalization.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    /// Folds to itself (ASCII aside, which is lowercased in place) and starts a new unit.
    Same,
    /// Starts a new unit that needs normalizing.
    Starts,
    /// Belongs to the unit of the character before it: combining marks, characters that
    /// compose with what precedes them, and zero-width characters (they are removed before
    /// composing, so what surrounds them may compose).
    Attaches,
}

fn nfkc_qc(c: char) -> IsNormalized {
    is_nfkc_quick(std::iter::once(c))
}

fn lowercase_is_identity(c: char) -> bool {
    let mut lower = c.to_lowercase();
    lower.next() == Some(c) && lower.next().is_none()
}

/// Classes of the whole BMP, computed once: classifying a character takes several table
/// searches, and Chinese text is full of punctuation and quotes outside the fast ranges.
static BMP_CLASSES: LazyLock<Vec<Class>> = LazyLock::new(|| {
    (0..=0xFFFF_u32)
        .map(|u| char::from_u32(u).map_or(Class::Same, classify_uncached))
        .collect()
});

fn classify(c: char) -> Class {
    BMP_CLASSES
        .get(c as usize)
        .copied()
        .unwrap_or_else(|| classify_uncached(c))
}

fn classify_uncached(c: char) -> Class {
    if is_zero_width(c) || canonical_combining_class(c) != 0 {
        return Class::Attaches;
    }
    match nfkc_qc(c) {
        IsNormalized::Yes if lowercase_is_identity(c) => Class::Same,
        IsNormalized::Yes => Class::Starts,
        IsNormalized::Maybe => Class::Attaches,
        IsNormalized::No => {
            // A character that decomposes into something starting with a plain starter
            // cannot reach back into the previous unit (full-width letters and punctuation);
            // one whose decomposition starts with a combining mark can (half-width ﾞ).
            let mut first = None;
            decompose_compatible(c, |d| {
                if first.is_none() {
                    first = Some(d);
                }
            });
            match first {
                Some(d) if canonical_combining_class(d) == 0 && nfkc_qc(d) == IsNormalized::Yes => {
                    Class::Starts
                }
                _ => Class::Attaches,
            }
        }
    }
}

/// Builds folded text and its segment map in order.
struct Builder {
    text: String,
    segs: Vec<Seg>,
}

impl Builder {
    fn with_capacity(n: usize) -> Builder {
        Builder {
            text: String::with_capacity(n),
            segs: Vec::new(),
        }
    }

    /// Starts a segment at the current end, replacing an empty one left there.
    fn open(&mut self, seg: Seg) {
        if let Some(last) = self.segs.last_mut()
            && last.folded == self.text.len()
        {
            *last = seg;
            return;
        }
        self.segs.push(seg);
    }

    /// Appends text whose bytes line up with `source_start..` one for one.
    fn linear(&mut self, piece: &str, source_start: usize) {
        if piece.is_empty() {
            return;
        }
        let continues = matches!(
            self.segs.last(),
            Some(Seg { folded, source, atomic_end: None })
                if source + (self.text.len() - folded) == source_start
        );
        if !continues {
            self.open(Seg {
                folded: self.text.len(),
                source: source_start,
                atomic_end: None,
            });
        }
        self.text.push_str(piece);
    }

    /// Appends text that came from `source` as a whole.
    fn atomic(&mut self, piece: &str, source: Range<usize>) {
        if piece.is_empty() {
            return;
        }
        self.open(Seg {
            folded: self.text.len(),
            source: source.start,
            atomic_end: Some(source.end),
        });
        self.text.push_str(piece);
    }

    fn finish(self, source_len: usize) -> Folded {
        Folded {
            text: self.text,
            segs: self.segs,
            source_len,
        }
    }
}

/// Copies a run of [`Class::Same`] characters, lowercasing its ASCII when the scan saw an
/// uppercase letter (`upper`, reset here).
fn copy_run(out: &mut Builder, s: &str, run: Range<usize>, upper: &mut bool) {
    if let Some(piece) = s.get(run.clone()) {
        let at = out.text.len();
        out.linear(piece, run.start);
        if *upper && let Some(tail) = out.text.get_mut(at..) {
            tail.make_ascii_lowercase();
        }
    }
    *upper = false;
}

/// Zero-width removal, NFKC and lowercasing, in one pass with fast paths.
///
/// The text is cut into units at characters that NFKC never combines with what precedes
/// them; each unit normalizes on its own, so only units holding an unusual character cost
/// anything.
fn normalize_stage(s: &str) -> Folded {
    let bytes = s.as_bytes();
    let mut out = Builder::with_capacity(s.len());
    let mut scratch = String::new();
    let mut run_start = 0;
    let mut upper = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b < 0x80 {
            upper |= b.is_ascii_uppercase();
            i += 1;
            continue;
        }
        // U+4000..=U+9FFF (Han ideographs and Yijing symbols) and the CJK punctuation
        // U+3001..=U+3029 have no case and no decomposition: copied as they are.
        if (0xE4..=0xE9).contains(&b)
            || (b == 0xE3
                && bytes.get(i + 1) == Some(&0x80)
                && bytes
                    .get(i + 2)
                    .is_some_and(|b2| (0x81..=0xA9).contains(b2)))
        {
            i += 3;
            continue;
        }
        let Some(c) = s.get(i..).and_then(|rest| rest.chars().next()) else {
            break;
        };
        let class = classify(c);
        if class == Class::Same {
            i += c.len_utf8();
            continue;
        }
        let next_attaches = s
            .get(i + c.len_utf8()..)
            .and_then(|rest| rest.chars().next())
            .is_some_and(|n| !n.is_ascii() && classify(n) == Class::Attaches);
        if class == Class::Starts
            && !next_attaches
            && let Some(simple) = fold_full_width(c)
        {
            copy_run(&mut out, s, run_start..i, &mut upper);
            let mut buf = [0u8; 4];
            out.atomic(simple.encode_utf8(&mut buf), i..i + c.len_utf8());
            i += c.len_utf8();
            run_start = i;
            continue;
        }
        let unit_start = if class == Class::Attaches && run_start < i {
            // The character before belongs to this unit: it may compose with this one.
            let mut p = i - 1;
            while p > run_start && !s.is_char_boundary(p) {
                p -= 1;
            }
            p
        } else {
            i
        };
        copy_run(&mut out, s, run_start..unit_start, &mut upper);
        i += c.len_utf8();
        while let Some(next) = s.get(i..).and_then(|rest| rest.chars().next()) {
            if next.is_ascii() || classify(next) != Class::Attaches {
                break;
            }
            i += next.len_utf8();
        }
        normalize_unit(&mut out, s, unit_start..i, &mut scratch);
        run_start = i;
    }
    copy_run(&mut out, s, run_start..bytes.len(), &mut upper);
    out.finish(s.len())
}

/// The fold of a full-width ASCII form or the ideographic space, the most common characters
/// in Chinese text that NFKC changes: computed directly instead of through NFKC.
fn fold_full_width(c: char) -> Option<char> {
    match c {
        '\u{FF01}'..='\u{FF5E}' => {
            char::from_u32(u32::from(c) - 0xFEE0).map(|a| a.to_ascii_lowercase())
        }
        '\u{3000}' => Some(' '),
        _ => None,
    }
}

/// Normalizes one unit and appends it: NFKC, then lowercase, repeated until stable because
/// lowercasing can leave text that is no longer NFKC (and the other way round).
fn normalize_unit(out: &mut Builder, s: &str, unit: Range<usize>, scratch: &mut String) {
    let Some(raw) = s.get(unit.clone()) else {
        return;
    };
    scratch.clear();
    scratch.extend(
        raw.chars()
            .filter(|c| !is_zero_width(*c))
            .nfkc()
            .flat_map(char::to_lowercase),
    );
    for _ in 0..4 {
        let stable = is_nfkc_quick(scratch.chars()) == IsNormalized::Yes
            && scratch.chars().all(lowercase_is_identity)
            && !scratch.chars().any(is_zero_width);
        if stable {
            break;
        }
        let next: String = scratch
            .chars()
            .filter(|c| !is_zero_width(*c))
            .nfkc()
            .flat_map(char::to_lowercase)
            .collect();
        *scratch = next;
    }
    // When nothing but zero-width characters went away, keep the exact map.
    let unchanged = raw
        .chars()
        .filter(|c| !is_zero_width(*c))
        .eq(scratch.chars());
    if unchanged {
        let mut piece_start = None;
        for (off, c) in raw.char_indices() {
            if is_zero_width(c) {
                if let Some(ps) = piece_start.take()
                    && let Some(piece) = raw.get(ps..off)
                {
                    out.linear(piece, unit.start + ps);
                }
            } else if piece_start.is_none() {
                piece_start = Some(off);
            }
        }
        if let Some(ps) = piece_start
            && let Some(piece) = raw.get(ps..)
        {
            out.linear(piece, unit.start + ps);
        }
    } else {
        out.atomic(scratch, unit);
    }
}

/// The Traditional→Simplified converter: zhconv's OpenCC `zh-Hans` table, applied
/// leftmost-longest like zhconv does, with every target already converted as far as it goes
/// (the table maps 薴 to 苧 and 苧 to 苎; folding must be idempotent).
///
/// Simplified text, the usual case, holds few places where an entry may start (a
/// Traditional character, or the first two characters of a phrase entry), so a
/// [`StartFilter`] finds those and the automaton runs, anchored, only there.
struct Hans {
    automaton: dfa::DFA,
    targets: Vec<String>,
    starts: StartFilter,
}

static HANS: LazyLock<Option<Hans>> = LazyLock::new(build_hans);

fn build_hans() -> Option<Hans> {
    let mapping = zhconv::ZhConverterBuilder::new()
        .target(zhconv::Variant::ZhHans)
        .tables(zhconv::get_builtin_tables(zhconv::Variant::ZhHans))
        .build_mapping();
    let mut sources = Vec::with_capacity(mapping.len());
    let mut targets = Vec::with_capacity(mapping.len());
    for (from, to) in mapping {
        sources.push(from);
        targets.push(to);
    }
    let automaton = dfa::DFA::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .start_kind(StartKind::Anchored)
        .prefilter(false)
        .build(&sources)
        .ok()?;
    let mut hans = Hans {
        automaton,
        targets,
        starts: StartFilter::new(&sources),
    };
    for _ in 0..4 {
        let next: Vec<String> = hans
            .targets
            .iter()
            .map(|t| convert_plain(&hans, t))
            .collect();
        if next == hans.targets {
            break;
        }
        hans.targets = next;
    }
    Some(hans)
}

impl Hans {
    /// The longest entry starting exactly at `start`: its end and target.
    fn longest_at(&self, s: &str, start: usize) -> Option<(usize, &str)> {
        let aut = &self.automaton;
        let mut sid = aut.start_state(Anchored::Yes).ok()?;
        let mut best = None;
        for (k, &b) in s.as_bytes().get(start..)?.iter().enumerate() {
            sid = aut.next_state(Anchored::Yes, sid, b);
            if aut.is_special(sid) {
                if aut.is_dead(sid) {
                    break;
                }
                if aut.is_match(sid) {
                    let end = start + k + 1;
                    for m in 0..aut.match_len(sid) {
                        let pid = aut.match_pattern(sid, m);
                        if end - aut.pattern_len(pid) == start {
                            best = Some((end, pid.as_usize()));
                        }
                    }
                }
            }
        }
        let (end, pid) = best?;
        Some((end, self.targets.get(pid)?.as_str()))
    }

    /// Calls `f(range, target)` for each conversion that changes `s`, left to right.
    fn each_conversion(&self, s: &str, mut f: impl FnMut(Range<usize>, &str)) {
        let mut skip_to = 0;
        self.starts.candidates(s, |at| {
            if at < skip_to {
                return;
            }
            if let Some((end, target)) = self.longest_at(s, at) {
                if s.get(at..end).is_some_and(|from| from != target) {
                    f(at..end, target);
                }
                skip_to = end;
            }
        });
    }
}

/// Where one of a set of strings may start. Two bitsets indexed by code point say which
/// characters are a whole string and which start a longer one; for the latter a hashed set
/// of first-two-character pairs decides. Each character of text costs one or two bit tests
/// in small, cache-resident tables, so a search costs about the same for 10 strings as for
/// 10,000, and an automaton need only be walked where a string may begin. Used for the
/// conversion table here and for watchlist terms.
#[derive(Debug, Clone, Default)]
pub(crate) struct StartFilter {
    whole: Vec<u64>,
    leads: Vec<u64>,
    pairs: Vec<u64>,
    shift: u32,
}

fn set_bit(bits: &mut Vec<u64>, n: usize) {
    if bits.len() <= n / 64 {
        bits.resize(n / 64 + 1, 0);
    }
    if let Some(w) = bits.get_mut(n / 64) {
        *w |= 1 << (n % 64);
    }
}

fn bit(bits: &[u64], n: usize) -> bool {
    bits.get(n / 64).is_some_and(|w| w & (1 << (n % 64)) != 0)
}

impl StartFilter {
    /// The filter for these strings.
    pub(crate) fn new(patterns: &[String]) -> StartFilter {
        // About 64 bits per entry keeps false candidates near 2%.
        let want = (patterns.len() * 64)
            .next_power_of_two()
            .clamp(1 << 12, 1 << 24);
        let mut f = StartFilter {
            whole: Vec::new(),
            leads: Vec::new(),
            pairs: vec![0; want / 64],
            shift: 64 - want.trailing_zeros(),
        };
        for p in patterns {
            let mut chars = p.chars();
            match (chars.next(), chars.next()) {
                (Some(c1), None) => set_bit(&mut f.whole, c1 as usize),
                (Some(c1), Some(c2)) => {
                    set_bit(&mut f.leads, c1 as usize);
                    let slot = f.slot(c1, c2);
                    set_bit(&mut f.pairs, slot);
                }
                _ => {}
            }
        }
        f
    }

    fn slot(&self, c1: char, c2: char) -> usize {
        let k = (u64::from(u32::from(c1)) << 32) | u64::from(u32::from(c2));
        (k.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    fn may_start(&self, c1: char, c2: Option<char>) -> bool {
        bit(&self.whole, c1 as usize)
            || (bit(&self.leads, c1 as usize)
                && c2.is_some_and(|c2| bit(&self.pairs, self.slot(c1, c2))))
    }

    /// Calls `f(byte offset)`, in order, for each position of `text` where one of the
    /// strings may start.
    pub(crate) fn candidates(&self, text: &str, mut f: impl FnMut(usize)) {
        let mut prev: Option<(usize, char)> = None;
        for (q, c) in text.char_indices() {
            if let Some((p, pc)) = prev
                && self.may_start(pc, Some(c))
            {
                f(p);
            }
            prev = Some((q, c));
        }
        if let Some((p, pc)) = prev
            && self.may_start(pc, None)
        {
            f(p);
        }
    }
}

fn convert_plain(hans: &Hans, s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    hans.each_conversion(s, |r, target| {
        out.push_str(s.get(last..r.start).unwrap_or_default());
        out.push_str(target);
        last = r.end;
    });
    out.push_str(s.get(last..).unwrap_or_default());
    out
}

/// Traditional→Simplified over normalized text. Conversions keep the character count; a
/// converted character almost always keeps its byte length too, so the map stays as it is.
/// Only when some byte length changes (a few rare ideographs outside the BMP) is the map
/// rebuilt through the changed characters.
fn convert_stage(first: Folded, hans: &Hans) -> Folded {
    let a = first.text.as_str();
    let mut out = String::new();
    // Characters whose byte length changed: (range in `a`, range in `out`).
    let mut moved: Vec<(Range<usize>, Range<usize>)> = Vec::new();
    let mut last = 0;
    hans.each_conversion(a, |r, target| {
        if out.capacity() == 0 {
            out.reserve(a.len());
        }
        out.push_str(a.get(last..r.start).unwrap_or_default());
        last = r.end;
        let from = a.get(r.clone()).unwrap_or_default();
        if from.chars().count() == target.chars().count() {
            let mut at = r.start;
            for (x, y) in from.chars().zip(target.chars()) {
                let o = out.len();
                out.push(y);
                if x.len_utf8() != y.len_utf8() {
                    moved.push((at..at + x.len_utf8(), o..out.len()));
                }
                at += x.len_utf8();
            }
        } else {
            let o = out.len();
            out.push_str(target);
            moved.push((r, o..out.len()));
        }
    });
    if last == 0 && out.is_empty() {
        return first;
    }
    out.push_str(a.get(last..).unwrap_or_default());
    if moved.is_empty() {
        return Folded { text: out, ..first };
    }
    let segs = remap(&first, &moved);
    Folded {
        text: out,
        segs,
        source_len: first.source_len,
    }
}

/// The segments of converted text, given the map of the text it was converted from and the
/// spans whose byte length changed.
fn remap(inner: &Folded, moved: &[(Range<usize>, Range<usize>)]) -> Vec<Seg> {
    let mut b = Builder::with_capacity(0);
    let push_linear = |b: &mut Builder, a: Range<usize>, out_start: usize| {
        // Walks the inner segments under `a`, keeping their kind.
        let mut x = a.start;
        let mut i = inner
            .segs
            .partition_point(|s| s.folded <= x)
            .saturating_sub(1);
        while x < a.end {
            let Some(seg) = inner.segs.get(i) else { break };
            let seg_end = inner.segs.get(i + 1).map_or(inner.text.len(), |n| n.folded);
            let y = seg_end.min(a.end);
            if y <= x {
                i += 1;
                continue;
            }
            let folded = out_start + (x - a.start);
            let next = match seg.atomic_end {
                None => Seg {
                    folded,
                    source: seg.source + (x - seg.folded),
                    atomic_end: None,
                },
                Some(end) => Seg {
                    folded,
                    source: seg.source,
                    atomic_end: Some(end),
                },
            };
            push_seg(b, next);
            x = y;
            i += 1;
        }
    };
    let mut a_at = 0;
    let mut out_at = 0;
    for (a_range, out_range) in moved {
        if a_range.start > a_at {
            push_linear(&mut b, a_at..a_range.start, out_at);
        }
        let src = inner.source_range(a_range.clone());
        push_seg(
            &mut b,
            Seg {
                folded: out_range.start,
                source: src.start,
                atomic_end: Some(src.end),
            },
        );
        a_at = a_range.end;
        out_at = out_range.end;
    }
    if a_at < inner.text.len() {
        push_linear(&mut b, a_at..inner.text.len(), out_at);
    }
    b.segs
}

/// Appends a segment unless it merely continues the previous linear one.
fn push_seg(b: &mut Builder, seg: Seg) {
    if let Some(last) = b.segs.last()
        && last.atomic_end.is_none()
        && seg.atomic_end.is_none()
        && seg.source >= last.source
        && seg.source - last.source == seg.folded - last.folded
    {
        return;
    }
    b.segs.push(seg);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Folding done the slow, obvious way over the whole string.
    fn reference(s: &str) -> String {
        let step = |t: &str| -> String {
            t.chars()
                .filter(|c| !is_zero_width(*c))
                .nfkc()
                .flat_map(char::to_lowercase)
                .collect()
        };
        let mut t = step(s);
        for _ in 0..4 {
            let next = step(&t);
            if next == t {
                break;
            }
            t = next;
        }
        match HANS.as_ref() {
            Some(h) => convert_plain(h, &t),
            None => t,
        }
    }

    #[test]
    fn folds_what_readers_do_not_see() {
        let cases: &[(&str, &str, &str)] = &[
            ("full-width digits and letters", "Ｇ７", "g7"),
            ("full-width lowercase", "ｎａｔｏ", "nato"),
            ("full-width punctuation", "ＵＳ－Ｒｕｓｓｉａ", "us-russia"),
            ("traditional to simplified", "美俄關係", "美俄关系"),
            ("traditional place name", "烏克蘭", "乌克兰"),
            ("zero-width space inside a term", "特\u{200B}朗普", "特朗普"),
            ("zero-width joiner and BOM", "\u{FEFF}普\u{200D}京", "普京"),
            ("soft hyphen", "Rus\u{00AD}sia", "russia"),
            ("word joiner", "白\u{2060}宫", "白宫"),
            ("ascii lowercase", "NATO's Summit", "nato's summit"),
            ("combining accent composes", "Pe\u{0301}rez", "pérez"),
            ("accent across a zero-width space", "e\u{200B}\u{0301}", "é"),
            ("half-width katakana voicing", "ｶﾞ", "ガ"),
            ("compatibility ideograph", "\u{F900}", "岂"),
            ("kelvin sign", "\u{212A}", "k"),
            ("regional name is not converted", "川普", "川普"),
            ("simplified stays", "美国制裁", "美国制裁"),
            ("chained table entry", "薴", "苎"),
            ("ideographic space", "美国\u{3000}制裁", "美国 制裁"),
            ("chinese comma", "美国，俄罗斯", "美国,俄罗斯"),
            ("empty", "", ""),
        ];
        for (name, input, want) in cases {
            assert_eq!(fold(input), *want, "case {name}");
            assert_eq!(reference(input), *want, "reference, case {name}");
        }
    }

    #[test]
    fn fast_path_characters_fold_to_themselves() {
        let ranges = [('\u{4000}', '\u{9FFF}'), ('\u{3001}', '\u{3029}')];
        for (lo, hi) in ranges {
            for c in lo..=hi {
                assert_eq!(classify(c), Class::Same, "U+{:04X}", u32::from(c));
            }
        }
    }

    #[test]
    fn source_range_points_at_what_was_written() {
        let cases: &[(&str, &str, &str, &str)] = &[
            ("traditional", "談美俄關係。", "美俄关系", "美俄關係"),
            ("full-width", "ＮＡＴＯ's", "nato", "ＮＡＴＯ"),
            (
                "zero-width inside",
                "说特\u{200B}朗普说",
                "特朗普",
                "特\u{200B}朗普",
            ),
            ("zero-width before", "\u{200B}普京", "普京", "普京"),
            ("after full-width comma", "美国，俄罗斯", "俄罗斯", "俄罗斯"),
            ("ascii upper", "The NATO", "nato", "NATO"),
            ("byte length changes", "a纕b鵟c", "c", "c"),
            ("converted char outside the BMP", "a纕b鵟c", "𬙋", "纕"),
            ("decomposed accent", "Pe\u{0301}rez said", "said", "said"),
        ];
        for (name, source, needle, want) in cases {
            let f = fold_with_map(source);
            let at = f.text.find(needle);
            assert!(at.is_some(), "case {name}: {needle:?} not in {:?}", f.text);
            let at = at.unwrap_or_default();
            let r = f.source_range(at..at + needle.len());
            assert_eq!(source.get(r), Some(*want), "case {name}");
        }
    }

    const ALPHABET: &[&str] = &[
        "a", "Z", "7", " ", "'", "-", "美", "俄", "關", "係", "关", "系", "特", "朗", "普", "白",
        "宮", "宫", "烏", "克", "蘭", "纕", "鵟", "薴", "苧", "乾", "隆", "干", "Ｇ", "７", "ｎ",
        "，", "。", "…", "\u{0301}", "\u{0308}", "é", "E", "\u{1100}", "\u{1161}", "\u{11A8}",
        "가", "ｶ", "ﾞ", "㍿", "ﬁ", "\u{200B}", "\u{200D}", "\u{00AD}", "\u{FEFF}", "\u{0130}", "Σ",
        "ẞ", "\u{212A}", "\u{2126}", "\u{F900}", "①", "\u{3000}", "ß",
    ];

    /// Characters and phrase pieces of the conversion table (entries with chained targets
    /// left out: there folding deliberately goes further than zhconv).
    const HANS_ALPHABET: &[&str] = &[
        "乾", "隆", "不", "瞭", "解", "計", "畫", "沈", "香", "覆", "盆", "電", "關", "係", "美",
        "俄", "头", "髮", "發", "展", "後", "天", "皇", "后", "a", "，", "纕", "鵟",
    ];

    fn mixed_text() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(ALPHABET), 0..40).prop_map(|v| v.concat())
    }

    proptest! {
        #[test]
        fn fold_is_idempotent(s in mixed_text()) {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once);
        }

        #[test]
        fn fold_is_idempotent_on_any_text(s in any::<String>()) {
            let once = fold(&s);
            prop_assert_eq!(fold(&once), once);
        }

        #[test]
        fn fast_fold_equals_reference(s in mixed_text()) {
            prop_assert_eq!(fold(&s), reference(&s));
        }

        #[test]
        fn fast_fold_equals_reference_on_any_text(s in any::<String>()) {
            prop_assert_eq!(fold(&s), reference(&s));
        }

        #[test]
        fn conversion_agrees_with_zhconv(
            s in prop::collection::vec(prop::sample::select(HANS_ALPHABET), 0..30)
                .prop_map(|v| v.concat())
        ) {
            let ours = HANS.as_ref().map(|h| convert_plain(h, &s));
            prop_assert_eq!(ours, Some(zhconv::zhconv(&s, zhconv::Variant::ZhHans)));
        }

        #[test]
        fn source_ranges_are_valid_and_cover_the_match(s in mixed_text()) {
            let f = fold_with_map(&s);
            let bounds: Vec<usize> = f.text.char_indices().map(|(i, _)| i)
                .chain(std::iter::once(f.text.len())).collect();
            for (k, &i) in bounds.iter().enumerate() {
                for &j in bounds.iter().skip(k + 1).take(4) {
                    let r = f.source_range(i..j);
                    let slice = s.get(r.clone());
                    prop_assert!(slice.is_some(), "range {:?} of {:?}", r, s);
                    let want = &f.text[i..j];
                    let got = fold(slice.unwrap_or_default());
                    prop_assert!(got.contains(want), "{:?} folds to {:?}, not containing {:?}", slice, got, want);
                }
            }
        }
    }
}
