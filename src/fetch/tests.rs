//! Fetcher tests against a real HTTP server on 127.0.0.1 (axum, in process) and real
//! temporary files. Every case asserts what a user would see: the outcome kind, the
//! bytes, the validators and hints handed on, and the limits the server observed.

use std::convert::Infallible;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::{Body as HttpBody, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap as AxumHeaders, StatusCode, header as h};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::TimeDelta;
use futures_util::StreamExt;
use futures_util::stream;

use super::*;

const MIB: u64 = 1024 * 1024;
const ETAG: &str = "\"v1\"";
const LAST_MODIFIED: &str = "Tue, 10 Jun 2025 04:00:00 GMT";
const FEED: &str =
    "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title></channel></rss>";

/// What the server saw, shared by every route (and by several servers when a test needs a
/// count across hosts).
#[derive(Default)]
struct Seen {
    if_none_match: Mutex<Vec<Option<String>>>,
    if_modified_since: Mutex<Vec<Option<String>>>,
    user_agents: Mutex<Vec<String>>,
    active: AtomicUsize,
    peak: AtomicUsize,
}

struct TestServer {
    base: String,
    seen: Arc<Seen>,
}

impl TestServer {
    async fn start() -> TestServer {
        TestServer::start_with(Arc::new(Seen::default())).await
    }

    async fn start_with(seen: Arc<Seen>) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = app(Arc::clone(&seen));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        TestServer { base, seen }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn source(&self, path: &str) -> Source {
        Source::Http(Url::parse(&self.url(path)).unwrap())
    }
}

fn app(seen: Arc<Seen>) -> Router {
    Router::new()
        .route("/feed", get(feed))
        .route("/gzip", get(gzip))
        .route("/bomb", get(bomb))
        .route("/corrupt-gzip", get(corrupt_gzip))
        .route("/bytes/{n}", get(sized))
        .route("/stream/{n}", get(streamed))
        .route("/status/{code}", get(status))
        .route("/redirect/{n}", get(redirect))
        .route("/loop/{side}", get(redirect_loop))
        .route("/slow", get(slow))
        .route("/stall", get(stall))
        .route("/count", get(count))
        .with_state(seen)
}

async fn feed(State(seen): State<Arc<Seen>>, headers: AxumHeaders) -> Response {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
            .map(str::to_string)
    };
    let inm = text(h::IF_NONE_MATCH);
    seen.if_none_match.lock().unwrap().push(inm.clone());
    seen.if_modified_since
        .lock()
        .unwrap()
        .push(text(h::IF_MODIFIED_SINCE));
    seen.user_agents
        .lock()
        .unwrap()
        .push(text(h::USER_AGENT).unwrap_or_default());
    if inm.as_deref() == Some(ETAG) {
        return (
            StatusCode::NOT_MODIFIED,
            [(h::CACHE_CONTROL, "max-age=600")],
        )
            .into_response();
    }
    (
        [
            (h::CONTENT_TYPE, "application/rss+xml; charset=GBK"),
            (h::ETAG, ETAG),
            (h::LAST_MODIFIED, LAST_MODIFIED),
            (h::CACHE_CONTROL, "public, max-age=300"),
        ],
        FEED,
    )
        .into_response()
}

fn gzipped(chunks: impl Iterator<Item = Vec<u8>>) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for chunk in chunks {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.finish().unwrap()
}

async fn gzip() -> Response {
    let body = gzipped(std::iter::once(FEED.as_bytes().to_vec()));
    (
        [
            (h::CONTENT_ENCODING, "gzip"),
            (h::CONTENT_TYPE, "application/rss+xml"),
        ],
        body,
    )
        .into_response()
}

/// 20 MiB of zeros, which gzip squeezes to about 20 KiB.
async fn bomb() -> Response {
    static BOMB: OnceLock<Vec<u8>> = OnceLock::new();
    let body = BOMB.get_or_init(|| gzipped((0..320).map(|_| vec![0u8; 64 * 1024])));
    ([(h::CONTENT_ENCODING, "gzip")], body.clone()).into_response()
}

async fn corrupt_gzip() -> Response {
    let mut body = gzipped(std::iter::once(FEED.repeat(50).into_bytes()));
    // Keep the gzip header, break the deflate stream behind it.
    for byte in body.iter_mut().skip(12).take(40) {
        *byte = 0xff;
    }
    ([(h::CONTENT_ENCODING, "gzip")], body).into_response()
}

/// `n` bytes with a Content-Length.
async fn sized(Path(n): Path<usize>) -> Vec<u8> {
    vec![b'x'; n]
}

/// `n` bytes chunked, with no Content-Length, so only counting can stop it.
async fn streamed(Path(n): Path<usize>) -> HttpBody {
    let chunk = 64 * 1024;
    let chunks: Vec<Result<Bytes, Infallible>> = (0..n)
        .step_by(chunk)
        .map(|start| Ok(Bytes::from(vec![b'x'; chunk.min(n - start)])))
        .collect();
    HttpBody::from_stream(stream::iter(chunks))
}

async fn status(Path(code): Path<u16>) -> Response {
    let status = StatusCode::from_u16(code).unwrap();
    if code == 429 || code == 503 {
        (status, [(h::RETRY_AFTER, "120")], "busy").into_response()
    } else {
        (status, "no").into_response()
    }
}

async fn redirect(Path(n): Path<u32>) -> Response {
    if n == 0 {
        return FEED.into_response();
    }
    let next = format!("/redirect/{}", n - 1);
    (StatusCode::FOUND, [(h::LOCATION, next)]).into_response()
}

async fn redirect_loop(Path(side): Path<String>) -> Response {
    let next = if side == "a" { "/loop/b" } else { "/loop/a" };
    (StatusCode::MOVED_PERMANENTLY, [(h::LOCATION, next)]).into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(5)).await;
    FEED
}

/// Headers and a first chunk at once, then a body that never finishes.
async fn stall() -> HttpBody {
    let first = stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"<rss>"))]);
    HttpBody::from_stream(first.chain(stream::pending()))
}

async fn count(State(seen): State<Arc<Seen>>) -> &'static str {
    let now = seen.active.fetch_add(1, Ordering::SeqCst) + 1;
    seen.peak.fetch_max(now, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(50)).await;
    seen.active.fetch_sub(1, Ordering::SeqCst);
    FEED
}

fn settings() -> PollSettings {
    PollSettings {
        max_body: MIB,
        timeout: Duration::from_secs(10),
        connect_timeout: Duration::from_secs(5),
        ..PollSettings::default()
    }
}

fn fetcher() -> Fetcher {
    Fetcher::new(&settings()).unwrap()
}

fn kind(result: &Result<Fetched, FetchError>) -> &'static str {
    match result {
        Ok(Fetched::Body(_)) => "body",
        Ok(Fetched::NotModified { .. }) => "not-modified",
        Err(FetchError::Status { .. }) => "status",
        Err(FetchError::Timeout { .. }) => "timeout",
        Err(FetchError::TooLarge { .. }) => "too-large",
        Err(FetchError::Redirects { .. }) => "redirects",
        Err(FetchError::Network { .. }) => "network",
        Err(FetchError::File { .. }) => "file",
    }
}

fn body(result: Result<Fetched, FetchError>) -> Body {
    match result {
        Ok(Fetched::Body(body)) => body,
        other => panic!("expected a body, got {other:?}"),
    }
}

#[tokio::test]
async fn conditional_get_returns_validators_then_not_modified() {
    let server = TestServer::start().await;
    let fetcher = fetcher();
    let source = server.source("/feed");

    let first = body(fetcher.fetch(&source, &Validators::default()).await);
    assert_eq!(first.bytes, FEED.as_bytes());
    assert_eq!(first.status, 200);
    assert_eq!(first.final_url, server.url("/feed"));
    assert_eq!(first.content_type.as_deref(), Some("application/rss+xml"));
    assert_eq!(first.charset.as_deref(), Some("GBK"));
    assert_eq!(
        first.validators,
        Validators {
            etag: Some(ETAG.into()),
            last_modified: Some(LAST_MODIFIED.into()),
        }
    );
    assert_eq!(first.hints.max_age, Some(300));

    let second = fetcher.fetch(&source, &first.validators).await.unwrap();
    assert_eq!(
        second,
        Fetched::NotModified {
            hints: CacheHints {
                max_age: Some(600),
                ..CacheHints::default()
            }
        }
    );
    assert_eq!(
        *server.seen.if_none_match.lock().unwrap(),
        vec![None, Some(ETAG.to_string())]
    );
    assert_eq!(
        *server.seen.if_modified_since.lock().unwrap(),
        vec![None, Some(LAST_MODIFIED.to_string())]
    );
    let agents = server.seen.user_agents.lock().unwrap();
    assert!(
        agents.iter().all(|ua| *ua == settings().user_agent),
        "{agents:?}"
    );
}

#[tokio::test]
async fn gzip_body_is_decompressed() {
    let server = TestServer::start().await;
    let got = body(
        fetcher()
            .fetch(&server.source("/gzip"), &Validators::default())
            .await,
    );
    assert_eq!(got.bytes, FEED.as_bytes());
    assert_eq!(got.content_type.as_deref(), Some("application/rss+xml"));
    assert_eq!(got.charset, None);
}

#[tokio::test]
async fn body_cap_counts_decompressed_bytes_while_streaming() {
    let server = TestServer::start().await;
    let fetcher = fetcher();
    let cap = MIB;
    let cases = [
        ("gzip bomb of 20 MiB", "/bomb".to_string(), "too-large"),
        (
            "exactly the cap, with length",
            format!("/bytes/{cap}"),
            "body",
        ),
        (
            "one over, with length",
            format!("/bytes/{}", cap + 1),
            "too-large",
        ),
        ("exactly the cap, chunked", format!("/stream/{cap}"), "body"),
        (
            "one over, chunked",
            format!("/stream/{}", cap + 1),
            "too-large",
        ),
        (
            "twice the cap, chunked",
            format!("/stream/{}", 2 * cap),
            "too-large",
        ),
    ];
    for (name, path, want) in cases {
        let result = fetcher
            .fetch(&server.source(&path), &Validators::default())
            .await;
        assert_eq!(kind(&result), want, "{name}: {result:?}");
        match result {
            Ok(Fetched::Body(b)) => assert_eq!(b.bytes.len() as u64, cap, "{name}"),
            Err(FetchError::TooLarge { url, limit }) => {
                assert_eq!(limit, cap, "{name}");
                assert_eq!(url, server.url(&path), "{name}");
            }
            _ => unreachable!(),
        }
    }
}

#[tokio::test]
async fn corrupt_gzip_is_a_network_error() {
    let server = TestServer::start().await;
    let result = fetcher()
        .fetch(&server.source("/corrupt-gzip"), &Validators::default())
        .await;
    assert_eq!(kind(&result), "network", "{result:?}");
}

#[tokio::test]
async fn error_statuses_carry_code_and_retry_after() {
    let server = TestServer::start().await;
    let fetcher = fetcher();
    let cases = [
        ("not found", 404, false),
        ("server error", 500, false),
        ("gone", 410, false),
        ("rate limited", 429, true),
        ("unavailable", 503, true),
    ];
    for (name, code, retry) in cases {
        let path = format!("/status/{code}");
        let before = Utc::now();
        let result = fetcher
            .fetch(&server.source(&path), &Validators::default())
            .await;
        let after = Utc::now();
        let Err(error @ FetchError::Status { .. }) = result else {
            panic!("{name}: expected a status error, got {result:?}");
        };
        assert_eq!(error.status(), Some(code), "{name}");
        assert!(
            error.to_string().contains(&server.url(&path)),
            "{name}: {error}"
        );
        let FetchError::Status { hints, .. } = error else {
            unreachable!()
        };
        match (retry, hints.retry_after) {
            (false, None) => {}
            (true, Some(at)) => {
                let delay = TimeDelta::seconds(120);
                assert!(at >= before + delay && at <= after + delay, "{name}: {at}");
            }
            (_, got) => panic!("{name}: retry_after {got:?}"),
        }
    }
}

#[tokio::test]
async fn redirects_are_followed_up_to_the_limit_and_loops_fail() {
    let server = TestServer::start().await;
    let fetcher = Fetcher::new(&PollSettings {
        max_redirects: 5,
        ..settings()
    })
    .unwrap();
    let cases = [
        ("one hop", "/redirect/1", Some("/redirect/0")),
        ("exactly the limit", "/redirect/5", Some("/redirect/0")),
        ("one over the limit", "/redirect/6", None),
        ("loop", "/loop/a", None),
    ];
    for (name, path, landing) in cases {
        let result = fetcher
            .fetch(&server.source(path), &Validators::default())
            .await;
        match landing {
            Some(end) => assert_eq!(body(result).final_url, server.url(end), "{name}"),
            None => {
                assert_eq!(kind(&result), "redirects", "{name}: {result:?}");
                let message = result.unwrap_err().to_string();
                assert!(message.contains(&server.url(path)), "{name}: {message}");
            }
        }
    }
}

#[tokio::test]
async fn slow_server_times_out() {
    let server = TestServer::start().await;
    let fetcher = Fetcher::new(&PollSettings {
        timeout: Duration::from_millis(300),
        ..settings()
    })
    .unwrap();
    for (name, path) in [("slow headers", "/slow"), ("stalled body", "/stall")] {
        let result = fetcher
            .fetch(&server.source(path), &Validators::default())
            .await;
        assert_eq!(kind(&result), "timeout", "{name}: {result:?}");
        assert!(result.unwrap_err().to_string().contains(&server.url(path)));
    }
}

#[tokio::test]
async fn refused_connection_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/feed", listener.local_addr().unwrap());
    drop(listener);
    let source = Source::Http(Url::parse(&url).unwrap());
    let result = fetcher().fetch(&source, &Validators::default()).await;
    assert_eq!(kind(&result), "network", "{result:?}");
    let message = result.unwrap_err().to_string();
    assert!(message.contains(&url), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[tokio::test]
async fn per_host_limit_is_shared_by_clones() {
    let server = TestServer::start().await;
    let fetcher = Fetcher::new(&PollSettings {
        per_host: 1,
        concurrency: 16,
        ..settings()
    })
    .unwrap();
    let source = server.source("/count");
    let requests = (0..5).map(|_| {
        let fetcher = fetcher.clone();
        let source = source.clone();
        async move { fetcher.fetch(&source, &Validators::default()).await }
    });
    let results = futures_util::future::join_all(requests).await;
    assert!(results.iter().all(|r| kind(r) == "body"), "{results:?}");
    assert_eq!(server.seen.peak.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn global_limit_spans_hosts() {
    let seen = Arc::new(Seen::default());
    let first = TestServer::start_with(Arc::clone(&seen)).await;
    let second = TestServer::start_with(Arc::clone(&seen)).await;
    let fetcher = Fetcher::new(&PollSettings {
        per_host: 4,
        concurrency: 2,
        ..settings()
    })
    .unwrap();
    let sources: Vec<Source> = (0..4)
        .flat_map(|_| [first.source("/count"), second.source("/count")])
        .collect();
    let none = Validators::default();
    let results =
        futures_util::future::join_all(sources.iter().map(|source| fetcher.fetch(source, &none)))
            .await;
    assert!(results.iter().all(|r| kind(r) == "body"), "{results:?}");
    let peak = seen.peak.load(Ordering::SeqCst);
    assert!((1..=2).contains(&peak), "peak {peak}");
}

#[tokio::test]
async fn files_by_path_and_file_url() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, FEED).unwrap();
    let fetcher = fetcher();
    let file_url = Url::from_file_path(&path).unwrap();
    let cases = [
        ("plain path", Source::File(path.clone())),
        (
            "file url, resolved",
            Source::File(file_url.to_file_path().unwrap()),
        ),
        ("file url, unresolved", Source::Http(file_url.clone())),
    ];
    for (name, source) in cases {
        let got = body(fetcher.fetch(&source, &Validators::default()).await);
        assert_eq!(got.bytes, FEED.as_bytes(), "{name}");
        assert_eq!(got.status, 200, "{name}");
        assert_eq!(got.final_url, path.display().to_string(), "{name}");
        assert!(got.validators.etag.is_some(), "{name}");
        assert!(got.validators.last_modified.is_some(), "{name}");

        let again = fetcher.fetch(&source, &got.validators).await;
        assert_eq!(kind(&again), "not-modified", "{name}");
    }
}

#[tokio::test]
async fn edited_file_is_fetched_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("feed.xml");
    std::fs::write(&path, FEED).unwrap();
    let fetcher = fetcher();
    let source = Source::File(path.clone());
    let first = body(fetcher.fetch(&source, &Validators::default()).await);
    // A different length changes the ETag even when the clock has not moved on.
    std::fs::write(&path, format!("{FEED}\n")).unwrap();
    let second = body(fetcher.fetch(&source, &first.validators).await);
    assert_eq!(second.bytes.len(), FEED.len() + 1);
}

#[tokio::test]
async fn file_errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.xml");
    std::fs::write(&big, vec![b'x'; MIB as usize + 1]).unwrap();
    let exact = dir.path().join("exact.xml");
    std::fs::write(&exact, vec![b'x'; MIB as usize]).unwrap();
    let missing = dir.path().join("missing.xml");
    let fetcher = fetcher();
    let cases = [
        ("missing", missing, "file"),
        ("directory", dir.path().to_path_buf(), "file"),
        ("over the cap", big, "too-large"),
        ("exactly the cap", exact, "body"),
    ];
    for (name, path, want) in cases {
        let result = fetcher
            .fetch(&Source::File(path.clone()), &Validators::default())
            .await;
        assert_eq!(kind(&result), want, "{name}: {result:?}");
        if let Err(error) = result {
            let message = error.to_string();
            assert!(
                message.contains(&path.display().to_string()),
                "{name}: {message}"
            );
        }
    }
}

#[test]
fn invalid_user_agent_is_refused_at_setup() {
    let result = Fetcher::new(&PollSettings {
        user_agent: "bad\nagent".into(),
        ..settings()
    });
    let message = result.unwrap_err().to_string();
    assert!(message.contains("user_agent"), "{message}");
}
