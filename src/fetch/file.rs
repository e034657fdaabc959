//! Local files as feed sources (`file://` URLs and plain paths, already resolved by
//! `config`). They go through the same body cap as HTTP and answer like a server would:
//! status 200, the path as final URL, and validators made from the file's metadata so an
//! unchanged file comes back as [`Fetched::NotModified`] just as a 304 would.
//!
//! The ETag is built from length and modification time down to the nanosecond, because a
//! one-second `Last-Modified` alone would miss an edit made within the same second as the
//! previous poll. `Last-Modified` is filled in as well, for display.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use chrono::{DateTime, Utc};

use super::{Body, CacheHints, FetchError, Fetched, Validators, headers};

/// Reads `path` on the blocking pool: one thread hop for the whole file is cheaper than
/// tokio's chunked file reads, and the read is bounded by the cap anyway.
pub(super) async fn fetch_file(
    path: &Path,
    validators: &Validators,
    limit: u64,
) -> Result<Fetched, FetchError> {
    let owned: PathBuf = path.to_path_buf();
    let known_etag = validators.etag.clone();
    match tokio::task::spawn_blocking(move || read_capped(&owned, known_etag.as_deref(), limit))
        .await
    {
        Ok(result) => result,
        Err(join) => Err(FetchError::File {
            path: path.display().to_string(),
            source: io::Error::other(join.to_string()),
        }),
    }
}

fn read_capped(path: &Path, known_etag: Option<&str>, limit: u64) -> Result<Fetched, FetchError> {
    let shown = path.display().to_string();
    let file_error = |source| FetchError::File {
        path: shown.clone(),
        source,
    };
    let file = fs::File::open(path).map_err(file_error)?;
    let meta = file.metadata().map_err(file_error)?;
    if meta.is_dir() {
        return Err(file_error(io::Error::new(
            io::ErrorKind::IsADirectory,
            "is a directory",
        )));
    }
    let too_large = || FetchError::TooLarge {
        url: shown.clone(),
        limit,
    };
    if meta.len() > limit {
        return Err(too_large());
    }
    let modified = meta.modified().ok();
    let etag = modified
        .and_then(|m| m.duration_since(UNIX_EPOCH).ok())
        .map(|d| {
            format!(
                "\"{:x}-{:x}.{:x}\"",
                meta.len(),
                d.as_secs(),
                d.subsec_nanos()
            )
        });
    if etag.is_some() && etag.as_deref() == known_etag {
        return Ok(Fetched::NotModified {
            hints: CacheHints::default(),
        });
    }
    // Metadata may lie (a file growing while read, /proc files reporting 0): read at most
    // one byte past the cap so the cap holds whatever the length said.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(file_error)?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(Fetched::Body(Body {
        bytes,
        charset: None,
        content_type: None,
        status: 200,
        final_url: shown.clone(),
        validators: Validators {
            etag,
            last_modified: modified.map(|m| headers::format_http_date(DateTime::<Utc>::from(m))),
        },
        hints: CacheHints::default(),
    }))
}
