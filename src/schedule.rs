//! Cron schedules, read the way crontab users expect.
//!
//! The cron crate wants 6 or 7 fields with seconds first and numbers day-of-week from
//! 1 = Sunday, so a crontab line's `1-5` would silently mean Sunday to Thursday there. This
//! module accepts both the 5-field crontab form and the 6/7-field form, and rewrites
//! numeric days of the week into names with crontab's meaning (0 and 7 = Sunday, 1 =
//! Monday) before the crate sees them. It owns only the reading of schedules; deciding
//! when a feed polls next belongs to the scheduler.

use std::str::FromStr;

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
}
