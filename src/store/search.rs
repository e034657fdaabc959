//! The search index behind `--search`: building its documents from folded text, filling
//! it from the queue the write path leaves behind, and turning a search text into an
//! FTS5 query.
//!
//! Why the documents look the way they do is told in `migrations/0002_search.sql`: every
//! character bigram of the folded text becomes one fixed-width ASCII token, so a phrase
//! of a needle's bigrams matches exactly where the needle is a substring, for any length
//! down to one character. Folding itself is `text::fold`; the listing that uses the index
//! is in `query.rs`.

use rusqlite::{TransactionBehavior, params};

use super::{Store, StoreError, clamp_u64, sql_err};
use crate::text::fold;

/// Bits of the search key that hold the item id; the sort time sits above them.
const ID_BITS: u32 = 31;

/// Largest item id the key can hold.
const MAX_ID: i64 = (1 << ID_BITS) - 1;

/// Characters per encoded code point: 5 × 5 bits covers all of Unicode (21 bits).
const CODE_WIDTH: usize = 5;

const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";

/// The FTS rowid of an item: sorts like (sort_time, id), newest last. Times before 1970 or
/// after 2106 are clamped, so such items order among themselves by id only. Must stay
/// equal to the expression in the triggers of `0002_search.sql`.
pub(super) fn search_key(sort_time: i64, id: i64) -> i64 {
    (sort_time.clamp(0, i64::from(u32::MAX)) << ID_BITS) | (id & MAX_ID)
}

/// The item id inside a search key.
pub(super) fn key_item(key: i64) -> i64 {
    key & MAX_ID
}

/// The smallest key of any item whose sort time is at least `t`.
pub(super) fn key_floor(t: i64) -> i64 {
    search_key(t, 0)
}

fn push_code(out: &mut String, c: u32) {
    for shift in (0..CODE_WIDTH).rev() {
        let digit = (c >> (shift * 5)) & 31;
        out.push(char::from(DIGITS[digit as usize]));
    }
}

/// The token document of folded text: one bigram token per character, the last
/// character closed by the NUL code point, tokens separated by spaces.
pub(super) fn gram_document(folded: &str) -> String {
    let mut out = String::with_capacity(folded.len() * 4);
    let mut chars = folded.chars().peekable();
    while let Some(c) = chars.next() {
        if !out.is_empty() {
            out.push(' ');
        }
        push_code(&mut out, u32::from(c));
        push_code(&mut out, chars.peek().map_or(0, |n| u32::from(*n)));
    }
    out
}

/// The FTS5 query for a folded, non-empty needle: the phrase of its bigram tokens, or a
/// prefix query for one character. `None` for an empty needle.
pub(super) fn gram_query(needle: &str) -> Option<String> {
    let chars: Vec<char> = needle.chars().collect();
    match chars.as_slice() {
        [] => None,
        [one] => {
            let mut q = String::from("\"");
            push_code(&mut q, u32::from(*one));
            q.push_str("\" *");
            Some(q)
        }
        _ => {
            let mut q = String::from("\"");
            for pair in chars.windows(2) {
                if q.len() > 1 {
                    q.push(' ');
                }
                push_code(&mut q, u32::from(pair[0]));
                push_code(&mut q, u32::from(pair[1]));
            }
            q.push('"');
            Some(q)
        }
    }
}

/// True when `needle` (folded) is in the folded title or text: the definition the index
/// answers, used directly for items it does not hold yet.
pub(super) fn folded_contains(title: &str, text: &str, needle: &str) -> bool {
    fold(title).contains(needle) || fold(text).contains(needle)
}

fn id_out_of_range(id: i64) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_RANGE),
        Some(format!(
            "item row id {id} is beyond what the search index key holds"
        )),
    )
}

/// Progress of the search index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchIndexStatus {
    /// Items indexed by this call.
    pub indexed: u64,
    /// Items still waiting to be indexed (changed since the index last saw them).
    pub pending: u64,
}

impl Store {
    /// Items whose current text the search index does not hold yet. Searching stays
    /// correct meanwhile (those items are scanned), only slower.
    pub fn search_backlog(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM search_pending", [], |row| {
                row.get::<_, i64>(0)
            })
            .map(clamp_u64)
            .map_err(sql_err(&self.path))
    }

    /// Indexes up to `max_items` queued items in one IMMEDIATE transaction (so a feed
    /// refresh waits at most for one batch) and reports what is left. Call it in a loop
    /// after a poll pass or a daemon cycle until `pending` is 0 or a time budget is spent.
    pub fn index_search(&mut self, max_items: usize) -> Result<SearchIndexStatus, StoreError> {
        let err = sql_err(&self.path);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let mut indexed = 0u64;
        {
            let mut next = tx
                .prepare_cached(
                    "SELECT p.item_id, i.sort_time, i.title, i.text
                     FROM search_pending p JOIN items i ON i.id = p.item_id
                     ORDER BY p.item_id LIMIT ?1",
                )
                .map_err(&err)?;
            let mut insert = tx
                .prepare_cached("INSERT INTO search_grams (rowid, title, text) VALUES (?1, ?2, ?3)")
                .map_err(&err)?;
            let mut done = tx
                .prepare_cached("DELETE FROM search_pending WHERE item_id = ?1")
                .map_err(&err)?;
            let limit = i64::try_from(max_items).unwrap_or(i64::MAX);
            let mut rows = next.query([limit]).map_err(&err)?;
            while let Some(row) = rows.next().map_err(&err)? {
                let id: i64 = row.get(0).map_err(&err)?;
                let sort_time: i64 = row.get(1).map_err(&err)?;
                if !(0..=MAX_ID).contains(&id) {
                    return Err(err(id_out_of_range(id)));
                }
                let title = gram_document(&fold(&row.get::<_, String>(2).map_err(&err)?));
                let text = gram_document(&fold(&row.get::<_, String>(3).map_err(&err)?));
                insert
                    .execute(params![search_key(sort_time, id), title, text])
                    .map_err(&err)?;
                done.execute([id]).map_err(&err)?;
                indexed += 1;
            }
        }
        let pending: i64 = tx
            .query_row("SELECT count(*) FROM search_pending", [], |row| row.get(0))
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(SearchIndexStatus {
            indexed,
            pending: clamp_u64(pending),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{at, hash_of, refresh, story, sync, titles};
    use super::*;
    use crate::model::{ItemFilter, Story};

    /// A story with its own title and body.
    fn doc(entry: &str, title: &str, text: &str, published: i64) -> Story {
        let mut s = story(entry, title, published);
        s.text = text.to_string();
        s.html = format!("<p>{text}</p>");
        s.content_hash = hash_of(title, text);
        s
    }

    const CORPUS: &[(&str, &str)] = &[
        ("普京与特朗普会晤", "白宫表示，双方讨论了美俄关系。"),
        ("普京發表講話", "克里姆林宫說，會談在莫斯科舉行。"),
        (
            "ＰＵＴＩＮ ｍｅｅｔｓ envoys",
            "The Kremlin said talks went well.",
        ),
        ("乌克兰局势", "泽连斯基呼吁停火。普"),
        ("美国制裁", "新一轮制裁针对俄罗斯能源。"),
        ("Weather", "Sunny, 25°C in Beijing; 京 traffic heavy."),
        ("京津冀协同", "京津冀一体化推进。"),
        ("空", ""),
    ];

    fn search(store: &Store, needle: &str) -> Vec<String> {
        titles(
            store,
            &ItemFilter {
                search: Some(needle.to_string()),
                ..Default::default()
            },
        )
    }

    fn brute(store: &Store, needle: &str) -> Vec<String> {
        let n = fold(needle);
        crate::store::testutil::items(store, &ItemFilter::default())
            .into_iter()
            .filter(|i| folded_contains(&i.title, &i.text, &n))
            .map(|i| i.title)
            .collect()
    }

    const NEEDLES: &[&str] = &[
        "普",
        "京",
        "普京",
        "普京与",
        "美俄关系",
        "putin",
        "PUTIN",
        "Ｐｕｔｉｎ",
        "讲话",
        "講話",
        "t",
        "s.",
        "kremlin said",
        "。普",
        "京津冀",
        "25°c",
        "不存在",
        "e",
    ];

    #[test]
    fn search_equals_a_brute_force_scan_before_and_after_indexing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.db")).unwrap();
        sync(&mut store, &["a"]);
        let stories = CORPUS
            .iter()
            .enumerate()
            .map(|(n, (t, x))| doc(&format!("e{n}"), t, x, 100 + n as i64))
            .collect();
        store.apply_refresh(&refresh("a", 1000, stories)).unwrap();
        assert_eq!(store.search_backlog().unwrap(), CORPUS.len() as u64);
        for needle in NEEDLES {
            assert_eq!(
                search(&store, needle),
                brute(&store, needle),
                "queued: {needle}"
            );
        }
        // Half indexed, half queued: both paths merge in order.
        let status = store.index_search(4).unwrap();
        assert_eq!(
            (status.indexed, status.pending),
            (4, CORPUS.len() as u64 - 4)
        );
        for needle in NEEDLES {
            assert_eq!(
                search(&store, needle),
                brute(&store, needle),
                "mixed: {needle}"
            );
        }
        assert_eq!(store.index_search(100).unwrap().pending, 0);
        for needle in NEEDLES {
            let got = search(&store, needle);
            assert_eq!(got, brute(&store, needle), "indexed: {needle}");
        }
        assert_eq!(
            search(&store, "普京").len(),
            2,
            "Traditional 普京 folds too"
        );
        assert_eq!(search(&store, "putin").len(), 1, "full-width folds");
    }

    #[test]
    fn edits_and_merges_keep_the_index_in_step() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("e.db")).unwrap();
        sync(&mut store, &["a", "b"]);
        let old = doc("e1", "旧标题", "普京在莫斯科", 100);
        let other = doc("e2", "另一条", "无关内容", 200);
        store
            .apply_refresh(&refresh("a", 1000, vec![old.clone(), other.clone()]))
            .unwrap();
        store.index_search(100).unwrap();
        assert_eq!(search(&store, "莫斯科"), ["旧标题"]);

        // Edited in place (new text, new date): old text gone, new text found.
        let new = doc("e1", "新标题", "特朗普在白宫", 300);
        store.apply_refresh(&refresh("a", 2000, vec![new])).unwrap();
        assert_eq!(store.search_backlog().unwrap(), 1);
        assert!(search(&store, "莫斯科").is_empty());
        assert_eq!(search(&store, "白宫"), ["新标题"]);
        store.index_search(100).unwrap();
        assert!(search(&store, "莫斯科").is_empty());
        assert_eq!(search(&store, "白宫"), ["新标题"]);
        assert_eq!(search(&store, "在"), ["新标题"]);

        // Entry e1 now carries e2's text: the edited item is merged away and deleted.
        let mut moved = other.clone();
        moved.entry_id = "e1".into();
        store
            .apply_refresh(&refresh("a", 3000, vec![moved]))
            .unwrap();
        assert!(search(&store, "白宫").is_empty());
        assert_eq!(search(&store, "无关"), ["另一条"]);
        assert_eq!(store.index_search(100).unwrap().pending, 0);
        assert!(search(&store, "白宫").is_empty());
    }

    #[test]
    fn search_combines_with_every_other_filter() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("c.db")).unwrap();
        sync(&mut store, &["a", "b"]);
        let mut stories = Vec::new();
        for n in 0..30i64 {
            let mut s = doc(&format!("e{n}"), &format!("第{n}条"), "普京讲话", 1000 + n);
            if n % 3 == 0 {
                s = super::super::testutil::tagged(s, &["x"]);
            }
            stories.push(s);
        }
        let (a, b) = stories.split_at(15);
        store
            .apply_refresh(&refresh("a", 5000, a.to_vec()))
            .unwrap();
        store
            .apply_refresh(&refresh("b", 5000, b.to_vec()))
            .unwrap();
        store.index_search(10).unwrap();
        let base = ItemFilter {
            search: Some("普京".into()),
            ..Default::default()
        };
        let cases: Vec<(&str, ItemFilter)> = vec![
            (
                "limit",
                ItemFilter {
                    limit: Some(4),
                    ..base.clone()
                },
            ),
            (
                "tag",
                ItemFilter {
                    tags_all: vec!["x".into()],
                    ..base.clone()
                },
            ),
            (
                "feed",
                ItemFilter {
                    feeds: vec!["b".into()],
                    limit: Some(3),
                    ..base.clone()
                },
            ),
            (
                "window",
                ItemFilter {
                    since: Some(at(1005)),
                    until: Some(at(1012)),
                    ..base.clone()
                },
            ),
            (
                "untagged",
                ItemFilter {
                    untagged: true,
                    limit: Some(5),
                    ..base.clone()
                },
            ),
        ];
        for (name, filter) in cases {
            let without = ItemFilter {
                search: None,
                ..filter.clone()
            };
            assert_eq!(titles(&store, &filter), titles(&store, &without), "{name}");
            assert!(!titles(&store, &filter).is_empty(), "{name}");
        }
    }

    #[test]
    fn the_search_walk_needs_no_sort() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("p.db")).unwrap();
        let filter = ItemFilter {
            search: Some("普京".into()),
            limit: Some(50),
            ..Default::default()
        };
        let plan = super::super::query::plan_for_tests(&store.conn, &filter);
        let explain: Vec<String> = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {}", plan.0))
            .unwrap()
            .query_map(rusqlite::params_from_iter(plan.1.iter()), |r| r.get(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            !explain.iter().any(|l| l.contains("TEMP B-TREE")),
            "{explain:?}"
        );
    }

    #[test]
    fn keys_sort_like_listings() {
        let cases = [
            ("later time wins", (100, 5), (101, 1)),
            ("same time, higher id wins", (100, 1), (100, 2)),
            ("negative time clamps", (-50, 1), (0, 2)),
        ];
        for (name, lo, hi) in cases {
            assert!(search_key(lo.0, lo.1) < search_key(hi.0, hi.1), "{name}");
        }
        assert_eq!(key_item(search_key(1_750_000_000, 12345)), 12345);
        assert!(
            search_key(i64::MAX, MAX_ID) > 0,
            "no overflow into the sign bit"
        );
        assert_eq!(key_floor(7), search_key(7, 0));
    }

    #[test]
    fn documents_and_queries_line_up() {
        let doc = gram_document("普京a");
        let tokens: Vec<&str> = doc.split(' ').collect();
        assert_eq!(tokens.len(), 3);
        assert!(tokens.iter().all(|t| t.len() == 2 * CODE_WIDTH));
        assert!(tokens[2].ends_with("00000"), "last char is closed by NUL");
        assert_eq!(
            gram_query("普京").unwrap(),
            format!("\"{}\"", tokens[0]),
            "two chars are one bigram"
        );
        assert_eq!(
            gram_query("普京a").unwrap(),
            format!("\"{} {}\"", tokens[0], tokens[1])
        );
        assert_eq!(
            gram_query("普").unwrap(),
            format!("\"{}\" *", &tokens[0][..CODE_WIDTH])
        );
        assert_eq!(gram_query(""), None);
        assert_eq!(gram_document(""), "");
    }
}
