//! Local time for program rules: days, weekdays and NERC holidays judged in the
//! program's time zone, across DST changes.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Weekday};
use chrono_tz::Tz;

use crate::RuleError;

pub fn zone(name: &str) -> Result<Tz, RuleError> {
    name.parse::<Tz>()
        .map_err(|_| RuleError::InvalidParameters(format!("unknown time zone `{name}`")))
}

/// The local calendar date of a unix instant.
pub fn local_date(unix: i64, tz: Tz) -> NaiveDate {
    let utc = DateTime::from_timestamp(unix, 0).unwrap_or_default();
    utc.with_timezone(&tz).date_naive()
}

pub fn parse_date(text: &str) -> Result<NaiveDate, RuleError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| RuleError::InvalidInput(format!("`{text}` is not a YYYY-MM-DD date")))
}

/// Hours in a local day: 23 on the spring DST change, 25 in the fall.
pub fn hours_in_day(date: NaiveDate, tz: Tz) -> i64 {
    let start = local_midnight(date, tz);
    let end = local_midnight(date + Duration::days(1), tz);
    (end - start) / 3600
}

/// Unix seconds at local midnight starting `date`.
pub fn local_midnight(date: NaiveDate, tz: Tz) -> i64 {
    let naive = date.and_hms_opt(0, 0, 0).expect("midnight exists");
    // US zones change at 2am, so midnight is never skipped or repeated.
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp())
        .unwrap_or_else(|| naive.and_utc().timestamp())
}

fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n).expect("exists")
}

fn last_weekday(year: i32, month: u32, weekday: Weekday) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(year, month + 1, 1).expect("valid") - Duration::days(1);
    while d.weekday() != weekday {
        d -= Duration::days(1);
    }
    d
}

/// A NERC holiday's observed date in `year`, by its parameter name.
pub fn holiday(name: &str, year: i32) -> Option<NaiveDate> {
    let fixed = |m, d| NaiveDate::from_ymd_opt(year, m, d).expect("valid");
    let date = match name {
        "NEW_YEARS_DAY" => fixed(1, 1),
        "MEMORIAL_DAY" => last_weekday(year, 5, Weekday::Mon),
        "INDEPENDENCE_DAY" => fixed(7, 4),
        "LABOR_DAY" => nth_weekday(year, 9, Weekday::Mon, 1),
        "THANKSGIVING_DAY" => nth_weekday(year, 11, Weekday::Thu, 4),
        "CHRISTMAS_DAY" => fixed(12, 25),
        _ => return None,
    };
    // NERC: a holiday on Sunday is observed on Monday (not moved from Saturday).
    Some(if date.weekday() == Weekday::Sun {
        date + Duration::days(1)
    } else {
        date
    })
}

pub fn is_holiday(date: NaiveDate, names: &[String]) -> bool {
    names.iter().any(|n| holiday(n, date.year()) == Some(date))
}

pub fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// True when `date` falls in a recurring season `MM-DD`..=`MM-DD` (wrapping
/// over the new year when start is after end; `02-29` ends February).
pub fn in_season(date: NaiveDate, start: &str, end: &str) -> Result<bool, RuleError> {
    let md = |t: &str| -> Result<(u32, u32), RuleError> {
        let (m, d) = t.split_once('-').ok_or_else(|| {
            RuleError::InvalidParameters(format!("season bound `{t}` is not MM-DD"))
        })?;
        Ok((
            m.parse()
                .map_err(|_| RuleError::InvalidParameters(format!("bad month in `{t}`")))?,
            d.parse()
                .map_err(|_| RuleError::InvalidParameters(format!("bad day in `{t}`")))?,
        ))
    };
    let (s, e) = (md(start)?, md(end)?);
    let today = (date.month(), date.day());
    let end_of_feb = |(m, d): (u32, u32)| if (m, d) == (2, 29) { (2, 31) } else { (m, d) };
    let e = end_of_feb(e);
    Ok(if s <= e {
        s <= today && today <= e
    } else {
        today >= s || today <= e
    })
}

/// The season `date` falls in, if any.
pub fn season_of(
    date: NaiveDate,
    seasons: &[crate::params::Season],
) -> Result<Option<&crate::params::Season>, RuleError> {
    for s in seasons {
        if in_season(date, &s.start, &s.end)? {
            return Ok(Some(s));
        }
    }
    Ok(None)
}

/// The start date of the season occurrence that contains `date`, or else of
/// the next one after it.
pub fn season_start_for(
    date: NaiveDate,
    season: &crate::params::Season,
) -> Result<NaiveDate, RuleError> {
    let (m, d) = season.start.split_once('-').ok_or_else(|| {
        RuleError::InvalidParameters(format!("season start `{}` is not MM-DD", season.start))
    })?;
    let (m, d): (u32, u32) = (
        m.parse().map_err(|_| {
            RuleError::InvalidParameters(format!("bad season start `{}`", season.start))
        })?,
        d.parse().map_err(|_| {
            RuleError::InvalidParameters(format!("bad season start `{}`", season.start))
        })?,
    );
    let start_in = |year: i32| {
        NaiveDate::from_ymd_opt(year, m, d).ok_or_else(|| {
            RuleError::InvalidParameters(format!("bad season start `{}`", season.start))
        })
    };
    if in_season(date, &season.start, &season.end)? {
        let this_year = start_in(date.year())?;
        return if this_year <= date {
            Ok(this_year)
        } else {
            start_in(date.year() - 1)
        };
    }
    let this_year = start_in(date.year())?;
    if this_year > date {
        Ok(this_year)
    } else {
        start_in(date.year() + 1)
    }
}

/// Calendar months `(year, month)` overlapping `[from, to]`.
pub fn months(from: NaiveDate, to: NaiveDate) -> Vec<(i32, u32)> {
    let mut out = Vec::new();
    let (mut y, mut m) = (from.year(), from.month());
    while (y, m) <= (to.year(), to.month()) {
        out.push((y, m));
        if m == 12 {
            y += 1;
            m = 1;
        } else {
            m += 1;
        }
    }
    out
}

/// Unix seconds of the local wall-clock time `seconds` after midnight of
/// `date` (`86_400` is the next midnight). A time skipped by the spring DST
/// change is read in the offset before the change (2:30 → 3:30 daylight time).
pub fn at_local(date: NaiveDate, seconds: u32, tz: Tz) -> i64 {
    if seconds >= 86_400 {
        return local_midnight(date + Duration::days(1), tz);
    }
    let naive =
        date.and_hms_opt(0, 0, 0).expect("midnight") + Duration::seconds(i64::from(seconds));
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.timestamp(),
        chrono::LocalResult::Ambiguous(first, _) => first.timestamp(),
        chrono::LocalResult::None => {
            let midnight = local_midnight(date, tz);
            let offset = DateTime::from_timestamp(midnight, 0)
                .unwrap_or_default()
                .with_timezone(&tz)
                .offset()
                .fix()
                .local_minus_utc();
            naive.and_utc().timestamp() - i64::from(offset)
        }
    }
}

/// Parses a local time of day `HH:MM` (`24:00` is the end of the day) into
/// seconds after midnight.
pub fn parse_clock(text: &str) -> Result<u32, RuleError> {
    let bad = || RuleError::InvalidParameters(format!("`{text}` is not a HH:MM time"));
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if m >= 60 || h > 24 || (h == 24 && m > 0) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn dst_days_have_23_and_25_hours() {
        let ny = zone("America/New_York").unwrap();
        assert_eq!(hours_in_day(d(2026, 3, 8), ny), 23);
        assert_eq!(hours_in_day(d(2026, 11, 1), ny), 25);
        assert_eq!(hours_in_day(d(2026, 7, 1), ny), 24);
    }

    #[test]
    fn nerc_holidays_and_sunday_observance() {
        assert_eq!(holiday("THANKSGIVING_DAY", 2026), Some(d(2026, 11, 26)));
        assert_eq!(holiday("MEMORIAL_DAY", 2026), Some(d(2026, 5, 25)));
        assert_eq!(holiday("LABOR_DAY", 2026), Some(d(2026, 9, 7)));
        // July 4, 2027 is a Sunday: observed Monday the 5th.
        assert_eq!(holiday("INDEPENDENCE_DAY", 2027), Some(d(2027, 7, 5)));
        // Christmas 2027 is a Saturday: not moved.
        assert_eq!(holiday("CHRISTMAS_DAY", 2027), Some(d(2027, 12, 25)));
        assert!(is_holiday(d(2027, 7, 5), &["INDEPENDENCE_DAY".into()]));
    }

    #[test]
    fn local_dates_follow_the_zone() {
        let la = zone("America/Los_Angeles").unwrap();
        // 2026-07-01T05:00Z is still June 30 in Los Angeles.
        assert_eq!(local_date(1_782_882_000, la), d(2026, 6, 30));
    }

    #[test]
    fn season_lookups() {
        let season = |n: &str, s: &str, e: &str| crate::params::Season {
            name: n.into(),
            start: s.into(),
            end: e.into(),
        };
        let list = vec![
            season("summer", "05-01", "09-30"),
            season("winter", "12-01", "03-31"),
        ];
        assert_eq!(
            season_of(d(2026, 7, 1), &list).unwrap().unwrap().name,
            "summer"
        );
        assert!(season_of(d(2026, 11, 1), &list).unwrap().is_none());
        assert_eq!(
            season_start_for(d(2026, 11, 23), &list[0]).unwrap(),
            d(2027, 5, 1)
        );
        assert_eq!(
            season_start_for(d(2026, 7, 1), &list[0]).unwrap(),
            d(2026, 5, 1)
        );
        assert_eq!(
            season_start_for(d(2027, 1, 10), &list[1]).unwrap(),
            d(2026, 12, 1)
        );
        assert_eq!(
            months(d(2026, 11, 15), d(2027, 2, 1)),
            [(2026, 11), (2026, 12), (2027, 1), (2027, 2)]
        );
        assert_eq!(parse_clock("14:30").unwrap(), 52_200);
        let ny = zone("America/New_York").unwrap();
        // 17:00 on the 23-hour day is 22 hours after midnight; 24:00 is the next midnight.
        let spring = d(2026, 3, 8);
        assert_eq!(
            at_local(spring, 17 * 3600, ny) - local_midnight(spring, ny),
            16 * 3600
        );
        assert_eq!(
            at_local(spring, 86_400, ny),
            local_midnight(d(2026, 3, 9), ny)
        );
        // 2:30 does not exist that day: read as 2:30 EST = 3:30 EDT.
        assert_eq!(
            at_local(spring, 9000, ny) - local_midnight(spring, ny),
            9000
        );
        assert_eq!(parse_clock("24:00").unwrap(), 86_400);
        assert!(parse_clock("24:30").is_err());
    }

    #[test]
    fn seasons_wrap_and_feb_29_ends_february() {
        assert!(in_season(d(2026, 6, 1), "06-01", "09-30").unwrap());
        assert!(!in_season(d(2026, 10, 1), "06-01", "09-30").unwrap());
        assert!(in_season(d(2027, 1, 15), "12-01", "03-31").unwrap());
        assert!(in_season(d(2027, 2, 28), "12-01", "02-29").unwrap());
        assert!(!in_season(d(2027, 3, 1), "12-01", "02-29").unwrap());
    }
}
