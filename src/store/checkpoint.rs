//! WAL checkpoints on a thread of their own, so the writer never waits for them.
//!
//! In WAL mode every commit appends pages to the `-wal` file, and a checkpoint copies
//! them back into the database file and syncs both. SQLite's own automatic checkpoint
//! runs inside the commit that crosses its limit, on the writing thread: during a cold
//! poll of a thousand feeds that was a tenth of a second of `fsync` every few hundred
//! milliseconds, with every refresh queued behind it. Here a second connection copies
//! the pages instead (a PASSIVE checkpoint, which never blocks the writer) while the
//! writer goes on appending.
//!
//! The writer's commit hook wakes the thread; it then checkpoints at most once per
//! [`MIN_INTERVAL`], so a burst of commits shares one copy and one sync, and an idle
//! daemon causes no wakeups at all.
//!
//! SQLite starts the log over from its beginning only when a write transaction begins
//! with every page already copied back, which a writer that never pauses (a cold poll of
//! a thousand feeds) never offers: the log then grows by every page the run writes, over
//! 200 MB for that poll, and closing the store has to copy the last of it and delete the
//! file. So once the log passes [`RESTART_PAGES`], the round is a RESTART checkpoint: it
//! waits for the writer's current transaction, copies the little the PASSIVE round just
//! before it left, and makes the next transaction start the log over. The writer waits
//! for one sync; the log stays under about 64 MiB and the store closes in tens of
//! milliseconds instead of a hundred and fifty.

use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

/// Shortest time between two checkpoints while commits keep coming: short enough that
/// the round at close has little left to copy.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Log size, in pages, past which a round also makes the log start over (64 MiB at
/// 4 KiB pages).
const RESTART_PAGES: i64 = 16_384;

/// How long the checkpoint connection waits for a lock before giving up on a round. A
/// RESTART round keeps the writer waiting while it waits for readers of older snapshots
/// (a long `export`), so it gives up soon and leaves the restart to a later round.
const BUSY_TIMEOUT: Duration = Duration::from_millis(100);

/// A running checkpoint thread. It ends once every sender returned by
/// [`Checkpointer::start`] is gone (copying whatever was committed since its last round); dropping the `Checkpointer` then waits
/// for that, so drop the senders (the writer's commit hook) first.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    /// Opens a second connection to `path` and starts the thread. The returned sender is
    /// for the writer's commit hook: a send (never blocking) asks for a checkpoint.
    pub(crate) fn start(path: &Path) -> std::io::Result<(Checkpointer, SyncSender<()>)> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .and_then(|conn| conn.busy_timeout(BUSY_TIMEOUT).map(|()| conn))
            .map_err(std::io::Error::other)?;
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let shown = path.display().to_string();
        let thread = std::thread::Builder::new()
            .name("feedwatch-ckpt".into())
            .spawn(move || run(&conn, &shown, &woken))?;
        Ok((
            Checkpointer {
                thread: Some(thread),
            },
            wake,
        ))
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The thread: wait for a commit, checkpoint, rest for [`MIN_INTERVAL`], and go again
/// at once if a commit came during the rest; one last round when the writer closes.
fn run(conn: &Connection, path: &str, woken: &mpsc::Receiver<()>) {
    if woken.recv().is_err() {
        return;
    }
    loop {
        checkpoint(conn, path);
        let rest_ends = Instant::now() + MIN_INTERVAL;
        let mut committed = false;
        loop {
            let left = rest_ends.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match woken.recv_timeout(left) {
                Ok(()) => committed = true,
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    checkpoint(conn, path);
                    return;
                }
            }
        }
        // Nothing committed since this round: sleep until the next commit. A writer that
        // closes meanwhile has nothing left for us to copy.
        if !committed && woken.recv().is_err() {
            return;
        }
    }
}

/// One PASSIVE round; a RESTART one when the log has grown long.
fn checkpoint(conn: &Connection, path: &str) {
    match wal_checkpoint(conn, "PASSIVE") {
        Ok(log) if log >= RESTART_PAGES => {
            if let Err(e) = wal_checkpoint(conn, "RESTART") {
                tracing::debug!(database = path, error = %e, "WAL restart checkpoint skipped");
            }
        }
        Ok(_) => {}
        Err(e) => tracing::debug!(database = path, error = %e, "WAL checkpoint skipped"),
    }
}

/// Runs `PRAGMA wal_checkpoint(MODE)` and returns the pages in the log.
fn wal_checkpoint(conn: &Connection, mode: &str) -> rusqlite::Result<i64> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |row| {
        row.get::<_, i64>(1)
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::super::Store;
    use super::super::testutil::{self, refresh, story};

    fn db_file_len(path: &std::path::Path) -> u64 {
        std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
    }

    fn wal_len(path: &std::path::Path) -> u64 {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        std::fs::metadata(std::path::PathBuf::from(wal))
            .map(|m| m.len())
            .unwrap_or(0)
    }

    fn stories(prefix: &str, n: usize) -> Vec<crate::model::Story> {
        (0..n)
            .map(|i| {
                let mut s = story(&format!("{prefix}{i}"), &format!("{prefix} 第{i}条"), 100);
                s.text = "美俄关系 三方会晤 ".repeat(200);
                s
            })
            .collect()
    }

    #[test]
    fn commits_reach_the_database_file_while_the_writer_stays_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ckpt.db");
        let mut store = Store::open(&path).unwrap();
        store.checkpoint_in_background();
        testutil::sync(&mut store, &["a"]);
        let before = db_file_len(&path);
        store
            .apply_refresh(&refresh("a", 100, stories("s", 200)))
            .unwrap();
        // Nothing else checkpoints this log: the commit-time checkpoint is far away.
        let deadline = Instant::now() + Duration::from_secs(10);
        while db_file_len(&path) <= before {
            assert!(
                Instant::now() < deadline,
                "the checkpoint thread never copied the commit into the database file"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(store);
        // The last connection found the log copied and removed it.
        assert_eq!(wal_len(&path), 0);
        let reader = Store::open_readonly(&path).unwrap();
        assert_eq!(reader.item_count().unwrap(), 200);
    }

    #[test]
    fn the_last_commits_are_kept_when_the_store_closes_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("close.db");
        let mut store = Store::open(&path).unwrap();
        store.checkpoint_in_background();
        testutil::sync(&mut store, &["a", "b"]);
        for round in 0..5 {
            store
                .apply_refresh(&refresh(
                    "a",
                    100 + round,
                    stories(&format!("r{round}-"), 40),
                ))
                .unwrap();
        }
        store
            .apply_refresh(&refresh("b", 200, stories("last-", 3)))
            .unwrap();
        drop(store);
        let reader = Store::open_readonly(&path).unwrap();
        assert_eq!(reader.item_count().unwrap(), 203);
    }
}
