//! The integration-test harness: a temp dir with a config, a feed server on loopback, and
//! the real binary run against both.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(name)).unwrap()
}

/// One response the server gives for a path.
#[derive(Clone, Debug)]
pub enum Route {
    /// A body with a content type, served with an ETag (304 on a matching If-None-Match).
    Feed { body: Vec<u8>, content_type: String },
    /// A bare status code.
    Status(u16),
    /// A redirect to another path.
    Redirect(String),
    /// Sleeps before answering.
    Slow(Duration),
}

/// Shared state of the test server: routes can be changed while it runs.
#[derive(Clone, Default)]
pub struct ServerState {
    routes: Arc<Mutex<HashMap<String, Route>>>,
    /// Requests answered with 304.
    pub not_modified: Arc<AtomicUsize>,
    /// All requests.
    pub requests: Arc<AtomicUsize>,
}

impl ServerState {
    /// Sets (or replaces) the response for `path` (without the leading slash).
    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// Serves a fixture file with a content type.
    pub fn feed(&self, path: &str, body: Vec<u8>, content_type: &str) {
        self.set(
            path,
            Route::Feed {
                body,
                content_type: content_type.to_string(),
            },
        );
    }
}

async fn serve(
    State(state): State<ServerState>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    state.requests.fetch_add(1, Ordering::SeqCst);
    let route = state.routes.lock().unwrap().get(&path).cloned();
    let mut resp = Response::new(Body::empty());
    match route {
        None => *resp.status_mut() = StatusCode::NOT_FOUND,
        Some(Route::Status(code)) => *resp.status_mut() = StatusCode::from_u16(code).unwrap(),
        Some(Route::Redirect(to)) => {
            *resp.status_mut() = StatusCode::FOUND;
            resp.headers_mut().insert(
                header::LOCATION,
                HeaderValue::from_str(&format!("/{to}")).unwrap(),
            );
        }
        Some(Route::Slow(d)) => {
            tokio::time::sleep(d).await;
            *resp.body_mut() = Body::from("<rss/>");
        }
        Some(Route::Feed { body, content_type }) => {
            let etag = format!("\"{}\"", blake3::hash(&body).to_hex());
            if headers
                .get(header::IF_NONE_MATCH)
                .and_then(|v| v.to_str().ok())
                == Some(etag.as_str())
            {
                state.not_modified.fetch_add(1, Ordering::SeqCst);
                *resp.status_mut() = StatusCode::NOT_MODIFIED;
            } else {
                *resp.body_mut() = Body::from(body);
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_str(&content_type).unwrap(),
                );
            }
            resp.headers_mut()
                .insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
        }
    }
    resp
}

/// A feed server on 127.0.0.1 running on its own thread for the life of the test.
pub struct Server {
    /// Its address.
    pub addr: SocketAddr,
    /// Its routes and counters.
    pub state: ServerState,
}

impl Server {
    /// Starts an empty server.
    pub fn start() -> Server {
        let state = ServerState::default();
        let app = Router::new()
            .route("/{*path}", get(serve))
            .with_state(state.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                axum::serve(listener, app).await.unwrap();
            });
        });
        let addr = rx.recv().unwrap();
        Server { addr, state }
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }
}

/// A temp dir holding a config and a database, and a way to run the binary on them.
pub struct Env {
    /// The temp dir (removed on drop).
    pub dir: tempfile::TempDir,
}

impl Env {
    /// A new, empty environment.
    pub fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Path of the config file.
    pub fn config(&self) -> PathBuf {
        self.dir.path().join("feedwatch.toml")
    }

    /// Path of the database.
    pub fn db(&self) -> PathBuf {
        self.dir.path().join("feedwatch.db")
    }

    /// Writes the config file.
    pub fn write_config(&self, text: &str) {
        std::fs::write(self.config(), text).unwrap();
    }

    /// Runs `feedwatch --config <config> ARGS` in the temp dir.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_feedwatch"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("FEEDWATCH_LOG")
            .env_remove("RUST_LOG")
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "feedwatch {args:?} failed ({:?}):\nstdout:\n{}\nstderr:\n{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `items --format json` as parsed JSON objects.
    pub fn items(&self, extra: &[&str]) -> Vec<serde_json::Value> {
        let mut args = vec!["items", "--format", "json"];
        args.extend_from_slice(extra);
        let v: serde_json::Value = serde_json::from_str(&self.ok(&args)).unwrap();
        v.as_array().unwrap().clone()
    }

    /// `feeds --format json` keyed by feed name.
    pub fn feeds(&self) -> HashMap<String, serde_json::Value> {
        let v: serde_json::Value =
            serde_json::from_str(&self.ok(&["feeds", "--format", "json"])).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|f| (f["name"].as_str().unwrap().to_string(), f.clone()))
            .collect()
    }
}

/// A `[[feed]]` table.
pub fn feed_toml(name: &str, url: &str) -> String {
    format!("[[feed]]\nname = \"{name}\"\nurl = \"{url}\"\n\n")
}

/// Titles of items.
pub fn titles(items: &[serde_json::Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["title"].as_str().unwrap().to_string())
        .collect()
}
