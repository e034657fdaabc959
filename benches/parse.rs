//! Throughput of the decode + parse stages, in bytes of fetched feed per second.
//!
//! Measures the project's own fixtures, the shared real-world samples when `../shared`
//! is present, and a sample of the generated bench corpus when it exists under
//! `/tmp/feedwatch-bench/corpus/*/feeds`. Everything after parsing (text, identity,
//! watch, store) has benches of its own.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use feedwatch::decode::decode;
use feedwatch::parse::{ParseContext, parse};

/// Every how many corpus files one is taken: keeps one iteration near 4 MB.
const CORPUS_STRIDE: usize = 20;

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e != "md"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn load(paths: &[PathBuf]) -> Vec<Vec<u8>> {
    paths.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// Decodes and parses every body; returns the entry count so nothing is optimised away.
fn ingest(bodies: &[Vec<u8>]) -> usize {
    let ctx = ParseContext {
        feed_url: "https://bench.example/feed.xml",
        timezone: None,
        now: Utc::now(),
    };
    bodies
        .iter()
        .map(|body| {
            let decoded = decode(body, None, None);
            parse(&decoded.text, &ctx).map_or(0, |feed| feed.entries.len())
        })
        .sum()
}

fn bench_set(c: &mut Criterion, name: &str, bodies: &[Vec<u8>]) {
    if bodies.is_empty() {
        println!("skipped {name}: no files");
        return;
    }
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(bytes as u64));
    group.sample_size(10);
    group.bench_function("decode+parse", |b| b.iter(|| ingest(black_box(bodies))));
    group.bench_function("decode", |b| {
        b.iter(|| {
            bodies
                .iter()
                .map(|body| decode(black_box(body), None, None).text.len())
                .sum::<usize>()
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    bench_set(
        c,
        "fixtures",
        &load(&files_in(&root.join("tests/fixtures/parse"))),
    );

    let samples = root.join("../shared/samples/feeds");
    if samples.is_dir() {
        let mut paths = files_in(&samples.join("mislabelled"));
        paths.extend(files_in(&samples.join("utf8-modern")));
        bench_set(c, "shared-samples", &load(&paths));
    } else {
        println!("skipped shared-samples: ../shared not found");
    }

    let corpus_root = Path::new("/tmp/feedwatch-bench/corpus");
    // The largest generated corpus present, if any.
    let corpus = std::fs::read_dir(corpus_root)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.path().join("feeds"))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter(|dir| dir.is_dir())
        .max_by_key(|dir| files_in(dir).len());
    match corpus {
        Some(dir) => {
            let paths: Vec<PathBuf> = files_in(&dir).into_iter().step_by(CORPUS_STRIDE).collect();
            bench_set(c, "corpus-sample", &load(&paths));
        }
        None => println!("skipped corpus-sample: no /tmp/feedwatch-bench/corpus/*/feeds"),
    }
}

criterion_group!(parse_benches, benches);
criterion_main!(parse_benches);
