//! Like-day selection: the most recent days before an event that resemble its
//! day and carry complete data, as the like-day baselines define them.

use std::collections::BTreeSet;

use chrono::{Duration, NaiveDate};

use crate::profile::{DaySlot, LoadProfile};
use crate::time::{is_holiday, is_weekend};
use crate::RuleError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayType {
    /// Monday–Friday and not a holiday.
    Weekday,
    WeekendOrHoliday,
}

pub fn day_type(date: NaiveDate, holidays: &[String]) -> DayType {
    if is_weekend(date) || is_holiday(date, holidays) {
        DayType::WeekendOrHoliday
    } else {
        DayType::Weekday
    }
}

/// Which days count as like days.
#[derive(Debug, Clone)]
pub struct LikeDayRule {
    pub day_type: DayType,
    /// How many days to find (the most recent first).
    pub count: usize,
    /// How far back to look, in days before the event day.
    pub lookback_days: u32,
    pub holidays: Vec<String>,
    /// Days never used (e.g. the meter's other event days).
    pub excluded: BTreeSet<NaiveDate>,
}

/// Why a candidate day was passed over (reported in baseline notes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    OtherDayType,
    EventDay,
    IncompleteData,
}

#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Most recent first.
    pub days: Vec<NaiveDate>,
    pub skipped: Vec<(NaiveDate, Skip)>,
}

impl Selection {
    /// Days passed over for missing data (worth telling the partner).
    pub fn incomplete(&self) -> impl Iterator<Item = &NaiveDate> {
        self.skipped
            .iter()
            .filter(|(_, s)| *s == Skip::IncompleteData)
            .map(|(d, _)| d)
    }
}

/// Walks back from the day before `event_date` through the lookback window and
/// keeps days of the rule's type, not excluded, complete in `needed_slots`.
pub fn select_like_days(
    profile: &LoadProfile,
    event_date: NaiveDate,
    rule: &LikeDayRule,
    needed_slots: &[DaySlot],
) -> Selection {
    let mut selection = Selection::default();
    for back in 1..=i64::from(rule.lookback_days) {
        if selection.days.len() >= rule.count {
            break;
        }
        let date = event_date - Duration::days(back);
        let skip = if day_type(date, &rule.holidays) != rule.day_type {
            Some(Skip::OtherDayType)
        } else if rule.excluded.contains(&date) {
            Some(Skip::EventDay)
        } else if !profile.complete(date, needed_slots) {
            Some(Skip::IncompleteData)
        } else {
            None
        };
        match skip {
            Some(s) => selection.skipped.push((date, s)),
            None => selection.days.push(date),
        }
    }
    selection
}

/// The typed error for too few usable days.
pub fn require_days(found: usize, required: usize, what: &str) -> Result<(), RuleError> {
    if found < required {
        return Err(RuleError::InsufficientHistory(format!(
            "found {found} of {required} required {what}"
        )));
    }
    Ok(())
}

/// Parses `YYYY-MM-DD` day lists (e.g. the meter's other event days).
pub fn parse_days(days: &[String]) -> Result<BTreeSet<NaiveDate>, RuleError> {
    days.iter().map(|d| crate::time::parse_date(d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{same_day, HOUR};
    use crate::testing::{hourly_load, nerc_holidays};
    use crate::time::zone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn rule(day_type: DayType, count: usize) -> LikeDayRule {
        LikeDayRule {
            day_type,
            count,
            lookback_days: 45,
            holidays: nerc_holidays(),
            excluded: BTreeSet::new(),
        }
    }

    #[test]
    fn weekdays_skip_weekends_holidays_event_days_and_gaps() {
        let tz = zone("America/New_York").unwrap();
        // Load every hour from August 1 to September 10, 2026, but none on September 8.
        let mut s = hourly_load(tz, d(2026, 8, 1), d(2026, 9, 10), |_| 1.0);
        crate::testing::drop_day(&mut s, tz, d(2026, 9, 8));
        let p = LoadProfile::new(&s, tz, HOUR).unwrap();
        let mut r = rule(DayType::Weekday, 5);
        r.excluded.insert(d(2026, 9, 9));
        // Event Thursday September 10. Back: Wed 9 (event day), Tue 8 (no data),
        // Mon 7 (Labor Day), Sun 6, Sat 5, then Fri 4, Thu 3, Wed 2, Tue 1, Mon Aug 31.
        let sel = select_like_days(&p, d(2026, 9, 10), &r, &same_day(&[14, 15]));
        assert_eq!(
            sel.days,
            [
                d(2026, 9, 4),
                d(2026, 9, 3),
                d(2026, 9, 2),
                d(2026, 9, 1),
                d(2026, 8, 31)
            ]
        );
        assert_eq!(sel.incomplete().collect::<Vec<_>>(), [&d(2026, 9, 8)]);
        assert!(sel.skipped.contains(&(d(2026, 9, 9), Skip::EventDay)));
        assert!(sel.skipped.contains(&(d(2026, 9, 7), Skip::OtherDayType)));
    }

    #[test]
    fn weekend_events_use_weekends_and_holidays() {
        let tz = zone("America/New_York").unwrap();
        let p = LoadProfile::new(
            &hourly_load(tz, d(2026, 8, 1), d(2026, 9, 13), |_| 1.0),
            tz,
            HOUR,
        )
        .unwrap();
        // Sunday September 13: Sat 12, Mon 7 (Labor Day), Sun 6, Sat 5.
        let sel = select_like_days(
            &p,
            d(2026, 9, 13),
            &rule(DayType::WeekendOrHoliday, 4),
            &same_day(&[15]),
        );
        assert_eq!(
            sel.days,
            [d(2026, 9, 12), d(2026, 9, 7), d(2026, 9, 6), d(2026, 9, 5)]
        );
        // NERC does not move a Saturday holiday: Friday July 3, 2026 is a weekday.
        assert_eq!(day_type(d(2026, 7, 3), &nerc_holidays()), DayType::Weekday);
        assert_eq!(
            day_type(d(2026, 7, 4), &nerc_holidays()),
            DayType::WeekendOrHoliday
        );
    }

    #[test]
    fn the_lookback_bounds_the_search_and_shortfalls_are_typed() {
        let tz = zone("America/New_York").unwrap();
        let p = LoadProfile::new(
            &hourly_load(tz, d(2026, 9, 1), d(2026, 9, 10), |_| 1.0),
            tz,
            HOUR,
        )
        .unwrap();
        let mut r = rule(DayType::Weekday, 10);
        r.lookback_days = 7;
        let sel = select_like_days(&p, d(2026, 9, 10), &r, &same_day(&[14]));
        // September 3–9 holds 4 usable weekdays: 9, 8, 4, 3 (the 7th is Labor Day).
        assert_eq!(sel.days.len(), 4);
        let err = require_days(sel.days.len(), 5, "like days").unwrap_err();
        assert_eq!(
            err,
            RuleError::InsufficientHistory("found 4 of 5 required like days".into())
        );
    }
}
