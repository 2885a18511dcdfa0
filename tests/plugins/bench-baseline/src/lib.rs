//! Baseline = for each 15-minute interval of the event, the mean of the same
//! interval on each of the previous 10 days (missing readings skipped). Used
//! by `api/benches/rules.rs` to compare the wasm path with native code.

use gridhub_plugin_sdk::{
    eligible, Baseline, BaselineRequest, Eligibility, EnrollmentRequest, Measure, Params,
    PluginInfo, RuleError, Rules,
};

pub struct BenchBaseline;

const DAY: i64 = 86_400;
const DAYS: i64 = 10;

impl Rules for BenchBaseline {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "TEST_BENCH".into(),
            plugin_version: "0.1.0".into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description: "benchmark rule".into(),
        }
    }

    fn eligibility(_: &Params, _: &EnrollmentRequest) -> Result<Eligibility, RuleError> {
        Ok(eligible())
    }

    fn baseline(_: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        let r = &request.readings;
        let step = r.interval_seconds as i64;
        let event = &request.event;
        let slots = ((event.end - event.start) / step).max(0) as usize;
        let mut sums = vec![0.0f64; slots];
        let mut counts = vec![0u32; slots];
        for (start, kwh) in r.starts.iter().zip(&r.values) {
            let back = event.start - start;
            if back <= 0 || back > DAYS * DAY {
                continue;
            }
            // Position of this reading within its day, relative to the event start.
            let offset = (start - event.start).rem_euclid(DAY);
            let slot = (offset / step) as usize;
            if slot < slots {
                sums[slot] += kwh;
                counts[slot] += 1;
            }
        }
        let hours = step as f64 / 3600.0;
        let kw: Vec<f64> = sums
            .iter()
            .zip(&counts)
            .map(|(s, n)| if *n == 0 { 0.0 } else { s / *n as f64 / hours })
            .collect();
        if counts.iter().any(|n| *n < 5) {
            return Err(RuleError::InsufficientHistory(
                "fewer than 5 days for some interval".into(),
            ));
        }
        Ok(Baseline {
            method: "10-day same-interval mean".into(),
            measure: Measure::LoadReduction,
            starts: (0..slots as i64).map(|i| event.start + i * step).collect(),
            interval_seconds: r.interval_seconds,
            kw,
            days_used: Vec::new(),
            notes: Vec::new(),
        })
    }
}

gridhub_plugin_sdk::export_plugin!(BenchBaseline);
