//! The one integration-test binary: the real `feedwatch` binary run against a real SQLite
//! file in a temp dir, with feeds served over HTTP on 127.0.0.1 by an in-process server.

// Test code: a failed unwrap is a failed test with its reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod daemon;
mod export;
mod ingest;
mod util;
mod watch;
