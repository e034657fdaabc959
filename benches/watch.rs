//! Folding plus tagging throughput: the corpus's 10 topics against 10,000 generated ones.
//!
//! Uses about 1 MB of real corpus text when `/tmp/feedwatch-bench/corpus/` (or the folder in
//! `FEEDWATCH_BENCH_CORPUS`) holds feed files (tags stripped crudely), else about 1 MB of
//! generated Chinese news-like text (`FEEDWATCH_BENCH_CORPUS=none` forces the latter).
//! The goal: at least 100 MB/s per core with 10 topics, and at most 2× slower with 10,000.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::config::TopicSpec;
use feedwatch::text::fold::fold_with_map;
use feedwatch::watch::Watchlist;

const CORPUS_TOPICS: [&str; 10] = [
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

/// A small deterministic generator, so runs compare.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, v: &[&'a str]) -> &'a str {
        v[(self.next() % v.len() as u64) as usize]
    }

    /// An index below `n`, small ones far more likely (roughly Zipf-like, as characters in
    /// real text are).
    fn skewed(&mut self, n: usize) -> usize {
        self.power(n, 2.5)
    }

    /// An index below `n`: uniform for `power` 1, skewed towards 0 above.
    fn power(&mut self, n: usize, power: f64) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64) * u.powf(power)) as usize
    }
}

/// 3,000 ideographs, the words' own characters first (the most frequent), then others
/// spread over the block: the characters of generated words and of generated topics.
fn char_pool() -> Vec<char> {
    let mut pool: Vec<char> = Vec::new();
    for c in WORDS.concat().chars() {
        if !pool.contains(&c) {
            pool.push(c);
        }
    }
    let mut u = 0x4E00;
    while pool.len() < 3000 {
        if let Some(c) = char::from_u32(u) {
            if !pool.contains(&c) {
                pool.push(c);
            }
        }
        u += 7;
    }
    pool
}

fn pool_word(rng: &mut Rng, pool: &[char], len: usize) -> String {
    (0..len).map(|_| pool[rng.skewed(pool.len())]).collect()
}

fn random_word(rng: &mut Rng, pool: &[char], len: usize, power: f64) -> String {
    (0..len)
        .map(|_| pool[rng.power(pool.len(), power)])
        .collect()
}

const WORDS: &[&str] = &[
    "总统",
    "表示",
    "会议",
    "经济",
    "发展",
    "问题",
    "国家",
    "政府",
    "官员",
    "认为",
    "可能",
    "进行",
    "关系",
    "合作",
    "国际",
    "地区",
    "安全",
    "局势",
    "谈判",
    "外交",
    "部长",
    "声明",
    "支持",
    "反对",
    "美国",
    "欧洲",
    "中国",
    "莫斯科",
    "华盛顿",
    "基辅",
    "军事",
    "援助",
    "市场",
    "能源",
    "价格",
    "记者",
    "报道",
    "消息",
    "人士",
    "分析",
    "未来",
    "继续",
    "已经",
    "目前",
    "同时",
    "此前",
    "之后",
    "双方",
    "会谈",
    "峰会",
    "领导人",
    "战争",
    "停火",
    "协议",
    "的",
    "在",
    "对",
    "与",
    "和",
    "了",
    "是",
    "将",
    "也",
    "都",
    "并",
    "但",
    "而",
];
const PUNCT: &[&str] = &[
    "，", "。", "、", "：", "“", "”", "；", "（", "）", "！", "？",
];
const LATIN: &[&str] = &[
    "NATO", "G7", "Reuters", "AP", "2025", "CNN", "EU", "Kremlin",
];

/// Roughly 1 MB of items shaped like Chinese news: (title, text) pairs of a few KB.
fn generated_items() -> Vec<(String, String)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let pool = char_pool();
    let mut items = Vec::new();
    let mut total = 0;
    while total < 1_000_000 {
        let mut title = String::new();
        for _ in 0..8 {
            title.push_str(rng.pick(WORDS));
        }
        let mut text = String::new();
        while text.len() < 4000 {
            let r = rng.next() % 100;
            match r {
                0..=1 => text.push_str(rng.pick(&CORPUS_TOPICS)),
                2..=3 => text.push_str(rng.pick(LATIN)),
                4..=14 => text.push_str(rng.pick(PUNCT)),
                15 => text.push_str("\n\n"),
                16..=45 => {
                    let len = 1 + (rng.next() % 2) as usize;
                    text.push_str(&pool_word(&mut rng, &pool, len));
                }
                _ => text.push_str(rng.pick(WORDS)),
            }
        }
        total += title.len() + text.len();
        items.push((title, text));
    }
    items
}

/// Feed XML to text, crudely: escaped markup unescaped, then every tag dropped.
fn crude_strip(xml: &str) -> String {
    let xml = xml
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
        .replace("<\\/", "</");
    let mut out = String::with_capacity(xml.len());
    let mut in_tag = false;
    for c in xml.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Feed files under `dir`, in name order, smaller corpora (fewer files) first.
fn feed_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort_by_key(|p| (p.is_dir(), p.to_string_lossy().len(), p.clone()));
    for p in paths {
        if p.is_dir() {
            feed_files(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("rss" | "atom" | "rdf" | "xml" | "txt" | "html")
        ) {
            out.push(p);
        }
    }
}

/// About 1 MB of real corpus text, cut into 4 KB items, when a corpus is present (UTF-8
/// feeds only; the others are skipped).
fn corpus_items() -> Option<Vec<(String, String)>> {
    let dir = std::env::var_os("FEEDWATCH_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/feedwatch-bench/corpus"));
    let mut files = Vec::new();
    feed_files(&dir, &mut files);
    let mut items = Vec::new();
    let mut total = 0;
    for f in files {
        if total >= 1_000_000 {
            break;
        }
        let Ok(raw) = std::fs::read_to_string(&f) else {
            continue;
        };
        let text = crude_strip(&raw);
        let mut start = 0;
        while start < text.len() && total < 1_000_000 {
            let mut end = (start + 4000).min(text.len());
            while !text.is_char_boundary(end) {
                end += 1;
            }
            total += end - start;
            items.push((String::new(), text[start..end].to_string()));
            start = end;
        }
    }
    (!items.is_empty()).then_some(items)
}

fn topic(name: String) -> TopicSpec {
    TopicSpec {
        name,
        terms: Vec::new(),
        all: Vec::new(),
        none: Vec::new(),
        fields: Vec::new(),
    }
}

/// The 3,000 ideographs the items use most, most frequent first.
fn frequent_chars(items: &[(String, String)]) -> Vec<char> {
    let mut counts: std::collections::HashMap<char, usize> = std::collections::HashMap::new();
    for (title, text) in items {
        for c in title.chars().chain(text.chars()) {
            if ('\u{4E00}'..='\u{9FFF}').contains(&c) {
                *counts.entry(c).or_default() += 1;
            }
        }
    }
    let mut chars: Vec<(char, usize)> = counts.into_iter().collect();
    chars.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    chars.into_iter().take(3000).map(|(c, _)| c).collect()
}

/// `n` topics: the corpus's 10, then terms of 2–4 characters drawn from `pool` (the text's
/// own characters, most frequent first; `power` above 1 favours the frequent ones), and one
/// in ten a Latin word.
fn many_topics(n: usize, pool: &[char], power: f64) -> Vec<TopicSpec> {
    let mut rng = Rng(42);
    let mut seen = std::collections::HashSet::new();
    let mut topics: Vec<TopicSpec> = CORPUS_TOPICS.iter().map(|t| topic(t.to_string())).collect();
    seen.extend(CORPUS_TOPICS.iter().map(|t| t.to_string()));
    while topics.len() < n {
        let name: String = if rng.next() % 10 == 0 {
            let len = 4 + rng.next() % 6;
            (0..len)
                .map(|_| char::from(b'a' + (rng.next() % 26) as u8))
                .collect()
        } else {
            let len = 2 + (rng.next() % 3) as usize;
            random_word(&mut rng, pool, len, power)
        };
        if seen.insert(name.clone()) {
            topics.push(topic(name));
        }
    }
    topics
}

fn run(w: &Watchlist, items: &[(String, String)]) -> usize {
    items
        .iter()
        .map(|(title, text)| w.tag(black_box(title), black_box(text)).len())
        .sum()
}

/// Time this thread spent on a CPU, when Linux tells: on a busy machine it is a fairer
/// measure than the wall clock, which also counts waiting for a CPU.
fn cpu_time() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

/// MB/s by CPU time (wall clock when CPU time is unknown), best of a few rounds of at
/// least a quarter second each (CPU time advances in scheduler ticks).
fn mb_per_s(bytes: usize, f: impl Fn() -> usize) -> f64 {
    let t = Instant::now();
    black_box(f());
    let reps = (0.25 / t.elapsed().as_secs_f64().max(1e-6)).ceil() as usize;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let (c, t) = (cpu_time(), Instant::now());
        for _ in 0..reps {
            black_box(f());
        }
        let secs = match (c, cpu_time()) {
            (Some(a), Some(b)) => b - a,
            _ => t.elapsed().as_secs_f64(),
        };
        best = best.min(secs / reps as f64);
    }
    bytes as f64 / best / 1e6
}

/// Topics tagged and matches reported per item.
fn per_item(w: &Watchlist, items: &[(String, String)]) -> (f64, f64) {
    let (mut tags, mut matches) = (0, 0);
    for (title, text) in items {
        let found = w.tag(title, text);
        matches += found.len();
        let mut topics: Vec<&str> = found.iter().map(|m| m.topic.as_str()).collect();
        topics.dedup();
        tags += topics.len();
    }
    let n = items.len().max(1) as f64;
    (tags as f64 / n, matches as f64 / n)
}

fn bench(c: &mut Criterion) {
    let (items, source) = match corpus_items() {
        Some(items) => (items, "corpus"),
        None => (generated_items(), "generated"),
    };
    let bytes: usize = items.iter().map(|(a, b)| a.len() + b.len()).sum();
    let pool = frequent_chars(&items);
    // The goal's case: 10,000 terms of characters drawn uniformly from those the text uses.
    // The stress case: drawn mostly from its most frequent characters, so that every item
    // is tagged by dozens of topics; reported, not part of the goal.
    let sets = [
        ("10 topics", many_topics(10, &pool, 1.0)),
        ("10000 random topics", many_topics(10_000, &pool, 1.0)),
        (
            "10000 frequent-character topics",
            many_topics(10_000, &pool, 2.5),
        ),
    ];
    let mut lists = Vec::new();
    for (name, topics) in &sets {
        let built = Instant::now();
        match Watchlist::new(topics) {
            Ok(w) => lists.push((*name, w, built.elapsed().as_millis())),
            Err(e) => {
                eprintln!("watch bench: {name} do not compile: {e}");
                return;
            }
        }
    }

    let fold_only = mb_per_s(bytes, || {
        items
            .iter()
            .map(|(a, b)| fold_with_map(a).text.len() + fold_with_map(b).text.len())
            .sum()
    });
    eprintln!(
        "watch bench on {source} text, {bytes} bytes in {} items (MB/s by CPU time, best of \
         5): fold alone {fold_only:.0} MB/s",
        items.len()
    );
    let mut base = None;
    for (name, w, build_ms) in &lists {
        let speed = mb_per_s(bytes, || run(w, &items));
        let base = *base.get_or_insert(speed);
        let (tags, matches) = per_item(w, &items);
        eprintln!(
            "watch bench: fold+tag, {name}: {speed:.0} MB/s, {:.2}x slower than 10 topics \
             ({tags:.1} topics and {matches:.1} matches per item; compiled in {build_ms} ms)",
            base / speed
        );
    }

    let mut g = c.benchmark_group("watch");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(20);
    g.bench_function("fold", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|(a, t)| fold_with_map(a).text.len() + fold_with_map(t).text.len())
                .sum::<usize>()
        })
    });
    for (name, w, _) in &lists {
        g.bench_function(format!("fold+tag/{name}"), |b| b.iter(|| run(w, &items)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
