//! feedwatch: a news-feed watch daemon.
//!
//! It polls configured RSS/Atom/JSON feeds, turns every entry into clean text, stores each
//! story once (deduplicated by a content hash), tags it against a keyword watchlist that
//! works for Chinese and English, keeps everything in SQLite and lets people query and
//! export what it stored.
//!
//! ```text
//! config.toml ─► schedule ─► ingest::refresh(feed)
//!                               fetch    HTTP(S) or file; conditional GET; body cap
//!                               decode   bytes → UTF-8 exactly once
//!                               parse    feed-rs → entries with our own stable ids
//!                               text     HTML → plain text; fold() for matching
//!                               identity content hash of normalized title + text
//!                               watch    Aho-Corasick over folded text → topic tags
//!                               store    one IMMEDIATE transaction per feed refresh
//! items / export ─► store (read-only connection) ─► table, json, jsonl, csv,
//!                                                   atom, rss, jsonfeed
//! ```
//!
//! Module map (one module per stage; stages hand typed values forward and never import
//! each other; only `ingest` knows their order):
//!
//! | module | owns |
//! |---|---|
//! | [`config`] | TOML → validated [`config::Settings`]; errors name file, key and line |
//! | [`model`] | domain types shared by the stages; no I/O |
//! | [`fetch`] | the only HTTP: conditional GET, body cap, timeouts, per-host limits |
//! | [`decode`] | bytes → UTF-8 once: BOM, XML declaration, HTTP charset, UTF-8, GB18030 |
//! | [`parse`] | feed-rs → [`model::ParsedFeed`]; stable entry ids; dates and time zones |
//! | [`text`] | HTML → plain text; [`text::fold`] for matching keys |
//! | [`identity`] | content hashes |
//! | [`watch`] | the compiled watchlist: topics → tags with explanations |
//! | [`store`] | the only SQL: open, migrate, write refreshes, read-only queries |
//! | [`schedule`] | cron schedules read the crontab way; pure `next_poll` with backoff and jitter |
//! | [`daemon`] | `feedwatch run`: the due-feed loop, signals, reload, sd_notify, the database lock |
//! | [`ingest`] | `refresh(feed)`: the pipeline in order, and the feed's health record |
//! | [`export`] | items out as Atom, RSS, JSON Feed, JSONL, CSV (streamed, sanitized); saved exports; OPML |
//! | [`cli`] | command-line definitions and output formatting |
//! | [`telemetry`] | tracing setup |

pub mod cli;
pub mod config;
pub mod daemon;
pub mod decode;
pub mod export;
pub mod fetch;
pub mod identity;
pub mod ingest;
pub mod model;
pub mod parse;
pub mod schedule;
pub mod store;
pub mod telemetry;
pub mod text;
pub mod watch;
