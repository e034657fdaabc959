//! The filtered, newest-first listing behind `items` and `export`.
//!
//! Rows are streamed to a callback, never collected, so exporting every item keeps
//! memory flat. The listing query yields only (sort_time, item id) pairs in order; each
//! item's columns, feeds and matches are then read by row id. The listing is built so
//! that every filter shape stays an index walk that stops after LIMIT rows on a million
//! items: no tag filter walks `items_newest`; a `--tag` walks that topic's slice of
//! `item_topics`, which carries the sort time; several `--any-tag` topics are walked
//! side by side and merged (`UNION` with `ORDER BY`, which SQLite runs as a merge).
//! Rendering the rows (JSON, CSV, feeds) is left to the callers.

use rusqlite::types::Value;
use rusqlite::{CachedStatement, Connection, OptionalExtension, params_from_iter};

use super::search::{folded_contains, gram_query, key_floor, key_item, search_key};
use super::{Store, StoreError, from_secs, sql_err};
use crate::model::{ContentHash, Field, ItemFilter, ItemView, TagMatch};
use crate::text::fold;

/// When several `--tag` topics must all match, the scan is driven by the rarest one;
/// counting stops here so choosing never costs more than a short index walk.
const RARITY_PROBE: i64 = 10_000;

impl Store {
    /// Calls `each` for every item matching `filter`, newest first.
    pub fn for_each_item<E: From<StoreError>>(
        &self,
        filter: &ItemFilter,
        mut each: impl FnMut(ItemView) -> Result<(), E>,
    ) -> Result<(), E> {
        let err = sql_err(&self.path);
        let fail = |e: rusqlite::Error| E::from(err(e));
        let Some(plan) = Plan::build(&self.conn, filter).map_err(fail)? else {
            return Ok(());
        };
        // One read transaction for the whole listing, so the queued-items scan, the
        // listing and the per-item lookups all see the same snapshot.
        let _snapshot = self.conn.unchecked_transaction().map_err(fail)?;
        let mut queued = match &plan.pending {
            Some(scan) => scan.run(&self.conn, plan.limit).map_err(fail)?,
            None => Vec::new(),
        }
        .into_iter()
        .peekable();
        let mut listing = self.conn.prepare_cached(&plan.sql).map_err(fail)?;
        let mut lookups = Lookups::prepare(&self.conn).map_err(fail)?;
        let mut rows = listing
            .query(params_from_iter(plan.params.iter()))
            .map_err(fail)?;
        let mut left = plan.limit.unwrap_or(u64::MAX);
        let mut emit = |id: i64| -> Result<bool, E> {
            each(lookups.item(id).map_err(fail)?)?;
            left -= 1;
            Ok(left > 0)
        };
        while let Some(row) = rows.next().map_err(fail)? {
            let key: i64 = row.get(0).map_err(fail)?;
            let id: i64 = row.get(1).map_err(fail)?;
            // Queued items are merged in by the same key the listing is ordered by.
            while let Some((_, queued_id)) = queued.next_if(|(k, _)| *k > key) {
                if !emit(queued_id)? {
                    return Ok(());
                }
            }
            if !emit(id)? {
                return Ok(());
            }
        }
        for (_, id) in queued {
            if !emit(id)? {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The listing query for one filter, with its parameters in order. It selects (order
/// key, item id), newest first: the key is the sort time, or the search key when the
/// search index drives the listing.
struct Plan {
    sql: String,
    params: Vec<Value>,
    /// With `--search`: the items the index does not hold yet, checked one by one.
    pending: Option<PendingScan>,
    limit: Option<u64>,
}

/// The queued items that pass every other filter, to be checked against the folded
/// needle in Rust.
struct PendingScan {
    sql: String,
    params: Vec<Value>,
    needle: String,
}

impl PendingScan {
    /// (search key, id) of the queued items that match, newest first, at most `limit`.
    fn run(&self, conn: &Connection, limit: Option<u64>) -> rusqlite::Result<Vec<(i64, i64)>> {
        let queued: bool =
            conn.query_row("SELECT EXISTS (SELECT 1 FROM search_pending)", [], |r| {
                r.get(0)
            })?;
        if !queued {
            return Ok(Vec::new());
        }
        let mut stmt = conn.prepare_cached(&self.sql)?;
        let mut rows = stmt.query(params_from_iter(self.params.iter()))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let title: String = row.get(2)?;
            let text: String = row.get(3)?;
            if folded_contains(&title, &text, &self.needle) {
                out.push((search_key(row.get(0)?, row.get(1)?), row.get(1)?));
                if limit.is_some_and(|n| out.len() as u64 >= n) {
                    break;
                }
            }
        }
        // The scan ran in (sort_time, id) order; clamped keys may tie differently.
        out.sort_unstable_by(|a, b| b.cmp(a));
        Ok(out)
    }
}

impl Plan {
    /// `None` when the filter cannot match anything (an unknown `--tag`, no known
    /// `--feed` or `--any-tag`, `--limit 0`), which also spares the query.
    fn build(conn: &Connection, filter: &ItemFilter) -> rusqlite::Result<Option<Plan>> {
        if filter.limit == Some(0) {
            return Ok(None);
        }
        let mut all = Vec::new();
        for name in &filter.tags_all {
            match lookup(conn, "SELECT id FROM topics WHERE name = ?1", name)? {
                Some(id) if !all.contains(&id) => all.push(id),
                Some(_) => {}
                None => return Ok(None),
            }
        }
        let mut any = known_ids(
            conn,
            "SELECT id FROM topics WHERE name = ?1",
            &filter.tags_any,
        )?;
        if !filter.tags_any.is_empty() && any.is_empty() {
            return Ok(None);
        }
        let feeds = known_ids(conn, "SELECT id FROM feeds WHERE name = ?1", &filter.feeds)?;
        if !filter.feeds.is_empty() && feeds.is_empty() {
            return Ok(None);
        }
        // A needle that folds to nothing (only zero-width characters) is in every text.
        let needle = filter.search.as_deref().map(fold).filter(|n| !n.is_empty());

        // The topics whose item_topics slices drive the walk: one arm each. A search
        // is driven by the search index instead, with every topic a condition.
        let drivers = if needle.is_some() {
            Vec::new()
        } else if !all.is_empty() {
            let rarest = rarest(conn, &all)?;
            all.retain(|id| *id != rarest);
            vec![rarest]
        } else {
            std::mem::take(&mut any)
        };

        // Conditions every arm shares; `{t}` is the sort-time column of the arm.
        let mut conds: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if let Some(since) = filter.since {
            conds.push("{t} >= ?".into());
            params.push(Value::Integer(ceil_secs(since)));
        }
        if let Some(until) = filter.until {
            conds.push("{t} < ?".into());
            params.push(Value::Integer(ceil_secs(until)));
        }
        for topic in all {
            // The full primary key of item_topics: one lookup per candidate row.
            conds.push(
                "EXISTS (SELECT 1 FROM item_topics t WHERE t.topic_id = ?
                         AND t.sort_time = i.sort_time AND t.item_id = i.id)"
                    .into(),
            );
            params.push(Value::Integer(topic));
        }
        if !any.is_empty() {
            conds.push(format!(
                "EXISTS (SELECT 1 FROM item_topics t WHERE t.topic_id IN ({})
                         AND t.sort_time = i.sort_time AND t.item_id = i.id)",
                placeholders(any.len())
            ));
            params.extend(any.into_iter().map(Value::Integer));
        }
        if !feeds.is_empty() {
            conds.push(format!(
                "EXISTS (SELECT 1 FROM item_sources s WHERE s.item_id = i.id
                         AND s.feed_id IN ({}))",
                placeholders(feeds.len())
            ));
            params.extend(feeds.into_iter().map(Value::Integer));
        }
        if filter.untagged {
            conds.push("NOT EXISTS (SELECT 1 FROM item_topics t WHERE t.item_id = i.id)".into());
        }
        let limit = filter
            .limit
            .map_or(-1, |n| i64::try_from(n).unwrap_or(i64::MAX));

        if let Some(needle) = needle {
            return Ok(Some(Plan::search(filter, needle, &conds, params, limit)));
        }

        let mut sql = String::new();
        let mut all_params = Vec::new();
        if drivers.is_empty() {
            sql.push_str("SELECT i.sort_time, i.id FROM items i");
            push_where(&mut sql, &conds, "i.sort_time", None);
            all_params = params;
        } else {
            for (n, topic) in drivers.iter().enumerate() {
                if n > 0 {
                    sql.push_str(" UNION ");
                }
                // CROSS JOIN fixes the loop order: walk the topic's (sort_time, item)
                // index backwards, visiting items only to check the other filters.
                sql.push_str(
                    "SELECT d.sort_time, d.item_id FROM item_topics d
                     CROSS JOIN items i ON i.id = d.item_id",
                );
                push_where(&mut sql, &conds, "d.sort_time", Some("d.topic_id = ?"));
                all_params.push(Value::Integer(*topic));
                all_params.extend(params.iter().cloned());
            }
        }
        sql.push_str(" ORDER BY 1 DESC, 2 DESC LIMIT ?");
        all_params.push(Value::Integer(limit));
        Ok(Some(Plan {
            sql,
            params: all_params,
            pending: None,
            limit: filter.limit,
        }))
    }

    /// A search: walk the index's matches by descending key (newest first, stopping
    /// after LIMIT rows), checking the other filters on each; the items the index does
    /// not hold yet are scanned separately and merged in.
    fn search(
        filter: &ItemFilter,
        needle: String,
        conds: &[String],
        params: Vec<Value>,
        limit: i64,
    ) -> Plan {
        let mut first = vec![format!(
            "g.search_grams MATCH ? AND i.id = (g.rowid & {})",
            key_item(-1)
        )];
        let mut all_params = vec![Value::Text(gram_query(&needle).unwrap_or_default())];
        // Key ranges let the index skip whole stretches; they are exact only while the
        // time is inside the key's range, and the time conditions stay in any case.
        let in_range = |t: i64| t > 0 && t <= i64::from(u32::MAX);
        if let Some(since) = filter.since.map(ceil_secs).filter(|t| in_range(*t)) {
            first.push("g.rowid >= ?".into());
            all_params.push(Value::Integer(key_floor(since)));
        }
        if let Some(until) = filter.until.map(ceil_secs).filter(|t| in_range(*t)) {
            first.push("g.rowid < ?".into());
            all_params.push(Value::Integer(key_floor(until)));
        }
        all_params.extend(params.iter().cloned());
        let mut sql = String::from("SELECT g.rowid, i.id FROM search_grams g CROSS JOIN items i");
        push_where(&mut sql, conds, "i.sort_time", Some(&first.join(" AND ")));
        sql.push_str(" ORDER BY g.rowid DESC LIMIT ?");
        all_params.push(Value::Integer(limit));

        let mut pending_sql = String::from(
            "SELECT i.sort_time, i.id, i.title, i.text FROM search_pending p
             CROSS JOIN items i ON i.id = p.item_id",
        );
        push_where(&mut pending_sql, conds, "i.sort_time", None);
        pending_sql.push_str(" ORDER BY i.sort_time DESC, i.id DESC");
        Plan {
            sql,
            params: all_params,
            pending: Some(PendingScan {
                sql: pending_sql,
                params,
                needle,
            }),
            limit: filter.limit,
        }
    }
}

/// The listing SQL and parameters a filter gets, for tests that inspect query plans.
#[cfg(test)]
pub(super) fn plan_for_tests(conn: &Connection, filter: &ItemFilter) -> (String, Vec<Value>) {
    let plan = Plan::build(conn, filter).unwrap().unwrap();
    (plan.sql, plan.params)
}

/// Appends ` WHERE first AND conds...`, with `{t}` in each condition replaced by the
/// arm's sort-time column.
fn push_where(sql: &mut String, conds: &[String], time_col: &str, first: Option<&str>) {
    let mut parts: Vec<String> = first.map(str::to_string).into_iter().collect();
    parts.extend(conds.iter().map(|c| c.replace("{t}", time_col)));
    if !parts.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&parts.join(" AND "));
    }
}

fn lookup(conn: &Connection, sql: &str, name: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached(sql)?
        .query_row([name], |row| row.get(0))
        .optional()
}

/// Row ids of the names that exist, without duplicates; unknown names are dropped.
fn known_ids(conn: &Connection, sql: &str, names: &[String]) -> rusqlite::Result<Vec<i64>> {
    let mut ids = Vec::new();
    for name in names {
        if let Some(id) = lookup(conn, sql, name)? {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    Ok(ids)
}

/// The topic with the fewest items (counted up to [`RARITY_PROBE`]).
fn rarest(conn: &Connection, topics: &[i64]) -> rusqlite::Result<i64> {
    let mut stmt = conn.prepare_cached(
        "SELECT count(*) FROM (SELECT 1 FROM item_topics WHERE topic_id = ?1 LIMIT ?2)",
    )?;
    let mut best = (i64::MAX, topics[0]);
    for &topic in topics {
        let n: i64 = stmt.query_row([topic, RARITY_PROBE], |row| row.get(0))?;
        if n < best.0 {
            best = (n, topic);
        }
    }
    Ok(best.1)
}

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Whole seconds at or after `t`: sort times are whole seconds, so `>= ceil(t)` and
/// `< ceil(t)` are exactly "at or after t" and "before t".
fn ceil_secs(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp() + i64::from(t.timestamp_subsec_nanos() > 0)
}

/// The per-item statements, prepared once per listing.
struct Lookups<'c> {
    item: CachedStatement<'c>,
    feeds: CachedStatement<'c>,
    matches: CachedStatement<'c>,
}

impl<'c> Lookups<'c> {
    fn prepare(conn: &'c Connection) -> rusqlite::Result<Self> {
        Ok(Lookups {
            item: conn.prepare_cached(
                "SELECT uid, title, link, published, first_seen, content_hash, authors,
                        categories, text, html
                 FROM items WHERE id = ?1",
            )?,
            feeds: conn.prepare_cached(
                "SELECT f.name, s.link FROM item_sources s JOIN feeds f ON f.id = s.feed_id
                 WHERE s.item_id = ?1 ORDER BY f.name, s.id",
            )?,
            matches: conn.prepare_cached(
                "SELECT t.name, g.term, g.field, g.byte_offset
                 FROM item_tags g JOIN topics t ON t.id = g.topic_id
                 WHERE g.item_id = ?1
                 ORDER BY t.name, g.field = 'text', g.byte_offset, g.term",
            )?,
        })
    }

    fn item(&mut self, id: i64) -> rusqlite::Result<ItemView> {
        let mut feeds: Vec<String> = Vec::new();
        let mut source_links: Vec<String> = Vec::new();
        let mut rows = self.feeds.query([id])?;
        while let Some(row) = rows.next()? {
            let name: String = row.get(0)?;
            // Rows come sorted by name, so one feed's sources are adjacent.
            if feeds.last() != Some(&name) {
                feeds.push(name);
            }
            if let Some(link) = row.get::<_, Option<String>>(1)? {
                if !source_links.contains(&link) {
                    source_links.push(link);
                }
            }
        }
        drop(rows);
        let matches = self
            .matches
            .query_map([id], |r| {
                Ok(TagMatch {
                    topic: r.get(0)?,
                    term: r.get(1)?,
                    field: Field::parse(&r.get::<_, String>(2)?).unwrap_or(Field::Text),
                    offset: usize::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        // Matches come sorted by topic, so equal names are adjacent.
        let mut tags: Vec<String> = matches.iter().map(|m| m.topic.clone()).collect();
        tags.dedup();
        self.item.query_row([id], |row| {
            let hash: Vec<u8> = row.get(5)?;
            Ok(ItemView {
                id: row.get(0)?,
                title: row.get(1)?,
                link: row.get(2)?,
                published: row.get::<_, Option<i64>>(3)?.and_then(from_secs),
                first_seen: from_secs(row.get(4)?).unwrap_or(chrono::DateTime::UNIX_EPOCH),
                feeds,
                source_links,
                tags,
                matches,
                authors: json_list(&row.get::<_, String>(6)?),
                categories: json_list(&row.get::<_, String>(7)?),
                content_hash: hex(&hash),
                text: row.get(8)?,
                html: row.get(9)?,
            })
        })
    }
}

/// A stored JSON list; anything unreadable shows as empty rather than failing the listing.
fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    match <[u8; 32]>::try_from(bytes) {
        Ok(arr) => ContentHash(arr).to_hex(),
        Err(_) => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::super::testutil::{at, items, refresh, story, sync, tagged, titles};
    use super::*;

    /// Six items across three feeds (newest first: t5 t3 t4 t2 t6 t1); t4 is undated and
    /// sorts by its first_seen (250); t6 shares t1's time and was stored later.
    fn fixture() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let mut w = Store::open(&path).unwrap();
        sync(&mut w, &["a", "b", "c"]);
        let t1 = tagged(story("1", "t1", 100), &["x"]);
        let t2 = tagged(story("2", "t2", 200), &["x", "y"]);
        let t3 = tagged(story("3", "t3", 300), &["y"]);
        let t4 = story("4", "t4", 0);
        let t5 = story("5", "t5", 400);
        let t6 = story("6", "t6", 100);
        w.apply_refresh(&refresh("a", 90, vec![t1, t3.clone()]))
            .unwrap();
        w.apply_refresh(&refresh("b", 90, vec![t2, t5])).unwrap();
        w.apply_refresh(&refresh("c", 250, vec![t3, t4, t6]))
            .unwrap();
        drop(w);
        let r = Store::open_readonly(&path).unwrap();
        (dir, r)
    }

    fn secs(t: f64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis((t * 1000.0) as i64).unwrap()
    }

    #[test]
    fn filters_combine_and_keep_newest_first() {
        let (_dir, store) = fixture();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases: Vec<(&str, ItemFilter, Vec<&str>)> = vec![
            (
                "everything",
                ItemFilter::default(),
                vec!["t5", "t3", "t4", "t2", "t6", "t1"],
            ),
            (
                "one tag",
                ItemFilter {
                    tags_all: s(&["x"]),
                    ..Default::default()
                },
                vec!["t2", "t1"],
            ),
            (
                "all tags",
                ItemFilter {
                    tags_all: s(&["y", "x"]),
                    ..Default::default()
                },
                vec!["t2"],
            ),
            (
                "unknown tag in all",
                ItemFilter {
                    tags_all: s(&["x", "zzz"]),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "any tag",
                ItemFilter {
                    tags_any: s(&["x", "y"]),
                    ..Default::default()
                },
                vec!["t3", "t2", "t1"],
            ),
            (
                "any tag in feed",
                ItemFilter {
                    tags_any: s(&["x", "y"]),
                    feeds: s(&["a"]),
                    ..Default::default()
                },
                vec!["t3", "t1"],
            ),
            (
                "any tag in window",
                ItemFilter {
                    tags_any: s(&["x", "y"]),
                    until: Some(at(300)),
                    ..Default::default()
                },
                vec!["t2", "t1"],
            ),
            (
                "any with unknown",
                ItemFilter {
                    tags_any: s(&["zzz", "y"]),
                    ..Default::default()
                },
                vec!["t3", "t2"],
            ),
            (
                "any only unknown",
                ItemFilter {
                    tags_any: s(&["zzz"]),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "all and any",
                ItemFilter {
                    tags_all: s(&["x"]),
                    tags_any: s(&["y", "zzz"]),
                    ..Default::default()
                },
                vec!["t2"],
            ),
            (
                "one feed",
                ItemFilter {
                    feeds: s(&["a"]),
                    ..Default::default()
                },
                vec!["t3", "t1"],
            ),
            (
                "two feeds",
                ItemFilter {
                    feeds: s(&["a", "b"]),
                    ..Default::default()
                },
                vec!["t5", "t3", "t2", "t1"],
            ),
            (
                "unknown feed",
                ItemFilter {
                    feeds: s(&["nope"]),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "tag and feed",
                ItemFilter {
                    tags_all: s(&["y"]),
                    feeds: s(&["b"]),
                    ..Default::default()
                },
                vec!["t2"],
            ),
            (
                "since",
                ItemFilter {
                    since: Some(at(200)),
                    ..Default::default()
                },
                vec!["t5", "t3", "t4", "t2"],
            ),
            (
                "since mid-second",
                ItemFilter {
                    since: Some(secs(200.5)),
                    ..Default::default()
                },
                vec!["t5", "t3", "t4"],
            ),
            (
                "until is exclusive",
                ItemFilter {
                    until: Some(at(250)),
                    ..Default::default()
                },
                vec!["t2", "t6", "t1"],
            ),
            (
                "until mid-second",
                ItemFilter {
                    until: Some(secs(250.5)),
                    ..Default::default()
                },
                vec!["t4", "t2", "t6", "t1"],
            ),
            (
                "window",
                ItemFilter {
                    since: Some(at(200)),
                    until: Some(at(300)),
                    ..Default::default()
                },
                vec!["t4", "t2"],
            ),
            (
                "tag in window",
                ItemFilter {
                    tags_all: s(&["y"]),
                    since: Some(at(250)),
                    ..Default::default()
                },
                vec!["t3"],
            ),
            (
                "untagged",
                ItemFilter {
                    untagged: true,
                    ..Default::default()
                },
                vec!["t5", "t4", "t6"],
            ),
            (
                "untagged in feed",
                ItemFilter {
                    untagged: true,
                    feeds: s(&["b"]),
                    ..Default::default()
                },
                vec!["t5"],
            ),
            (
                "limit",
                ItemFilter {
                    limit: Some(2),
                    ..Default::default()
                },
                vec!["t5", "t3"],
            ),
            (
                "limit zero",
                ItemFilter {
                    limit: Some(0),
                    ..Default::default()
                },
                vec![],
            ),
            (
                "any with limit",
                ItemFilter {
                    tags_any: s(&["x", "y"]),
                    limit: Some(1),
                    ..Default::default()
                },
                vec!["t3"],
            ),
            (
                "search",
                ItemFilter {
                    search: Some("T4".into()),
                    ..Default::default()
                },
                vec!["t4"],
            ),
        ];
        for (name, filter, want) in cases {
            assert_eq!(titles(&store, &filter), want, "case {name}");
        }
    }

    #[test]
    fn item_view_carries_the_contract_fields() {
        let (_dir, store) = fixture();
        let all = items(&store, &ItemFilter::default());
        let t3 = all.iter().find(|i| i.title == "t3").unwrap();
        assert_eq!(t3.feeds, ["a", "c"]);
        assert_eq!(t3.published, Some(at(300)));
        assert_eq!(t3.first_seen, at(90));
        assert_eq!(t3.authors, ["记者"]);
        assert_eq!(t3.categories, ["国际"]);
        assert_eq!(t3.text, "t3 正文");
        assert_eq!(t3.html, "<p>t3 正文</p>");
        assert_eq!(t3.content_hash.len(), 64);
        assert_eq!(t3.id, t3.content_hash[..32]);
        let t2 = all.iter().find(|i| i.title == "t2").unwrap();
        assert_eq!(t2.tags, ["x", "y"]);
        let topics: Vec<&str> = t2.matches.iter().map(|m| m.topic.as_str()).collect();
        assert_eq!(topics, ["x", "y"]);
        assert_eq!(t2.matches[0].field, Field::Title);
        let t4 = all.iter().find(|i| i.title == "t4").unwrap();
        assert_eq!((t4.published, t4.first_seen), (None, at(250)));
        assert!(t4.tags.is_empty() && t4.matches.is_empty());
    }

    #[test]
    fn matches_are_ordered_and_explain_every_occurrence() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("m.db")).unwrap();
        sync(&mut store, &["a"]);
        let mut s = story("1", "美俄关系 and 美俄关系", 10);
        let m = |topic: &str, term: &str, field, offset| TagMatch {
            topic: topic.into(),
            term: term.into(),
            field,
            offset,
        };
        s.matches = vec![
            m("美俄", "美俄关系", Field::Text, 3),
            m("美俄", "美俄关系", Field::Title, 17),
            m("美俄", "美俄关系", Field::Title, 0),
            m("b-topic", "US-Russia", Field::Text, 0),
            m("美俄", "美俄关系", Field::Title, 0), // reported twice: stored once
        ];
        store.apply_refresh(&refresh("a", 20, vec![s])).unwrap();
        let got = items(&store, &ItemFilter::default()).remove(0);
        assert_eq!(got.tags, ["b-topic", "美俄"]);
        let order: Vec<(String, Field, usize)> = got
            .matches
            .into_iter()
            .map(|m| (m.topic, m.field, m.offset))
            .collect();
        assert_eq!(
            order,
            [
                ("b-topic".to_string(), Field::Text, 0),
                ("美俄".to_string(), Field::Title, 0),
                ("美俄".to_string(), Field::Title, 17),
                ("美俄".to_string(), Field::Text, 3),
            ]
        );
    }

    #[test]
    fn callback_error_stops_the_stream() {
        let (_dir, store) = fixture();
        let mut seen = 0;
        let result = store.for_each_item(&ItemFilter::default(), |_| {
            seen += 1;
            if seen == 2 {
                return Err(StoreError::Missing {
                    path: "stop".into(),
                });
            }
            Ok(())
        });
        assert!(result.is_err());
        assert_eq!(seen, 2);
    }
}
