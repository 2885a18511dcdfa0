//! Interval series helpers: hourly roll-up and window means.

use std::collections::BTreeMap;

use crate::Series;

/// One clock hour of readings.
#[derive(Debug, Clone, PartialEq)]
pub struct Hour {
    /// Unix seconds at the start of the hour (UTC; hours are aligned in UTC,
    /// which equals local alignment for the whole-hour offsets of US zones).
    pub start: i64,
    pub kwh: f64,
    /// True when every interval of the hour is present.
    pub complete: bool,
}

/// Sums a 5-, 15- or 60-minute series into hours.
pub fn hourly(series: &Series) -> Vec<Hour> {
    let per_hour = (3600 / series.interval_seconds.max(1)) as usize;
    let mut hours: BTreeMap<i64, (f64, usize)> = BTreeMap::new();
    for (start, value) in series.starts.iter().zip(&series.values) {
        let hour = start - start.rem_euclid(3600);
        let entry = hours.entry(hour).or_default();
        entry.0 += value;
        entry.1 += 1;
    }
    hours
        .into_iter()
        .map(|(start, (kwh, n))| Hour {
            start,
            kwh,
            complete: n >= per_hour,
        })
        .collect()
}

/// Mean kW over `[start, end)`, weighting each interval by the part of it that
/// lies in the window. `None` when any part of the window has no reading.
pub fn mean_kw(series: &Series, start: i64, end: i64) -> Option<f64> {
    if end <= start {
        return None;
    }
    let len = series.interval_seconds as i64;
    let mut covered = 0i64;
    let mut kwh = 0.0;
    for (s, v) in series.starts.iter().zip(&series.values) {
        let overlap = (s + len).min(end) - (*s).max(start);
        if overlap > 0 {
            covered += overlap;
            kwh += v * overlap as f64 / len as f64;
        }
    }
    (covered == end - start).then(|| kwh / ((end - start) as f64 / 3600.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quarter_hours(start: i64, values: &[f64]) -> Series {
        Series {
            interval_seconds: 900,
            starts: (0..values.len() as i64).map(|i| start + i * 900).collect(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn quarter_hours_roll_up_to_hours() {
        let s = quarter_hours(0, &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0]);
        let h = hourly(&s);
        assert_eq!(h.len(), 2);
        assert_eq!((h[0].kwh, h[0].complete), (4.0, true));
        assert_eq!((h[1].kwh, h[1].complete), (4.0, false));
    }

    #[test]
    fn partial_intervals_are_weighted() {
        // 1 kWh per 15 min = 4 kW steady; the window starts mid-interval.
        let s = quarter_hours(0, &[1.0; 8]);
        assert_eq!(mean_kw(&s, 450, 450 + 3600), Some(4.0));
        // A window reaching past the data has a gap.
        assert_eq!(mean_kw(&s, 0, 3 * 3600), None);
    }
}
