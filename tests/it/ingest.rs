//! Ingest end to end: poll, items, feeds, check and config through the real binary.

use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::util::{Env, Route, Server, feed_toml, fixture, titles};

fn good_server() -> Server {
    let s = Server::start();
    s.state
        .feed("good.rss", fixture("good.rss"), "application/rss+xml");
    s.state.feed(
        "mirror.atom",
        fixture("mirror.atom"),
        "application/atom+xml",
    );
    s.state.feed(
        "briefing.json",
        fixture("briefing.json"),
        "application/feed+json",
    );
    s
}

fn base_config(extra: &str) -> String {
    format!(
        "watchlist = [\"美俄关系\", \"三方会晤\", \"普京\"]\n\n[storage]\ndatabase = \"feedwatch.db\"\n\n\
         [poll]\ntimeout = \"1s\"\nconnect_timeout = \"1s\"\nmax_body = \"256KiB\"\n\n{extra}"
    )
}

#[test]
fn poll_stores_each_story_once_with_every_source() {
    let s = good_server();
    let env = Env::new();
    env.write_config(&base_config(&format!(
        "{}{}{}",
        feed_toml("good", &s.url("good.rss")),
        feed_toml("mirror", &s.url("mirror.atom")),
        feed_toml("brief", &s.url("briefing.json"))
    )));
    let out = env.ok(&["poll"]);
    assert!(
        out.contains("polled 3 feeds: 3 fetched, 0 not modified, 0 failed"),
        "{out}"
    );

    let items = env.items(&[]);
    // good.rss has 3, mirror.atom 2 (one of them the same story as good.rss), briefing 1.
    assert_eq!(items.len(), 5, "{:?}", titles(&items));
    let shared = items
        .iter()
        .find(|i| i["title"] == "美俄关系出现新变化")
        .unwrap();
    assert_eq!(shared["feeds"], serde_json::json!(["good", "mirror"]));
    assert_eq!(
        shared["text"],
        "白宫表示，特朗普与普京可能在下周会晤。\n\n乌克兰方面尚未回应。"
    );
    for key in [
        "id",
        "link",
        "published",
        "first_seen",
        "tags",
        "matches",
        "content_hash",
    ] {
        assert!(shared.get(key).is_some(), "missing {key} in {shared}");
    }
    // Newest first.
    assert_eq!(items[0]["title"], "美俄关系出现新变化");

    // Polling again stores nothing new, and conditional GETs are answered 304.
    let again = env.ok(&["poll"]);
    assert!(again.contains("0 new items"), "{again}");
    assert!(again.contains("3 not modified"), "{again}");
    assert_eq!(s.state.not_modified.load(Ordering::SeqCst), 3);
    assert_eq!(env.items(&[]).len(), 5);
}

#[test]
fn one_bad_feed_never_stops_the_others() {
    let s = good_server();
    s.state.feed(
        "malformed.rss",
        fixture("malformed.rss"),
        "application/rss+xml",
    );
    s.state.feed(
        "page.html",
        fixture("page.html"),
        "text/html; charset=utf-8",
    );
    s.state.feed("empty", Vec::new(), "application/rss+xml");
    s.state.set("gone", Route::Status(404));
    s.state.set("broken", Route::Status(500));
    s.state.set("slow", Route::Slow(Duration::from_secs(5)));
    s.state
        .feed("huge", vec![b'x'; 600 * 1024], "application/rss+xml");
    s.state.set("loop", Route::Redirect("loop".into()));
    // GBK bytes with no declaration, once with no charset and once with a wrong one.
    s.state.feed(
        "gbk-plain",
        fixture("gbk-undeclared.rss"),
        "application/xml",
    );
    s.state.feed(
        "gbk-lying",
        fixture("gbk-undeclared.rss"),
        "application/xml; charset=utf-8",
    );
    s.state
        .feed("no-id.rss", fixture("no-id.rss"), "application/rss+xml");

    let bad = [
        ("malformed", "malformed.rss"),
        ("html", "page.html"),
        ("empty", "empty"),
        ("gone", "gone"),
        ("broken", "broken"),
        ("slow", "slow"),
        ("huge", "huge"),
        ("loop", "loop"),
    ];
    let good = [
        ("good", "good.rss"),
        ("gbk-plain", "gbk-plain"),
        ("gbk-lying", "gbk-lying"),
        ("noid", "no-id.rss"),
    ];
    let mut feeds = String::new();
    for (name, path) in bad.iter().chain(good.iter()) {
        feeds.push_str(&feed_toml(name, &s.url(path)));
    }
    let env = Env::new();
    env.write_config(&base_config(&feeds));
    let out = env.ok(&["poll"]);
    assert!(out.contains(&format!("{} failed", bad.len())), "{out}");

    let health = env.feeds();
    let expect_error = [
        ("malformed", "malformed"),
        ("html", "HTML page"),
        ("empty", "empty"),
        ("gone", "404"),
        ("broken", "500"),
        ("slow", "timed out"),
        ("huge", "limit"),
        ("loop", "redirect"),
    ];
    for (name, needle) in expect_error {
        let h = &health[name];
        let err = h["last_error"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no error: {h}"));
        assert!(
            err.to_lowercase().contains(&needle.to_lowercase()),
            "{name}: {err:?} lacks {needle:?}"
        );
        assert_eq!(h["error_streak"], 1, "{name}");
    }
    for (name, _) in good {
        assert!(
            health[name]["last_error"].is_null(),
            "{name}: {}",
            health[name]
        );
        assert_eq!(health[name]["error_streak"], 0);
    }

    let items = env.items(&[]);
    let t = titles(&items);
    for want in [
        "美俄关系出现新变化",
        "普京会见来访代表团",
        "美国制裁新措施公布",
        "无链接的条目",
        "AT&T and T-Mobile & friends",
    ] {
        assert!(t.iter().any(|x| x == want), "{want} missing from {t:?}");
    }
    // The same GBK feed served twice is one set of stories with two sources.
    let putin = items
        .iter()
        .find(|i| i["title"] == "普京会见来访代表团")
        .unwrap();
    assert_eq!(
        putin["feeds"],
        serde_json::json!(["gbk-lying", "gbk-plain"])
    );
    assert!(!t.iter().any(|x| x.contains('\u{FFFD}')), "{t:?}");

    // A second poll keeps counting the failures and still stores nothing twice.
    env.ok(&["poll"]);
    assert_eq!(env.feeds()["gone"]["error_streak"], 2);
    assert_eq!(env.items(&[]).len(), items.len());
}

#[test]
fn edited_entry_updates_its_item_instead_of_adding_one() {
    let s = Server::start();
    let v1 = fixture("good.rss");
    s.state.feed("feed", v1.clone(), "application/rss+xml");
    let env = Env::new();
    env.write_config(&base_config(&feed_toml("feed", &s.url("feed"))));
    env.ok(&["poll"]);
    let before = env.items(&[]);
    let id_before = before
        .iter()
        .find(|i| i["title"] == "三方会晤筹备中")
        .unwrap()["id"]
        .clone();

    let edited = String::from_utf8(v1)
        .unwrap()
        .replace("的地点仍在讨论", "的地点已经确定");
    s.state
        .feed("feed", edited.into_bytes(), "application/rss+xml");
    let out = env.ok(&["poll"]);
    assert!(out.contains("1 updated"), "{out}");
    let after = env.items(&[]);
    assert_eq!(after.len(), before.len());
    let item = after
        .iter()
        .find(|i| i["title"] == "三方会晤筹备中")
        .unwrap();
    assert!(
        item["text"].as_str().unwrap().contains("已经确定"),
        "{item}"
    );
    assert_eq!(item["id"], id_before, "the public id survives an edit");
}

#[test]
fn entries_without_ids_are_stable_across_polls() {
    let s = Server::start();
    // Served with no ETag match possible: the body changes its whitespace each time, so the
    // second poll really re-parses the document.
    s.state
        .feed("noid", fixture("no-id.rss"), "application/rss+xml");
    let env = Env::new();
    env.write_config(&base_config(&feed_toml("noid", &s.url("noid"))));
    env.ok(&["poll"]);
    let mut body = fixture("no-id.rss");
    body.extend_from_slice(b"\n\n");
    s.state.feed("noid", body, "application/rss+xml");
    let out = env.ok(&["poll"]);
    assert!(out.contains("0 new items"), "{out}");
    assert_eq!(env.items(&[]).len(), 2);
}

#[test]
fn items_filters_and_formats() {
    let s = good_server();
    let env = Env::new();
    env.write_config(&base_config(&format!(
        "{}{}",
        feed_toml("good", &s.url("good.rss")),
        feed_toml("mirror", &s.url("mirror.atom"))
    )));
    env.ok(&["poll"]);

    assert_eq!(titles(&env.items(&["--feed", "mirror"])).len(), 2);
    assert_eq!(env.items(&["--limit", "1"]).len(), 1);
    let june9 = titles(&env.items(&["--since", "2025-06-09", "--until", "2025-06-10"]));
    assert_eq!(june9, ["三方会晤筹备中"]);

    let jsonl = env.ok(&["items", "--format", "jsonl"]);
    assert_eq!(jsonl.lines().count(), 4);
    for line in jsonl.lines() {
        serde_json::from_str::<serde_json::Value>(line).unwrap();
    }
    let csv = env.ok(&["items", "--format", "csv", "--feed", "good"]);
    assert!(
        csv.starts_with("id,published,first_seen,feeds,tags,title,link"),
        "{csv}"
    );
    // Records, not lines: a text with paragraphs is one quoted multi-line field.
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert!(
        rows.iter().all(|r| r[3].split(';').any(|f| f == "good")),
        "{csv}"
    );
    let table = env.ok(&["items"]);
    assert!(table.contains("三方会晤筹备中"), "{table}");

    let bad = env.run(&["items", "--since", "yesterday-ish"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
}

#[test]
fn items_into_a_closed_pipe_exits_quietly() {
    let s = good_server();
    let env = Env::new();
    let mut feeds = String::new();
    for i in 0..30 {
        // Thirty copies of the same feed under different names give plenty of rows.
        s.state.feed(
            &format!("f{i}"),
            fixture("good.rss")
                .iter()
                .copied()
                .chain(format!("<!-- {i} -->").into_bytes())
                .collect(),
            "application/rss+xml",
        );
        feeds.push_str(&feed_toml(&format!("f{i}"), &s.url(&format!("f{i}"))));
    }
    env.write_config(&base_config(&feeds));
    env.ok(&["poll"]);
    let cmd = format!(
        "'{}' --config '{}' items --format jsonl | head -n 1",
        env!("CARGO_BIN_EXE_feedwatch"),
        env.config().display()
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "",
        "no broken-pipe noise"
    );
}

#[test]
fn bad_config_exits_2_naming_file_key_and_line() {
    let env = Env::new();
    env.write_config("[poll]\nconcurrency = 4\ntimeout = \"soon\"\n");
    let out = env.run(&["poll"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!("{}:3: poll.timeout", env.config().display());
    assert!(err.contains(&want), "{err}");

    env.write_config("[[feed]]\nname = \"a\"\n");
    let out = env.run(&["config", "check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("feed[1].url"));
}

#[test]
fn config_example_is_a_valid_config() {
    let env = Env::new();
    let example = env.ok(&["config", "example"]);
    assert!(example.contains("[[feed]]") && example.contains("[poll]"));
    env.write_config(&example);
    let out = env.ok(&["config", "check"]);
    assert!(out.contains(": ok"), "{out}");
}

#[test]
fn check_shows_what_would_be_stored_and_writes_nothing() {
    let s = good_server();
    let env = Env::new();
    env.write_config(&base_config(""));
    let out = env.ok(&["check", &s.url("good.rss"), "--format", "json"]);
    let items: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(items.as_array().unwrap().len(), 3);
    assert_eq!(items[0]["title"], "美俄关系出现新变化");
    let table = env.ok(&[
        "check",
        &crate::util::fixtures()
            .join("gbk-declared.rss")
            .display()
            .to_string(),
    ]);
    assert!(table.contains("普京会见来访代表团"), "{table}");
    assert!(
        table.contains("gb18030") || table.contains("GB18030") || table.contains("GBK"),
        "{table}"
    );
    assert!(!env.db().exists(), "check must not create a database");
}

#[test]
fn feeds_lists_configured_feeds_before_any_poll() {
    let env = Env::new();
    env.write_config(&base_config(&feed_toml("a", "a.xml")));
    let health = env.feeds();
    assert_eq!(health["a"]["last_fetch"], serde_json::Value::Null);
    let table = env.ok(&["feeds"]);
    assert!(table.contains("never"), "{table}");
}

#[test]
fn index_brings_search_up_to_date_and_search_finds_short_terms() {
    let s = good_server();
    let env = Env::new();
    env.write_config(&base_config(&format!(
        "{}{}",
        feed_toml("good", &s.url("good.rss")),
        feed_toml("mirror", &s.url("mirror.atom"))
    )));
    env.ok(&["poll"]);
    let before = titles(&env.items(&["--search", "普京"]));
    let out = env.ok(&["index"]);
    assert!(out.contains("0 waiting"), "{out}");
    // Indexed or scanned, the answer is the same.
    assert_eq!(titles(&env.items(&["--search", "普京"])), before);
    assert_eq!(before, ["美俄关系出现新变化"]);
    assert_eq!(
        titles(&env.items(&["--search", "會晤"])).len(),
        2,
        "Traditional 會 folds to 会"
    );
    let missing = Env::new();
    missing.write_config(&base_config(""));
    let out = missing.run(&["index"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(!missing.db().exists(), "index must not create a database");
}
