//! `feedwatch run` as a real process: schedules, SIGHUP reload, SIGTERM drain, the lock,
//! sd_notify over a fake `NOTIFY_SOCKET`, kill -9 recovery, and the systemd unit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::util::{Env, Route, Server, feed_toml, titles};

/// An RSS document with one item per `(guid, title)`.
fn rss(items: &[(String, String)]) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>daemon test</title><link>https://news.example.org/</link>\
         <description>d</description>\n",
    );
    for (guid, title) in items {
        s.push_str(&format!(
            "<item><title>{title}</title><link>https://news.example.org/{guid}</link>\
             <guid isPermaLink=\"false\">{guid}</guid>\
             <description>&lt;p&gt;{title}: 白宫表示，会谈仍在继续。&lt;/p&gt;</description></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s.into_bytes()
}

fn numbered(prefix: &str, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            (
                format!("{prefix}-{i}"),
                format!("{prefix} story number {i}"),
            )
        })
        .collect()
}

/// A config polling every second; `extra` holds `[poll]` keys (overriding these
/// defaults), `feeds` the feed tables.
fn config(extra: &str, feeds: &str) -> String {
    let mut poll: Vec<String> = [
        ("schedule", "\"* * * * * *\""),
        ("timeout", "\"5s\""),
        ("connect_timeout", "\"1s\""),
    ]
    .iter()
    .filter(|(key, _)| !extra.contains(&format!("{key} =")))
    .map(|(key, value)| format!("{key} = {value}"))
    .collect();
    poll.push(extra.to_string());
    format!(
        "[storage]\ndatabase = \"feedwatch.db\"\n\n[poll]\n{}\n\n{feeds}",
        poll.join("\n")
    )
}

/// A running `feedwatch run` whose stderr goes to a file; killed on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(env: &Env, vars: &[(&str, &str)]) -> Daemon {
        let log = env.dir.path().join(format!(
            "daemon-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_feedwatch"));
        cmd.arg("--config")
            .arg(env.config())
            .arg("run")
            .current_dir(env.dir.path())
            .env_remove("FEEDWATCH_LOG")
            .env_remove("RUST_LOG")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap());
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Daemon {
            child: cmd.spawn().unwrap(),
            log,
        }
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args(["-s", sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -s {sig} failed");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits up to `limit` for the process to exit.
    fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `check` every 100 ms until it holds or `limit` passes; the panic shows the log.
fn eventually(daemon: &Daemon, limit: Duration, what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "{what}: not within {limit:?}\ndaemon log:\n{}",
        daemon.log()
    );
}

/// Titles stored so far, or none while the database is not there yet.
fn stored_titles(env: &Env) -> Vec<String> {
    let out = env.run(&["items", "--format", "json", "--limit", "100000"]);
    if !out.status.success() {
        return Vec::new();
    }
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .map(|items| titles(&items))
        .unwrap_or_default()
}

/// `feeds --format json` keyed by name, or nothing while the database is not there yet.
fn health(env: &Env) -> HashMap<String, serde_json::Value> {
    let out = env.run(&["feeds", "--format", "json"]);
    if !out.status.success() {
        return HashMap::new();
    }
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| Some((f["name"].as_str()?.to_string(), f)))
        .collect()
}

#[test]
fn run_polls_on_schedule_and_stores_a_changed_feed_within_seconds() {
    let server = Server::start();
    server
        .state
        .feed("a.rss", rss(&numbered("a", 2)), "application/rss+xml");
    let env = Env::new();
    env.write_config(&config("", &feed_toml("a", &server.url("a.rss"))));
    let mut daemon = Daemon::start(&env, &[]);

    eventually(
        &daemon,
        Duration::from_secs(15),
        "first poll stored",
        || stored_titles(&env).len() == 2,
    );
    let mut items = numbered("a", 2);
    items.push(("a-new".into(), "美俄关系 breaking story".into()));
    server
        .state
        .feed("a.rss", rss(&items), "application/rss+xml");
    eventually(
        &daemon,
        Duration::from_secs(15),
        "changed feed stored",
        || stored_titles(&env).contains(&"美俄关系 breaking story".to_string()),
    );
    // Polls of the unchanged feed are conditional and answered 304.
    eventually(&daemon, Duration::from_secs(10), "a 304", || {
        server.state.not_modified.load(Ordering::SeqCst) > 0
    });

    // Read-only commands work alongside the daemon, and show the schedule it keeps.
    let feeds = env.feeds();
    let a = &feeds["a"];
    assert_eq!(a["error_streak"], 0, "{a}");
    assert!(a["next_poll"].is_string(), "next poll not shown: {a}");

    // The daemon logs one info line per cycle.
    assert!(daemon.log().contains("cycle done"), "{}", daemon.log());
    daemon.signal("TERM");
    let status = daemon
        .wait(Duration::from_secs(15))
        .expect("daemon did not stop");
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
}

#[test]
fn a_failing_feed_backs_off_and_shows_its_streak_but_keeps_being_polled() {
    let server = Server::start();
    server.state.set("down", Route::Status(503));
    server
        .state
        .feed("ok.rss", rss(&numbered("ok", 1)), "application/rss+xml");
    let env = Env::new();
    env.write_config(&config(
        "",
        &format!(
            "{}{}",
            feed_toml("down", &server.url("down")),
            feed_toml("ok", &server.url("ok.rss"))
        ),
    ));
    let daemon = Daemon::start(&env, &[]);
    eventually(&daemon, Duration::from_secs(20), "a streak of 2", || {
        health(&env)
            .get("down")
            .and_then(|f| f["error_streak"].as_u64())
            .is_some_and(|n| n >= 2)
    });
    let down = &health(&env)["down"];
    assert!(down["next_poll"].is_string(), "{down}");
    assert!(
        down["last_error"].as_str().unwrap_or("").contains("503"),
        "{down}"
    );
    assert!(daemon.log().contains("feed failed"), "{}", daemon.log());

    // The feed comes back: one success returns it to its schedule.
    server
        .state
        .feed("down", rss(&numbered("back", 1)), "application/rss+xml");
    eventually(&daemon, Duration::from_secs(30), "recovered", || {
        health(&env)
            .get("down")
            .is_some_and(|f| f["error_streak"] == 0)
    });
    assert!(stored_titles(&env).contains(&"back story number 0".to_string()));
}

#[test]
fn sighup_adds_feeds_and_keeps_the_running_config_when_the_new_one_is_bad() {
    let server = Server::start();
    server
        .state
        .feed("a.rss", rss(&numbered("a", 1)), "application/rss+xml");
    server
        .state
        .feed("b.rss", rss(&numbered("b", 1)), "application/rss+xml");
    let env = Env::new();
    env.write_config(&config("", &feed_toml("a", &server.url("a.rss"))));
    let mut daemon = Daemon::start(&env, &[]);
    eventually(&daemon, Duration::from_secs(15), "feed a stored", || {
        stored_titles(&env).len() == 1
    });

    // The reload adds feed b and a topic: new items are tagged, stored ones are not.
    let reloaded = config(
        "",
        &format!(
            "{}{}",
            feed_toml("a", &server.url("a.rss")),
            feed_toml("b", &server.url("b.rss"))
        ),
    );
    env.write_config(&format!("watchlist = [\"story\"]\n{reloaded}"));
    daemon.signal("HUP");
    eventually(
        &daemon,
        Duration::from_secs(15),
        "added feed b polled",
        || stored_titles(&env).contains(&"b story number 0".to_string()),
    );
    let tagged = env.items(&["--tag", "story"]);
    assert_eq!(titles(&tagged), ["b story number 0"]);

    // A config that fails validation is rejected; the daemon keeps polling with the old.
    env.write_config("[poll]\nschedule = \"every tuesday\"\n");
    daemon.signal("HUP");
    eventually(&daemon, Duration::from_secs(10), "rejection logged", || {
        daemon.log().contains("config reload rejected")
    });
    assert!(daemon.log().contains("every tuesday"), "{}", daemon.log());
    let before = server.state.requests.load(Ordering::SeqCst);
    eventually(&daemon, Duration::from_secs(10), "still polling", || {
        server.state.requests.load(Ordering::SeqCst) > before + 2
    });
    assert!(daemon.is_running());

    // Removing a feed stops its polls; its items stay.
    env.write_config(&config("", &feed_toml("b", &server.url("b.rss"))));
    daemon.signal("HUP");
    eventually(&daemon, Duration::from_secs(10), "reloaded", || {
        daemon.log().matches("config reloaded").count() >= 2
    });
    assert!(stored_titles(&env).contains(&"a story number 0".to_string()));
}

#[test]
fn sigterm_exits_zero_within_the_drain_bound_even_with_a_hung_fetch() {
    let server = Server::start();
    server
        .state
        .feed("a.rss", rss(&numbered("a", 1)), "application/rss+xml");
    server
        .state
        .set("hung", Route::Slow(Duration::from_secs(60)));
    let env = Env::new();
    env.write_config(&config(
        "drain_timeout = \"2s\"\ntimeout = \"60s\"",
        &format!(
            "{}{}",
            feed_toml("a", &server.url("a.rss")),
            feed_toml("hung", &server.url("hung"))
        ),
    ));
    let mut daemon = Daemon::start(&env, &[]);
    eventually(&daemon, Duration::from_secs(15), "feed a stored", || {
        stored_titles(&env).len() == 1
    });
    daemon.signal("TERM");
    let started = Instant::now();
    let status = daemon
        .wait(Duration::from_secs(15))
        .unwrap_or_else(|| panic!("no exit after SIGTERM:\n{}", daemon.log()));
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
    // 2 s of drain plus start-up slack; far below the 60 s the hung fetch would take.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(daemon.log().contains("cut short"), "{}", daemon.log());
    assert_eq!(stored_titles(&env), ["a story number 0"]);
}

#[test]
fn a_second_run_on_the_same_database_refuses_to_start() {
    let server = Server::start();
    server
        .state
        .feed("a.rss", rss(&numbered("a", 1)), "application/rss+xml");
    let env = Env::new();
    env.write_config(&config("", &feed_toml("a", &server.url("a.rss"))));
    let daemon = Daemon::start(&env, &[]);
    eventually(&daemon, Duration::from_secs(15), "feed a stored", || {
        stored_titles(&env).len() == 1
    });
    let second = env.run(&["run"]);
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("in use by another `feedwatch run`"), "{err}");
    assert!(err.contains("feedwatch.db"), "{err}");
}

/// Reads datagrams until `want` arrived or `limit` passed; returns all of them.
fn collect_until(
    sock: &UnixDatagram,
    limit: Duration,
    want: impl Fn(&[String]) -> bool,
) -> Vec<String> {
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 4096];
    while start.elapsed() < limit && !want(&got) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got
}

fn has(msgs: &[String], line: &str) -> bool {
    msgs.iter().any(|m| m.lines().any(|l| l.starts_with(line)))
}

#[test]
fn notify_socket_receives_ready_status_reloading_watchdog_and_stopping() {
    let server = Server::start();
    server
        .state
        .feed("a.rss", rss(&numbered("a", 1)), "application/rss+xml");
    let env = Env::new();
    env.write_config(&config("", &feed_toml("a", &server.url("a.rss"))));
    let sock_path = env.dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    let mut daemon = Daemon::start(
        &env,
        &[
            ("NOTIFY_SOCKET", sock_path.to_str().unwrap()),
            // One second: pings every half second.
            ("WATCHDOG_USEC", "1000000"),
        ],
    );

    let msgs = collect_until(&sock, Duration::from_secs(15), |m| {
        has(m, "READY=1") && has(m, "WATCHDOG=1") && m.iter().any(|s| s.contains("items stored"))
    });
    assert!(has(&msgs, "READY=1"), "{msgs:?}\n{}", daemon.log());
    assert!(has(&msgs, "WATCHDOG=1"), "{msgs:?}");
    let status = msgs
        .iter()
        .flat_map(|m| m.lines())
        .find(|l| l.starts_with("STATUS=") && l.contains("items stored"))
        .unwrap_or_else(|| panic!("no cycle STATUS in {msgs:?}"));
    assert!(status.starts_with("STATUS=1 feed, "), "{status}");

    daemon.signal("HUP");
    let msgs = collect_until(&sock, Duration::from_secs(10), |m| has(m, "READY=1"));
    let reloading = msgs.iter().position(|m| m.contains("RELOADING=1"));
    let ready = msgs.iter().rposition(|m| m.contains("READY=1"));
    assert!(
        matches!((reloading, ready), (Some(a), Some(b)) if a < b),
        "RELOADING=1 then READY=1 expected: {msgs:?}"
    );

    daemon.signal("TERM");
    let msgs = collect_until(&sock, Duration::from_secs(10), |m| has(m, "STOPPING=1"));
    assert!(has(&msgs, "STOPPING=1"), "{msgs:?}");
    let status = daemon.wait(Duration::from_secs(15)).expect("no exit");
    assert_eq!(status.code(), Some(0), "{}", daemon.log());
}

#[test]
fn kill_9_mid_ingest_leaves_a_sound_database_and_no_duplicates() {
    let server = Server::start();
    let env = Env::new();
    env.write_config(&config("", &feed_toml("big", &server.url("big.rss"))));
    let mut all = Vec::new();
    // Each round serves more entries, so every restart has a large refresh to write.
    for (round, delay_ms) in [0u64, 30, 120, 300].into_iter().enumerate() {
        all.extend(numbered(&format!("r{round}"), 400));
        server
            .state
            .feed("big.rss", rss(&all), "application/rss+xml");
        let before = server.state.requests.load(Ordering::SeqCst);
        let daemon = Daemon::start(&env, &[]);
        eventually(&daemon, Duration::from_secs(15), "fetch started", || {
            server.state.requests.load(Ordering::SeqCst) > before
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        daemon.signal("KILL");
        drop(daemon);
    }
    let daemon = Daemon::start(&env, &[]);
    eventually(
        &daemon,
        Duration::from_secs(60),
        "every entry stored",
        || stored_titles(&env).len() >= all.len(),
    );
    let stored = stored_titles(&env);
    let mut unique = stored.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(stored.len(), all.len(), "an item was stored twice");
    assert_eq!(unique.len(), all.len());
    drop(daemon);

    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// The unit with `ExecStart` pointing at the built binary, in a temp dir.
fn unit_for_test(dir: &Path) -> PathBuf {
    let unit = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/feedwatch.service");
    let text = std::fs::read_to_string(unit).unwrap();
    assert!(text.contains("ExecStart=/usr/bin/feedwatch "), "{text}");
    let text = text.replace(
        "ExecStart=/usr/bin/feedwatch ",
        &format!("ExecStart={} ", env!("CARGO_BIN_EXE_feedwatch")),
    );
    let path = dir.join("feedwatch.service");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_systemd_unit_verifies_and_is_hardened_to_an_exposure_of_2_or_lower() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-analyze not found");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_for_test(dir.path());
    let verify = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit)
        .output()
        .unwrap();
    assert!(
        verify.status.success() && verify.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
    let security = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&security.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| {
            panic!(
                "no exposure in:\n{out}\n{}",
                String::from_utf8_lossy(&security.stderr)
            )
        });
    let exposure: f64 = line
        .split(':')
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable: {line}"));
    assert!(exposure <= 2.0, "{line}\n{out}");
}
