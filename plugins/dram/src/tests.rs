//! Hand-computed DRAM cases. Like-day loads are the day of the month in kW, so
//! every mean below can be checked with pencil and paper.

use super::*;
use chrono::{Datelike, Timelike};
use gridhub_plugin_sdk::performance::delivered;
use gridhub_plugin_sdk::testing::{
    amounts, baseline_with, codes, date, drop_where, enrollment, event_at, load, local_time,
    params_from, settlement_for, utility_meter,
};
use gridhub_plugin_sdk::time::zone;
use gridhub_plugin_sdk::{Measure, Meter, PortfolioMember, Series};

fn params() -> Params {
    params_from(include_str!("../params.json"))
}

fn tz() -> gridhub_plugin_sdk::chrono_tz::Tz {
    zone("America/Los_Angeles").unwrap()
}

fn meter() -> Meter {
    utility_meter("m1", "CA", "CAISO", "PGE")
}

/// Day-of-month kW on every day before the event day; on the event day
/// `morning` kW until noon-ish (the adjustment window) and `during` after.
fn readings(interval: u32, event_day: chrono::NaiveDate, morning: f64, during: f64) -> Series {
    load(tz(), date(2026, 7, 1), event_day, interval, move |t| {
        if t.date_naive() == event_day {
            if t.hour() < 14 {
                morning
            } else {
                during
            }
        } else {
            f64::from(t.day())
        }
    })
}

fn thursday_event(interval: u32, morning: f64) -> (i64, i64, BaselineRequest) {
    let day = date(2026, 8, 20);
    let (start, end) = (local_time(tz(), day, 14, 0), local_time(tz(), day, 16, 0));
    let req = baseline_with(meter(), start, end, readings(interval, day, morning, 10.0));
    (start, end, req)
}

#[test]
fn ten_in_ten_with_the_adjustment_clamped_at_20_percent() {
    // Weekdays before Thu Aug 20: 19 18 17 14 13 12 11 10 7 6 → mean 127/10 = 12.7 kW.
    // Adjustment 10:00–13:00: actual 16 ÷ 12.7 = 1.2598 → clamped 1.2 → 15.24 kW.
    let (_, _, req) = thursday_event(3600, 16.0);
    let b = Dram::baseline(&params(), &req).unwrap();
    assert_eq!(b.days_used.len(), 10);
    assert_eq!(b.days_used[0], "2026-08-19");
    assert_eq!(b.days_used[9], "2026-08-06");
    assert_eq!(b.kw.len(), 2);
    for kw in &b.kw {
        assert!((kw - 15.24).abs() < 1e-9, "{kw}");
    }
    assert!(b.notes[0].contains("applied 1.2000"), "{:?}", b.notes);
    assert_eq!(b.measure, Measure::LoadReduction);
}

#[test]
fn residential_meters_clamp_at_40_percent() {
    // Same day, residential: 1.2598 is inside ±40% → 12.7 × 16/12.7 = 16 kW.
    let (_, _, mut req) = thursday_event(3600, 16.0);
    req.meter.customer_class = Some("RESIDENTIAL".into());
    let b = Dram::baseline(&params(), &req).unwrap();
    assert!((b.kw[0] - 16.0).abs() < 1e-9, "{:?}", b.kw);
}

#[test]
fn quarter_hour_and_hourly_data_give_the_same_baseline() {
    let hourly = Dram::baseline(&params(), &thursday_event(3600, 14.0).2).unwrap();
    let quarters = Dram::baseline(&params(), &thursday_event(900, 14.0).2).unwrap();
    assert_eq!(hourly.starts, quarters.starts);
    for (a, b) in hourly.kw.iter().zip(&quarters.kw) {
        assert!((a - b).abs() < 1e-9);
    }
    // 14 ÷ 12.7 is inside the clamp: the baseline equals the morning load.
    assert!((hourly.kw[0] - 14.0).abs() < 1e-9);
}

#[test]
fn weekend_events_use_4_in_4() {
    // Sunday Aug 23: Sat 22, Sun 16, Sat 15, Sun 9 → (22+16+15+9)/4 = 15.5 kW; morning 15.5 → ratio 1.
    let day = date(2026, 8, 23);
    let start = local_time(tz(), day, 14, 0);
    let req = baseline_with(
        meter(),
        start,
        start + 3600,
        readings(3600, day, 15.5, 10.0),
    );
    let b = Dram::baseline(&params(), &req).unwrap();
    assert_eq!(
        b.days_used,
        ["2026-08-22", "2026-08-16", "2026-08-15", "2026-08-09"]
    );
    assert!((b.kw[0] - 15.5).abs() < 1e-9);
    assert!(b.method.starts_with("4-in-4"));
}

#[test]
fn holidays_and_event_days_are_not_like_days() {
    // Tue Sep 8 after Labor Day (Mon Sep 7); Sep 3 was an event day.
    let day = date(2026, 9, 8);
    let start = local_time(tz(), day, 14, 0);
    let mut req = baseline_with(
        meter(),
        start,
        start + 3600,
        readings(3600, day, 10.0, 10.0),
    );
    req.event_days = vec!["2026-09-03".into()];
    let b = Dram::baseline(&params(), &req).unwrap();
    assert!(!b.days_used.contains(&"2026-09-07".to_string()));
    assert!(!b.days_used.contains(&"2026-09-03".to_string()));
    assert_eq!(b.days_used[0], "2026-09-04");
    assert_eq!(b.days_used[1], "2026-09-02");
}

#[test]
fn missing_data_is_a_typed_insufficient_history_error() {
    // Only Aug 17–19 have data (3 weekdays): 3 of 5 required.
    let (_, _, mut req) = thursday_event(3600, 14.0);
    let cutoff = local_time(tz(), date(2026, 8, 17), 0, 0);
    drop_where(&mut req.readings, |s| s < cutoff);
    assert_eq!(
        Dram::baseline(&params(), &req).unwrap_err(),
        RuleError::InsufficientHistory("found 3 of 5 required weekday like days".into())
    );
    // A gap in one like day's event hours drops just that day (9 left + Aug 5 fills in).
    let (_, _, mut req) = thursday_event(3600, 14.0);
    let gap = local_time(tz(), date(2026, 8, 18), 15, 0);
    drop_where(&mut req.readings, |s| s == gap);
    let b = Dram::baseline(&params(), &req).unwrap();
    assert!(!b.days_used.contains(&"2026-08-18".to_string()));
    assert_eq!(b.days_used.last().unwrap(), "2026-08-05");
    assert!(b.notes.iter().any(|n| n.contains("2026-08-18")));
}

#[test]
fn dst_days_serve_as_like_days_and_events_on_them_span_25_hours() {
    // Saturday Mar 14, 2026: Sun Mar 8 (23 hours) is one of the 4 like days.
    let day = date(2026, 3, 14);
    let start = local_time(tz(), day, 14, 0);
    let readings = load(tz(), date(2026, 2, 1), day, 3600, |_| 5.0);
    let b = Dram::baseline(
        &params(),
        &baseline_with(meter(), start, start + 3600, readings),
    )
    .unwrap();
    assert_eq!(
        b.days_used,
        ["2026-03-08", "2026-03-07", "2026-03-01", "2026-02-28"]
    );
    // Sunday Nov 1, 2026, 00:00–03:00 local is four real hours (1am twice).
    let fall = date(2026, 11, 1);
    let (start, end) = (local_time(tz(), fall, 0, 0), local_time(tz(), fall, 3, 0));
    assert_eq!(end - start, 4 * 3600);
    let readings = load(tz(), date(2026, 9, 20), fall, 3600, |_| 5.0);
    let b = Dram::baseline(&params(), &baseline_with(meter(), start, end, readings)).unwrap();
    assert_eq!(b.kw.len(), 4);
    assert!(b.kw.iter().all(|kw| (kw - 5.0).abs() < 1e-9));
}

#[test]
fn partial_hour_events_and_negative_reduction() {
    // Event 14:30–15:30; baseline hours 14 and 15 at 14 kW (ratio 1).
    let day = date(2026, 8, 20);
    let (start, end) = (local_time(tz(), day, 14, 30), local_time(tz(), day, 15, 30));
    let req = baseline_with(meter(), start, end, readings(900, day, 14.0, 10.0));
    let b = Dram::baseline(&params(), &req).unwrap();
    assert_eq!(b.starts, [start - 1800, start + 1800]);
    // Actual 10 kW: each half hour reduces 4 kW → delivered 4 kW, 4 kWh.
    let d = delivered(&b, &req.readings, start, end).unwrap();
    assert!((d.kw - 4.0).abs() < 1e-9 && (d.kwh - 4.0).abs() < 1e-9);
    // Actual 20 kW during: delivered −6 kW, reported as is.
    let req = baseline_with(meter(), start, end, readings(900, day, 14.0, 20.0));
    let b = Dram::baseline(&params(), &req).unwrap();
    let d = delivered(&b, &req.readings, start, end).unwrap();
    assert!((d.kw + 6.0).abs() < 1e-9);
}

#[test]
fn settlement_capacity_on_demonstrated_kw_and_energy_at_event_prices() {
    let day = |d| local_time(tz(), date(2026, 8, d), 14, 0);
    let mut first = event_at("e1", day(5), day(5) + 2 * 3600, 200.0, 150.0); // 300 kWh
    first.energy_price = Some("0.25".into());
    let second = event_at("e2", day(19), day(19) + 2 * 3600, 200.0, 170.0); // 340 kWh
    let req = settlement_for(
        meter(),
        "2026-08-01",
        "2026-08-31",
        200.0,
        vec![first, second],
    );
    let s = Dram::settle(&params(), &req).unwrap();
    let amounts = amounts(&s);
    // Capacity: $6.00 × min(200, (150+170)/2 = 160) = $960.00.
    // Energy: 300 kWh × $0.25 = $75.00; 340 kWh × default $0.10 = $34.00.
    assert_eq!(
        amounts,
        [
            ("CAPACITY", "960.00"),
            ("ENERGY", "75.00"),
            ("ENERGY", "34.00")
        ]
    );
}

#[test]
fn settlement_without_events_pays_contracted_and_negative_pays_nothing() {
    let req = settlement_for(meter(), "2026-09-01", "2026-09-15", 200.0, vec![]);
    let s = Dram::settle(&params(), &req).unwrap();
    // $6.00 × 200 kW × 15/30 = $600.00
    assert_eq!(s.line_items[0].amount, "600.00");
    assert!(s.notes[0].contains("no events"));
    let start = local_time(tz(), date(2026, 9, 2), 14, 0);
    let req = settlement_for(
        meter(),
        "2026-09-01",
        "2026-09-30",
        200.0,
        vec![event_at("e", start, start + 3600, 200.0, -20.0)],
    );
    let s = Dram::settle(&params(), &req).unwrap();
    assert_eq!(s.line_items[0].amount, "0.00");
    assert_eq!(s.line_items[1].amount, "0.00");
}

#[test]
fn eligibility_reasons_and_fixes() {
    assert!(
        Dram::eligibility(&params(), &enrollment(meter(), Some(150.0)))
            .unwrap()
            .eligible
    );
    let mut m = meter();
    m.utility = Some("LADWP".into());
    m.authorization_status = "NOT_AUTHORIZED".into();
    let mut r = enrollment(m, Some(150.0));
    r.other_enrollments = vec!["CA_ELRP".into()];
    let e = Dram::eligibility(&params(), &r).unwrap();
    let codes = codes(&e);
    assert_eq!(
        codes,
        [
            "UTILITY_NOT_ELIGIBLE",
            "AUTHORIZATION_REQUIRED",
            "DUAL_PARTICIPATION"
        ]
    );
    let battery = gridhub_plugin_sdk::testing::battery("b");
    let e = Dram::eligibility(&params(), &enrollment(battery, Some(5.0))).unwrap();
    assert_eq!(e.reasons[0].code, "NOT_A_UTILITY_METER");
}

#[test]
fn portfolio_between_100_kw_and_10_mw() {
    let m = |kw| PortfolioMember {
        meter_id: "m".into(),
        committed_kw: kw,
    };
    assert!(
        !Dram::portfolio(&params(), &[m(60.0), m(30.0)])
            .unwrap()
            .eligible
    );
    assert!(
        Dram::portfolio(&params(), &[m(60.0), m(40.0)])
            .unwrap()
            .eligible
    );
    assert_eq!(
        Dram::portfolio(&params(), &[m(10_001.0)]).unwrap().reasons[0].code,
        "PORTFOLIO_TOO_LARGE"
    );
}
