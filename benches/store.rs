//! Benchmarks of the store: writing refreshes, and reading a large store.
//!
//! `apply_refresh/new`: 1000 refreshes of 50 synthetic Chinese stories each (about 2 KB
//! of text and 2.5 KB of HTML per story) into a fresh file, timed around the
//! `apply_refresh` calls only. `apply_refresh/unchanged`: the same 1000 refreshes again
//! on the filled store, the steady state of a daemon whose feeds did not change.
//! `query_1m/*`: newest-first listings with LIMIT 50 on a store of 1,000,000 small items
//! (built once, on first use, which takes a while).
//!
//! Run: `cargo bench --bench store -- --sample-size 10` (add `apply_refresh` or
//! `query_1m` to pick a group). Each write run also prints items/s and the process CPU
//! time it took.

// Benchmark set-up failures should stop the run loudly; there is no caller to report to.
#![allow(clippy::expect_used)]

use std::cell::OnceCell;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use feedwatch::model::{ContentHash, Field, ItemFilter, Story, TagMatch, Validators};
use feedwatch::store::{FeedRef, FeedRefresh, RefreshOutcome, Store, StoreError};

const FEEDS: usize = 20;
const REFRESHES: usize = 1000;
const STORIES: usize = 50;
const TOPICS: [&str; 6] = ["美俄关系", "三方会晤", "普京", "特朗普", "泽连斯基", "停火"];
/// A topic on about one story in 10,000: the worst case for a newest-first tag scan.
const RARE: &str = "罕见";

/// A small deterministic generator, so every run stores the same corpus.
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
}

const HAN: &str = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动\
同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都\
两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心\
反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料\
象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区\
强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受\
联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名\
确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际\
商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选\
标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严";

fn han(rng: &mut Rng, chars: &[char], n: usize, out: &mut String) {
    for i in 0..n {
        out.push(chars[rng.below(chars.len())]);
        if i % 23 == 22 {
            out.push(if rng.below(3) == 0 { '。' } else { '，' });
        }
    }
}

fn hash_of(title: &str, text: &str) -> ContentHash {
    let mut h = blake3::Hasher::new();
    h.update(title.as_bytes());
    h.update(b"\n");
    h.update(text.as_bytes());
    ContentHash(*h.finalize().as_bytes())
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("bench times are in range")
}

/// One story of about `text_chars` CJK characters (3 bytes each) in 5 paragraphs.
fn story(rng: &mut Rng, chars: &[char], serial: usize, text_chars: usize) -> Story {
    let mut title = String::new();
    han(rng, chars, 18, &mut title);
    let mut text = String::with_capacity(text_chars * 3 + 64);
    let mut html = String::with_capacity(text_chars * 4 + 256);
    for p in 0..5 {
        let start = text.len();
        han(rng, chars, text_chars / 5, &mut text);
        html.push_str("<p class=\"para\">");
        html.push_str(&text[start..]);
        html.push_str("</p>\n");
        if p == 2 {
            html.push_str(
                "<figure><img src=\"https://img.example.org/photo.jpg\" alt=\"图片\"/></figure>\n",
            );
        }
        text.push_str("\n\n");
    }
    let mut matches = Vec::new();
    if serial % 5 == 0 {
        for k in 0..2 {
            let topic = TOPICS[(serial / 5 + k) % TOPICS.len()];
            matches.push(TagMatch {
                topic: topic.to_string(),
                term: topic.to_string(),
                field: Field::Text,
                offset: 300 * (k + 1),
            });
        }
    }
    if serial % 9973 == 0 {
        matches.push(TagMatch {
            topic: RARE.to_string(),
            term: RARE.to_string(),
            field: Field::Title,
            offset: 0,
        });
    }
    Story {
        entry_id: format!("https://news.example.org/article/{serial}.html"),
        link: Some(format!("https://news.example.org/article/{serial}.html")),
        published: Some(at(1_700_000_000 + serial as i64 * 60)),
        authors: vec!["新华社记者".to_string()],
        categories: vec!["国际".to_string(), "时政".to_string()],
        content_hash: hash_of(&title, &text),
        title,
        html,
        text,
        matches,
    }
}

fn feed_name(i: usize) -> String {
    format!("feed-{i:02}")
}

/// `refreshes` refreshes of `STORIES` distinct stories each, spread over `FEEDS` feeds.
fn corpus(refreshes: usize, text_chars: usize) -> Vec<FeedRefresh> {
    let chars: Vec<char> = HAN.chars().collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..refreshes)
        .map(|r| FeedRefresh {
            feed: feed_name(r % FEEDS),
            fetched_at: at(1_800_000_000 + r as i64),
            outcome: RefreshOutcome::Stored {
                status: 200,
                final_url: format!("https://news.example.org/{}.xml", feed_name(r % FEEDS)),
                validators: Validators {
                    etag: Some(format!("\"{r}\"")),
                    last_modified: None,
                },
                stories: (0..STORIES)
                    .map(|s| story(&mut rng, &chars, r * STORIES + s, text_chars))
                    .collect(),
            },
            next_poll: Some(at(1_800_000_900 + r as i64)),
        })
        .collect()
}

fn open_synced(path: &std::path::Path) -> Store {
    let names: Vec<String> = (0..FEEDS).map(feed_name).collect();
    let urls: Vec<String> = names
        .iter()
        .map(|n| format!("https://news.example.org/{n}.xml"))
        .collect();
    let refs: Vec<FeedRef<'_>> = names
        .iter()
        .zip(&urls)
        .map(|(name, url)| FeedRef { name, url })
        .collect();
    let mut store = Store::open(path).expect("open bench store");
    store.sync_feeds(&refs).expect("sync bench feeds");
    store
}

/// User + system CPU seconds of this process so far (Linux; 0 elsewhere).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and
    // 13th of them, in clock ticks (100 per second on Linux).
    let Some(rest) = stat.rsplit(')').next() else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
    match (ticks(11), ticks(12)) {
        (Some(u), Some(s)) => (u + s) / 100.0,
        _ => 0.0,
    }
}

/// Bytes this process handed to write(2) and friends so far (Linux; 0 elsewhere).
fn bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines().find_map(|l| {
                l.strip_prefix("wchar: ")
                    .and_then(|v| v.trim().parse().ok())
            })
        })
        .unwrap_or(0)
}

fn apply_all(store: &mut Store, corpus: &[FeedRefresh]) -> (Duration, f64, u64) {
    let written = bytes_written();
    let cpu = cpu_seconds();
    let start = Instant::now();
    let mut new_items = 0;
    for refresh in corpus {
        let stats = store.apply_refresh(refresh).expect("apply bench refresh");
        new_items += stats.new_items;
    }
    let elapsed = start.elapsed();
    let cpu = cpu_seconds() - cpu;
    eprintln!("  wrote {:.0} MB", (bytes_written() - written) as f64 / 1e6);
    (elapsed, cpu, new_items)
}

fn report(label: &str, wall: Duration, cpu: f64) {
    let items = (REFRESHES * STORIES) as f64;
    eprintln!(
        "{label}: {REFRESHES} refreshes × {STORIES} stories in {:.3} s wall, {:.2} s CPU \
         ({:.0} items/s)",
        wall.as_secs_f64(),
        cpu,
        items / wall.as_secs_f64()
    );
}

fn bench_apply(c: &mut Criterion) {
    let corpus = corpus(REFRESHES, 680);
    let bytes: usize = corpus
        .iter()
        .map(|r| match &r.outcome {
            RefreshOutcome::Stored { stories, .. } => stories
                .iter()
                .map(|s| s.text.len() + s.html.len())
                .sum::<usize>(),
            _ => 0,
        })
        .sum();
    eprintln!(
        "corpus: {} stories, {:.1} MB of text + html",
        REFRESHES * STORIES,
        bytes as f64 / 1e6
    );

    let mut group = c.benchmark_group("apply_refresh");
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements((REFRESHES * STORIES) as u64));
    group.measurement_time(Duration::from_secs(40));
    group.bench_function("new", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().expect("temp dir");
                let mut store = open_synced(&dir.path().join("bench.db"));
                let (wall, cpu, new_items) = apply_all(&mut store, &corpus);
                assert_eq!(new_items, (REFRESHES * STORIES) as u64);
                report("new", wall, cpu);
                total += wall;
            }
            total
        });
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let filled = OnceCell::new();
    group.bench_function("unchanged", |b| {
        let store = filled.get_or_init(|| {
            let mut store = open_synced(&dir.path().join("bench.db"));
            apply_all(&mut store, &corpus);
            std::cell::RefCell::new(store)
        });
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (wall, cpu, new_items) = apply_all(&mut store.borrow_mut(), &corpus);
                assert_eq!(new_items, 0);
                report("unchanged", wall, cpu);
                total += wall;
            }
            total
        });
    });
    group.finish();
}

/// Builds (once) a store of 1,000,000 short items: 20,000 refreshes of 50.
fn million(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("million.db");
    let mut store = open_synced(&path);
    let start = Instant::now();
    for chunk in 0..20 {
        let corpus = corpus(1000, 40);
        for mut refresh in corpus {
            // Shift every chunk to new entry ids, texts and times.
            if let RefreshOutcome::Stored { stories, .. } = &mut refresh.outcome {
                for s in stories.iter_mut() {
                    s.entry_id = format!("{}#{chunk}", s.entry_id);
                    s.title = format!("{}{chunk}", s.title);
                    s.content_hash = hash_of(&s.title, &s.text);
                    s.published = s.published.map(|p| p + chrono::Duration::days(40 * chunk));
                }
            }
            store.apply_refresh(&refresh).expect("fill million store");
        }
    }
    eprintln!(
        "built {} items in {:.1} s",
        store.item_count().expect("count"),
        start.elapsed().as_secs_f64()
    );
    path
}

fn bench_query(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = OnceCell::new();
    let reader = OnceCell::new();
    let open = || {
        reader.get_or_init(|| {
            let p = path.get_or_init(|| million(dir.path()));
            Store::open_readonly(p).expect("open million store")
        })
    };
    let mut group = c.benchmark_group("query_1m");
    let cases: Vec<(&str, ItemFilter)> = vec![
        ("newest_50", ItemFilter::default()),
        (
            "tag_newest_50",
            ItemFilter {
                tags_all: vec!["普京".into()],
                ..Default::default()
            },
        ),
        (
            "rare_tag_newest_50",
            ItemFilter {
                tags_all: vec![RARE.into()],
                ..Default::default()
            },
        ),
        (
            "two_tags_newest_50",
            ItemFilter {
                tags_all: vec!["普京".into(), "特朗普".into()],
                ..Default::default()
            },
        ),
        (
            "any_tag_newest_50",
            ItemFilter {
                tags_any: vec!["普京".into(), "停火".into()],
                ..Default::default()
            },
        ),
        (
            "feed_newest_50",
            ItemFilter {
                feeds: vec![feed_name(3)],
                ..Default::default()
            },
        ),
        (
            "untagged_newest_50",
            ItemFilter {
                untagged: true,
                ..Default::default()
            },
        ),
        (
            "window_50",
            ItemFilter {
                since: Some(at(1_700_000_000 + 86_400 * 300)),
                until: Some(at(1_700_000_000 + 86_400 * 400)),
                ..Default::default()
            },
        ),
    ];
    for (name, mut filter) in cases {
        filter.limit = Some(50);
        group.bench_function(name, |b| {
            let store = open();
            b.iter(|| {
                let mut n = 0;
                store
                    .for_each_item(&filter, |item| {
                        n += black_box(item.text.len());
                        Ok::<(), StoreError>(())
                    })
                    .expect("query");
                n
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_apply, bench_query);
criterion_main!(benches);
