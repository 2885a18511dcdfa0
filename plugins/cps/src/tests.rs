//! Hand-computed CPS certificates. Each metered window below is 15:00–19:00
//! local unless said otherwise; 400 kWh in it is 0.4 MWh.

use super::*;
use gridhub_plugin_sdk::chrono_tz::Tz;
use gridhub_plugin_sdk::performance::delivered;
use gridhub_plugin_sdk::testing::{
    baseline_request, baseline_with, battery, codes, date, drop_where, enrollment, event_at, load,
    local_time, params_from, settlement_for,
};
use gridhub_plugin_sdk::time::zone;
use gridhub_plugin_sdk::{serde_json, Measure, Meter};

fn tz() -> Tz {
    zone("America/New_York").unwrap()
}

/// Defaults plus the actual July 2026 system peak: July 21, 17:00 local.
fn params() -> Params {
    let mut p: serde_json::Value = serde_json::from_str(include_str!("../params.json")).unwrap();
    p["actual_peak_hours"] = serde_json::json!({ "2026-07": "2026-07-21T21:00:00Z" });
    params_from(&p.to_string())
}

fn storage() -> Meter {
    let mut m = battery("b1");
    m.capacity_kw = Some(100.0);
    m.commercial_operation_date = Some("2021-05-01".into());
    m.colocated_renewable_kw = Some(80.0);
    m
}

/// A metered window of `kwh` on a local date, `from`..`to` hours.
fn window(id: &str, y: i32, m: u32, d: u32, from: u32, to: u32, kwh: f64) -> EventPerformance {
    let (start, end) = (
        local_time(tz(), date(y, m, d), from, 0),
        local_time(tz(), date(y, m, d), to, 0),
    );
    let hours = (end - start) as f64 / 3600.0;
    event_at(id, start, end, 100.0, kwh / hours)
}

fn amounts(s: &Settlement) -> Vec<(&str, f64, &str)> {
    s.line_items
        .iter()
        .map(|l| (l.code.as_str(), l.quantity, l.amount.as_str()))
        .collect()
}

#[test]
fn summer_certificates_with_the_actual_peak_hour() {
    // Jul 15: 0.4 MWh × summer 4 = 1.6 certificates.
    // Jul 21: the 17:00 peak hour is 1/4 of the window: 4 × (1 + ¼ × 24) = 28 → 11.2.
    // July: 12.8 certificates × $45 = $576.00.
    let events = vec![
        window("a", 2026, 7, 15, 15, 19, 400.0),
        window("b", 2026, 7, 21, 15, 19, 400.0),
    ];
    let s = Cps::settle(
        &params(),
        &settlement_for(storage(), "2026-07-01", "2026-07-31", 100.0, events.clone()),
    )
    .unwrap();
    assert_eq!(amounts(&s), [("CLEAN_PEAK_CERTIFICATES", 12.8, "576.00")]);
    // On a qualifying distribution circuit (×2): 25.6 certificates, $1,152.00.
    let mut circuit = storage();
    circuit.attributes_json = r#"{"cpsDistributionCircuit": true}"#.into();
    let s = Cps::settle(
        &params(),
        &settlement_for(circuit, "2026-07-01", "2026-07-31", 100.0, events),
    )
    .unwrap();
    assert_eq!(amounts(&s), [("CLEAN_PEAK_CERTIFICATES", 25.6, "1152.00")]);
}

#[test]
fn only_the_peak_window_counts_and_charging_earns_nothing() {
    // 13:00–17:00 with 400 kWh: half inside the 15:00–19:00 window → 0.2 MWh × 4 = 0.8 → $36.00.
    // A window of net charging (−100 kWh) earns nothing, with a note.
    let events = vec![
        window("a", 2026, 8, 3, 13, 17, 400.0),
        window("c", 2026, 8, 4, 15, 19, -100.0),
        window("d", 2026, 8, 5, 9, 11, 400.0),
    ];
    let s = Cps::settle(
        &params(),
        &settlement_for(storage(), "2026-08-01", "2026-08-31", 100.0, events),
    )
    .unwrap();
    assert_eq!(amounts(&s), [("CLEAN_PEAK_CERTIFICATES", 0.8, "36.00")]);
    assert!(s.notes.iter().any(|n| n.starts_with("c: net charging")));
    assert!(s
        .notes
        .iter()
        .any(|n| n.starts_with("d: outside the summer peak window")));
}

#[test]
fn seasons_months_and_dst_days() {
    // Spring (multiplier 1, 17:00–21:00) on the 23-hour Mar 8, 2026: 0.4 → $18.00.
    // Fall (1, 16:00–20:00) on the 25-hour Nov 1, 2026: 0.4 → $18.00.
    // Winter (4, 16:00–20:00) Dec 10, 2026: 1.6 → $72.00. One line per month.
    let events = vec![
        window("s", 2026, 3, 8, 17, 21, 400.0),
        window("f", 2026, 11, 1, 16, 20, 400.0),
        window("w", 2026, 12, 10, 16, 20, 400.0),
    ];
    let s = Cps::settle(
        &params(),
        &settlement_for(storage(), "2026-01-01", "2026-12-31", 100.0, events),
    )
    .unwrap();
    assert_eq!(
        amounts(&s),
        [
            ("CLEAN_PEAK_CERTIFICATES", 0.4, "18.00"),
            ("CLEAN_PEAK_CERTIFICATES", 0.4, "18.00"),
            ("CLEAN_PEAK_CERTIFICATES", 1.6, "72.00")
        ]
    );
}

#[test]
fn the_baseline_is_zero_and_says_so() {
    let start = local_time(tz(), date(2026, 7, 15), 15, 0);
    let b = Cps::baseline(
        &params(),
        &baseline_request(storage(), start, start + 4 * 3600),
    )
    .unwrap();
    assert_eq!(b.kw, [0.0; 4]);
    assert_eq!(b.measure, Measure::DeviceOutput);
    assert!(b.notes[0].contains("no baseline"));
}

#[test]
fn net_discharge_is_the_same_from_15_minute_and_hourly_data_and_gaps_are_errors() {
    // 25 kW discharge for 15:00–19:00: 100 kWh net either way.
    let day = date(2026, 7, 15);
    let start = local_time(tz(), day, 15, 0);
    let b = Cps::baseline(
        &params(),
        &baseline_request(storage(), start, start + 4 * 3600),
    )
    .unwrap();
    for interval in [900, 3600] {
        let readings = load(tz(), day, day, interval, |_| 25.0);
        let d = delivered(&b, &readings, start, start + 4 * 3600).unwrap();
        assert!((d.kwh - 100.0).abs() < 1e-9);
    }
    let mut readings = load(tz(), day, day, 900, |_| 25.0);
    drop_where(&mut readings, |s| s == start + 3600);
    let req = baseline_with(storage(), start, start + 4 * 3600, readings);
    assert!(matches!(
        delivered(&b, &req.readings, start, start + 4 * 3600),
        Err(RuleError::InsufficientHistory(_))
    ));
}

#[test]
fn eligibility_reasons_and_fixes() {
    assert!(
        Cps::eligibility(&params(), &enrollment(storage(), Some(100.0)))
            .unwrap()
            .eligible
    );
    // No co-located renewable, but charging only in the windows: eligible.
    let mut windows = storage();
    windows.colocated_renewable_kw = None;
    windows.attributes_json = r#"{"cpsChargingWindowsOnly": true}"#.into();
    assert!(
        Cps::eligibility(&params(), &enrollment(windows, Some(100.0)))
            .unwrap()
            .eligible
    );
    let mut m = storage();
    m.utility = Some("MA_MUNICIPAL".into());
    m.commercial_operation_date = Some("2018-06-30".into());
    m.colocated_renewable_kw = Some(50.0);
    let e = Cps::eligibility(&params(), &enrollment(m, Some(100.0))).unwrap();
    let codes = codes(&e);
    assert_eq!(
        codes,
        [
            "UTILITY_NOT_ELIGIBLE",
            "COMMERCIAL_OPERATION_TOO_EARLY",
            "NOT_RENEWABLE_STORAGE"
        ]
    );
    assert!(
        e.reasons[2].action.contains("75 kW"),
        "{}",
        e.reasons[2].action
    );
}
