//! Benchmarks of search and export on a store of 1,000,000 items built from the shared
//! benchmark corpus.
//!
//! The store: `../shared/bench/gen_corpus.py --feeds 100 --items 500` (50,000 news-like
//! Chinese items, about 100 MB of feeds) run through the real pipeline
//! (`ingest::process`), then written again and again (about 22 times) with shifted entry ids, titles and dates,
//! and the search index filled. It is built once and kept in `$FEEDWATCH_BENCH_DIR`
//! (default `/tmp/feedwatch-search-bench`); delete `million.db` there to rebuild.
//! Building also reports what the search queue costs the write path (50,000 new items
//! with and without it) and what indexing costs per 50,000 items.
//!
//! `search_1m/*`: `items --search` and `--tag` with LIMIT 50, each also measured "cold"
//! (open the database, query, render JSON) as the CLI runs it; `export_1m/*`: Atom
//! export of 10,000 tagged items. Peak memory of exporting 10,000 and 100,000 items is
//! printed, to show that it does not grow with the number of items.
//!
//! Run: `cargo bench --bench search -- --sample-size 10`. With
//! `FEEDWATCH_BENCH_WRITE_ONLY=1` only the write-path and indexing costs are measured.

// Benchmark set-up failures should stop the run loudly; there is no caller to report to.
#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use feedwatch::config::{FeedSettings, Source, TopicSpec};
use feedwatch::export::{FeedMeta, Format, export, rows::RowFormat, rows::RowWriter};
use feedwatch::model::{ItemFilter, Story, Validators};
use feedwatch::store::{FeedRef, FeedRefresh, RefreshOutcome, Store, StoreError};
use feedwatch::watch::Watchlist;

const FEEDS: usize = 100;
const ITEMS: usize = 500;
/// Items in the big store.
const TARGET: u64 = 1_000_000;
const KEYWORDS: [&str; 10] = [
    "特朗普",
    "普京",
    "白宫",
    "乌克兰",
    "俄罗斯",
    "美俄关系",
    "和平谈判",
    "三方会晤",
    "美国制裁",
    "地缘政治冲突",
];

fn work() -> PathBuf {
    std::env::var_os("FEEDWATCH_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/feedwatch-search-bench"))
}

/// The generated corpus folder, generating it when missing.
fn corpus() -> Option<PathBuf> {
    let out = work().join("corpus");
    if out.join("feeds.txt").is_file() {
        return Some(out);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench/gen_corpus.py");
    if !script.is_file() {
        eprintln!("skipped: ../shared not found");
        return None;
    }
    std::fs::create_dir_all(work()).expect("bench dir");
    let status = std::process::Command::new("python3")
        .arg(script)
        .args(["--feeds", &FEEDS.to_string(), "--items", &ITEMS.to_string()])
        .arg("--out")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run gen_corpus.py");
    assert!(status.success(), "gen_corpus.py failed");
    Some(out)
}

fn feed_name(i: usize) -> String {
    format!("f{i:05}")
}

/// Every feed of the corpus through decode → parse → text → identity → watch.
fn stories(corpus: &Path) -> Vec<(String, Vec<Story>)> {
    let topics: Vec<TopicSpec> = KEYWORDS.iter().map(|k| TopicSpec::keyword(k)).collect();
    let watchlist = Watchlist::new(&topics).expect("watchlist");
    let list = std::fs::read_to_string(corpus.join("feeds.txt")).expect("feeds.txt");
    let now = DateTime::from_timestamp(1_800_000_000, 0).expect("time");
    list.lines()
        .enumerate()
        .map(|(i, rel)| {
            let path = corpus.join(rel);
            let bytes = std::fs::read(&path).expect("feed file");
            let feed = FeedSettings {
                name: feed_name(i),
                source: Source::File(path.clone()),
                schedule: None,
                encoding: None,
                timezone: None,
            };
            let url = format!("file://{}", path.display());
            let done = feedwatch::ingest::process(&bytes, None, &feed, &url, &watchlist, now)
                .expect("corpus feed parses");
            (feed_name(i), done.stories)
        })
        .collect()
}

fn refresh(feed: &str, n: usize, stories: Vec<Story>) -> FeedRefresh {
    FeedRefresh {
        feed: feed.to_string(),
        fetched_at: DateTime::from_timestamp(1_800_000_000 + n as i64, 0).expect("time"),
        outcome: RefreshOutcome::Stored {
            status: 200,
            final_url: format!("https://bench.example/{feed}"),
            validators: Validators::default(),
            stories,
        },
        next_poll: None,
    }
}

/// The corpus as copy `copy`: new entry ids, titles (so new content hashes) and dates.
fn shifted(stories: &[Story], copy: usize) -> Vec<Story> {
    stories
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if copy > 0 {
                s.entry_id = format!("{}#{copy}", s.entry_id);
                s.title = format!("{} {copy}", s.title);
                s.content_hash = feedwatch::identity::content_hash(&s.title, &s.text);
                s.published = s
                    .published
                    .map(|p| p - chrono::Duration::days(40 * copy as i64));
            }
            s
        })
        .collect()
}

fn open_synced(path: &Path) -> Store {
    let names: Vec<String> = (0..FEEDS).map(feed_name).collect();
    let urls: Vec<String> = names
        .iter()
        .map(|n| format!("https://bench.example/{n}"))
        .collect();
    let refs: Vec<FeedRef<'_>> = names
        .iter()
        .zip(&urls)
        .map(|(name, url)| FeedRef { name, url })
        .collect();
    let mut store = Store::open(path).expect("open bench store");
    store.sync_feeds(&refs).expect("sync feeds");
    store
}

fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
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

/// Writes one copy of the corpus; returns (wall, CPU) seconds.
fn write_copy(store: &mut Store, corpus: &[(String, Vec<Story>)], copy: usize) -> (f64, f64) {
    let batches: Vec<FeedRefresh> = corpus
        .iter()
        .map(|(feed, s)| refresh(feed, copy, shifted(s, copy)))
        .collect();
    let cpu = cpu_seconds();
    let start = Instant::now();
    for r in &batches {
        store.apply_refresh(r).expect("apply refresh");
    }
    (start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
}

/// What the search queue costs the write path: 50,000 new items with and without the
/// queue's trigger.
fn write_path_cost(corpus: &[(String, Vec<Story>)]) {
    for with_queue in [true, false] {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("w.db");
        drop(open_synced(&path));
        if !with_queue {
            let conn = rusqlite::Connection::open(&path).expect("raw open");
            conn.execute_batch("DROP TRIGGER items_search_insert")
                .expect("drop trigger");
        }
        let mut store = open_synced(&path);
        let (wall, cpu) = write_copy(&mut store, corpus, 0);
        eprintln!(
            "write 50k new items {} the search queue: {wall:.2} s wall, {cpu:.2} s CPU",
            if with_queue { "with" } else { "without" }
        );
        if with_queue {
            let cpu = cpu_seconds();
            let start = Instant::now();
            while store.index_search(5_000).expect("index").pending > 0 {}
            eprintln!(
                "index 50k items (deferred, in batches of 5000): {:.2} s wall, {:.2} s CPU",
                start.elapsed().as_secs_f64(),
                cpu_seconds() - cpu
            );
        }
    }
}

/// Builds (once) the million-item store with its search index filled. A store left
/// with fewer copies (an interrupted build) is completed rather than rebuilt.
fn million() -> Option<PathBuf> {
    if std::env::var_os("FEEDWATCH_BENCH_WRITE_ONLY").is_some() {
        write_path_cost(&stories(&corpus()?));
        return None;
    }
    let path = work().join("million.db");
    if let Ok(store) = Store::open_readonly(&path) {
        let count = store.item_count().unwrap_or(0);
        if count >= TARGET && store.search_backlog().ok() == Some(0) {
            eprintln!("reusing {} ({count} items)", path.display());
            return Some(path);
        }
    }
    let corpus = stories(&corpus()?);
    // Exact duplicates in the corpus are stored once, so a copy adds fewer items than
    // it has entries.
    let mut hashes: Vec<_> = corpus
        .iter()
        .flat_map(|(_, s)| s.iter().map(|s| s.content_hash))
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    let per_copy = hashes.len() as u64;
    let mut store = open_synced(&path);
    let done = store.item_count().expect("count") / per_copy;
    if done == 0 {
        write_path_cost(&corpus);
    }
    let start = Instant::now();
    let mut copy = done as usize;
    while store.item_count().expect("count") < TARGET {
        write_copy(&mut store, &corpus, copy);
        copy += 1;
    }
    let written = start.elapsed().as_secs_f64();
    let start = Instant::now();
    while store.index_search(20_000).expect("index").pending > 0 {}
    eprintln!(
        "built {} items ({copy} copies of {per_copy}) in {written:.0} s, indexed in {:.0} s",
        store.item_count().expect("count"),
        start.elapsed().as_secs_f64()
    );
    Some(path)
}

fn filter(search: Option<&str>, tag: Option<&str>, limit: u64) -> ItemFilter {
    ItemFilter {
        search: search.map(str::to_string),
        tags_all: tag.map(str::to_string).into_iter().collect(),
        limit: Some(limit),
        ..Default::default()
    }
}

/// `items --format json` as the CLI runs it: open, query, render.
fn items_json(path: &Path, filter: &ItemFilter) -> u64 {
    let store = Store::open_readonly(path).expect("open");
    let mut w = RowWriter::new(std::io::sink(), RowFormat::Json).expect("writer");
    store
        .for_each_item(filter, |item| {
            w.item(&item).map_err(|e| StoreError::Missing {
                path: e.to_string(),
            })
        })
        .expect("query");
    w.finish().expect("finish").1
}

fn atom(store: &Store, filter: &ItemFilter) -> u64 {
    let meta = FeedMeta {
        title: "bench".into(),
        description: "bench".into(),
        id: feedwatch::export::feed_id("bench"),
        link: None,
        now: Utc::now(),
    };
    export(store, filter, Format::Atom, &meta, std::io::sink(), "sink").expect("export")
}

/// Peak resident memory of this process so far, in MB (Linux; 0 elsewhere).
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn bench(c: &mut Criterion) {
    let Some(path) = million() else {
        return;
    };
    let store = Store::open_readonly(&path).expect("open million store");
    let mut group = c.benchmark_group("search_1m");
    let cases = [
        ("search_普京_50", filter(Some("普京"), None, 50)),
        ("tag_美俄关系_50", filter(None, Some("美俄关系"), 50)),
        ("search_1char_普_50", filter(Some("普"), None, 50)),
        ("search_3char_美俄关_50", filter(Some("美俄关"), None, 50)),
        ("search_latin_trump_50", filter(Some("TRUMP"), None, 50)),
        ("search_absent_50", filter(Some("不存在的词"), None, 50)),
        (
            "search_普京_and_tag_50",
            filter(Some("普京"), Some("美俄关系"), 50),
        ),
    ];
    for (name, f) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                let mut n = 0;
                store
                    .for_each_item(f, |item| {
                        n += black_box(item.text.len());
                        Ok::<(), StoreError>(())
                    })
                    .expect("query");
                n
            });
        });
    }
    for (name, f) in &cases[..2] {
        group.bench_function(format!("cold_{name}"), |b| {
            b.iter(|| items_json(&path, f));
        });
    }
    group.finish();

    let mut group = c.benchmark_group("export_1m");
    group.sample_size(10);
    let tagged = filter(None, Some("美俄关系"), 10_000);
    assert_eq!(atom(&store, &tagged), 10_000);
    group.bench_function("atom_tag_美俄关系_10000", |b| {
        b.iter(|| atom(&store, &tagged));
    });
    group.finish();

    for n in [10_000, 100_000] {
        let before = peak_mb();
        let start = Instant::now();
        let written = atom(&store, &filter(None, None, n));
        eprintln!(
            "atom export of {written} items: {:.1} s, peak memory {before:.0} MB before, {:.0} MB after",
            start.elapsed().as_secs_f64(),
            peak_mb()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
