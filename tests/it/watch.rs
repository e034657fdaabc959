//! The watchlist end to end: a feed whose entries carry every kind of variant is polled
//! over loopback, queried by tag, then re-tagged after the config changes, without a
//! single new request to the server.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;

use crate::util::{Env, Server, feed_toml};

/// The seed story's shape: a keyword line, `<\/p>` artefacts, and terms split by markup,
/// an entity and a CDATA section; every one of the ten keywords occurs.
const SEED_TITLE: &str = "白宫称特朗普愿与普京会面：美俄关系能否回暖？";
const SEED_HTML: &str = "<p>关键词: 外交, 会面, 峰会<\\/p>\
    <h1>华盛顿与莫斯科的新一轮接触<\\/h1>\
    <p>据多家媒体报道，<strong>白宫<\\/strong>发言人周三表示，特<strong>朗普<\\/strong>\
    总统不排除在近期与普京举行会面。<\\/p>\
    <p>分析人士认为，美&#20420;关系的走向将取决于双方能否重启<em>和平</em>谈判，\
    而乌克兰方面则希望参与可能的三方<![CDATA[会晤]]>。<\\/p>\
    <ul><li><strong>经济：<\\/strong>美国制&#x88C1;仍在持续，俄罗斯经济承压。<\\/li>\
    <li><strong>安全：<\\/strong>欧洲担心地缘政治冲突外溢。<\\/li><\\/ul>";

const TEN: [&str; 10] = [
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

/// (guid, title, body HTML, categories)
const ENTRIES: &[(&str, &str, &str, &[&str])] = &[
    ("seed", SEED_TITLE, SEED_HTML, &["国际"]),
    ("traditional", "烏克蘭局勢", "<p>各方談美俄關係。</p>", &[]),
    ("full-width", "峰会消息", "<p>ＮＡＴＯ峰会今日开幕</p>", &[]),
    ("zero-width", "发言摘要", "<p>特\u{200B}朗普说</p>", &[]),
    ("entity", "关系评论", "<p>美&#20420;关系回暖</p>", &[]),
    ("markup", "会谈进展", "<p>和平<b>谈判</b>重启</p>", &[]),
    ("alias", "川普表示", "<p>川普发表讲话</p>", &[]),
    (
        "boundary",
        "Tirana travel",
        "<p>Tirana is the capital</p>",
        &[],
    ),
    ("latin", "Talks", "<p>talks with Iran today</p>", &[]),
    ("sports", "普京观看足球比赛", "<p>体育新闻</p>", &["体育"]),
    ("all-missing", "美国制裁伊朗", "<p>新一轮措施</p>", &[]),
    ("all-present", "美国制裁俄罗斯", "<p>新一轮措施</p>", &[]),
    ("plain", "天气晴朗", "<p>今日多云</p>", &["天气", "国际"]),
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An RSS document with the entries' HTML escaped into `<description>`.
fn rss() -> Vec<u8> {
    let mut doc = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>watch</title><link>https://example.org/</link>",
    );
    for (n, (guid, title, html, categories)) in ENTRIES.iter().enumerate() {
        doc.push_str(&format!(
            "<item><guid>{guid}</guid><title>{}</title><link>https://example.org/{guid}</link>\
             <pubDate>Tue, 10 Jun 2025 {:02}:00:00 +0000</pubDate><description>{}</description>",
            escape(title),
            n + 1,
            escape(html)
        ));
        for c in *categories {
            doc.push_str(&format!("<category>{c}</category>"));
        }
        doc.push_str("</item>");
    }
    doc.push_str("</channel></rss>");
    doc.into_bytes()
}

fn config(watch: &str, feed_url: &str) -> String {
    format!(
        "{watch}\n[storage]\ndatabase = \"feedwatch.db\"\n\n{}",
        feed_toml("watch", feed_url)
    )
}

/// Before: every keyword a shorthand topic except 美国制裁, which needs 俄罗斯 too.
const BEFORE: &str = "watchlist = [\"特朗普\", \"普京\", \"白宫\", \"乌克兰\", \"俄罗斯\", \"美俄关系\", \
     \"和平谈判\", \"三方会晤\", \"地缘政治冲突\", \"NATO\", \"Iran\"]\n\n\
     [[topic]]\nname = \"美国制裁\"\nall = [\"俄罗斯\"]\n";

/// After: 川普 becomes an alias of 特朗普, 普京 gets a `none` rule, 外交 is added and
/// Iran is dropped.
const AFTER: &str = "watchlist = [\"白宫\", \"乌克兰\", \"俄罗斯\", \"美俄关系\", \"和平谈判\", \
     \"三方会晤\", \"地缘政治冲突\", \"NATO\"]\n\n\
     [[topic]]\nname = \"美国制裁\"\nall = [\"俄罗斯\"]\n\n\
     [[topic]]\nname = \"特朗普\"\nterms = [\"特朗普\", \"川普\"]\n\n\
     [[topic]]\nname = \"普京\"\nnone = [\"足球\"]\n\n\
     [[topic]]\nname = \"外交\"\n";

/// The titles `items` lists with these extra arguments, as a set.
fn titles_of(env: &Env, args: &[&str]) -> BTreeSet<String> {
    env.items(args)
        .iter()
        .map(|i| i["title"].as_str().unwrap_or("<no title>").to_string())
        .collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn tags_of(item: &serde_json::Value) -> BTreeSet<String> {
    // A missing or malformed list reads as empty, which no expected set is.
    item["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| t.as_str().unwrap_or("<not a string>").to_string())
        .collect()
}

#[test]
fn variants_are_tagged_and_retag_follows_the_config_without_fetching() {
    let s = Server::start();
    s.state.feed("watch.rss", rss(), "application/rss+xml");
    let env = Env::new();
    env.write_config(&config(BEFORE, &s.url("watch.rss")));
    env.ok(&["poll"]);

    let all = env.items(&[]);
    assert_eq!(all.len(), ENTRIES.len());
    let by_title = |t: &str| all.iter().find(|i| i["title"] == t).unwrap().clone();
    let seed = by_title(SEED_TITLE);
    assert_eq!(tags_of(&seed), set(&TEN), "{seed}");
    // Each tag is explained with the term as written in the stored text or title.
    for m in seed["matches"].as_array().unwrap() {
        let field = m["field"].as_str().unwrap();
        let source = seed[field].as_str().unwrap();
        let at = m["offset"].as_u64().unwrap() as usize;
        let term = m["term"].as_str().unwrap();
        assert_eq!(source.get(at..at + term.len()), Some(term), "{m}");
    }
    // Source categories are kept and shown, and are not topics.
    assert_eq!(seed["categories"], serde_json::json!(["国际"]));
    let table = env.ok(&["items", "--tag", "乌克兰"]);
    assert!(table.contains("[国际]"), "{table}");
    assert!(titles_of(&env, &["--tag", "国际"]).is_empty());

    let cases: &[(&str, &[&str], &[&str])] = &[
        (
            "entity-split and traditional",
            &["--tag", "美俄关系"],
            &[SEED_TITLE, "烏克蘭局勢", "关系评论"],
        ),
        (
            "zero-width, no alias yet",
            &["--tag", "特朗普"],
            &[SEED_TITLE, "发言摘要"],
        ),
        (
            "markup-split",
            &["--tag", "和平谈判"],
            &[SEED_TITLE, "会谈进展"],
        ),
        (
            "every tag must match",
            &["--tag", "乌克兰", "--tag", "美俄关系"],
            &[SEED_TITLE, "烏克蘭局勢"],
        ),
        (
            "full-width and latin boundary",
            &["--any-tag", "NATO", "--any-tag", "Iran"],
            &["峰会消息", "Talks"],
        ),
        (
            "all rule",
            &["--tag", "美国制裁"],
            &[SEED_TITLE, "美国制裁俄罗斯"],
        ),
        (
            "untagged",
            &["--untagged"],
            &["川普表示", "Tirana travel", "美国制裁伊朗", "天气晴朗"],
        ),
    ];
    for (name, args, want) in cases {
        assert_eq!(titles_of(&env, args), set(want), "case {name}");
    }

    // Change the watchlist and retag: no request reaches the server.
    env.write_config(&config(AFTER, &s.url("watch.rss")));
    // A poll under the changed watchlist says that stored tags are stale.
    let stale = env.run(&["poll"]);
    assert!(stale.status.success());
    let warning = String::from_utf8_lossy(&stale.stderr);
    assert!(warning.contains("run `feedwatch retag`"), "{warning}");
    let requests = s.state.requests.load(Ordering::SeqCst);
    let out = env.ok(&["retag"]);
    assert!(
        out.contains(&format!("retagged {} items", ENTRIES.len()))
            && out.contains("2 tags added, 2 tags removed; 4 items changed")
            && out.contains("(3 matches added, 2 removed)"),
        "{out}"
    );
    let after: &[(&str, &[&str], &[&str])] = &[
        (
            "alias",
            &["--tag", "特朗普"],
            &[SEED_TITLE, "发言摘要", "川普表示"],
        ),
        ("new topic", &["--tag", "外交"], &[SEED_TITLE]),
        ("none rule", &["--tag", "普京"], &[SEED_TITLE]),
        ("dropped topic", &["--any-tag", "Iran"], &[]),
        (
            "untagged",
            &["--untagged"],
            &[
                "Tirana travel",
                "Talks",
                "普京观看足球比赛",
                "美国制裁伊朗",
                "天气晴朗",
            ],
        ),
    ];
    for (name, args, want) in after {
        assert_eq!(titles_of(&env, args), set(want), "case {name}");
    }
    let chuan = env.items(&["--tag", "特朗普", "--search", "川普"]);
    let terms: Vec<&str> = chuan[0]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["term"].as_str().unwrap())
        .collect();
    assert_eq!(terms, ["川普", "川普"]);

    // A second retag finds nothing to do.
    let again = env.ok(&["retag"]);
    assert!(
        again.contains("0 tags added, 0 tags removed; 0 items changed"),
        "{again}"
    );
    assert_eq!(s.state.requests.load(Ordering::SeqCst), requests);
    let fresh = env.run(&["poll"]);
    assert!(
        !String::from_utf8_lossy(&fresh.stderr).contains("retag"),
        "{}",
        String::from_utf8_lossy(&fresh.stderr)
    );
}

#[test]
fn retag_without_a_database_says_to_poll_first() {
    let env = Env::new();
    env.write_config(&config(
        "watchlist = [\"普京\"]\n",
        "http://127.0.0.1:9/none.rss",
    ));
    let out = env.run(&["retag"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("feedwatch poll"), "{err}");
    assert!(!env.db().exists(), "retag must not create a database");
}
