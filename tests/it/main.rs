//! The one integration-test binary: the real `feedwatch` binary run against a real SQLite
//! file in a temp dir, with feeds served over HTTP on 127.0.0.1 by an in-process server.

mod export;
mod ingest;
mod util;
