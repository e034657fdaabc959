//! Benchmark of `retag` on a large store: how long re-applying a watchlist to every
//! stored item takes.
//!
//! A store of 1,000,000 synthetic Chinese stories (about 2 KB of text and 2.5 KB of HTML
//! each, the ten bench keywords at the bench corpus's rates, plus 停火 and 川普 in a few
//! percent) is built once, tagged at ingest with the ten keywords, and kept under the
//! temp dir between runs (`FEEDWATCH_RETAG_DB` overrides the file, `FEEDWATCH_RETAG_ITEMS`
//! the size). Building it takes a few minutes. Three retags are then timed, each one the
//! whole `Store::retag` call with the default options, as the `retag` command runs it:
//!
//! - `unchanged`: the same ten keywords: every item read and tagged, nothing written;
//! - `changed`: 川普 added as an alias of 特朗普 and 停火 as a new topic: a few percent of
//!   the items rewritten;
//! - `restored`: the ten keywords again, removing those tags, which leaves the store as
//!   built for the next run.
//!
//! Run: `cargo bench --bench retag`. One run per case: a retag of a million items is far
//! longer than timer noise, and repeating it would only repeat the page-cache state.

// Benchmark set-up failures should stop the run loudly; there is no caller to report to.
#![allow(clippy::expect_used)]

use std::path::PathBuf;
use std::time::Instant;

use chrono::DateTime;
use feedwatch::config::TopicSpec;
use feedwatch::identity::content_hash;
use feedwatch::model::{Story, Validators};
use feedwatch::store::tags::RetagOptions;
use feedwatch::store::{FeedRef, FeedRefresh, RefreshOutcome, Store};
use feedwatch::watch::Watchlist;

const DEFAULT_ITEMS: usize = 1_000_000;
/// Stories per stored refresh while building.
const PER_REFRESH: usize = 1_000;
/// Han characters of body text per story (about 2 KB of UTF-8 with punctuation).
const BODY_CHARS: usize = 640;

/// The bench corpus's keywords with the share of items each appears in.
const KEYWORDS: [(&str, f64); 10] = [
    ("特朗普", 0.20),
    ("普京", 0.15),
    ("白宫", 0.12),
    ("乌克兰", 0.15),
    ("俄罗斯", 0.18),
    ("美俄关系", 0.08),
    ("和平谈判", 0.06),
    ("三方会晤", 0.04),
    ("美国制裁", 0.05),
    ("地缘政治冲突", 0.03),
];
/// Words in the text that only the changed watchlist looks for.
const LATER: [(&str, f64); 2] = [("停火", 0.05), ("川普", 0.02)];

/// Common characters for filler text; random sequences of them practically never spell
/// a keyword, so the tag rates are the ones above.
const HAN: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动\
同工也能下过子说产种面而方后多定行学法所民得经十之进着等部度家电力里如水化高自二理起小物现实加量都\
两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事形相全表间样与各重新线内数正心\
反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无军很情者最立代想已通并提直题党程展五果料\
象员革位入常文总次品式活设及管件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区";

/// A small deterministic generator, so every build stores the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

fn story(rng: &mut Rng, han: &[char], n: usize) -> Story {
    let mut title = String::new();
    for _ in 0..12 + rng.below(10) {
        title.push(han[rng.below(han.len())]);
    }
    let mut words: Vec<&str> = Vec::new();
    for (word, rate) in KEYWORDS.iter().chain(LATER.iter()) {
        if rng.chance(*rate) {
            if rng.below(4) == 0 {
                title.push_str(word);
            } else {
                words.push(word);
            }
        }
    }
    let mut text = String::with_capacity(BODY_CHARS * 3 + 64);
    let mut html = String::with_capacity(BODY_CHARS * 4 + 64);
    let mut inserted = 0;
    for i in 0..BODY_CHARS {
        text.push(han[rng.below(han.len())]);
        if rng.below(40) == 0 && inserted < words.len() {
            text.push_str(words[inserted]);
            inserted += 1;
        }
        if i % 23 == 22 {
            text.push(if rng.below(3) == 0 { '。' } else { '，' });
        }
        if i % 160 == 159 {
            text.push_str("\n\n");
        }
    }
    for w in &words[inserted..] {
        text.push_str(w);
        text.push('。');
    }
    for para in text.split("\n\n") {
        html.push_str("<p>");
        html.push_str(para);
        html.push_str("</p>\n");
    }
    Story {
        entry_id: format!("bench-{n}"),
        link: Some(format!("https://example.org/bench/{n}.html")),
        published: DateTime::from_timestamp(1_700_000_000 + n as i64 * 30, 0),
        authors: Vec::new(),
        categories: Vec::new(),
        content_hash: content_hash(&title, &text),
        matches: Vec::new(),
        title,
        text,
        html,
    }
}

fn keyword_topics() -> Vec<TopicSpec> {
    KEYWORDS
        .iter()
        .map(|(k, _)| TopicSpec::keyword(k))
        .collect()
}

fn changed_topics() -> Vec<TopicSpec> {
    let mut topics = keyword_topics();
    for t in &mut topics {
        if t.name == "特朗普" {
            t.terms.push("川普".to_string());
        }
    }
    topics.push(TopicSpec::keyword("停火"));
    topics
}

/// Builds the store at `path` (through a temporary name, so an interrupted build is never
/// taken for a finished one).
fn build(path: &PathBuf, items: usize) {
    let partial = path.with_extension("partial");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", partial.display()));
    }
    let started = Instant::now();
    let watchlist = Watchlist::new(&keyword_topics()).expect("the ten keywords compile");
    let mut store = Store::open(&partial).expect("open the bench store");
    store
        .sync_feeds(&[FeedRef {
            name: "bench",
            url: "https://example.org/bench.xml",
        }])
        .expect("sync the bench feed");
    let han: Vec<char> = HAN.chars().collect();
    let mut rng = Rng(0x5eed_2025);
    let mut n = 0;
    while n < items {
        let count = PER_REFRESH.min(items - n);
        let stories: Vec<Story> = (0..count)
            .map(|k| {
                let mut s = story(&mut rng, &han, n + k);
                s.matches = watchlist.tag(&s.title, &s.text);
                s
            })
            .collect();
        n += count;
        let refresh = FeedRefresh {
            feed: "bench".to_string(),
            fetched_at: DateTime::from_timestamp(1_800_000_000 + n as i64, 0)
                .expect("bench times are in range"),
            outcome: RefreshOutcome::Stored {
                status: 200,
                final_url: "https://example.org/bench.xml".to_string(),
                validators: Validators::default(),
                stories,
            },
            next_poll: None,
        };
        store
            .apply_refresh(&refresh)
            .expect("store a bench refresh");
        if n % 100_000 == 0 {
            eprintln!(
                "  built {n} items ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    drop(store);
    std::fs::rename(&partial, path).expect("move the finished store into place");
    eprintln!(
        "built {items} items in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a name filter we do not need.
    let items = std::env::var("FEEDWATCH_RETAG_ITEMS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITEMS);
    let path = std::env::var_os("FEEDWATCH_RETAG_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join(format!("feedwatch-retag-bench-{items}.db")));
    if !path.exists() {
        eprintln!("building {} (once)", path.display());
        build(&path, items);
    }
    let mut store = Store::open(&path).expect("open the bench store");
    let stored = store.item_count().expect("count items");
    let size = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!(
        "retag: {stored} items, {:.1} GB database at {}",
        size as f64 / 1e9,
        path.display()
    );
    let cases: [(&str, Vec<TopicSpec>); 3] = [
        ("unchanged", keyword_topics()),
        ("changed", changed_topics()),
        ("restored", keyword_topics()),
    ];
    for (name, topics) in cases {
        let watchlist = Watchlist::new(&topics).expect("bench topics compile");
        let tag = |title: &str, text: &str| watchlist.tag(title, text);
        let started = Instant::now();
        let stats = store
            .retag(&tag, RetagOptions::default(), |_, _| {})
            .expect("retag");
        let secs = started.elapsed().as_secs_f64();
        println!(
            "retag/{name}: {secs:.2} s, {:.0} items/s; {} items changed, {} tags added, {} removed",
            stats.items as f64 / secs,
            stats.items_changed,
            stats.tags_added,
            stats.tags_removed
        );
    }
}
