//! Interval load arranged by local day and time-of-day slot, the shape every
//! like-day baseline works on.
//!
//! A slot is a wall-clock interval of the local day (`index` = seconds since
//! local midnight ÷ resolution). Readings finer than the resolution are summed
//! into it (15-minute data gives the same hourly slots as hourly data). On the
//! spring DST day the 2am slot does not exist; on the fall day the 1am slot is
//! lived twice and its kW is the mean of both.

use chrono::{DateTime, Duration, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::Tz;

use crate::{RuleError, Series};

pub const HOUR: u32 = 3600;
pub const QUARTER_HOUR: u32 = 900;

#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    kwh: f64,
    covered: u32,
}

/// Load per (local date, slot), stored densely: day `d` after `first`, slot
/// `i` is `cells[d × slots_per_day + i]`.
#[derive(Debug, Clone)]
pub struct LoadProfile {
    tz: Tz,
    resolution: u32,
    first: NaiveDate,
    slots_per_day: usize,
    cells: Vec<Cell>,
}

/// Local (date, seconds after midnight) of UTC instants, reusing the zone's
/// offset within a UTC hour (US offsets change only on hour boundaries).
struct LocalClock {
    tz: Tz,
    hour: i64,
    offset: i64,
}

impl LocalClock {
    fn new(tz: Tz) -> Self {
        Self {
            tz,
            hour: i64::MIN,
            offset: 0,
        }
    }

    fn local(&mut self, unix: i64) -> Result<(NaiveDate, u32), RuleError> {
        let hour = unix.div_euclid(3600);
        if hour != self.hour {
            let utc = DateTime::from_timestamp(unix, 0)
                .ok_or_else(|| RuleError::InvalidInput(format!("bad timestamp {unix}")))?;
            self.offset = i64::from(
                self.tz
                    .offset_from_utc_datetime(&utc.naive_utc())
                    .fix()
                    .local_minus_utc(),
            );
            self.hour = hour;
        }
        let local = unix + self.offset;
        // 719,163 days from 0001-01-01 (CE day 1) to 1970-01-01.
        let date = i32::try_from(local.div_euclid(86_400) + 719_163)
            .ok()
            .and_then(NaiveDate::from_num_days_from_ce_opt)
            .ok_or_else(|| RuleError::InvalidInput(format!("bad timestamp {unix}")))?;
        Ok((date, local.rem_euclid(86_400) as u32))
    }
}

/// Checks a series is well formed: equal columns, finite values, a supported
/// interval, starts aligned to it.
pub fn validate(series: &Series) -> Result<(), RuleError> {
    let len = series.interval_seconds;
    if ![300, 900, 3600].contains(&len) {
        return Err(RuleError::InvalidInput(format!(
            "interval of {len} s is not 5, 15 or 60 minutes"
        )));
    }
    if series.starts.len() != series.values.len() {
        return Err(RuleError::InvalidInput(format!(
            "{} interval starts but {} values",
            series.starts.len(),
            series.values.len()
        )));
    }
    if let Some(i) = series.values.iter().position(|v| !v.is_finite()) {
        return Err(RuleError::InvalidInput(format!(
            "reading {i} is not a finite number"
        )));
    }
    if let Some(s) = series.starts.iter().find(|s| s.rem_euclid(len as i64) != 0) {
        return Err(RuleError::InvalidInput(format!(
            "interval start {s} is not aligned to {len} s"
        )));
    }
    Ok(())
}

impl LoadProfile {
    /// Arranges `series` in slots of `resolution` seconds (900 or 3600) of the
    /// local days of `tz`. Data coarser than the resolution is refused.
    pub fn new(series: &Series, tz: Tz, resolution: u32) -> Result<Self, RuleError> {
        validate(series)?;
        if series.interval_seconds > resolution
            || !resolution.is_multiple_of(series.interval_seconds)
        {
            return Err(RuleError::InvalidInput(format!(
                "this method needs intervals of at most {} minutes; got {}-minute data",
                resolution / 60,
                series.interval_seconds / 60
            )));
        }
        let slots_per_day = (86_400 / resolution) as usize;
        let mut clock = LocalClock::new(tz);
        let placed: Vec<(NaiveDate, u32)> = series
            .starts
            .iter()
            .map(|s| clock.local(*s).map(|(d, secs)| (d, secs / resolution)))
            .collect::<Result<_, _>>()?;
        let (Some(first), Some(last)) = (
            placed.iter().map(|p| p.0).min(),
            placed.iter().map(|p| p.0).max(),
        ) else {
            return Ok(Self {
                tz,
                resolution,
                first: NaiveDate::MIN,
                slots_per_day,
                cells: Vec::new(),
            });
        };
        let days = (last - first).num_days() as usize + 1;
        let mut cells = vec![Cell::default(); days * slots_per_day];
        for ((date, index), kwh) in placed.into_iter().zip(&series.values) {
            let cell =
                &mut cells[(date - first).num_days() as usize * slots_per_day + index as usize];
            cell.kwh += kwh;
            cell.covered += series.interval_seconds;
        }
        Ok(Self {
            tz,
            resolution,
            first,
            slots_per_day,
            cells,
        })
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn resolution(&self) -> u32 {
        self.resolution
    }

    /// Mean kW in a slot; `None` when any part of it is missing.
    pub fn kw(&self, date: NaiveDate, slot: u32) -> Option<f64> {
        let day = usize::try_from((date - self.first).num_days()).ok()?;
        if slot as usize >= self.slots_per_day {
            return None;
        }
        let cell = self.cells.get(day * self.slots_per_day + slot as usize)?;
        (cell.covered >= self.resolution)
            .then(|| cell.kwh / (f64::from(cell.covered) / f64::from(HOUR)))
    }

    /// kW of a slot relative to the day `anchor` (a like day stands in for the
    /// event day).
    pub fn kw_at(&self, anchor: NaiveDate, slot: DaySlot) -> Option<f64> {
        self.kw(anchor + Duration::days(slot.day), slot.index)
    }

    /// True when every one of `slots` has complete data relative to `anchor`.
    pub fn complete(&self, anchor: NaiveDate, slots: &[DaySlot]) -> bool {
        slots.iter().all(|s| self.kw_at(anchor, *s).is_some())
    }

    /// kW of `slots` relative to `anchor`, or `None` if any is missing.
    pub fn day(&self, anchor: NaiveDate, slots: &[DaySlot]) -> Option<Vec<f64>> {
        slots.iter().map(|s| self.kw_at(anchor, *s)).collect()
    }

    /// Mean kW over `slots` relative to `anchor`.
    pub fn mean(&self, anchor: NaiveDate, slots: &[DaySlot]) -> Option<f64> {
        let day = self.day(anchor, slots)?;
        (!day.is_empty()).then(|| day.iter().sum::<f64>() / day.len() as f64)
    }
}

/// A slot relative to an anchor day: `day` days after it (−1 for the evening
/// before an early-morning event), slot `index` of that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DaySlot {
    pub day: i64,
    pub index: u32,
}

/// Slots of the anchor day itself.
pub fn same_day(indexes: &[u32]) -> Vec<DaySlot> {
    indexes
        .iter()
        .map(|i| DaySlot { day: 0, index: *i })
        .collect()
}

/// One slot of a time window: its UTC start, local date and slot index, and the
/// share of it the window covers (a partial hour weighs less).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSlot {
    pub start: i64,
    pub date: NaiveDate,
    pub index: u32,
    pub weight: f64,
}

/// The slots of `resolution` seconds that `[start, end)` touches, each with
/// the covered fraction. US zones have whole-hour offsets, so UTC-aligned
/// slots are local-aligned too.
pub fn window_slots(start: i64, end: i64, tz: Tz, resolution: u32) -> Vec<WindowSlot> {
    let res = i64::from(resolution);
    let mut slots = Vec::new();
    let mut s = start - start.rem_euclid(res);
    while s < end {
        let covered = (s + res).min(end) - s.max(start);
        let local = DateTime::from_timestamp(s, 0)
            .unwrap_or_default()
            .with_timezone(&tz);
        slots.push(WindowSlot {
            start: s,
            date: local.date_naive(),
            index: local.num_seconds_from_midnight() / resolution,
            weight: covered as f64 / res as f64,
        });
        s += res;
    }
    slots
}

impl WindowSlot {
    /// This slot relative to `anchor` (usually the event day).
    pub fn relative_to(&self, anchor: NaiveDate) -> DaySlot {
        DaySlot {
            day: (self.date - anchor).num_days(),
            index: self.index,
        }
    }
}

/// The distinct slots of windows relative to `anchor`, sorted: what a like
/// day must have data for. (The repeated 1am hour of a fall DST day is one.)
pub fn needed_slots(windows: &[&[WindowSlot]], anchor: NaiveDate) -> Vec<DaySlot> {
    let mut v: Vec<DaySlot> = windows
        .iter()
        .flat_map(|w| w.iter().map(|s| s.relative_to(anchor)))
        .collect();
    v.sort();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{local_midnight, zone};

    fn ny() -> Tz {
        zone("America/New_York").unwrap()
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn series(interval: u32, start: i64, values: &[f64]) -> Series {
        Series {
            interval_seconds: interval,
            starts: (0..values.len() as i64)
                .map(|i| start + i * i64::from(interval))
                .collect(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn quarter_hours_and_hours_give_the_same_hourly_slots() {
        let midnight = local_midnight(d(2026, 7, 1), ny());
        // 2 kW for a day: 0.5 kWh per quarter hour, 2 kWh per hour.
        let quarters = LoadProfile::new(&series(900, midnight, &[0.5; 96]), ny(), HOUR).unwrap();
        let hours = LoadProfile::new(&series(3600, midnight, &[2.0; 24]), ny(), HOUR).unwrap();
        for slot in 0..24 {
            assert_eq!(quarters.kw(d(2026, 7, 1), slot), Some(2.0));
            assert_eq!(hours.kw(d(2026, 7, 1), slot), Some(2.0));
        }
        // Hourly data cannot feed a 15-minute method.
        assert!(matches!(
            LoadProfile::new(&series(3600, midnight, &[2.0]), ny(), QUARTER_HOUR),
            Err(RuleError::InvalidInput(_))
        ));
    }

    #[test]
    fn a_missing_quarter_makes_the_hour_incomplete() {
        let midnight = local_midnight(d(2026, 7, 1), ny());
        let mut s = series(900, midnight, &[0.5; 8]);
        s.starts.remove(5);
        s.values.remove(5);
        let p = LoadProfile::new(&s, ny(), HOUR).unwrap();
        assert_eq!(p.kw(d(2026, 7, 1), 0), Some(2.0));
        assert_eq!(p.kw(d(2026, 7, 1), 1), None);
        assert!(!p.complete(d(2026, 7, 1), &same_day(&[0, 1])));
    }

    #[test]
    fn dst_days_have_23_and_25_hours_of_slots() {
        // Spring forward: 23 readings fill every slot but 2am.
        let spring = d(2026, 3, 8);
        let p = LoadProfile::new(
            &series(3600, local_midnight(spring, ny()), &[1.0; 23]),
            ny(),
            HOUR,
        )
        .unwrap();
        assert_eq!(p.kw(spring, 2), None);
        assert_eq!(p.kw(spring, 3), Some(1.0));
        assert_eq!(p.kw(spring, 23), Some(1.0));
        // Fall back: 25 readings; the 1am slot is lived twice (1 and 3 kWh): mean 2 kW.
        let fall = d(2026, 11, 1);
        let mut values = [1.0; 25];
        values[2] = 3.0;
        let p = LoadProfile::new(
            &series(3600, local_midnight(fall, ny()), &values),
            ny(),
            HOUR,
        )
        .unwrap();
        assert_eq!(p.kw(fall, 1), Some(2.0));
        assert_eq!(p.kw(fall, 23), Some(1.0));
    }

    #[test]
    fn window_slots_weigh_partial_hours() {
        let start = local_midnight(d(2026, 7, 1), ny()) + 14 * 3600 + 1800; // 14:30
        let slots = window_slots(start, start + 2 * 3600, ny(), HOUR); // to 16:30
        let shape: Vec<(u32, f64)> = slots.iter().map(|s| (s.index, s.weight)).collect();
        assert_eq!(shape, [(14, 0.5), (15, 1.0), (16, 0.5)]);
        assert_eq!(
            needed_slots(&[&slots], d(2026, 7, 1)),
            same_day(&[14, 15, 16])
        );
        // An early event's pre-event window reaches into the evening before.
        let early = local_midnight(d(2026, 7, 1), ny()) + 3600;
        let before = window_slots(early - 4 * 3600, early - 3600, ny(), HOUR);
        let rel: Vec<(i64, u32)> = needed_slots(&[&before], d(2026, 7, 1))
            .iter()
            .map(|s| (s.day, s.index))
            .collect();
        assert_eq!(rel, [(-1, 21), (-1, 22), (-1, 23)]);
    }

    #[test]
    fn bad_series_are_refused() {
        let mut s = series(900, 0, &[1.0, f64::NAN]);
        assert!(validate(&s).is_err());
        s.values = vec![1.0];
        assert!(validate(&s).is_err());
        assert!(validate(&series(600, 0, &[1.0])).is_err());
        assert!(validate(&series(900, 60, &[1.0])).is_err());
    }
}
