//! Cron schedules read the way crontab users expect, and the pure next-poll computation.
//!
//! The cron crate wants 6 or 7 fields with seconds first and numbers day-of-week from
//! 1 = Sunday, so a crontab line's `1-5` would silently mean Sunday to Thursday there. This
//! module accepts both the 5-field crontab form and the 6/7-field form, and rewrites
//! numeric days of the week into names with crontab's meaning (0 and 7 = Sunday, 1 =
//! Monday) before the crate sees them.
//!
//! [`next_poll`] decides when a feed polls next from what its last refresh said: the next
//! tick of its schedule plus a small per-feed offset (so feeds sharing a schedule do not
//! fire in the same second), exponential backoff with jitter after failures, and the
//! server's hints (Retry-After, max-age, Expires, RSS `<ttl>`) pushing the poll later,
//! everything capped. It is a pure function of its inputs: no clock, no randomness, no
//! I/O. The loop that sleeps and spawns refreshes lives in the daemon.

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Local, TimeDelta, Utc};

const DAY_NAMES: [&str; 8] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// Parses a cron expression: 5 fields (crontab: minute hour day month weekday), or 6/7
/// fields with seconds first (and an optional year). Numeric weekdays follow crontab.
pub fn parse(expr: &str) -> Result<cron::Schedule, String> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let mut fields: Vec<String> = match fields.len() {
        5 => std::iter::once("0")
            .chain(fields)
            .map(str::to_string)
            .collect(),
        6 | 7 => fields.into_iter().map(str::to_string).collect(),
        n => {
            return Err(format!(
                "{expr:?} has {n} fields; use 5 (minute hour day month weekday) or 6 with seconds first"
            ));
        }
    };
    fields[5] = crontab_weekdays(&fields[5]).map_err(|e| format!("{expr:?}: {e}"))?;
    cron::Schedule::from_str(&fields.join(" "))
        .map_err(|e| format!("{expr:?} is not a valid schedule: {e}"))
}

/// Rewrites numeric weekdays (0-7, crontab meaning) into day names, keeping lists, ranges
/// and steps: `1-5` → `MON-FRI`, `0,6` → `SUN,SAT`, `*/2` unchanged.
fn crontab_weekdays(field: &str) -> Result<String, String> {
    let name = |tok: &str| -> Result<String, String> {
        match tok.parse::<usize>() {
            Ok(n) => DAY_NAMES
                .get(n)
                .map(|s| s.to_string())
                .ok_or_else(|| format!("weekday {n} is out of range 0-7")),
            Err(_) => Ok(tok.to_string()),
        }
    };
    let mut out = Vec::new();
    for part in field.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s)),
            None => (part, None),
        };
        let range = match range.split_once('-') {
            // `5-7` would become FRI-SUN, which the crate reads backwards; crontab means
            // Friday to Sunday, so spell that out as FRI-SAT,SUN.
            Some((a, b)) if b == "7" && a != "0" && a != "7" => {
                let start = name(a)?;
                if step.is_some() {
                    format!("{start}-SAT")
                } else {
                    out.push("SUN".to_string());
                    format!("{start}-SAT")
                }
            }
            Some((a, b)) => format!("{}-{}", name(a)?, name(b)?),
            None => name(range)?,
        };
        out.push(match step {
            Some(s) => format!("{range}/{s}"),
            None => range,
        });
    }
    Ok(out.join(","))
}

/// The zone a schedule's fields are read in: the system's local time (as crontab does) or
/// a named IANA zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ScheduleZone {
    /// The system's local time zone (`/etc/localtime`, or `TZ`).
    #[default]
    Local,
    /// A named zone such as `Asia/Shanghai` or `UTC`.
    Named(chrono_tz::Tz),
}

impl ScheduleZone {
    /// Reads `local` or an IANA zone name.
    pub fn parse(s: &str) -> Result<ScheduleZone, String> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("local") {
            return Ok(ScheduleZone::Local);
        }
        t.parse::<chrono_tz::Tz>()
            .map(ScheduleZone::Named)
            .map_err(|_| {
                format!(
                    "unknown time zone {s:?} (use \"local\" or an IANA name like \"Asia/Shanghai\")"
                )
            })
    }

    /// The next two ticks of `schedule` strictly after `after`, in UTC.
    fn next_two(
        self,
        schedule: &cron::Schedule,
        after: DateTime<Utc>,
    ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
        fn two<Z: chrono::TimeZone>(
            mut it: impl Iterator<Item = DateTime<Z>>,
        ) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
            let a = it.next().map(|t| t.with_timezone(&Utc));
            let b = it.next().map(|t| t.with_timezone(&Utc));
            (a, b)
        }
        match self {
            ScheduleZone::Local => two(schedule.after(&after.with_timezone(&Local))),
            ScheduleZone::Named(tz) => two(schedule.after(&after.with_timezone(&tz))),
        }
    }
}

impl std::fmt::Display for ScheduleZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ScheduleZone::Local => f.write_str("local"),
            ScheduleZone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

/// What does not change between one feed's refreshes: its schedule and limits.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The parsed cron schedule.
    pub schedule: cron::Schedule,
    /// The zone the schedule is read in.
    pub zone: ScheduleZone,
    /// The longest wait between two polls, whatever backoff or the server ask for.
    pub max_backoff: Duration,
    /// Per-feed seed for the offset and the backoff jitter ([`feed_seed`]).
    pub seed: u64,
}

/// How the last refresh ended, as far as scheduling cares: 200 and 304 are both a success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Fetched, or not modified.
    Success,
    /// Fetch, parse or store failed.
    Failure,
}

/// What the server (or the document) said about polling again.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hints {
    /// `Retry-After`, resolved to an instant.
    pub retry_after: Option<DateTime<Utc>>,
    /// `Cache-Control: max-age`.
    pub max_age: Option<Duration>,
    /// `Expires`.
    pub expires: Option<DateTime<Utc>>,
    /// RSS `<ttl>`.
    pub ttl: Option<Duration>,
}

/// Longest per-feed offset added to scheduled ticks.
const MAX_SPREAD: Duration = Duration::from_secs(30);
/// The interval assumed when a schedule has fewer than two future ticks.
const FALLBACK_INTERVAL: Duration = Duration::from_secs(3600);

/// A stable seed for a feed, from its name: the same on every start and every machine.
pub fn feed_seed(name: &str) -> u64 {
    mix(&[name.as_bytes()])
}

fn mix(parts: &[&[u8]]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&(p.len() as u64).to_le_bytes());
        h.update(p);
    }
    let mut out = [0u8; 8];
    out.copy_from_slice(&h.finalize().as_bytes()[..8]);
    u64::from_le_bytes(out)
}

/// The gap between the schedule's next two ticks after `now`: the feed's normal interval
/// (at least one second).
pub fn interval(schedule: &cron::Schedule, zone: ScheduleZone, now: DateTime<Utc>) -> Duration {
    match zone.next_two(schedule, now) {
        (Some(a), Some(b)) => (b - a).to_std().unwrap_or(FALLBACK_INTERVAL),
        _ => FALLBACK_INTERVAL,
    }
    .max(Duration::from_secs(1))
}

/// The feed's fixed offset from its schedule's ticks: below a tenth of the interval and
/// below 30 s, derived from the seed, so a thousand feeds sharing a schedule are spread
/// over several seconds instead of firing together, yet each keeps a steady rhythm.
pub fn spread(seed: u64, interval: Duration) -> Duration {
    let bound = (interval / 10).min(MAX_SPREAD);
    let bound_ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    if bound_ms == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(seed % bound_ms)
}

/// The backoff after `streak` consecutive failures: the interval doubled per failure,
/// capped, then jittered into the upper half (`[raw/2, raw]`) so feeds that failed
/// together do not retry together. `entropy` picks the point in that range.
pub fn backoff(interval: Duration, streak: u32, max_backoff: Duration, entropy: u64) -> Duration {
    let factor = 1u32.checked_shl(streak.min(31)).unwrap_or(u32::MAX);
    let raw = interval.saturating_mul(factor).min(max_backoff);
    let half = raw / 2;
    // 2^-64 steps of the upper half; exact enough and never beyond `raw`.
    let frac = entropy as f64 / (u64::MAX as f64 + 1.0);
    half + half.mul_f64(frac)
}

fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// When a feed polls next, from how its last refresh ended.
///
/// - Success (200 or 304): the schedule's next tick after `now`, plus the feed's
///   [`spread`]. One success is enough to return to the schedule.
/// - Failure: `now` plus [`backoff`] for `streak` (the consecutive failures including
///   this one), capped at `plan.max_backoff`. A feed is never given up on.
/// - Hints (Retry-After, max-age, Expires, `<ttl>`) only ever push the poll later, and
///   never beyond `now + max_backoff`.
///
/// The result is always at least one second after `now`.
pub fn next_poll(
    plan: &Plan,
    now: DateTime<Utc>,
    outcome: Outcome,
    streak: u32,
    hints: &Hints,
) -> DateTime<Utc> {
    let every = interval(&plan.schedule, plan.zone, now);
    let offset = spread(plan.seed, every);
    let cap = add(now, plan.max_backoff);
    let planned = match outcome {
        Outcome::Success => match plan.zone.next_two(&plan.schedule, now).0 {
            Some(tick) => add(tick, offset),
            // A schedule with no future tick (a past year): keep checking, rarely.
            None => cap,
        },
        Outcome::Failure => {
            let entropy = mix(&[
                &plan.seed.to_le_bytes(),
                &streak.to_le_bytes(),
                &now.timestamp_millis().to_le_bytes(),
            ]);
            add(now, backoff(every, streak, plan.max_backoff, entropy))
        }
    };
    let asked = [
        hints.retry_after,
        hints.max_age.map(|d| add(now, d)),
        hints.expires,
        hints.ttl.map(|d| add(now, d)),
    ]
    .into_iter()
    .flatten()
    .max();
    let next = match asked {
        // The offset keeps feeds of one host that all got the same Retry-After apart.
        Some(at) if at > planned => add(at, offset).min(cap).max(planned),
        _ => planned,
    };
    next.max(add(now, Duration::from_secs(1)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, TimeZone, Utc, Weekday};

    fn weekdays(expr: &str) -> Vec<Weekday> {
        let s = parse(expr).unwrap();
        // 2025-06-01 is a Sunday; one week of daily noon runs shows which days fire.
        let start = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        let mut days: Vec<Weekday> = s
            .after(&start)
            .take(7)
            .map(|t| t.weekday())
            .collect::<Vec<_>>();
        days.sort_by_key(|d| d.num_days_from_monday());
        days.dedup();
        days
    }

    #[test]
    fn numeric_weekdays_mean_what_crontab_means() {
        use Weekday::*;
        let cases: &[(&str, &str, Vec<Weekday>)] = &[
            (
                "mon-fri crontab",
                "0 12 * * 1-5",
                vec![Mon, Tue, Wed, Thu, Fri],
            ),
            (
                "mon-fri with seconds",
                "0 0 12 * * 1-5",
                vec![Mon, Tue, Wed, Thu, Fri],
            ),
            ("sunday as 0", "0 12 * * 0", vec![Sun]),
            ("sunday as 7", "0 12 * * 7", vec![Sun]),
            ("weekend list", "0 12 * * 6,0", vec![Sat, Sun]),
            ("fri to sun", "0 12 * * 5-7", vec![Fri, Sat, Sun]),
            ("names", "0 12 * * MON,WED", vec![Mon, Wed]),
        ];
        for (name, expr, want) in cases {
            assert_eq!(&weekdays(expr), want, "{name}: {expr}");
        }
    }

    #[test]
    fn field_counts() {
        assert!(parse("*/5 * * * *").is_ok());
        assert!(parse("0 */15 * * * *").is_ok());
        assert!(parse("0 0 12 * * * 2030").is_ok());
        assert!(parse("* * * *").unwrap_err().contains("4 fields"));
        assert!(parse("0 12 * * 8").unwrap_err().contains("out of range"));
        assert!(parse("every tuesday").is_err());
    }

    fn plan(expr: &str, seed: u64) -> Plan {
        Plan {
            schedule: parse(expr).unwrap(),
            zone: ScheduleZone::Named(chrono_tz::UTC),
            max_backoff: Duration::from_secs(24 * 3600),
            seed,
        }
    }

    fn at(h: u32, m: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 10, h, m, s).unwrap()
    }

    fn secs(d: TimeDelta) -> i64 {
        d.num_seconds()
    }

    #[test]
    fn success_returns_to_the_next_tick_plus_the_feed_offset() {
        let now = at(12, 3, 0);
        for seed in [0, 1, 12_345, u64::MAX] {
            let p = plan("0 */15 * * * *", seed);
            let next = next_poll(&p, now, Outcome::Success, 0, &Hints::default());
            let offset = next - at(12, 15, 0);
            // A tenth of 15 minutes is 90 s, so the 30 s ceiling applies.
            assert!(
                (0..30).contains(&secs(offset)),
                "seed {seed}: {next} is not within 30 s after 12:15"
            );
            assert_eq!(
                next,
                next_poll(&p, now, Outcome::Success, 0, &Hints::default())
            );
        }
    }

    #[test]
    fn failures_back_off_exponentially_within_jitter_bounds_and_cap() {
        let now = at(12, 0, 0);
        let minute = 60i64;
        // (name, streak, lowest, highest) in seconds after now, for a 1-minute schedule.
        let cases: &[(&str, u32, i64, i64)] = &[
            ("first failure", 1, minute, 2 * minute),
            ("second", 2, 2 * minute, 4 * minute),
            ("fifth", 5, 16 * minute, 32 * minute),
            ("capped at 24 h", 12, 12 * 3600, 24 * 3600),
            (
                "huge streak never overflows",
                u32::MAX,
                12 * 3600,
                24 * 3600,
            ),
        ];
        for (name, streak, lo, hi) in cases {
            let mut seen = std::collections::HashSet::new();
            for seed in 0..200u64 {
                let p = plan("0 * * * * *", seed);
                let d =
                    secs(next_poll(&p, now, Outcome::Failure, *streak, &Hints::default()) - now);
                assert!((*lo..=*hi).contains(&d), "{name}: {d} s not in {lo}..={hi}");
                seen.insert(d);
            }
            assert!(
                seen.len() > 20,
                "{name}: retries are not jittered: {seen:?}"
            );
        }
    }

    #[test]
    fn a_short_max_backoff_caps_everything_but_the_schedule() {
        let mut p = plan("0 */15 * * * *", 7);
        p.max_backoff = Duration::from_secs(600);
        let now = at(12, 0, 0);
        let d = secs(next_poll(&p, now, Outcome::Failure, 9, &Hints::default()) - now);
        assert!((300..=600).contains(&d), "{d}");
        let hints = Hints {
            retry_after: Some(at(18, 0, 0)),
            ..Hints::default()
        };
        let d = secs(next_poll(&p, now, Outcome::Failure, 1, &hints) - now);
        assert_eq!(d, 600, "Retry-After beyond the cap is capped");
    }

    #[test]
    fn server_hints_push_the_next_poll_later_but_never_earlier() {
        let now = at(12, 0, 0);
        let p = plan("0 * * * * *", 3);
        let offset = spread(3, Duration::from_secs(60));
        let later = |d: i64| now + TimeDelta::seconds(d) + TimeDelta::from_std(offset).unwrap();
        let cases: Vec<(&str, Outcome, u32, Hints, DateTime<Utc>)> = vec![
            (
                "429 Retry-After 2 h",
                Outcome::Failure,
                1,
                Hints {
                    retry_after: Some(at(14, 0, 0)),
                    ..Hints::default()
                },
                later(7200),
            ),
            (
                "Retry-After of three days is capped at 24 h",
                Outcome::Failure,
                1,
                Hints {
                    retry_after: Some(at(12, 0, 0) + TimeDelta::days(3)),
                    ..Hints::default()
                },
                now + TimeDelta::hours(24),
            ),
            (
                "max-age 10 min",
                Outcome::Success,
                0,
                Hints {
                    max_age: Some(Duration::from_secs(600)),
                    ..Hints::default()
                },
                later(600),
            ),
            (
                "Expires in 30 min",
                Outcome::Success,
                0,
                Hints {
                    expires: Some(at(12, 30, 0)),
                    ..Hints::default()
                },
                later(1800),
            ),
            (
                "RSS ttl 60 min",
                Outcome::Success,
                0,
                Hints {
                    ttl: Some(Duration::from_secs(3600)),
                    ..Hints::default()
                },
                later(3600),
            ),
            (
                "max-age shorter than the schedule changes nothing",
                Outcome::Success,
                0,
                Hints {
                    max_age: Some(Duration::from_secs(5)),
                    ..Hints::default()
                },
                later(60),
            ),
            (
                "Expires in the past changes nothing",
                Outcome::Success,
                0,
                Hints {
                    expires: Some(at(11, 0, 0)),
                    ..Hints::default()
                },
                later(60),
            ),
        ];
        for (name, outcome, streak, hints, want) in cases {
            assert_eq!(next_poll(&p, now, outcome, streak, &hints), want, "{name}");
        }
    }

    #[test]
    fn a_thousand_feeds_on_one_schedule_are_spread_over_many_seconds() {
        let now = at(12, 0, 30);
        let p = |name: &str| plan("0 * * * * *", feed_seed(name));
        let mut per_second = std::collections::HashMap::<i64, usize>::new();
        for i in 0..1000 {
            let next = next_poll(
                &p(&format!("feed-{i}")),
                now,
                Outcome::Success,
                0,
                &Hints::default(),
            );
            let off = next - at(12, 1, 0);
            assert!(
                (0..6000).contains(&off.num_milliseconds()),
                "offset {off} beyond a tenth of a minute"
            );
            *per_second.entry(off.num_seconds()).or_default() += 1;
        }
        assert_eq!(per_second.len(), 6, "{per_second:?}");
        assert!(per_second.values().all(|&n| n < 250), "{per_second:?}");
        // The offset is the same on every start: it comes from the name only.
        assert_eq!(feed_seed("feed-1"), feed_seed("feed-1"));
        assert_ne!(feed_seed("feed-1"), feed_seed("feed-2"));
    }

    #[test]
    fn one_second_schedules_keep_a_sub_second_offset() {
        let now = at(12, 0, 0);
        for seed in 0..50 {
            let next = next_poll(
                &plan("* * * * * *", seed),
                now,
                Outcome::Success,
                0,
                &Hints::default(),
            );
            let ms = (next - now).num_milliseconds();
            assert!((1000..1100).contains(&ms), "{ms}");
        }
    }

    #[test]
    fn schedules_are_read_in_their_zone() {
        let mut p = plan("0 8 * * *", 0);
        p.zone = ScheduleZone::parse("Asia/Shanghai").unwrap();
        let next = next_poll(&p, at(12, 0, 0), Outcome::Success, 0, &Hints::default());
        // 08:00 in Shanghai is 00:00 UTC; the daily offset is at most 30 s.
        let day = Utc.with_ymd_and_hms(2025, 6, 11, 0, 0, 0).unwrap();
        assert!((0..30).contains(&secs(next - day)), "{next}");
        assert_eq!(ScheduleZone::parse("LOCAL").unwrap(), ScheduleZone::Local);
        assert!(
            ScheduleZone::parse("Mars/Olympus")
                .unwrap_err()
                .contains("Mars/Olympus")
        );
    }

    #[test]
    fn a_schedule_without_future_ticks_still_polls_within_the_cap() {
        let p = plan("0 0 12 1 1 * 2020", 0);
        let now = at(12, 0, 0);
        assert_eq!(
            next_poll(&p, now, Outcome::Success, 0, &Hints::default()),
            now + TimeDelta::hours(24)
        );
    }

    #[test]
    fn irregular_schedules_use_the_gap_to_the_following_tick() {
        let s = parse("0 9,17 * * *").unwrap();
        let zone = ScheduleZone::Named(chrono_tz::UTC);
        assert_eq!(
            interval(&s, zone, at(8, 0, 0)),
            Duration::from_secs(8 * 3600)
        );
        assert_eq!(
            interval(&s, zone, at(10, 0, 0)),
            Duration::from_secs(16 * 3600)
        );
    }
}
