//! Export, search and OPML end to end through the real binary: a corpus of fixture feeds
//! (plus the shared real-world samples when present) is polled, then exported in every
//! format and read back.

// Test helpers fail loudly; there is no caller to report to.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use feedwatch::text::fold;

use crate::util::{Env, feed_toml, fixtures};

const WATCHLIST: &str =
    "watchlist = [\"美俄关系\", \"三方会晤\", \"普京\", \"美国\", \"中国\"]\n\n";

fn shared() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared")
}

/// An environment with the fixture feeds (and shared samples) polled into its database.
fn corpus() -> Env {
    let env = Env::new();
    let mut config = format!("{WATCHLIST}[storage]\ndatabase = \"feedwatch.db\"\n\n");
    for (name, file) in [
        ("good", "good.rss"),
        ("mirror", "mirror.atom"),
        ("brief", "briefing.json"),
        ("gbk", "gbk-declared.rss"),
    ] {
        config.push_str(&feed_toml(
            name,
            &fixtures().join(file).display().to_string(),
        ));
    }
    let samples = shared().join("samples/feeds");
    if samples.is_dir() {
        for folder in ["utf8-modern", "mislabelled"] {
            let mut files: Vec<PathBuf> = std::fs::read_dir(samples.join(folder))
                .unwrap()
                .map(|e| e.unwrap().path())
                .collect();
            files.sort();
            for f in files {
                let name = f.file_stem().unwrap().to_string_lossy().into_owned();
                config.push_str(&feed_toml(&name, &f.display().to_string()));
            }
        }
    } else {
        eprintln!("skipped the shared samples: ../shared not found");
    }
    env.write_config(&config);
    env.ok(&["poll"]);
    env
}

/// `export` output as text.
fn export(env: &Env, args: &[&str]) -> String {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    env.ok(&all)
}

fn by_id(items: &[serde_json::Value]) -> BTreeMap<String, serde_json::Value> {
    items
        .iter()
        .map(|i| {
            (
                format!("urn:feedwatch:item:{}", i["id"].as_str().unwrap()),
                i.clone(),
            )
        })
        .collect()
}

#[test]
fn every_format_round_trips_titles_links_and_tags() {
    let env = corpus();
    let items = env.items(&[]);
    assert!(items.len() >= 8, "corpus too small: {}", items.len());
    let want = by_id(&items);
    for format in ["atom", "rss", "jsonfeed"] {
        let text = export(&env, &["--format", format]);
        let feed = feed_rs::parser::parse(Cursor::new(text.as_bytes()))
            .unwrap_or_else(|e| panic!("{format}: {e}"));
        assert_eq!(feed.entries.len(), items.len(), "{format}");
        for entry in &feed.entries {
            let item = &want[&entry.id];
            // Byte-exact, Chinese included.
            assert_eq!(
                entry.title.as_ref().unwrap().content.as_bytes(),
                item["title"].as_str().unwrap().as_bytes(),
                "{format}"
            );
            if let Some(link) = item["link"].as_str() {
                assert_eq!(entry.links[0].href, link, "{format}");
            }
            let mut tags: Vec<&str> = entry
                .categories
                .iter()
                .filter(|c| c.scheme.as_deref() != Some("urn:feedwatch:category"))
                .map(|c| c.term.as_str())
                .collect();
            tags.sort_unstable();
            let want_tags: Vec<&str> = item["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            assert_eq!(tags, want_tags, "{format}: {}", entry.id);
        }
    }
    // The data formats are the items shape itself.
    let jsonl = export(&env, &["--format", "jsonl"]);
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows, items);
    let csv = export(&env, &["--format", "csv"]);
    assert_eq!(
        csv::Reader::from_reader(csv.as_bytes()).records().count(),
        items.len()
    );
}

fn have(tool: &str, probe: &[&str]) -> bool {
    Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn exports_validate_against_the_schemas() {
    let schemas = shared().join("schemas");
    if !schemas.is_dir() {
        eprintln!("skipped: ../shared not found");
        return;
    }
    let env = corpus();
    let dir = env.dir.path();
    let filters: [&[&str]; 2] = [&[], &["--tag", "nothing-has-this"]];
    for (n, filter) in filters.iter().enumerate() {
        for (format, file) in [("atom", "a.xml"), ("rss", "r.xml"), ("jsonfeed", "j.json")] {
            let path = dir.join(format!("{n}-{file}"));
            let mut args = vec!["--format", format, "--output", path.to_str().unwrap()];
            args.extend_from_slice(filter);
            export(&env, &args);
        }
    }
    if have("xmllint", &["--version"]) {
        for n in 0..2 {
            let out = Command::new("xmllint")
                .arg("--noout")
                .arg("--relaxng")
                .arg(schemas.join("atom.rng"))
                .arg(dir.join(format!("{n}-a.xml")))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "Atom export {n} fails atom.rng:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    } else {
        eprintln!(
            "skipped Atom schema check: xmllint not installed (apt-get install libxml2-utils)"
        );
    }
    let check = "import json,sys,jsonschema\n\
                 s=json.load(open(sys.argv[1]))\n\
                 for f in sys.argv[2:]: jsonschema.validate(json.load(open(f,encoding='utf-8')), s)";
    if have("python3", &["-c", "import jsonschema"]) {
        let out = Command::new("python3")
            .args(["-c", check])
            .arg(schemas.join("jsonfeed-v1.1.schema.json"))
            .arg(dir.join("0-j.json"))
            .arg(dir.join("1-j.json"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "JSON Feed export fails the schema:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    } else {
        eprintln!("skipped JSON Feed schema check: python3 jsonschema not installed");
    }
    for n in 0..2 {
        let text = std::fs::read_to_string(dir.join(format!("{n}-r.xml"))).unwrap();
        let channel = rss::Channel::read_from(text.as_bytes()).unwrap();
        rss::validation::Validate::validate(&channel).unwrap();
    }
}

#[test]
fn items_and_export_apply_the_same_filters() {
    let env = corpus();
    let filters: &[&[&str]] = &[
        &[],
        &["--tag", "普京"],
        &["--tag", "美国", "--tag", "中国"],
        &["--any-tag", "三方会晤", "--any-tag", "普京"],
        &["--feed", "good", "--feed", "brief"],
        &["--since", "2025-06-09", "--until", "2025-06-10T12:00:00Z"],
        &["--untagged", "--limit", "3"],
        &["--search", "普京"],
        &["--search", "美國", "--limit", "4"],
        &["--search", "the", "--any-tag", "美国"],
    ];
    for filter in filters {
        let items = env.items(filter);
        let mut args = vec!["export", "--format", "jsonl"];
        args.extend_from_slice(filter);
        let exported: Vec<serde_json::Value> = env
            .ok(&args)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(exported, items, "{filter:?}");
    }
}

#[test]
fn search_agrees_with_a_scan_for_short_and_long_terms() {
    let env = corpus();
    let all = env.items(&[]);
    let needles = [
        "普",
        "国",
        "京",
        "普京",
        "美國",
        "会晤",
        "三方会",
        "乌克兰",
        "ａｉ",
        "e",
        "中国人",
    ];
    for needle in needles {
        let folded = fold(needle);
        let want: Vec<&str> = all
            .iter()
            .filter(|i| {
                fold(i["title"].as_str().unwrap()).contains(&folded)
                    || fold(i["text"].as_str().unwrap()).contains(&folded)
            })
            .map(|i| i["id"].as_str().unwrap())
            .collect();
        let got = env.items(&["--search", needle]);
        let got: Vec<&str> = got.iter().map(|i| i["id"].as_str().unwrap()).collect();
        assert_eq!(got, want, "{needle}");
    }
    assert!(
        !env.items(&["--search", "普京"]).is_empty(),
        "the corpus should mention 普京"
    );
    let empty = env.run(&["items", "--search", "\u{200b}"]);
    assert_eq!(
        empty.status.code(),
        Some(2),
        "zero-width search text is empty"
    );
}

#[test]
fn output_files_are_replaced_whole_and_titled_by_their_filter() {
    let env = corpus();
    let path = env.dir.path().join("out/feed.xml");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "old").unwrap();
    let said = export(
        &env,
        &[
            "--tag",
            "普京",
            "--format",
            "atom",
            "-o",
            path.to_str().unwrap(),
        ],
    );
    assert!(said.starts_with("exported "), "{said}");
    let text = std::fs::read_to_string(&path).unwrap();
    let feed = atom_syndication::Feed::read_from(text.as_bytes()).unwrap();
    assert_eq!(feed.title().as_str(), "feedwatch: tag 普京");
    let left: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
    assert_eq!(left.len(), 1, "no temporary file left behind");

    let titled = export(
        &env,
        &[
            "--format",
            "rss",
            "--title",
            "我的 <订阅>",
            "--link",
            "https://example.org/f.xml",
        ],
    );
    let channel = rss::Channel::read_from(titled.as_bytes()).unwrap();
    assert_eq!(channel.title(), "我的 <订阅>");
    assert_eq!(channel.link(), "https://example.org/f.xml");

    let bad = env.run(&["export", "--format", "atom", "--link", "javascript:x"]);
    assert_eq!(bad.status.code(), Some(2));
    let missing = env.run(&["export", "--format", "atom", "-o", "/nonexistent/dir/f.xml"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/dir/f.xml"));
}

#[test]
fn opml_export_and_import_round_trip_through_the_config() {
    let env = Env::new();
    env.write_config(&format!(
        "{WATCHLIST}{}",
        feed_toml("新华 国际", "https://www.news.cn/world/rss.xml")
    ));
    let opml = env.ok(&["opml", "export"]);
    assert!(
        opml.contains("xmlUrl=\"https://www.news.cn/world/rss.xml\""),
        "{opml}"
    );

    let file = env.dir.path().join("miniflux.opml");
    std::fs::write(
        &file,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<opml version=\"2.0\"><head><title>Miniflux</title></head><body>\
         <outline text=\"国际\"><outline title=\"新华 国际\" text=\"新华 国际\" xmlUrl=\"https://www.news.cn/world/rss2.xml\"></outline>\
         <outline title=\"Already\" xmlUrl=\"https://www.news.cn/world/rss.xml\"></outline></outline></body></opml>",
    )
    .unwrap();
    let printed = env.ok(&["opml", "import", file.to_str().unwrap()]);
    assert!(printed.contains("name = \"新华 国际 (2)\""), "{printed}");
    assert!(printed.contains("# skipped Already"), "{printed}");
    assert!(
        !std::fs::read_to_string(env.config())
            .unwrap()
            .contains("rss2.xml")
    );

    let wrote = env.ok(&["opml", "import", "--write", file.to_str().unwrap()]);
    assert!(wrote.contains("added 1 feeds"), "{wrote}");
    let checked = env.ok(&["config", "check"]);
    assert!(checked.contains('2'), "{checked}");
    let opml = env.ok(&["opml", "export"]);
    assert!(
        opml.contains("新华 国际 (2)") && opml.contains("rss2.xml"),
        "{opml}"
    );
}
