//! Dispatch events: types, statuses, targeting, and the program's schedule
//! rules an event must respect (season, allowed hours, duration, notice,
//! events per season).

use async_graphql::{InputObject, SimpleObject};
use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::program::Season;
use super::string_enum;
use crate::error::RuleViolation;

string_enum! {
    pub enum EventType {
        Emergency => "EMERGENCY",
        Economic => "ECONOMIC",
        Test => "TEST",
    }
}

string_enum! {
    pub enum EventStatus {
        /// Announced; not started yet.
        Scheduled => "SCHEDULED",
        /// Between start and end.
        Active => "ACTIVE",
        Completed => "COMPLETED",
        Cancelled => "CANCELLED",
    }
}

string_enum! {
    pub enum DispatchResponse {
        /// No answer yet.
        Pending => "PENDING",
        Acknowledged => "ACKNOWLEDGED",
        OptedOut => "OPTED_OUT",
    }
}

string_enum! {
    pub enum EventChangeKind {
        Created => "CREATED",
        /// Times, deadline or price changed.
        Updated => "UPDATED",
        Cancelled => "CANCELLED",
        Started => "STARTED",
        Completed => "COMPLETED",
        /// Its performance was computed (a new version): results are readable.
        Measured => "MEASURED",
    }
}

/// Which enrolled meters an event calls; all of the program's when empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, InputObject, SimpleObject)]
#[graphql(input_name = "EventTargetingInput")]
#[serde(rename_all = "camelCase")]
pub struct Targeting {
    /// Only meters in these load zones.
    pub load_zones: Option<Vec<String>>,
    /// Only meters of these utilities (utility network).
    pub utilities: Option<Vec<String>>,
    /// Only these meters (platform ids).
    pub meter_ids: Option<Vec<String>>,
}

/// The status an event has at `now` by its times (cancelled stays cancelled).
pub fn status_at(
    current: EventStatus,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> EventStatus {
    match current {
        EventStatus::Cancelled => EventStatus::Cancelled,
        _ if now >= end => EventStatus::Completed,
        _ if now >= start => EventStatus::Active,
        _ => EventStatus::Scheduled,
    }
}

/// A program's schedule rules, read from its parameters: each is optional and
/// looked up season-first (`summer_max_event_hours`, then `max_event_hours`).
///
/// | rule | parameters |
/// | --- | --- |
/// | in a season | the program's `seasons` |
/// | allowed hours | `[season_]event_window_start` / `_end` (`HH:MM` local) |
/// | longest event | `[season_]max_event_hours`, `max_hours_per_day` |
/// | least notice | `[season_]notice_hours` |
/// | events per season | `[season_]max_events` |
pub struct ScheduleRules<'a> {
    pub params: &'a Map<String, Value>,
    pub seasons: &'a [Season],
    pub tz: chrono_tz::Tz,
}

/// What is being scheduled.
pub struct Schedule {
    pub notification_at: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Events of the program already in the same season occurrence (not cancelled).
    pub season_events: u32,
}

impl ScheduleRules<'_> {
    fn lookup(&self, season: Option<&str>, keys: &[&str]) -> Option<&Value> {
        for key in keys {
            if let Some(s) = season {
                if let Some(v) = self.params.get(&format!("{s}_{key}")) {
                    return Some(v);
                }
            }
            if let Some(v) = self.params.get(*key) {
                return Some(v);
            }
        }
        None
    }

    /// The season of a local date, with the date its occurrence started.
    pub fn season_of(&self, date: NaiveDate) -> Option<(&Season, NaiveDate)> {
        self.seasons.iter().find_map(|s| {
            let start = season_start(s, date)?;
            Some((s, start))
        })
    }

    /// Every rule the schedule breaks.
    pub fn check(&self, schedule: &Schedule) -> Vec<RuleViolation> {
        let mut out = Vec::new();
        let mut broke = |rule: &'static str, message: String| {
            out.push(RuleViolation { rule, message });
        };
        let start = schedule.start.with_timezone(&self.tz);
        let end = schedule.end.with_timezone(&self.tz);
        let season = self.season_of(start.date_naive());
        let season_name = season.map(|(s, _)| s.name.as_str());
        if !self.seasons.is_empty() && season.is_none() {
            let names: Vec<&str> = self.seasons.iter().map(|s| s.name.as_str()).collect();
            broke(
                "OUTSIDE_SEASON",
                format!(
                    "{} is in none of the program's seasons ({})",
                    start.date_naive(),
                    names.join(", ")
                ),
            );
        }
        let clock = |v: Option<&Value>| v.and_then(Value::as_str).and_then(parse_clock);
        let from = clock(self.lookup(season_name, &["event_window_start"]));
        let to = clock(self.lookup(season_name, &["event_window_end"]));
        if let (Some(from), Some(to)) = (from, to) {
            let start_secs = start.num_seconds_from_midnight();
            // An end at the next local midnight is the end of the start's day.
            let end_secs = match (end.date_naive() - start.date_naive()).num_days() {
                0 => end.num_seconds_from_midnight(),
                1 if end.num_seconds_from_midnight() == 0 => 86_400,
                _ => u32::MAX,
            };
            if start_secs < from || end_secs > to {
                broke(
                    "OUTSIDE_EVENT_WINDOW",
                    format!(
                        "{}–{} local is outside the allowed hours {}–{}",
                        start.format("%H:%M"),
                        end.format("%H:%M"),
                        format_clock(from),
                        format_clock(to)
                    ),
                );
            }
        }
        let hours = (schedule.end - schedule.start).num_seconds() as f64 / 3600.0;
        if let Some(max) = self
            .lookup(season_name, &["max_event_hours", "max_hours_per_day"])
            .and_then(Value::as_f64)
        {
            if hours > max {
                broke(
                    "TOO_LONG",
                    format!("the event lasts {hours} h; the program allows at most {max} h"),
                );
            }
        }
        if let Some(notice) = self
            .lookup(season_name, &["notice_hours"])
            .and_then(Value::as_f64)
        {
            let given = (schedule.start - schedule.notification_at).num_seconds() as f64 / 3600.0;
            if given < notice {
                broke(
                    "NOTICE_TOO_SHORT",
                    format!("{given:.2} h of notice; the program requires at least {notice} h"),
                );
            }
        }
        if let Some(max) = self
            .lookup(season_name, &["max_events"])
            .and_then(Value::as_u64)
        {
            if u64::from(schedule.season_events) >= max {
                broke(
                    "TOO_MANY_EVENTS",
                    format!(
                        "the season already has {} events; the program allows at most {max}",
                        schedule.season_events
                    ),
                );
            }
        }
        out
    }
}

/// The first and last day of the occurrence of season `s` containing `date`.
pub fn season_period(s: &Season, date: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let start = season_start(s, date)?;
    let (m, d) = s.end.split_once('-')?;
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // The end is the first (month, day) on or after the start.
    let year = if (m, d) >= (start.month(), start.day()) {
        start.year()
    } else {
        start.year() + 1
    };
    let end = NaiveDate::from_ymd_opt(year, m, d).or_else(|| {
        // `02-29` in a common year: the last day of February.
        NaiveDate::from_ymd_opt(year, m, 28)
    })?;
    Some((start, end))
}

/// The season occurrence containing `date`: its name, first and last day.
pub fn season_containing(
    seasons: &[Season],
    date: NaiveDate,
) -> Option<(String, NaiveDate, NaiveDate)> {
    seasons
        .iter()
        .find_map(|s| season_period(s, date).map(|(a, b)| (s.name.clone(), a, b)))
}

/// Start of the occurrence of season `s` that contains `date`, if it does.
fn season_start(s: &Season, date: NaiveDate) -> Option<NaiveDate> {
    let md = |t: &str| -> Option<(u32, u32)> {
        let (m, d) = t.split_once('-')?;
        Some((m.parse().ok()?, d.parse().ok()?))
    };
    let (start, end) = (md(&s.start)?, md(&s.end)?);
    let end = if end == (2, 29) { (2, 31) } else { end };
    let today = (date.month(), date.day());
    let year = if start <= end {
        (start <= today && today <= end).then_some(date.year())?
    } else if today >= start {
        date.year()
    } else if today <= end {
        date.year() - 1
    } else {
        return None;
    };
    NaiveDate::from_ymd_opt(year, start.0, start.1)
}

/// `HH:MM` (with `24:00`) as seconds after midnight.
fn parse_clock(text: &str) -> Option<u32> {
    if text == "24:00" {
        return Some(86_400);
    }
    NaiveTime::parse_from_str(text, "%H:%M")
        .ok()
        .map(|t| t.num_seconds_from_midnight())
}

fn format_clock(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn season(name: &str, start: &str, end: &str) -> Season {
        Season {
            name: name.into(),
            start: start.into(),
            end: end.into(),
        }
    }

    fn ny(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::America::New_York
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn rules_of(params: Value) -> Map<String, Value> {
        params.as_object().unwrap().clone()
    }

    fn check(params: &Map<String, Value>, seasons: &[Season], s: Schedule) -> Vec<&'static str> {
        let rules = ScheduleRules {
            params,
            seasons,
            tz: chrono_tz::America::New_York,
        };
        rules.check(&s).into_iter().map(|v| v.rule).collect()
    }

    #[test]
    fn connected_solutions_summer_rules() {
        let params = rules_of(json!({
            "summer_event_window_start": "14:00", "summer_event_window_end": "19:00",
            "summer_max_event_hours": 3, "summer_max_events": 60, "winter_max_events": 5
        }));
        let seasons = [
            season("summer", "06-01", "09-30"),
            season("winter", "12-01", "03-31"),
        ];
        let ok = Schedule {
            notification_at: ny(2026, 7, 15, 9, 0),
            start: ny(2026, 7, 15, 16, 0),
            end: ny(2026, 7, 15, 19, 0),
            season_events: 10,
        };
        assert!(check(&params, &seasons, ok).is_empty());
        // 13:00–17:00 is both too early and 4 hours long; the 61st event is one too many.
        let bad = Schedule {
            notification_at: ny(2026, 7, 15, 9, 0),
            start: ny(2026, 7, 15, 13, 0),
            end: ny(2026, 7, 15, 17, 0),
            season_events: 60,
        };
        assert_eq!(
            check(&params, &seasons, bad),
            ["OUTSIDE_EVENT_WINDOW", "TOO_LONG", "TOO_MANY_EVENTS"]
        );
        // October is in no season; winter allows 5 events.
        let october = Schedule {
            notification_at: ny(2026, 10, 1, 9, 0),
            start: ny(2026, 10, 1, 16, 0),
            end: ny(2026, 10, 1, 17, 0),
            season_events: 0,
        };
        assert_eq!(check(&params, &seasons, october), ["OUTSIDE_SEASON"]);
        let winter = Schedule {
            notification_at: ny(2027, 1, 5, 9, 0),
            start: ny(2027, 1, 5, 16, 0),
            end: ny(2027, 1, 5, 17, 0),
            season_events: 5,
        };
        assert_eq!(check(&params, &seasons, winter), ["TOO_MANY_EVENTS"]);
    }

    #[test]
    fn dlrp_notice_and_window_to_midnight() {
        let params = rules_of(json!({
            "event_window_start": "06:00", "event_window_end": "24:00", "notice_hours": 2
        }));
        let seasons = [season("summer", "05-01", "09-30")];
        // 20:00–24:00 ends at local midnight: inside the window; 1 h notice is short.
        let late = Schedule {
            notification_at: ny(2026, 7, 15, 19, 0),
            start: ny(2026, 7, 15, 20, 0),
            end: ny(2026, 7, 16, 0, 0),
            season_events: 0,
        };
        assert_eq!(check(&params, &seasons, late), ["NOTICE_TOO_SHORT"]);
        // Running past midnight leaves the window.
        let past = Schedule {
            notification_at: ny(2026, 7, 15, 12, 0),
            start: ny(2026, 7, 15, 22, 0),
            end: ny(2026, 7, 16, 1, 0),
            season_events: 0,
        };
        assert_eq!(check(&params, &seasons, past), ["OUTSIDE_EVENT_WINDOW"]);
    }

    #[test]
    fn statuses_follow_the_clock() {
        let (s, e) = (ny(2026, 7, 15, 16, 0), ny(2026, 7, 15, 19, 0));
        let at = |h| ny(2026, 7, 15, h, 0);
        assert_eq!(
            status_at(EventStatus::Scheduled, s, e, at(15)),
            EventStatus::Scheduled
        );
        assert_eq!(
            status_at(EventStatus::Scheduled, s, e, at(16)),
            EventStatus::Active
        );
        assert_eq!(
            status_at(EventStatus::Active, s, e, at(19)),
            EventStatus::Completed
        );
        assert_eq!(
            status_at(EventStatus::Cancelled, s, e, at(17)),
            EventStatus::Cancelled
        );
    }

    #[test]
    fn season_periods_know_their_last_day() {
        let d = |y, m, dd| NaiveDate::from_ymd_opt(y, m, dd).unwrap();
        let winter = season("winter", "11-01", "04-30");
        assert_eq!(
            season_period(&winter, d(2027, 2, 3)),
            Some((d(2026, 11, 1), d(2027, 4, 30)))
        );
        let feb = season("w", "12-01", "02-29");
        assert_eq!(
            season_period(&feb, d(2027, 1, 5)),
            Some((d(2026, 12, 1), d(2027, 2, 28)))
        );
        assert_eq!(
            season_period(&feb, d(2028, 2, 29)),
            Some((d(2027, 12, 1), d(2028, 2, 29)))
        );
        let summer = season("s", "06-01", "09-30");
        assert_eq!(season_period(&summer, d(2026, 10, 1)), None);
    }

    #[test]
    fn seasons_wrapping_the_new_year() {
        let w = season("winter", "12-01", "03-31");
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(season_start(&w, d(2027, 1, 10)), Some(d(2026, 12, 1)));
        assert_eq!(season_start(&w, d(2026, 12, 10)), Some(d(2026, 12, 1)));
        assert_eq!(season_start(&w, d(2026, 7, 10)), None);
    }
}
