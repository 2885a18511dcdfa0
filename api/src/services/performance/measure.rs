//! From a plugin's baseline and the meter's readings to what the meter
//! delivered. The arithmetic is the SDK's (`gridhub_plugin_sdk::performance`),
//! the same code the plugins' own tests use.

use gridhub_plugin_sdk::performance::{delivered, performance_factor};
use gridhub_plugin_sdk::{Baseline, Measure, RuleError, Series};
use serde::{Deserialize, Serialize};

use crate::domain::string_enum;
use crate::rules::wit;
use crate::services::intervals::Columns;

string_enum! {
    pub enum MeterPerformanceStatus {
        /// Baseline and event readings were complete.
        Measured => "MEASURED",
        /// Readings of the event itself are missing.
        MissingData => "MISSING_DATA",
        /// Not enough usable days to build the baseline.
        InsufficientHistory => "INSUFFICIENT_HISTORY",
        /// The plugin failed for this meter (the error says why).
        Failed => "FAILED",
    }
}

string_enum! {
    /// How delivered kW follows from baseline and actual.
    pub enum MeasureKind {
        /// Utility meter: baseline − actual load.
        LoadReduction => "LOAD_REDUCTION",
        /// Device: actual discharge − baseline.
        DeviceOutput => "DEVICE_OUTPUT",
    }
}

/// One baseline interval of the event, as stored and served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IntervalResult {
    pub start: i64,
    pub seconds: u32,
    /// Share of the interval inside the event.
    pub weight: f64,
    pub baseline_kw: f64,
    pub actual_kw: f64,
    pub reduction_kw: f64,
}

/// What one meter delivered in one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: MeterPerformanceStatus,
    pub delivered_kw: Option<f64>,
    pub delivered_kwh: Option<f64>,
    pub performance_factor: Option<f64>,
    pub under_performing: bool,
    pub baseline_method: Option<String>,
    pub measure: Option<MeasureKind>,
    pub days_used: Vec<String>,
    pub notes: Vec<String>,
    pub intervals: Vec<IntervalResult>,
    pub error: Option<String>,
}

impl Outcome {
    /// A meter the plugin could not baseline.
    pub fn not_measured(status: MeterPerformanceStatus, error: String) -> Outcome {
        Outcome {
            status,
            delivered_kw: None,
            delivered_kwh: None,
            performance_factor: None,
            under_performing: false,
            baseline_method: None,
            measure: None,
            days_used: Vec::new(),
            notes: Vec::new(),
            intervals: Vec::new(),
            error: Some(error),
        }
    }

    /// Missing or failed meters count as delivering nothing.
    pub fn delivered_or_zero(&self) -> f64 {
        self.delivered_kw.unwrap_or(0.0)
    }
}

/// Measures one meter over `[start, end)` from its baseline and readings.
/// A factor below `threshold` marks the meter as under-performing.
pub fn measure(
    baseline: &wit::Baseline,
    readings: &Columns,
    start: i64,
    end: i64,
    committed_kw: f64,
    threshold: f64,
) -> Outcome {
    let sdk_baseline = Baseline {
        method: baseline.method.clone(),
        measure: match baseline.measure {
            wit::Measure::LoadReduction => Measure::LoadReduction,
            wit::Measure::DeviceOutput => Measure::DeviceOutput,
        },
        starts: baseline.starts.clone(),
        interval_seconds: baseline.interval_seconds,
        kw: baseline.kw.clone(),
        days_used: baseline.days_used.clone(),
        notes: baseline.notes.clone(),
    };
    let measure = match baseline.measure {
        wit::Measure::LoadReduction => MeasureKind::LoadReduction,
        wit::Measure::DeviceOutput => MeasureKind::DeviceOutput,
    };
    let described = |mut o: Outcome| {
        o.baseline_method = Some(baseline.method.clone());
        o.measure = Some(measure);
        o.days_used = baseline.days_used.clone();
        o.notes = baseline.notes.clone();
        o
    };
    if baseline.starts.len() != baseline.kw.len() {
        return described(Outcome::not_measured(
            MeterPerformanceStatus::Failed,
            "the baseline has different numbers of starts and values".into(),
        ));
    }
    let actual = window(readings, start, end);
    match delivered(&sdk_baseline, &actual, start, end) {
        Ok(d) => {
            let factor = performance_factor(d.kw, committed_kw);
            described(Outcome {
                status: MeterPerformanceStatus::Measured,
                delivered_kw: Some(d.kw),
                delivered_kwh: Some(d.kwh),
                performance_factor: Some(factor),
                under_performing: factor < threshold,
                baseline_method: None,
                measure: None,
                days_used: Vec::new(),
                notes: Vec::new(),
                intervals: d
                    .intervals
                    .into_iter()
                    .map(|i| IntervalResult {
                        start: i.start,
                        seconds: baseline.interval_seconds,
                        weight: i.weight,
                        baseline_kw: i.baseline_kw,
                        actual_kw: i.actual_kw,
                        reduction_kw: i.reduction_kw,
                    })
                    .collect(),
                error: None,
            })
        }
        Err(RuleError::InsufficientHistory(m)) => described(Outcome {
            under_performing: true,
            ..Outcome::not_measured(MeterPerformanceStatus::MissingData, m)
        }),
        Err(e) => described(Outcome::not_measured(
            MeterPerformanceStatus::Failed,
            format!("{e:?}"),
        )),
    }
}

/// The readings inside `[start, end)` as an SDK series.
fn window(c: &Columns, start: i64, end: i64) -> Series {
    let len = i64::from(c.interval_seconds);
    let from = c.starts.partition_point(|s| s + len <= start);
    let to = c.starts.partition_point(|s| *s < end);
    let (from, to) = (from.min(to), to);
    Series {
        interval_seconds: c.interval_seconds,
        starts: c.starts[from..to].to_vec(),
        values: c.values[from..to].to_vec(),
    }
}

/// Interval results summed to clock hours (UTC hours = local hours in every
/// whole-hour zone): weighted mean kW of each hour's covered part.
pub fn hourly(intervals: &[IntervalResult]) -> Vec<(i64, f64, f64, f64, f64)> {
    let mut out: Vec<(i64, f64, f64, f64, f64)> = Vec::new();
    for i in intervals {
        let hour = i.start - i.start.rem_euclid(3600);
        let share = i.weight * f64::from(i.seconds) / 3600.0;
        match out.last_mut() {
            Some(h) if h.0 == hour => {
                h.1 += share;
                h.2 += i.baseline_kw * share;
                h.3 += i.actual_kw * share;
                h.4 += i.reduction_kw * share;
            }
            _ => out.push((
                hour,
                share,
                i.baseline_kw * share,
                i.actual_kw * share,
                i.reduction_kw * share,
            )),
        }
    }
    for h in &mut out {
        if h.1 > 0.0 {
            h.2 /= h.1;
            h.3 /= h.1;
            h.4 /= h.1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(kw: Vec<f64>, measure: wit::Measure) -> wit::Baseline {
        wit::Baseline {
            method: "test".into(),
            measure,
            starts: (0..kw.len() as i64).map(|h| h * 3600).collect(),
            interval_seconds: 3600,
            kw,
            days_used: vec!["2026-07-01".into()],
            notes: vec![],
        }
    }

    fn quarters(kwh: &[f64]) -> Columns {
        Columns {
            interval_seconds: 900,
            starts: (0..kwh.len() as i64).map(|q| q * 900).collect(),
            values: kwh.to_vec(),
        }
    }

    #[test]
    fn load_reduction_over_two_hours() {
        // Baseline 10 kW then 12 kW; actual 4 × 1.5 kWh (6 kW), then 4 × 2 kWh (8 kW):
        // reductions 4 and 4 kW → 4 kW delivered, 8 kWh; 4 ÷ 5 committed = 0.8.
        let b = baseline(vec![10.0, 12.0], wit::Measure::LoadReduction);
        let c = quarters(&[1.5, 1.5, 1.5, 1.5, 2.0, 2.0, 2.0, 2.0]);
        let o = measure(&b, &c, 0, 7200, 5.0, 0.9);
        assert_eq!(o.status, MeterPerformanceStatus::Measured);
        assert_eq!(o.delivered_kw, Some(4.0));
        assert_eq!(o.delivered_kwh, Some(8.0));
        assert_eq!(o.performance_factor, Some(0.8));
        assert!(o.under_performing);
        assert_eq!(hourly(&o.intervals)[1], (3600, 1.0, 12.0, 8.0, 4.0));
    }

    #[test]
    fn a_hole_in_the_event_is_missing_data() {
        let b = baseline(vec![0.0, 0.0], wit::Measure::DeviceOutput);
        let c = quarters(&[1.0, 1.0, 1.0, 1.0]);
        let o = measure(&b, &c, 0, 7200, 5.0, 0.8);
        assert_eq!(o.status, MeterPerformanceStatus::MissingData);
        assert_eq!(o.delivered_kw, None);
        assert!(o.under_performing);
    }
}
