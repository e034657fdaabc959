//! Tagging accuracy against a generated bench corpus: polls every feed file of the corpus
//! with the release binary, the corpus's ten keywords as the watchlist, and compares each
//! (feed, entry)'s tags with the `keywords` of `ground_truth.json`.
//!
//! Usage: `cargo run --release --example accuracy -- CORPUS_DIR [--bin FEEDWATCH]`
//! (the corpus comes from the bench harness's `gen_corpus.py`; the binary defaults to the
//! `feedwatch` next to this example's build folder). Exits 1 on any mismatch.
//!
//! An entry is found by its link; an exact duplicate (the same story in several feeds, one
//! stored item under the first copy's link) through the links of its copies, and that item
//! must list the entry's feed among its sources.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

use anyhow::{Context, bail};
use serde_json::Value;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("accuracy: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> anyhow::Result<bool> {
    let mut args = std::env::args().skip(1);
    let mut corpus = None;
    let mut bin = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--bin" => bin = args.next().map(PathBuf::from),
            _ => corpus = Some(PathBuf::from(a)),
        }
    }
    let Some(corpus) = corpus else {
        bail!("usage: accuracy CORPUS_DIR [--bin FEEDWATCH]");
    };
    let bin = match bin {
        Some(b) => b,
        None => default_bin()?,
    };
    let truth_path = corpus.join("ground_truth.json");
    let truth: Value = serde_json::from_slice(
        &std::fs::read(&truth_path).with_context(|| format!("reading {}", truth_path.display()))?,
    )
    .with_context(|| format!("parsing {}", truth_path.display()))?;

    let keywords: Vec<String> = truth["params"]["keyword_rates"]
        .as_object()
        .context("ground truth has no params.keyword_rates")?
        .keys()
        .cloned()
        .collect();
    let feeds = truth["feeds"].as_array().context("no feeds")?;
    let records = truth["items"].as_array().context("no items")?;

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("feedwatch.toml");
    let mut text = format!(
        "watchlist = {}\n\n[storage]\ndatabase = \"feedwatch.db\"\n\n",
        serde_json::to_string(&keywords)?
    );
    for f in feeds {
        let index = f["index"].as_u64().context("feed without index")?;
        let path = corpus.join(f["path"].as_str().context("feed without path")?);
        text.push_str(&format!(
            "[[feed]]\nname = \"{}\"\nurl = {}\n\n",
            feed_name(index),
            serde_json::to_string(&path.display().to_string())?
        ));
    }
    std::fs::write(&config, text)?;

    let started = Instant::now();
    let polled = feedwatch(&bin, &config, &["poll"])?;
    let poll_secs = started.elapsed().as_secs_f64();
    let summary = polled.lines().last().unwrap_or("").to_string();
    let listed = feedwatch(&bin, &config, &["items", "--format", "json"])?;
    let items: Vec<Value> = serde_json::from_str(&listed).context("parsing items JSON")?;

    let by_link: HashMap<&str, &Value> = items
        .iter()
        .filter_map(|i| Some((i["link"].as_str()?, i)))
        .collect();
    // An exact duplicate is stored once, under the link of whichever copy came first.
    let group = |r: &'_ Value| -> Option<String> {
        let id = if r["kind"] == "exact_dup" {
            &r["dup_of"]
        } else {
            &r["id"]
        };
        id.as_str().map(str::to_string)
    };
    let mut copies: HashMap<String, Vec<&str>> = HashMap::new();
    for r in records {
        if let (Some(g), Some(link)) = (group(r), r["link"].as_str()) {
            copies.entry(g).or_default().push(link);
        }
    }

    let (mut tp, mut fp, mut fneg, mut exact, mut missing) = (0u64, 0u64, 0u64, 0u64, 0u64);
    let mut shown = 0;
    for r in records {
        let feed = feed_name(r["feed"].as_u64().unwrap_or(u64::MAX));
        let link = r["link"].as_str().unwrap_or("");
        let item = by_link.get(link).copied().or_else(|| {
            group(r)
                .and_then(|g| copies.get(&g))
                .and_then(|links| links.iter().find_map(|l| by_link.get(l).copied()))
        });
        let item = item.filter(|i| {
            i["feeds"]
                .as_array()
                .is_some_and(|f| f.iter().any(|n| n == feed.as_str()))
        });
        let want: BTreeSet<&str> = strings(&r["keywords"]);
        let Some(item) = item else {
            missing += 1;
            fneg += want.len() as u64;
            if shown < 10 {
                shown += 1;
                eprintln!("not stored: feed {feed} link {link}");
            }
            continue;
        };
        let got: BTreeSet<&str> = strings(&item["tags"]);
        let hit = got.intersection(&want).count() as u64;
        tp += hit;
        fp += got.len() as u64 - hit;
        fneg += want.len() as u64 - hit;
        if got == want {
            exact += 1;
        } else if shown < 10 {
            shown += 1;
            eprintln!(
                "mismatch: feed {feed} id {} title {:?}: tags {got:?}, ground truth {want:?}",
                r["id"], r["title"]
            );
        }
    }

    let retag_started = Instant::now();
    let retag = feedwatch(&bin, &config, &["retag"])?;
    let retag_secs = retag_started.elapsed().as_secs_f64();

    let pct = |a: u64, b: u64| {
        if b == 0 {
            100.0
        } else {
            100.0 * a as f64 / b as f64
        }
    };
    println!("corpus {}", corpus.display());
    println!("poll ({poll_secs:.1} s): {summary}");
    println!(
        "{} (feed, entry) pairs, {} stored items; {} pairs with exactly the ground-truth tags, {} not found",
        records.len(),
        items.len(),
        exact,
        missing
    );
    println!(
        "keyword tags: {tp} right, {fp} extra, {fneg} missed: precision {:.3}%, recall {:.3}%",
        pct(tp, tp + fp),
        pct(tp, tp + fneg)
    );
    println!(
        "retag, same watchlist ({retag_secs:.1} s): {}",
        retag.trim()
    );
    Ok(fp == 0 && fneg == 0 && missing == 0)
}

fn feed_name(index: u64) -> String {
    format!("f{index:05}")
}

fn strings(v: &Value) -> BTreeSet<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `feedwatch` in the profile folder this example was built into.
fn default_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let profile = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot locate the build folder")?;
    Ok(profile.join("feedwatch"))
}

/// Runs the binary with `--config` and returns its stdout; a failure is an error.
fn feedwatch(bin: &Path, config: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new(bin)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .with_context(|| format!("running {}", bin.display()))?;
    if !out.status.success() {
        bail!(
            "{} {args:?} failed: {}",
            bin.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}
