//! Response headers read into plain values: the media type and its `charset` parameter,
//! the validators for the next conditional GET, and the caching hints (`Retry-After`,
//! `Cache-Control: max-age`, `Expires`) that may push the next poll later.
//!
//! Pure: the caller passes `now` for relative values. Deciding when to poll again is the
//! scheduler's job; decoding the body with the charset is `decode`'s.

use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use reqwest::header::{self, HeaderMap, HeaderName};

use super::{CacheHints, Validators};

/// The first value of a header as text. Servers do send Latin-1 bytes in headers; a lossy
/// read keeps the ASCII parts that matter instead of dropping the whole value.
fn first(headers: &HeaderMap, name: HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `Content-Type` split into the media type (lowercased, parameters dropped) and the
/// `charset` parameter as given (quotes removed, case kept for the decoder's lookup).
pub(crate) fn content_type(headers: &HeaderMap) -> (Option<String>, Option<String>) {
    match first(headers, header::CONTENT_TYPE) {
        Some(value) => split_content_type(&value),
        None => (None, None),
    }
}

fn split_content_type(value: &str) -> (Option<String>, Option<String>) {
    let mut parts = value.split(';');
    let mime = parts
        .next()
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(str::to_ascii_lowercase);
    let charset = parts.find_map(|param| {
        let (name, val) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("charset") {
            return None;
        }
        let val = val.trim().trim_matches('"').trim();
        (!val.is_empty()).then(|| val.to_string())
    });
    (mime, charset)
}

/// `ETag` and `Last-Modified` exactly as received, to be echoed back next time.
pub(crate) fn validators(headers: &HeaderMap) -> Validators {
    Validators {
        etag: first(headers, header::ETAG),
        last_modified: first(headers, header::LAST_MODIFIED),
    }
}

/// Caching hints of any response, 304 and error statuses included (a 429 or 503 carries
/// its `Retry-After` to the scheduler this way).
pub(crate) fn cache_hints(headers: &HeaderMap, now: DateTime<Utc>) -> CacheHints {
    let retry_after = first(headers, header::RETRY_AFTER).and_then(|v| retry_after(&v, now));
    let control = CacheControl::read(headers);
    // RFC 9111 §5.3: with max-age present, Expires must be ignored. `no-store`/`no-cache`
    // say nothing about when the feed changes, so they give no hint at all.
    let (max_age, expires) = if control.no_cache {
        (None, None)
    } else if control.max_age.is_some() {
        (control.max_age, None)
    } else {
        (
            None,
            first(headers, header::EXPIRES).and_then(|v| parse_http_date(&v)),
        )
    };
    CacheHints {
        retry_after,
        max_age,
        expires,
    }
}

/// `Retry-After` is either delta-seconds or an HTTP-date (RFC 9110 §10.2.3).
fn retry_after(value: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // An absurd delay overflows into None: better no hint than a wrapped one.
        let secs = i64::try_from(value.parse::<u64>().ok()?).ok()?;
        return now.checked_add_signed(TimeDelta::try_seconds(secs)?);
    }
    parse_http_date(value)
}

#[derive(Debug, Default)]
struct CacheControl {
    max_age: Option<u64>,
    no_cache: bool,
}

impl CacheControl {
    /// Directives may be spread over several `Cache-Control` lines; the first `max-age` wins.
    fn read(headers: &HeaderMap) -> CacheControl {
        let mut out = CacheControl::default();
        for value in headers.get_all(header::CACHE_CONTROL) {
            let value = String::from_utf8_lossy(value.as_bytes());
            for directive in value.split(',') {
                let (name, arg) = match directive.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (directive.trim(), None),
                };
                if name.eq_ignore_ascii_case("no-store") {
                    out.no_cache = true;
                } else if name.eq_ignore_ascii_case("no-cache") {
                    // `no-cache="Set-Cookie"` only restricts those fields (RFC 9111 §5.2.2.4).
                    if arg.is_none() {
                        out.no_cache = true;
                    }
                } else if name.eq_ignore_ascii_case("max-age") && out.max_age.is_none() {
                    out.max_age = arg.and_then(|a| a.parse().ok());
                }
            }
        }
        out
    }
}

/// An HTTP-date in any of the three forms RFC 9110 §5.6.7 requires a recipient to accept:
/// IMF-fixdate, the obsolete RFC 850 form, and asctime.
pub(crate) fn parse_http_date(value: &str) -> Option<DateTime<Utc>> {
    let value = value.trim();
    if let Ok(date) = DateTime::parse_from_rfc2822(value) {
        return Some(date.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y"))
        .ok()
        .map(|naive| naive.and_utc())
}

/// The IMF-fixdate form of an instant, as a server would send it in `Last-Modified`.
pub(crate) fn format_http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use reqwest::header::HeaderValue;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 10, 4, 0, 0).unwrap()
    }

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn content_type_splits_mime_and_charset() {
        let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
            (
                "gbk rss",
                "application/rss+xml; charset=GBK",
                Some("application/rss+xml"),
                Some("GBK"),
            ),
            (
                "mixed case, quoted",
                "Text/XML;Charset=\"utf-8\"",
                Some("text/xml"),
                Some("utf-8"),
            ),
            (
                "other params first",
                "text/html; q=1; charset=gb2312",
                Some("text/html"),
                Some("gb2312"),
            ),
            (
                "no charset",
                "application/atom+xml",
                Some("application/atom+xml"),
                None,
            ),
            (
                "empty charset",
                "text/xml; charset=",
                Some("text/xml"),
                None,
            ),
            ("only params", "; charset=utf-8", None, Some("utf-8")),
        ];
        for (name, value, mime, charset) in cases {
            let (m, c) = content_type(&map(&[("content-type", value)]));
            assert_eq!(m.as_deref(), *mime, "{name}");
            assert_eq!(c.as_deref(), *charset, "{name}");
        }
        assert_eq!(content_type(&HeaderMap::new()), (None, None));
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        let want = Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 37).unwrap();
        let cases = [
            ("imf-fixdate", "Sun, 06 Nov 1994 08:49:37 GMT"),
            ("rfc 850", "Sunday, 06-Nov-94 08:49:37 GMT"),
            ("asctime", "Sun Nov  6 08:49:37 1994"),
        ];
        for (name, value) in cases {
            assert_eq!(parse_http_date(value), Some(want), "{name}");
        }
        assert_eq!(parse_http_date("0"), None);
        assert_eq!(parse_http_date("-1"), None);
        assert_eq!(parse_http_date(&format_http_date(want)), Some(want));
    }

    type Case = (
        &'static str,
        &'static [(&'static str, &'static str)],
        CacheHints,
    );

    #[test]
    fn cache_hints_from_headers() {
        let at = |h, m, s| Some(Utc.with_ymd_and_hms(2025, 6, 10, h, m, s).unwrap());
        let cases: &[Case] = &[
            ("none", &[], CacheHints::default()),
            (
                "retry-after seconds",
                &[("retry-after", "120")],
                CacheHints {
                    retry_after: at(4, 2, 0),
                    ..CacheHints::default()
                },
            ),
            (
                "retry-after date",
                &[("retry-after", "Tue, 10 Jun 2025 05:00:00 GMT")],
                CacheHints {
                    retry_after: at(5, 0, 0),
                    ..CacheHints::default()
                },
            ),
            (
                "retry-after garbage",
                &[("retry-after", "soon")],
                CacheHints::default(),
            ),
            (
                "retry-after absurd",
                &[("retry-after", "99999999999999999999")],
                CacheHints::default(),
            ),
            (
                "max-age among directives",
                &[("cache-control", "public, max-age=300, must-revalidate")],
                CacheHints {
                    max_age: Some(300),
                    ..CacheHints::default()
                },
            ),
            (
                "max-age quoted, second line",
                &[
                    ("cache-control", "public"),
                    ("cache-control", "Max-Age=\"60\""),
                ],
                CacheHints {
                    max_age: Some(60),
                    ..CacheHints::default()
                },
            ),
            (
                "expires alone",
                &[("expires", "Tue, 10 Jun 2025 04:30:00 GMT")],
                CacheHints {
                    expires: at(4, 30, 0),
                    ..CacheHints::default()
                },
            ),
            (
                "max-age overrides expires",
                &[
                    ("cache-control", "max-age=60"),
                    ("expires", "Tue, 10 Jun 2025 04:30:00 GMT"),
                ],
                CacheHints {
                    max_age: Some(60),
                    ..CacheHints::default()
                },
            ),
            (
                "no-store drops max-age and expires",
                &[
                    ("cache-control", "no-store, max-age=60"),
                    ("expires", "Tue, 10 Jun 2025 04:30:00 GMT"),
                ],
                CacheHints::default(),
            ),
            (
                "no-cache drops max-age",
                &[("cache-control", "max-age=60, no-cache")],
                CacheHints::default(),
            ),
            (
                "no-cache with field names keeps max-age",
                &[("cache-control", "no-cache=\"set-cookie\", max-age=60")],
                CacheHints {
                    max_age: Some(60),
                    ..CacheHints::default()
                },
            ),
            (
                "invalid expires",
                &[("expires", "0")],
                CacheHints::default(),
            ),
        ];
        for (name, headers, want) in cases {
            assert_eq!(&cache_hints(&map(headers), now()), want, "{name}");
        }
    }

    #[test]
    fn validators_as_received() {
        let headers = map(&[
            ("etag", "W/\"abc\""),
            ("last-modified", "Tue, 10 Jun 2025 04:00:00 GMT"),
        ]);
        assert_eq!(
            validators(&headers),
            Validators {
                etag: Some("W/\"abc\"".into()),
                last_modified: Some("Tue, 10 Jun 2025 04:00:00 GMT".into()),
            }
        );
        assert_eq!(validators(&HeaderMap::new()), Validators::default());
    }
}
