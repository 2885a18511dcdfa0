//! From baseline and actual load to what an event delivered: hourly reduction
//! weighted by the covered share of partial hours, delivered kW and kWh, and
//! the performance factor.

use crate::series::mean_kw;
use crate::{Baseline, Measure, RuleError, Series};

/// One baseline interval of an event with its measured outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalPerformance {
    pub start: i64,
    /// Share of the interval inside the event (a partial hour weighs less).
    pub weight: f64,
    pub baseline_kw: f64,
    pub actual_kw: f64,
    /// baseline − actual for load; actual − baseline for a device. Can be negative.
    pub reduction_kw: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Delivered {
    pub intervals: Vec<IntervalPerformance>,
    /// Mean reduction over the event, weighted by covered share.
    pub kw: f64,
    /// Reduction energy over the event.
    pub kwh: f64,
}

/// Measures an event: for each baseline interval, the actual kW over the part
/// of it inside `[event_start, event_end)`, the reduction, and the weighted
/// mean. Missing actual data is an error, not a zero.
pub fn delivered(
    baseline: &Baseline,
    actual: &Series,
    event_start: i64,
    event_end: i64,
) -> Result<Delivered, RuleError> {
    if event_end <= event_start {
        return Err(RuleError::InvalidInput(
            "the event ends before it starts".into(),
        ));
    }
    let len = i64::from(baseline.interval_seconds);
    let mut intervals = Vec::with_capacity(baseline.starts.len());
    let (mut weighted, mut weights, mut kwh) = (0.0, 0.0, 0.0);
    for (start, baseline_kw) in baseline.starts.iter().zip(&baseline.kw) {
        let from = (*start).max(event_start);
        let to = (start + len).min(event_end);
        if to <= from {
            continue;
        }
        let actual_kw = mean_kw(actual, from, to).ok_or_else(|| {
            RuleError::InsufficientHistory(format!(
                "no actual data for the event between {from} and {to}"
            ))
        })?;
        let reduction_kw = match baseline.measure {
            Measure::LoadReduction => baseline_kw - actual_kw,
            Measure::DeviceOutput => actual_kw - baseline_kw,
        };
        let weight = (to - from) as f64 / len as f64;
        weighted += reduction_kw * weight;
        weights += weight;
        kwh += reduction_kw * (to - from) as f64 / 3600.0;
        intervals.push(IntervalPerformance {
            start: *start,
            weight,
            baseline_kw: *baseline_kw,
            actual_kw,
            reduction_kw,
        });
    }
    if weights == 0.0 {
        return Err(RuleError::InvalidInput(
            "the baseline does not cover the event".into(),
        ));
    }
    Ok(Delivered {
        intervals,
        kw: weighted / weights,
        kwh,
    })
}

/// min(1, delivered ÷ committed), and 0 for negative delivery or no commitment.
pub fn performance_factor(delivered_kw: f64, committed_kw: f64) -> f64 {
    if committed_kw <= 0.0 {
        return 0.0;
    }
    (delivered_kw / committed_kw).clamp(0.0, 1.0)
}

/// ERCOT-style factor: 1 when delivery reaches `threshold` of the obligation,
/// otherwise the delivered share (never below 0).
pub fn threshold_factor(delivered_kw: f64, obligation_kw: f64, threshold: f64) -> f64 {
    let share = performance_factor(delivered_kw, obligation_kw);
    if share >= threshold {
        1.0
    } else {
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(starts: Vec<i64>, kw: Vec<f64>, measure: Measure) -> Baseline {
        Baseline {
            method: "test".into(),
            measure,
            starts,
            interval_seconds: 3600,
            kw,
            days_used: Vec::new(),
            notes: Vec::new(),
        }
    }

    fn quarters(start: i64, kwh: &[f64]) -> Series {
        Series {
            interval_seconds: 900,
            starts: (0..kwh.len() as i64).map(|i| start + i * 900).collect(),
            values: kwh.to_vec(),
        }
    }

    #[test]
    fn partial_hours_weigh_by_covered_share() {
        // Event 0:30–2:00. Baseline 10 kW then 8 kW. Actual 1.5 kWh per quarter = 6 kW.
        // Hour 0 covers 0.5: reduction 4 kW; hour 1 covers 1: reduction 2 kW.
        // Delivered = (4×0.5 + 2×1) ÷ 1.5 = 2.6667 kW; kWh = 4×0.5 + 2×1 = 4.
        let b = baseline(vec![0, 3600], vec![10.0, 8.0], Measure::LoadReduction);
        let d = delivered(&b, &quarters(0, &[1.5; 8]), 1800, 7200).unwrap();
        assert!((d.kw - 4.0 / 1.5).abs() < 1e-12);
        assert!((d.kwh - 4.0).abs() < 1e-12);
        assert_eq!(d.intervals[0].weight, 0.5);
    }

    #[test]
    fn negative_reduction_is_kept_and_factor_floors_at_zero() {
        // Actual 12 kW against a 10 kW baseline: −2 kW delivered.
        let b = baseline(vec![0], vec![10.0], Measure::LoadReduction);
        let d = delivered(&b, &quarters(0, &[3.0; 4]), 0, 3600).unwrap();
        assert_eq!(d.kw, -2.0);
        assert_eq!(performance_factor(d.kw, 5.0), 0.0);
    }

    #[test]
    fn devices_count_discharge_and_missing_data_is_an_error() {
        let b = baseline(vec![0], vec![0.0], Measure::DeviceOutput);
        let d = delivered(&b, &quarters(0, &[1.25; 4]), 0, 3600).unwrap();
        assert_eq!(d.kw, 5.0);
        assert!(matches!(
            delivered(&b, &quarters(0, &[1.25; 3]), 0, 3600),
            Err(RuleError::InsufficientHistory(_))
        ));
    }

    #[test]
    fn factors() {
        assert_eq!(performance_factor(80.0, 100.0), 0.8);
        assert_eq!(performance_factor(120.0, 100.0), 1.0);
        assert_eq!(performance_factor(5.0, 0.0), 0.0);
        assert_eq!(threshold_factor(96.0, 100.0, 0.95), 1.0);
        assert_eq!(threshold_factor(90.0, 100.0, 0.95), 0.9);
    }
}
