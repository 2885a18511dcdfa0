//! Baseline building blocks shared by the programs: averages over like days
//! (X-of-Y), high X of Y, middle N per interval, Average Coincident Load, and
//! the day-of adjustments.

use chrono::NaiveDate;

use crate::profile::{DaySlot, LoadProfile};
use crate::RuleError;

/// Per slot, the mean kW over `days` (10-in-10, 4-in-4, high-5 once the days
/// are chosen). Every day must be complete in `slots`.
pub fn mean_by_slot(
    profile: &LoadProfile,
    days: &[NaiveDate],
    slots: &[DaySlot],
) -> Result<Vec<f64>, RuleError> {
    let columns = day_columns(profile, days, slots)?;
    Ok(columns
        .iter()
        .map(|values| values.iter().sum::<f64>() / values.len() as f64)
        .collect())
}

/// Per slot, drops the `trim` highest and `trim` lowest of the days' values and
/// averages the rest (ERCOT's middle 8 of 10 is `trim = 1` over 10 days).
pub fn middle_by_slot(
    profile: &LoadProfile,
    days: &[NaiveDate],
    slots: &[DaySlot],
    trim: usize,
) -> Result<Vec<f64>, RuleError> {
    if days.len() <= 2 * trim {
        return Err(RuleError::InsufficientHistory(format!(
            "found {} of {} required like days",
            days.len(),
            2 * trim + 1
        )));
    }
    let columns = day_columns(profile, days, slots)?;
    Ok(columns
        .into_iter()
        .map(|mut values| {
            values.sort_by(f64::total_cmp);
            let middle = &values[trim..values.len() - trim];
            middle.iter().sum::<f64>() / middle.len() as f64
        })
        .collect())
}

/// `[slot][day]` kW values.
fn day_columns(
    profile: &LoadProfile,
    days: &[NaiveDate],
    slots: &[DaySlot],
) -> Result<Vec<Vec<f64>>, RuleError> {
    if days.is_empty() {
        return Err(RuleError::InsufficientHistory(
            "found 0 usable baseline days".into(),
        ));
    }
    slots
        .iter()
        .map(|slot| {
            days.iter()
                .map(|day| {
                    profile.kw_at(*day, *slot).ok_or_else(|| {
                        RuleError::InsufficientHistory(format!(
                            "{day} has no data in slot {slot:?}"
                        ))
                    })
                })
                .collect()
        })
        .collect()
}

/// The outcome of a high-X-of-Y selection.
#[derive(Debug, Clone, PartialEq)]
pub struct HighDays {
    /// The chosen days, highest mean window load first.
    pub days: Vec<NaiveDate>,
    /// Days dropped for low usage (below the threshold share of the mean).
    pub low_usage: Vec<NaiveDate>,
}

/// Con Edison's high X of Y: drops days whose mean load over `window` is below
/// `low_share` × the mean over all candidate days, then keeps the `x` days with
/// the highest window load (ties: the more recent day).
pub fn high_x_of_y(
    profile: &LoadProfile,
    candidates: &[NaiveDate],
    window: &[DaySlot],
    x: usize,
    low_share: f64,
) -> Result<HighDays, RuleError> {
    let mut loads: Vec<(NaiveDate, f64)> = candidates
        .iter()
        .map(|d| {
            profile
                .mean(*d, window)
                .map(|m| (*d, m))
                .ok_or_else(|| RuleError::InsufficientHistory(format!("{d} has missing data")))
        })
        .collect::<Result<_, _>>()?;
    if loads.is_empty() {
        return Err(RuleError::InsufficientHistory(
            "found 0 usable baseline days".into(),
        ));
    }
    let overall = loads.iter().map(|(_, m)| m).sum::<f64>() / loads.len() as f64;
    let threshold = low_share * overall;
    let low_usage: Vec<NaiveDate> = loads
        .iter()
        .filter(|(_, m)| *m < threshold)
        .map(|(d, _)| *d)
        .collect();
    loads.retain(|(_, m)| *m >= threshold);
    loads.sort_by(|a, b| b.1.total_cmp(&a.1).then(b.0.cmp(&a.0)));
    loads.truncate(x);
    Ok(HighDays {
        days: loads.into_iter().map(|(d, _)| d).collect(),
        low_usage,
    })
}

/// NYISO's Average Coincident Load: the mean of the `top` highest hourly loads
/// (kW) among the given peak-hour loads. Fewer than `top` values with data is
/// insufficient history.
pub fn average_coincident_load(peak_hour_kw: &[f64], top: usize) -> Result<f64, RuleError> {
    if top == 0 {
        return Err(RuleError::InvalidParameters(
            "the ACL averages at least one hour".into(),
        ));
    }
    if peak_hour_kw.len() < top {
        return Err(RuleError::InsufficientHistory(format!(
            "found {} of {top} required peak hours with data",
            peak_hour_kw.len()
        )));
    }
    let mut sorted = peak_hour_kw.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    Ok(sorted[..top].iter().sum::<f64>() / top as f64)
}

/// A multiplicative day-of adjustment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// actual ÷ baseline over the adjustment window, before the clamp.
    pub raw: f64,
    /// The ratio applied, within `[1 − cap, 1 + cap]`.
    pub applied: f64,
}

/// Ratio of actual to baseline load over the adjustment window, clamped to
/// `1 ± cap`. A zero baseline gives no adjustment (ratio 1).
pub fn multiplicative_adjustment(actual_kw: f64, baseline_kw: f64, cap: f64) -> Ratio {
    if baseline_kw.abs() < f64::EPSILON {
        return Ratio {
            raw: 1.0,
            applied: 1.0,
        };
    }
    let raw = actual_kw / baseline_kw;
    Ratio {
        raw,
        applied: raw.clamp(1.0 - cap, 1.0 + cap),
    }
}

/// An additive day-of adjustment: actual − baseline over the window (kW),
/// added to every baseline interval.
pub fn additive_adjustment(actual_kw: f64, baseline_kw: f64) -> f64 {
    actual_kw - baseline_kw
}

/// Mean of a list (0 for an empty one).
pub fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        0.0
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{same_day, HOUR};
    use crate::testing::hourly_load;
    use crate::time::zone;
    use chrono::{Datelike, Timelike};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn days(from: u32, to: u32) -> Vec<NaiveDate> {
        (from..=to).map(|x| d(2026, 6, x)).collect()
    }

    /// Load = day of month (kW) at every hour, so day means are easy to read.
    fn by_day_of_month() -> LoadProfile {
        let tz = zone("America/New_York").unwrap();
        let s = hourly_load(tz, d(2026, 6, 1), d(2026, 6, 30), |t| f64::from(t.day()));
        LoadProfile::new(&s, tz, HOUR).unwrap()
    }

    #[test]
    fn mean_by_slot_averages_the_days() {
        // Days 1..=10: mean (1+…+10)/10 = 5.5 kW in every slot.
        let m = mean_by_slot(&by_day_of_month(), &days(1, 10), &same_day(&[14, 15])).unwrap();
        assert_eq!(m, [5.5, 5.5]);
    }

    #[test]
    fn middle_8_of_10_drops_the_extremes() {
        // Days 1..=10: drop 1 and 10 → (2+…+9)/8 = 44/8 = 5.5; with days 1..=9 and 30:
        // drop 1 and 30 → (2+…+9)/8 = 5.5 again, where the plain mean is 7.5.
        let p = by_day_of_month();
        assert_eq!(
            middle_by_slot(&p, &days(1, 10), &same_day(&[0]), 1).unwrap(),
            [5.5]
        );
        let mut skewed = days(1, 9);
        skewed.push(d(2026, 6, 30));
        assert_eq!(
            middle_by_slot(&p, &skewed, &same_day(&[0]), 1).unwrap(),
            [5.5]
        );
        assert_eq!(mean_by_slot(&p, &skewed, &same_day(&[0])).unwrap(), [7.5]);
        assert!(middle_by_slot(&p, &days(1, 2), &same_day(&[0]), 1).is_err());
    }

    #[test]
    fn high_5_of_10_drops_low_usage_days_first() {
        let tz = zone("America/New_York").unwrap();
        // Day means over the window: June 1 is 0.5 kW, the others their day of month.
        let s = hourly_load(tz, d(2026, 6, 1), d(2026, 6, 10), |t| {
            if t.day() == 1 {
                0.5
            } else {
                f64::from(t.day())
            }
        });
        let p = LoadProfile::new(&s, tz, HOUR).unwrap();
        // Mean of all 10 = (0.5 + 2+…+10)/10 = 54.5/10 = 5.45; 25% = 1.3625 → June 1 dropped.
        let h = high_x_of_y(&p, &days(1, 10), &same_day(&[14, 15, 16]), 5, 0.25).unwrap();
        assert_eq!(h.low_usage, [d(2026, 6, 1)]);
        assert_eq!(h.days, days(6, 10).into_iter().rev().collect::<Vec<_>>());
    }

    #[test]
    fn acl_is_the_mean_of_the_top_hours() {
        let loads: Vec<f64> = (1..=40).map(f64::from).collect();
        // Top 20 of 1..=40 are 21..=40: mean 30.5.
        assert_eq!(average_coincident_load(&loads, 20).unwrap(), 30.5);
        assert_eq!(
            average_coincident_load(&loads[..19], 20).unwrap_err(),
            RuleError::InsufficientHistory("found 19 of 20 required peak hours with data".into())
        );
    }

    #[test]
    fn adjustments_clamp_and_add() {
        assert_eq!(multiplicative_adjustment(110.0, 100.0, 0.2).applied, 1.1);
        let high = multiplicative_adjustment(150.0, 100.0, 0.2);
        assert_eq!((high.raw, high.applied), (1.5, 1.2));
        assert_eq!(multiplicative_adjustment(10.0, 100.0, 0.4).applied, 0.6);
        assert_eq!(multiplicative_adjustment(10.0, 0.0, 0.2).applied, 1.0);
        assert_eq!(additive_adjustment(12.0, 10.0), 2.0);
        assert_eq!(additive_adjustment(8.0, 10.0), -2.0);
    }

    #[test]
    fn hour_of_the_test_helper_is_local() {
        let tz = zone("America/New_York").unwrap();
        let s = hourly_load(tz, d(2026, 6, 1), d(2026, 6, 1), |t| f64::from(t.hour()));
        let p = LoadProfile::new(&s, tz, HOUR).unwrap();
        assert_eq!(p.kw(d(2026, 6, 1), 14), Some(14.0));
    }
}
