//! Folding plus tagging throughput: the corpus's 10 topics against 10,000 generated ones.
//!
//! Uses real corpus text when `/tmp/feedwatch-bench/corpus/` (or `FEEDWATCH_BENCH_CORPUS`)
//! holds files (tags stripped crudely), else about 1 MB of generated Chinese news-like text.
//! The goal: at least 100 MB/s per core with 10 topics, and at most 2× slower with 10,000.

use std::hint::black_box;
use std::path::PathBuf;
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
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((n as f64) * u.powf(2.5)) as usize
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

fn crude_strip(html: &str) -> String {
    let html = html.replace("<\\/", "</");
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Up to about 4 MB of real corpus text, cut into 4 KB items, when a corpus is present.
fn corpus_items() -> Option<Vec<(String, String)>> {
    let dir = std::env::var_os("FEEDWATCH_BENCH_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/feedwatch-bench/corpus"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    let mut items = Vec::new();
    let mut total = 0;
    for f in files {
        let Ok(raw) = std::fs::read_to_string(&f) else {
            continue;
        };
        let text = crude_strip(&raw);
        let mut start = 0;
        while start < text.len() && total < 4_000_000 {
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

/// 10,000 topics: the corpus's 10, then terms of 2–4 characters drawn, skewed towards the
/// frequent ones, from the characters the generated text uses, and some Latin words.
fn many_topics(n: usize) -> Vec<TopicSpec> {
    let pool = char_pool();
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
            pool_word(&mut rng, &pool, len)
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

fn bench(c: &mut Criterion) {
    let (items, source) = match corpus_items() {
        Some(items) => (items, "corpus"),
        None => (generated_items(), "generated"),
    };
    let bytes: usize = items.iter().map(|(a, b)| a.len() + b.len()).sum();
    let built = Instant::now();
    let (ten, many) = match (
        Watchlist::new(&many_topics(10)),
        Watchlist::new(&many_topics(10_000)),
    ) {
        (Ok(ten), Ok(many)) => (ten, many),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("watch bench: the watchlist does not compile: {e}");
            return;
        }
    };
    let build_ms = built.elapsed().as_millis();

    let fold_only = mb_per_s(bytes, || {
        items
            .iter()
            .map(|(a, b)| fold_with_map(a).text.len() + fold_with_map(b).text.len())
            .sum()
    });
    let r10 = mb_per_s(bytes, || run(&ten, &items));
    let r10k = mb_per_s(bytes, || run(&many, &items));
    eprintln!(
        "watch bench on {source} text, {bytes} bytes in {} items (CPU time, best of 5): \
         fold {fold_only:.0} MB/s; \
         fold+tag 10 topics {r10:.0} MB/s, 10,000 topics {r10k:.0} MB/s \
         (both watchlists compiled in {build_ms} ms); slowdown {:.2}x",
        items.len(),
        r10 / r10k
    );

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
    g.bench_function("fold+tag/10 topics", |b| b.iter(|| run(&ten, &items)));
    g.bench_function("fold+tag/10000 topics", |b| b.iter(|| run(&many, &items)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
