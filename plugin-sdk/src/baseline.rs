//! The frame every like-day baseline shares: the event's local day and slots,
//! the meter's load profile, pre-event windows for day-of adjustments, and the
//! finished [`Baseline`] record.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::days::{parse_days, select_like_days, DayType, LikeDayRule, Selection};
use crate::profile::{needed_slots, window_slots, DaySlot, LoadProfile, WindowSlot};
use crate::series::mean_kw;
use crate::time::local_date;
use crate::{Baseline, BaselineRequest, Measure, Params, RuleError};

/// Baseline kW per slot relative to the event day.
pub type SlotValues = BTreeMap<DaySlot, f64>;

pub struct EventFrame<'a> {
    pub request: &'a BaselineRequest,
    pub tz: Tz,
    pub resolution: u32,
    /// Local date of the event start.
    pub event_date: NaiveDate,
    pub event_slots: Vec<WindowSlot>,
    pub profile: LoadProfile,
    /// The meter's other event days (never like days).
    pub event_days: BTreeSet<NaiveDate>,
}

impl<'a> EventFrame<'a> {
    pub fn new(request: &'a BaselineRequest, tz: Tz, resolution: u32) -> Result<Self, RuleError> {
        let event = &request.event;
        if event.end <= event.start {
            return Err(RuleError::InvalidInput(
                "the event ends before it starts".into(),
            ));
        }
        let event_date = local_date(event.start, tz);
        let mut event_days = parse_days(&request.event_days)?;
        event_days.insert(event_date);
        Ok(Self {
            request,
            tz,
            resolution,
            event_date,
            event_slots: window_slots(event.start, event.end, tz, resolution),
            profile: LoadProfile::new(&request.readings, tz, resolution)?,
            event_days,
        })
    }

    /// The day-of adjustment window whose bounds are the parameters
    /// `start_key` and `end_key`, in hours before the event start.
    pub fn adjustment_window(
        &self,
        params: &Params,
        start_key: &str,
        end_key: &str,
    ) -> Result<PreEventWindow, RuleError> {
        let start = self.request.event.start;
        let (from_before, to_before) = (
            params.integer(start_key)? * 3600,
            params.integer(end_key)? * 3600,
        );
        let (from, to) = (start - from_before, start - to_before);
        if to <= from {
            return Err(RuleError::InvalidParameters(format!(
                "`{start_key}` must be more hours before the event than `{end_key}`"
            )));
        }
        Ok(PreEventWindow {
            from,
            to,
            slots: self.pre_event_window(from_before, to_before),
        })
    }

    /// What a like day must have data for: the event's slots, and the
    /// adjustment window's when one applies.
    pub fn needed_for(&self, window: Option<&PreEventWindow>) -> Vec<DaySlot> {
        match window {
            Some(w) => self.needed(&[&w.slots]),
            None => self.event_day_slots(),
        }
    }

    /// The most recent like days of `day_type` before the event, skipping the
    /// meter's event days and days without data in `needed`.
    pub fn like_days(
        &self,
        day_type: DayType,
        count: usize,
        lookback_days: usize,
        holidays: Vec<String>,
        needed: &[DaySlot],
    ) -> Selection {
        let rule = LikeDayRule {
            day_type,
            count,
            lookback_days: lookback_days as u32,
            holidays,
            excluded: self.event_days.clone(),
        };
        select_like_days(&self.profile, self.event_date, &rule, needed)
    }

    /// Event-day actual kW and baseline kW over an adjustment window.
    pub fn window_means(
        &self,
        window: &PreEventWindow,
        values: &SlotValues,
    ) -> Result<(f64, f64), RuleError> {
        Ok((
            self.actual_kw(window.from, window.to)?,
            self.weighted_mean(&window.slots, values)?,
        ))
    }

    /// Slots of a window starting `from_before` seconds before the event and
    /// ending `to_before` seconds before it (a day-of adjustment window).
    pub fn pre_event_window(&self, from_before: i64, to_before: i64) -> Vec<WindowSlot> {
        let start = self.request.event.start;
        window_slots(
            start - from_before,
            start - to_before,
            self.tz,
            self.resolution,
        )
    }

    /// What a like day must have data for: the event slots and these windows.
    pub fn needed(&self, windows: &[&[WindowSlot]]) -> Vec<DaySlot> {
        let mut all: Vec<&[WindowSlot]> = vec![&self.event_slots];
        all.extend_from_slice(windows);
        needed_slots(&all, self.event_date)
    }

    /// Slots of the event relative to its day.
    pub fn event_day_slots(&self) -> Vec<DaySlot> {
        self.needed(&[])
    }

    /// Actual mean kW on the event day over `[from, to)` (UTC seconds).
    pub fn actual_kw(&self, from: i64, to: i64) -> Result<f64, RuleError> {
        mean_kw(&self.request.readings, from, to).ok_or_else(|| {
            RuleError::InsufficientHistory(
                "no event-day readings for the whole adjustment window".into(),
            )
        })
    }

    /// Mean of baseline values over a window, weighted by covered share.
    pub fn weighted_mean(
        &self,
        window: &[WindowSlot],
        values: &SlotValues,
    ) -> Result<f64, RuleError> {
        let (mut sum, mut weights) = (0.0, 0.0);
        for slot in window {
            let v = values
                .get(&slot.relative_to(self.event_date))
                .ok_or_else(|| RuleError::InvalidInput("window slot without a baseline".into()))?;
            sum += v * slot.weight;
            weights += slot.weight;
        }
        if weights == 0.0 {
            return Err(RuleError::InvalidInput("empty window".into()));
        }
        Ok(sum / weights)
    }

    /// Pairs slots with a method's per-slot results.
    pub fn values(slots: &[DaySlot], kw: Vec<f64>) -> SlotValues {
        slots.iter().copied().zip(kw).collect()
    }

    /// The baseline over the event's slots.
    pub fn finish(
        &self,
        method: &str,
        values: &SlotValues,
        days_used: &[NaiveDate],
        notes: Vec<String>,
    ) -> Result<Baseline, RuleError> {
        let kw = self
            .event_slots
            .iter()
            .map(|s| {
                values
                    .get(&s.relative_to(self.event_date))
                    .copied()
                    .ok_or_else(|| RuleError::InvalidInput("event slot without a baseline".into()))
            })
            .collect::<Result<Vec<f64>, _>>()?;
        Ok(Baseline {
            method: method.into(),
            measure: Measure::LoadReduction,
            starts: self.event_slots.iter().map(|s| s.start).collect(),
            interval_seconds: self.resolution,
            kw,
            days_used: days_used.iter().map(|d| d.to_string()).collect(),
            notes,
        })
    }
}

/// A window before the event (UTC seconds) and its slots.
#[derive(Debug, Clone)]
pub struct PreEventWindow {
    pub from: i64,
    pub to: i64,
    pub slots: Vec<WindowSlot>,
}

/// Notes naming the like days skipped for missing data, if any.
pub fn skipped_note(selection: &Selection) -> Option<String> {
    let days: Vec<String> = selection.incomplete().map(|d| d.to_string()).collect();
    (!days.is_empty()).then(|| format!("days skipped for missing data: {}", days.join(", ")))
}

/// Multiplies every value by `ratio`.
pub fn scale(values: &mut SlotValues, ratio: f64) {
    values.values_mut().for_each(|v| *v *= ratio);
}

/// Adds `offset` kW to every value.
pub fn shift(values: &mut SlotValues, offset: f64) {
    values.values_mut().for_each(|v| *v += offset);
}

/// A zero baseline over the event's hours for device-measured programs.
pub fn zero_device_baseline(
    request: &BaselineRequest,
    method: &str,
    note: &str,
) -> Result<Baseline, RuleError> {
    let event = &request.event;
    if event.end <= event.start {
        return Err(RuleError::InvalidInput(
            "the event ends before it starts".into(),
        ));
    }
    let first = event.start - event.start.rem_euclid(3600);
    let starts: Vec<i64> = (first..event.end).step_by(3600).collect();
    Ok(Baseline {
        method: method.into(),
        measure: Measure::DeviceOutput,
        kw: vec![0.0; starts.len()],
        starts,
        interval_seconds: 3600,
        days_used: Vec::new(),
        notes: vec![note.into()],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::HOUR;
    use crate::testing::{baseline_request, battery, hourly_load, local_time};
    use crate::time::zone;

    #[test]
    fn frame_windows_and_weighted_means() {
        let tz = zone("America/Los_Angeles").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 8, 20).unwrap();
        let start = local_time(tz, day, 14, 30);
        let mut req = baseline_request(battery("m"), start, start + 3600);
        req.readings = hourly_load(tz, day, day, |_| 2.0);
        let frame = EventFrame::new(&req, tz, HOUR).unwrap();
        // 14:30–15:30 touches 14 and 15; the 10:30–13:30 window touches 10–13.
        let window = frame.pre_event_window(4 * 3600, 3600);
        let needed: Vec<u32> = frame.needed(&[&window]).iter().map(|s| s.index).collect();
        assert_eq!(needed, [10, 11, 12, 13, 14, 15]);
        let values: SlotValues = frame
            .needed(&[&window])
            .into_iter()
            .map(|s| (s, f64::from(s.index)))
            .collect();
        // (10×0.5 + 11 + 12 + 13×0.5) ÷ 3 = 11.5
        assert_eq!(frame.weighted_mean(&window, &values).unwrap(), 11.5);
        assert_eq!(
            frame.actual_kw(start - 4 * 3600, start - 3600).unwrap(),
            2.0
        );
        let b = frame.finish("m", &values, &[], vec![]).unwrap();
        assert_eq!(b.kw, [14.0, 15.0]);
        assert_eq!(b.starts[0], start - 1800);
    }

    #[test]
    fn zero_baseline_covers_partial_hours() {
        let start = 1_780_000_000 - 1_780_000_000 % 3600 + 1800;
        let b = zero_device_baseline(
            &baseline_request(battery("m"), start, start + 3600),
            "none",
            "n",
        )
        .unwrap();
        assert_eq!(b.kw, [0.0, 0.0]);
        assert_eq!(b.measure, Measure::DeviceOutput);
    }
}
