//! The only module that speaks HTTP: one shared client that fetches a feed's bytes
//! politely and sorts every failure into a kind the caller acts on.
//!
//! It owns the conditional GET (`If-None-Match`/`If-Modified-Since`, 304 as an outcome),
//! the body cap counted on decompressed bytes while streaming, timeouts, redirects (limited,
//! loops detected), the global and per-host concurrency limits, and reading the caching
//! hints (`Retry-After`, `Cache-Control`, `Expires`) off every response. Local files are
//! served through the same interface (see `file`).
//!
//! It leaves the bytes alone: the `charset` parameter is recorded, and turning bytes into
//! text is `decode`'s job. When to poll next is the scheduler's; storing validators is
//! `store`'s. It reads the clock (`Utc::now()` once per response) only to turn a
//! delta-seconds `Retry-After` into an instant, since it is the I/O layer anyway.

mod file;
mod headers;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::Semaphore;
use tracing::debug;
use url::Url;

use crate::config::{PollSettings, Source};
pub use crate::model::Validators;

/// Caching hints from the response that may push the next poll later.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheHints {
    /// `Retry-After` (seconds or HTTP date), resolved to an instant.
    pub retry_after: Option<DateTime<Utc>>,
    /// `Cache-Control: max-age`, in seconds.
    pub max_age: Option<u64>,
    /// `Expires`, resolved to an instant.
    pub expires: Option<DateTime<Utc>>,
}

/// A body that was fetched.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    /// Decompressed bytes, at most `max_body` of them.
    pub bytes: Vec<u8>,
    /// `charset` parameter of `Content-Type`, if any.
    pub charset: Option<String>,
    /// `Content-Type` without parameters, lowercased.
    pub content_type: Option<String>,
    /// HTTP status (200 for files).
    pub status: u16,
    /// The URL after redirects (the path for files).
    pub final_url: String,
    /// New validators to store.
    pub validators: Validators,
    /// Caching hints.
    pub hints: CacheHints,
}

/// What a fetch produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Fetched {
    /// 200 with a body.
    Body(Body),
    /// 304 Not Modified: nothing to do.
    NotModified {
        /// Caching hints.
        hints: CacheHints,
    },
}

/// Why a fetch failed, sorted into the kinds a user acts on differently.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A status other than 200/304.
    #[error("HTTP {status} from {url}")]
    Status {
        /// The status code.
        status: u16,
        /// URL requested.
        url: String,
        /// Caching hints (Retry-After on 429/503).
        hints: CacheHints,
    },
    /// Timed out connecting or reading.
    #[error("timed out fetching {url}")]
    Timeout {
        /// URL requested.
        url: String,
    },
    /// The body grew past `max_body`.
    #[error("body of {url} exceeds the {limit}-byte limit")]
    TooLarge {
        /// URL requested.
        url: String,
        /// The cap.
        limit: u64,
    },
    /// Too many redirects, or a loop.
    #[error("too many redirects fetching {url}")]
    Redirects {
        /// URL requested.
        url: String,
    },
    /// Connection, TLS, DNS or decoding failure.
    #[error("network error fetching {url}: {message}")]
    Network {
        /// URL requested.
        url: String,
        /// Detail.
        message: String,
    },
    /// A local file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl FetchError {
    /// The HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A shared HTTP client with global and per-host concurrency limits.
///
/// Cheap to clone; clones share the connection pool and the limits, so one `Fetcher` per
/// process is the intended use.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    limits: Arc<Limits>,
    max_body: u64,
}

/// How many fetches may run at once, overall and per `host:port`.
#[derive(Debug)]
struct Limits {
    global: Semaphore,
    per_host: usize,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Limits {
    /// The semaphore of one `host:port`, created on first use. The map only grows with the
    /// number of distinct configured hosts, so it is never pruned.
    fn host(&self, key: &str) -> Arc<Semaphore> {
        // A panic elsewhere while holding this lock cannot leave the map inconsistent
        // (inserts are atomic), so a poisoned lock is still safe to use.
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sem) = hosts.get(key) {
            return Arc::clone(sem);
        }
        let sem = Arc::new(Semaphore::new(self.per_host));
        hosts.insert(key.to_string(), Arc::clone(&sem));
        sem
    }
}

/// Feed formats first, generic XML next, anything last: some servers pick a representation
/// by `Accept`, and none should refuse us for asking.
const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, \
                      application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.7";

impl Fetcher {
    /// Builds the shared client (pool, timeouts, User-Agent, redirect policy) and the limits.
    ///
    /// Fails only when the settings cannot make a client: a User-Agent that is not a valid
    /// header value, or a TLS backend that will not initialise.
    pub fn new(settings: &PollSettings) -> Result<Fetcher, FetchError> {
        let setup_error = |message: String| FetchError::Network {
            url: "(client setup)".to_string(),
            message,
        };
        let user_agent = HeaderValue::from_str(&settings.user_agent).map_err(|e| {
            setup_error(format!(
                "[poll] user_agent {:?} is not a valid header value: {e}",
                settings.user_agent
            ))
        })?;
        let mut defaults = HeaderMap::new();
        defaults.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .default_headers(defaults)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .redirect(redirect_policy(settings.max_redirects))
            .build()
            .map_err(|e| setup_error(error_chain(&e)))?;
        // Zero permits would hang every fetch forever; config rejects 0, this is the backstop.
        let limits = Limits {
            global: Semaphore::new(settings.concurrency.max(1)),
            per_host: settings.per_host.max(1),
            hosts: Mutex::new(HashMap::new()),
        };
        Ok(Fetcher {
            client,
            limits: Arc::new(limits),
            max_body: settings.max_body,
        })
    }

    /// Fetches one source, conditionally when validators are given.
    ///
    /// `Ok` is a 200 body or a 304 [`Fetched::NotModified`]; every other status is
    /// [`FetchError::Status`] carrying the caching hints (so a 429/503 `Retry-After` still
    /// reaches the scheduler). Waits for a per-host permit, then a global one, and holds
    /// both only while the request and the body read run.
    pub async fn fetch(
        &self,
        source: &Source,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        match source {
            Source::Http(url) if url.scheme() == "file" => match url.to_file_path() {
                Ok(path) => self.fetch_file(&path, validators).await,
                Err(()) => Err(FetchError::File {
                    path: url.to_string(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "not a local file path",
                    ),
                }),
            },
            Source::Http(url) => self.fetch_http(url, validators).await,
            Source::File(path) => self.fetch_file(path, validators).await,
        }
    }

    async fn fetch_file(
        &self,
        path: &std::path::Path,
        validators: &Validators,
    ) -> Result<Fetched, FetchError> {
        // Files count against the global limit ("feeds fetched at once") but have no host.
        let _global = self.limits.global.acquire().await.ok();
        let started = Instant::now();
        let result = file::fetch_file(path, validators, self.max_body).await;
        log_outcome(&path.display(), started, &result);
        result
    }

    async fn fetch_http(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        // Per-host first, then global: a feed waiting for its busy host must not sit on a
        // global slot that feeds on idle hosts could use. The semaphores are never closed,
        // so `acquire` cannot fail; `.ok()` keeps that from becoming a panic path.
        let host = self.limits.host(&host_key(url));
        let _host_permit = host.acquire().await.ok();
        let _global_permit = self.limits.global.acquire().await.ok();

        let started = Instant::now();
        let result = self.request(url, validators).await;
        log_outcome(url, started, &result);
        result
    }

    async fn request(&self, url: &Url, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut request = self.client.get(url.clone());
        // A stored validator that is not a valid header value (it came from some server) is
        // skipped: an unconditional GET is correct, just less polite.
        if let Some(etag) = header_value(validators.etag.as_deref()) {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        if let Some(date) = header_value(validators.last_modified.as_deref()) {
            request = request.header(header::IF_MODIFIED_SINCE, date);
        }
        let mut response = request.send().await.map_err(|e| classify(e, url))?;

        let hints = headers::cache_hints(response.headers(), Utc::now());
        match response.status().as_u16() {
            200 => {}
            304 => return Ok(Fetched::NotModified { hints }),
            status => {
                return Err(FetchError::Status {
                    status,
                    url: url.to_string(),
                    hints,
                });
            }
        }
        let (content_type, charset) = headers::content_type(response.headers());
        let new_validators = headers::validators(response.headers());
        let final_url = response.url().to_string();

        let limit = self.max_body;
        let too_large = || FetchError::TooLarge {
            url: url.to_string(),
            limit,
        };
        // Known only when the body is not being decompressed; then an oversized body is
        // refused before a byte of it is read.
        let declared = response.content_length();
        if declared.is_some_and(|len| len > limit) {
            return Err(too_large());
        }
        let mut bytes =
            Vec::with_capacity(declared.and_then(|n| usize::try_from(n).ok()).unwrap_or(0));
        // Chunks are decompressed bytes, so counting them here is what stops a gzip bomb
        // (trap: `.bytes()` would inflate it whole before any check could run).
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, url))? {
            if bytes.len() as u64 + chunk.len() as u64 > limit {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched::Body(Body {
            bytes,
            charset,
            content_type,
            status: 200,
            final_url,
            validators: new_validators,
            hints,
        }))
    }
}

/// Follows at most `max` redirects and refuses to revisit a URL already in the chain, so
/// a loop fails at once instead of after `max` round trips. `previous` starts with the
/// URL first requested, so its length is the number of redirects followed so far + 1.
fn redirect_policy(max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().contains(attempt.url()) {
            attempt.error("redirect loop")
        } else if attempt.previous().len() > max {
            attempt.error(format!("more than {max} redirects"))
        } else {
            attempt.follow()
        }
    })
}

/// The per-host limit's key. Port included: two servers on one machine are two hosts.
fn host_key(url: &Url) -> String {
    format!(
        "{}:{}",
        url.host_str().unwrap_or(""),
        url.port_or_known_default().unwrap_or(0)
    )
}

fn header_value(value: Option<&str>) -> Option<HeaderValue> {
    value.and_then(|v| HeaderValue::from_str(v).ok())
}

/// Sorts a reqwest error into the kinds a user acts on differently.
fn classify(error: reqwest::Error, url: &Url) -> FetchError {
    let url_text = url.to_string();
    if error.is_timeout() {
        FetchError::Timeout { url: url_text }
    } else if error.is_redirect() {
        FetchError::Redirects { url: url_text }
    } else {
        // The URL is already in our message; the source chain holds the useful part
        // ("tcp connect error: Connection refused", "invalid gzip header", ...).
        FetchError::Network {
            url: url_text,
            message: error_chain(&error.without_url()),
        }
    }
}

/// An error and its sources joined with ": ", skipping a source already quoted by its parent.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let text = inner.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = inner.source();
    }
    out
}

/// One debug event per fetch. The feed name is not known here: the caller's span adds it.
/// A failure is logged at debug only, because the caller decides how loud it is (a feed
/// failing is a warning in its health record, a 304 is routine).
fn log_outcome(
    url: &dyn std::fmt::Display,
    started: Instant,
    result: &Result<Fetched, FetchError>,
) {
    let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(Fetched::Body(body)) => debug!(
            url = %url,
            status = body.status,
            elapsed_ms,
            bytes = body.bytes.len(),
            "fetched"
        ),
        Ok(Fetched::NotModified { .. }) => {
            debug!(url = %url, status = 304, elapsed_ms, "not modified");
        }
        Err(error) => debug!(
            url = %url,
            status = error.status(),
            elapsed_ms,
            error = %error,
            "fetch failed"
        ),
    }
}
