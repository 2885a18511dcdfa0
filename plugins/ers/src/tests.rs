//! Hand-computed ERS cases. Like-day loads are the day of the month in kW.

use super::*;
use gridhub_plugin_sdk::chrono::{Datelike, Timelike};
use gridhub_plugin_sdk::chrono_tz::Tz;
use gridhub_plugin_sdk::performance::delivered;
use gridhub_plugin_sdk::testing::{
    baseline_with, codes, date, drop_where, enrollment, event_at, load, local_time, params_from,
    settlement_for, utility_meter,
};
use gridhub_plugin_sdk::time::zone;
use gridhub_plugin_sdk::{Meter, Series};

fn params() -> Params {
    params_from(include_str!("../params.json"))
}

fn tz() -> Tz {
    zone("America/Chicago").unwrap()
}

fn meter() -> Meter {
    let mut m = utility_meter("m1", "TX", "ERCOT", "ONCOR");
    m.esi_id = Some("10443720000000001".into());
    m.load_zone = Some("LZ_HOUSTON".into());
    m
}

/// Day-of-month kW; on the event day `morning` before 15:00 and 3 kW after.
fn readings(interval: u32, event_day: NaiveDate, morning: f64) -> Series {
    load(tz(), date(2026, 6, 1), event_day, interval, move |t| {
        if t.date_naive() == event_day {
            if t.hour() < 15 {
                morning
            } else {
                3.0
            }
        } else {
            f64::from(t.day())
        }
    })
}

fn august_event(interval: u32, morning: f64) -> BaselineRequest {
    let day = date(2026, 8, 20);
    let start = local_time(tz(), day, 15, 0);
    baseline_with(
        meter(),
        start,
        start + 3600,
        readings(interval, day, morning),
    )
}

#[test]
fn middle_8_of_10_with_the_additive_adjustment() {
    // Weekdays before Thu Aug 20: 19 18 17 14 13 12 11 10 7 6. Per interval drop 19
    // and 6: (18+17+14+13+12+11+10+7)/8 = 102/8 = 12.75 kW.
    // Adjustment over 13:00–14:00: actual 14.75 − 12.75 = +2 → 14.75 kW.
    let b = Ers::baseline(&params(), &august_event(900, 14.75)).unwrap();
    assert_eq!(b.interval_seconds, 900);
    assert_eq!(b.kw, [14.75; 4]);
    assert_eq!(b.days_used.len(), 10);
    assert!(b.notes[0].contains("+2.000"), "{:?}", b.notes);
    // A low morning lowers it: 10.75 − 12.75 = −2 → 10.75 kW.
    let b = Ers::baseline(&params(), &august_event(900, 10.75)).unwrap();
    assert_eq!(b.kw, [10.75; 4]);
}

#[test]
fn five_minute_data_gives_the_same_15_minute_baseline_and_hourly_data_is_refused() {
    let a = Ers::baseline(&params(), &august_event(900, 14.75)).unwrap();
    let b = Ers::baseline(&params(), &august_event(300, 14.75)).unwrap();
    for (x, y) in a.kw.iter().zip(&b.kw) {
        assert!((x - y).abs() < 1e-9);
    }
    assert!(matches!(
        Ers::baseline(&params(), &august_event(3600, 14.75)),
        Err(RuleError::InvalidInput(m)) if m.contains("15 minutes")
    ));
}

#[test]
fn weekend_events_use_weekends_and_holidays() {
    // Saturday Sep 12: Labor Day (Mon Sep 7) is a like day, Friday Sep 11 is not.
    let day = date(2026, 9, 12);
    let start = local_time(tz(), day, 15, 0);
    let b = Ers::baseline(
        &params(),
        &baseline_with(meter(), start, start + 3600, readings(900, day, 5.0)),
    )
    .unwrap();
    assert_eq!(b.days_used.len(), 10);
    assert!(b.days_used.contains(&"2026-09-07".to_string()));
    assert!(!b.days_used.contains(&"2026-09-11".to_string()));
}

#[test]
fn missing_data_is_insufficient_history() {
    // Data from Aug 10 only: weekdays 19 18 17 14 13 12 11 10 → 8 of 10.
    let mut req = august_event(900, 14.75);
    let cutoff = local_time(tz(), date(2026, 8, 10), 0, 0);
    drop_where(&mut req.readings, |s| s < cutoff);
    assert_eq!(
        Ers::baseline(&params(), &req).unwrap_err(),
        RuleError::InsufficientHistory("found 8 of 10 required weekday like days".into())
    );
}

#[test]
fn an_event_in_the_repeated_hour_of_the_fall_dst_day() {
    // Sunday Nov 1, 2026, 01:00–02:00 local lasts two real hours: 8 intervals.
    // The adjustment window (23:00–00:00) lies on the day before.
    let fall = date(2026, 11, 1);
    let (start, end) = (local_time(tz(), fall, 1, 0), local_time(tz(), fall, 2, 0));
    assert_eq!(end - start, 7200);
    let readings = load(tz(), date(2026, 8, 1), fall, 900, |_| 4.0);
    let b = Ers::baseline(&params(), &baseline_with(meter(), start, end, readings)).unwrap();
    assert_eq!(b.kw, [4.0; 8]);
}

#[test]
fn partial_intervals_and_negative_reduction() {
    // Event 15:05–15:50: the 15:00 interval counts 2/3, 15:45 counts 1/3.
    let day = date(2026, 8, 20);
    let (start, end) = (local_time(tz(), day, 15, 5), local_time(tz(), day, 15, 50));
    let req = baseline_with(meter(), start, end, readings(900, day, 12.75));
    let b = Ers::baseline(&params(), &req).unwrap();
    assert_eq!(b.starts.len(), 4);
    // Baseline 12.75, actual 3 kW → 9.75 kW reduction.
    let d = delivered(&b, &req.readings, start, end).unwrap();
    assert!((d.kw - 9.75).abs() < 1e-9);
    assert!((d.kwh - 9.75 * 0.75).abs() < 1e-9);
    // A 2 kW morning pulls the baseline down to 2 kW; actual 3 kW is a −1 kW reduction.
    let req = baseline_with(meter(), start, end, readings(900, day, 2.0));
    let b = Ers::baseline(&params(), &req).unwrap();
    let d = delivered(&b, &req.readings, start, end).unwrap();
    assert!((d.kw + 1.0).abs() < 1e-9);
}

fn tp4_meter() -> Meter {
    let mut m = meter();
    m.attributes_json = r#"{"ersTimePeriods": ["TP4"], "ersServiceType": "ERS-30"}"#.into();
    m
}

#[test]
fn settlement_over_contracted_hours_with_the_95_percent_threshold() {
    // Jun 1–Sep 30, 2026 weekdays: June 22, July 23, August 21, September 22 = 88,
    // less Labor Day = 87 days × TP4's 4 h = 348 h. (July 4 is a Saturday.)
    // 150 kW = 0.15 MW × 348 h × $5.00 = $261.00.
    let at = local_time(tz(), date(2026, 7, 15), 17, 0);
    let req = |kw| {
        settlement_for(
            tp4_meter(),
            "2026-06-01",
            "2026-09-30",
            150.0,
            vec![event_at("e", at, at + 3600, 150.0, kw)],
        )
    };
    let s = Ers::settle(&params(), &req(145.0)).unwrap(); // 96.7% ≥ 95% → 1
    assert_eq!(s.line_items[0].amount, "261.00");
    assert_eq!(s.line_items[0].quantity, 52.2);
    // 140 kW is 93.3%: factor 0.9333 → 0.14 MW × 348 h × $5 = $243.60.
    let s = Ers::settle(&params(), &req(140.0)).unwrap();
    assert_eq!(s.line_items[0].amount, "243.60");
}

#[test]
fn three_failed_tests_in_365_days_zero_the_term() {
    let test = |m, d| {
        let at = local_time(tz(), date(2026, m, d), 10, 0);
        let mut e = event_at(&format!("t{m}"), at, at + 3600, 150.0, 50.0);
        e.event_type = "TEST".into();
        e
    };
    // Failed tests in Nov 2025, Feb 2026 and Jul 2026 (within 365 days of Sep 30).
    let mut events = vec![test(2, 10), test(7, 10)];
    let mut old = test(11, 10);
    old.start -= 365 * 86_400;
    old.end -= 365 * 86_400;
    assert_eq!(local_date(old.start, tz()).year(), 2025);
    events.push(old);
    let s = Ers::settle(
        &params(),
        &settlement_for(
            tp4_meter(),
            "2026-06-01",
            "2026-09-30",
            150.0,
            events.clone(),
        ),
    )
    .unwrap();
    assert_eq!(s.line_items[0].amount, "0.00");
    assert!(s.notes.iter().any(|n| n.contains("3 failed tests")));
    // Two failed tests: only the term's own test counts toward the factor (50/150 → 0.3333).
    events.pop();
    let s = Ers::settle(
        &params(),
        &settlement_for(tp4_meter(), "2026-06-01", "2026-09-30", 150.0, events),
    )
    .unwrap();
    // 50 kW = 0.05 MW × 348 h × $5 = $87.00
    assert_eq!(s.line_items[0].amount, "87.00");
}

#[test]
fn eligibility_reasons_and_fixes() {
    assert!(
        Ers::eligibility(&params(), &enrollment(tp4_meter(), Some(150.0)))
            .unwrap()
            .eligible
    );
    let mut m = meter();
    m.esi_id = None;
    m.load_zone = Some("LZ_NOWHERE".into());
    m.attributes_json = r#"{"ersServiceType": "ERS-60", "ersTimePeriods": ["TP9"]}"#.into();
    let verdict = Ers::eligibility(&params(), &enrollment(m, Some(150.0))).unwrap();
    let codes = codes(&verdict);
    assert_eq!(
        codes,
        [
            "ESI_ID_MISSING",
            "LOAD_ZONE_NOT_ELIGIBLE",
            "SERVICE_TYPE_NOT_OFFERED",
            "TIME_PERIOD_NOT_OFFERED"
        ]
    );
}

#[test]
fn offers_are_whole_kw() {
    let p = |kw| PortfolioMember {
        meter_id: "m".into(),
        committed_kw: kw,
    };
    assert!(
        Ers::portfolio(&params(), &[p(99.6), p(0.5)])
            .unwrap()
            .eligible
    ); // 100.1 → 100
    let e = Ers::portfolio(&params(), &[p(99.9)]).unwrap(); // → 99
    assert_eq!(e.reasons[0].code, "PORTFOLIO_TOO_SMALL");
}
