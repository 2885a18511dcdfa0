//! Hand-computed SCR cases: peak-hour loads are chosen so the top 20 of 40 are
//! 21…40 kW, whose mean is 30.5 kW.

use super::*;
use gridhub_plugin_sdk::chrono::{Datelike, Timelike, Utc};
use gridhub_plugin_sdk::chrono_tz::Tz;
use gridhub_plugin_sdk::performance::delivered;
use gridhub_plugin_sdk::testing::{
    amounts, baseline_with, codes, date, drop_where, enrollment, event_at, load, local_time,
    params_from, settlement_for, utility_meter,
};
use gridhub_plugin_sdk::time::zone;
use gridhub_plugin_sdk::{serde_json, Meter, Params, Series};

fn tz() -> Tz {
    zone("America/New_York").unwrap()
}

fn meter() -> Meter {
    let mut m = utility_meter("m1", "NY", "NYISO", "CONED");
    m.load_zone = Some("J".into());
    m
}

fn rfc3339(ts: i64) -> String {
    gridhub_plugin_sdk::chrono::DateTime::<Utc>::from_timestamp(ts, 0)
        .unwrap()
        .to_rfc3339()
}

/// Zone J peaks: 15:00 and 16:00 local on July 1–20, 2025 (40 hours), plus
/// 40 hours of summer 2024 and 40 of winter 2025/26 that must not be mixed in.
fn params() -> Params {
    let mut peaks = Vec::new();
    for year in [2024, 2025] {
        for day in 1..=20 {
            for hour in [15, 16] {
                peaks.push(rfc3339(local_time(tz(), date(year, 7, day), hour, 0)));
            }
        }
    }
    for day in 5..=24 {
        for hour in [18, 19] {
            peaks.push(rfc3339(local_time(tz(), date(2026, 1, day), hour, 0)));
        }
    }
    let mut p: serde_json::Value = serde_json::from_str(include_str!("../params.json")).unwrap();
    p["peak_hours"] = serde_json::json!({ "J": peaks });
    params_from(&p.to_string())
}

/// July 2025 load: 15:00 → day of month kW, 16:00 → day + 20 kW, else 1 kW.
/// Summer 2024 peaks carry 1,000 kW (they must be ignored).
fn history(interval: u32) -> Series {
    let mut s = load(tz(), date(2024, 7, 1), date(2024, 7, 20), interval, |_| {
        1000.0
    });
    let recent = load(
        tz(),
        date(2025, 7, 1),
        date(2025, 7, 31),
        interval,
        |t| match t.hour() {
            15 => f64::from(t.day()),
            16 => f64::from(t.day() + 20),
            _ => 1.0,
        },
    );
    s.starts.extend(recent.starts);
    s.values.extend(recent.values);
    s
}

fn july_event(interval: u32) -> BaselineRequest {
    let day = date(2026, 7, 15);
    let (start, end) = (local_time(tz(), day, 14, 0), local_time(tz(), day, 17, 0));
    baseline_with(meter(), start, end, history(interval))
}

#[test]
fn acl_is_the_mean_of_the_top_20_of_the_prior_year_peaks() {
    // Top 20 of 1…40 kW are 21…40: (21+40)/2 = 30.5 kW, flat over 3 event hours.
    let b = Scr::baseline(&params(), &july_event(3600)).unwrap();
    assert_eq!(b.kw, [30.5, 30.5, 30.5]);
    assert_eq!(b.days_used.len(), 20);
    assert_eq!(b.days_used[0], "2025-07-01");
    assert!(b.method.contains("top 20 of 40"));
}

#[test]
fn quarter_hour_and_hourly_data_give_the_same_acl() {
    let a = Scr::baseline(&params(), &july_event(3600)).unwrap();
    let b = Scr::baseline(&params(), &july_event(900)).unwrap();
    assert_eq!(a.kw, b.kw);
}

#[test]
fn fewer_than_20_peak_hours_with_data_is_insufficient_history() {
    let mut req = july_event(3600);
    // Drop every 15:00 reading and the 16:00 of July 20, 2025: 19 peak hours remain.
    let last = local_time(tz(), date(2025, 7, 20), 16, 0);
    drop_where(&mut req.readings, |s| {
        let local = gridhub_plugin_sdk::chrono::DateTime::from_timestamp(s, 0)
            .unwrap()
            .with_timezone(&tz());
        (local.year() == 2025 && local.hour() == 15) || s == last
    });
    assert_eq!(
        Scr::baseline(&params(), &req).unwrap_err(),
        RuleError::InsufficientHistory("found 19 of 20 required peak hours with data".into())
    );
}

#[test]
fn a_zone_without_its_40_peak_hours_is_a_parameter_error() {
    let mut req = july_event(3600);
    req.meter.load_zone = Some("K".into());
    assert!(
        matches!(Scr::baseline(&params(), &req), Err(RuleError::InvalidParameters(m)) if m.contains("zone K"))
    );
    // Summer 2027 looks for summer 2026 peaks, which are not listed.
    let start = local_time(tz(), date(2027, 7, 15), 14, 0);
    let req = baseline_with(meter(), start, start + 3600, history(3600));
    assert!(
        matches!(Scr::baseline(&params(), &req), Err(RuleError::InvalidParameters(m)) if m.contains("0 peak hours"))
    );
}

#[test]
fn winter_events_use_the_prior_winter_and_the_fall_dst_day_has_four_hours() {
    // Event Sunday Nov 1, 2026 00:00–03:00 local (4 real hours): winter period
    // starting 2026-11-01 → peaks of the winter starting 2025-11-01 (January 2026).
    let fall = date(2026, 11, 1);
    let (start, end) = (local_time(tz(), fall, 0, 0), local_time(tz(), fall, 3, 0));
    let winter = load(tz(), date(2026, 1, 5), date(2026, 1, 24), 3600, |t| {
        if t.hour() == 18 {
            10.0
        } else {
            20.0
        }
    });
    let b = Scr::baseline(
        &params(),
        &baseline_with(meter(), start, end, winter.clone()),
    )
    .unwrap();
    // Top 20 of (20 × 10 kW, 20 × 20 kW) = 20 kW.
    assert_eq!(b.kw, [20.0; 4]);
    // Sunday Mar 14, 2027 01:00–04:00 local spans the spring change: 2 real hours.
    let spring = date(2027, 3, 14);
    let (start, end) = (
        local_time(tz(), spring, 1, 0),
        local_time(tz(), spring, 4, 0),
    );
    assert_eq!(end - start, 2 * 3600);
    let b = Scr::baseline(&params(), &baseline_with(meter(), start, end, winter)).unwrap();
    assert_eq!(b.kw, [20.0; 2]);
}

#[test]
fn partial_hours_and_negative_reduction_against_the_flat_acl() {
    let day = date(2026, 7, 15);
    let (start, end) = (local_time(tz(), day, 14, 30), local_time(tz(), day, 15, 30));
    let mut req = baseline_with(meter(), start, end, history(900));
    let b = Scr::baseline(&params(), &req).unwrap();
    assert_eq!(b.starts.len(), 2);
    // Actual 40.5 kW during the event: 30.5 − 40.5 = −10 kW.
    let actual = load(tz(), day, day, 900, |_| 40.5);
    req.readings = actual;
    let d = delivered(&b, &req.readings, start, end).unwrap();
    assert!((d.kw + 10.0).abs() < 1e-9);
}

#[test]
fn settlement_strip_capacity_and_energy_with_the_4_hour_minimum() {
    let at = |d, h| local_time(tz(), date(2026, 7, d), h, 0);
    let mut e1 = event_at("e1", at(8, 14), at(8, 16), 200.0, 150.0); // factor 0.75
    e1.energy_price = Some("0.80".into());
    let mut e2 = event_at("t1", at(9, 14), at(9, 15), 200.0, 200.0); // factor 1
    e2.event_type = "TEST".into();
    let mut e3 = event_at("e3", at(20, 12), at(20, 17), 200.0, 100.0); // factor 0.5, 5 h
    e3.energy_price = Some("0.30".into());
    let req = settlement_for(meter(), "2026-07-01", "2026-07-31", 200.0, vec![e1, e2, e3]);
    let s = Scr::settle(&params(), &req).unwrap();
    let amounts = amounts(&s);
    // Factor (0.75 + 1 + 0.5)/3 = 0.75 → $3.00 × 200 kW × 0.75 = $450.00.
    // e1: 150 kW × max(2 h, 4 h) × max($0.50, $0.80) = 600 kWh × 0.80 = $480.00.
    // e3: 100 kW × 5 h × max($0.50, $0.30) = 500 kWh × 0.50 = $250.00. The test pays no energy.
    assert_eq!(
        amounts,
        [
            ("CAPACITY", "450.00"),
            ("ENERGY", "480.00"),
            ("ENERGY", "250.00")
        ]
    );
    assert!(s.notes.iter().any(|n| n.contains("t1 is a test")));
}

#[test]
fn eligibility_reasons_and_fixes() {
    assert!(
        Scr::eligibility(&params(), &enrollment(meter(), Some(150.0)))
            .unwrap()
            .eligible
    );
    let mut m = meter();
    m.load_zone = None;
    m.authorization_status = "PENDING".into();
    m.attributes_json = r#"{"intervalMeter": false}"#.into();
    let e = Scr::eligibility(&params(), &enrollment(m, Some(150.0))).unwrap();
    let codes = codes(&e);
    assert_eq!(
        codes,
        [
            "LOAD_ZONE_NOT_ELIGIBLE",
            "NOT_AN_INTERVAL_METER",
            "AUTHORIZATION_REQUIRED"
        ]
    );
    let p = |kw| gridhub_plugin_sdk::PortfolioMember {
        meter_id: "m".into(),
        committed_kw: kw,
    };
    assert!(!Scr::portfolio(&params(), &[p(99.0)]).unwrap().eligible);
    assert!(
        Scr::portfolio(&params(), &[p(60.0), p(40.0)])
            .unwrap()
            .eligible
    );
}
