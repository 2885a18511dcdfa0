//! Hand-computed DLRP cases. Like-day loads are the day of the month in kW.

use super::*;
use gridhub_plugin_sdk::chrono::{Datelike, NaiveDate, Timelike};
use gridhub_plugin_sdk::chrono_tz::Tz;
use gridhub_plugin_sdk::testing::{
    amounts, baseline_with, codes, date, drop_where, enrollment, event_at, load, local_time,
    params_from, settlement_for, utility_meter,
};
use gridhub_plugin_sdk::time::zone;
use gridhub_plugin_sdk::{serde_json, Meter, Series};

fn params() -> Params {
    params_from(include_str!("../params.json"))
}

fn params_with(key: &str, value: serde_json::Value) -> Params {
    let mut p: serde_json::Value = serde_json::from_str(include_str!("../params.json")).unwrap();
    p[key] = value;
    params_from(&p.to_string())
}

fn tz() -> Tz {
    zone("America/New_York").unwrap()
}

fn meter(tier: &str) -> Meter {
    let mut m = utility_meter("m1", "NY", "NYISO", "CONED");
    m.network_tier = Some(tier.into());
    m.load_zone = Some("J".into());
    m
}

/// Day-of-month kW, 1 kW on Aug 17; on the event day `morning` before 14:00.
fn readings(interval: u32, event_day: NaiveDate, morning: f64) -> Series {
    load(tz(), date(2026, 7, 1), event_day, interval, move |t| {
        let day = t.date_naive();
        if day == event_day {
            if t.hour() < 14 {
                morning
            } else {
                5.0
            }
        } else if day == date(2026, 8, 17) {
            1.0
        } else {
            f64::from(t.day())
        }
    })
}

fn august_event(interval: u32, morning: f64) -> BaselineRequest {
    let day = date(2026, 8, 20);
    let (start, end) = (local_time(tz(), day, 14, 0), local_time(tz(), day, 16, 0));
    baseline_with(
        meter("TIER_1"),
        start,
        end,
        readings(interval, day, morning),
    )
}

#[test]
fn high_5_of_10_drops_low_usage_days_and_adjusts_for_weather() {
    // Candidates (weekdays before Thu Aug 20): 19 18 17 14 13 12 11 10 7 6, window means
    // 19 18 1 14 13 12 11 10 7 6 → mean 11.1; 25% = 2.775 → Aug 17 dropped.
    // Highest 5: 19 18 14 13 12 → CBL (19+18+14+13+12)/5 = 15.2 kW.
    // Weather: actual 16.72 over 10:00–12:00 ÷ 15.2 = 1.1 → 16.72 kW.
    let b = Dlrp::baseline(&params(), &august_event(3600, 16.72)).unwrap();
    assert_eq!(
        b.days_used,
        [
            "2026-08-19",
            "2026-08-18",
            "2026-08-14",
            "2026-08-13",
            "2026-08-12"
        ]
    );
    for kw in &b.kw {
        assert!((kw - 16.72).abs() < 1e-9, "{kw}");
    }
    assert!(b
        .notes
        .iter()
        .any(|n| n.contains("low-usage days dropped: 2026-08-17")));
    // Without the weather adjustment the CBL stands: 15.2 kW.
    let b = Dlrp::baseline(
        &params_with("weather_adjustment", false.into()),
        &august_event(3600, 16.72),
    )
    .unwrap();
    assert!((b.kw[0] - 15.2).abs() < 1e-9);
    // A hot morning is clamped at +20%: 15.2 × 1.2 = 18.24 kW.
    let b = Dlrp::baseline(&params(), &august_event(3600, 40.0)).unwrap();
    assert!((b.kw[0] - 18.24).abs() < 1e-9);
}

#[test]
fn quarter_hour_and_hourly_data_give_the_same_cbl() {
    let a = Dlrp::baseline(&params(), &august_event(3600, 16.0)).unwrap();
    let b = Dlrp::baseline(&params(), &august_event(900, 16.0)).unwrap();
    assert_eq!(a.days_used, b.days_used);
    for (x, y) in a.kw.iter().zip(&b.kw) {
        assert!((x - y).abs() < 1e-9);
    }
}

#[test]
fn the_lookback_extends_to_60_days_and_then_history_is_insufficient() {
    // No data Jul 27–Aug 14: 19 18 17, then Jul 24 23 22 21 20 17 16 (35 days back).
    let mut req = august_event(3600, 16.0);
    let (gap_from, gap_to) = (
        local_time(tz(), date(2026, 7, 27), 0, 0),
        local_time(tz(), date(2026, 8, 15), 0, 0),
    );
    drop_where(&mut req.readings, |s| s >= gap_from && s < gap_to);
    let b = Dlrp::baseline(&params_with("weather_adjustment", false.into()), &req).unwrap();
    assert!(
        b.notes
            .iter()
            .any(|n| n.contains("lookback extended beyond 30 days to 2026-07-16")),
        "{:?}",
        b.notes
    );
    // Data only from Aug 10: 8 weekdays.
    let mut req = august_event(3600, 16.0);
    let cutoff = local_time(tz(), date(2026, 8, 10), 0, 0);
    drop_where(&mut req.readings, |s| s < cutoff);
    assert_eq!(
        Dlrp::baseline(&params(), &req).unwrap_err(),
        RuleError::InsufficientHistory("found 8 of 10 required weekday CBL days".into())
    );
}

#[test]
fn hours_align_by_local_clock_across_the_spring_dst_change() {
    // Load = local hour of day. Monday Mar 9, 2026 follows the spring change; its like
    // days are in standard time. The 14:00 baseline must be 14 kW, not 13 or 15.
    let day = date(2026, 3, 9);
    let start = local_time(tz(), day, 14, 0);
    let readings = load(tz(), date(2026, 1, 20), day, 900, |t| f64::from(t.hour()));
    let req = baseline_with(meter("TIER_1"), start, start + 3600, readings);
    let b = Dlrp::baseline(&params_with("weather_adjustment", false.into()), &req).unwrap();
    assert_eq!(b.kw, [14.0]);
    assert_eq!(b.days_used[0], "2026-03-06");
}

#[test]
fn published_check_100_kw_tier_1_is_18000_over_10_months() {
    // 100 kW × $18/kW-month: the default May–Sep season pays 5 months = $9,000.
    let s = Dlrp::settle(
        &params(),
        &settlement_for(meter("TIER_1"), "2026-05-01", "2026-09-30", 100.0, vec![]),
    )
    .unwrap();
    assert_eq!(s.line_items.len(), 5);
    assert!(s.line_items.iter().all(|l| l.amount == "1800.00"));
    // Con Edison's "up to $18,000 a year for every 100 kW" is 100 × 18 × 10: it assumes
    // 10 paid months, reproduced by a 10-month season parameter.
    let ten = params_with(
        "seasons",
        serde_json::json!([{"name": "summer", "start": "01-01", "end": "10-31"}]),
    );
    let s = Dlrp::settle(
        &ten,
        &settlement_for(meter("TIER_1"), "2026-01-01", "2026-10-31", 100.0, vec![]),
    )
    .unwrap();
    let total: rust_decimal::Decimal = s
        .line_items
        .iter()
        .map(|l| l.amount.parse::<rust_decimal::Decimal>().unwrap())
        .sum();
    assert_eq!(total.to_string(), "18000.00");
}

#[test]
fn settlement_performance_factor_fifth_event_bonus_and_energy() {
    // Tier 2, 100 kW pledged; one-hour events delivering 80, 100, 90, 110, 70 kW:
    // factors 0.8 1 0.9 1 0.7 → 0.88 → 88 kW. Reservation $25 × 88 = $2,200 per month,
    // June–September (October is out of season). The 5th event is Aug 19: bonus
    // $5 × 88 = $440 in August and September. Energy $1 × kWh per event.
    let at = |m, d| local_time(tz(), date(2026, m, d), 15, 0);
    let events = [
        (6, 10, 80.0),
        (7, 8, 100.0),
        (7, 22, 90.0),
        (8, 5, 110.0),
        (8, 19, 70.0),
    ]
    .iter()
    .enumerate()
    .map(|(i, (m, d, kw))| event_at(&format!("e{i}"), at(*m, *d), at(*m, *d) + 3600, 100.0, *kw))
    .collect();
    let req = settlement_for(meter("TIER_2"), "2026-06-01", "2026-10-31", 100.0, events);
    let s = Dlrp::settle(&params(), &req).unwrap();
    let lines = amounts(&s);
    assert_eq!(
        lines,
        [
            ("RESERVATION", "2200.00"),
            ("RESERVATION", "2200.00"),
            ("RESERVATION", "2200.00"),
            ("FIFTH_EVENT_BONUS", "440.00"),
            ("RESERVATION", "2200.00"),
            ("FIFTH_EVENT_BONUS", "440.00"),
            ("ENERGY", "80.00"),
            ("ENERGY", "100.00"),
            ("ENERGY", "90.00"),
            ("ENERGY", "110.00"),
            ("ENERGY", "70.00"),
        ]
    );
    // A meter without a tier has no rate.
    let mut untiered = req.clone();
    untiered.meter.network_tier = None;
    assert!(matches!(
        Dlrp::settle(&params(), &untiered),
        Err(RuleError::InvalidInput(_))
    ));
}

#[test]
fn eligibility_reasons_and_fixes() {
    // Off season with no history yet: 159 days until May 1, 2027 is enough.
    let mut r = enrollment(meter("TIER_2"), Some(100.0));
    r.start_date = "2026-11-23".into();
    assert!(Dlrp::eligibility(&params(), &r).unwrap().eligible);
    // In season with 10 days of data: 10 of 30.
    r.start_date = "2026-07-01".into();
    r.interval_history_days = 10;
    let e = Dlrp::eligibility(&params(), &r).unwrap();
    assert_eq!(e.reasons[0].code, "INSUFFICIENT_INTERVAL_HISTORY");
    assert!(
        e.reasons[0].message.contains("will have 10"),
        "{}",
        e.reasons[0].message
    );
    let mut m = utility_meter("x", "NY", "NYISO", "NATIONAL_GRID_NY");
    m.network_tier = None;
    let mut r = enrollment(m, Some(100.0));
    r.interval_history_days = 400;
    let verdict = Dlrp::eligibility(&params(), &r).unwrap();
    let codes = codes(&verdict);
    assert_eq!(codes, ["UTILITY_NOT_ELIGIBLE", "NETWORK_TIER_MISSING"]);
}

#[test]
fn a_single_meter_pledges_50_kw_an_aggregation_any_size() {
    let p = |kw| PortfolioMember {
        meter_id: "m".into(),
        committed_kw: kw,
    };
    assert_eq!(
        Dlrp::portfolio(&params(), &[p(40.0)]).unwrap().reasons[0].code,
        "PLEDGE_TOO_SMALL"
    );
    assert!(
        Dlrp::portfolio(&params(), &[p(20.0), p(20.0)])
            .unwrap()
            .eligible
    );
    assert!(Dlrp::portfolio(&params(), &[p(50.0)]).unwrap().eligible);
}

#[test]
fn labor_day_is_not_a_cbl_day_and_partial_hours_measure_negative_reduction() {
    // Tuesday Sep 8, 2026: Monday Sep 7 (Labor Day) and the weekend are skipped.
    let day = date(2026, 9, 8);
    let (start, end) = (local_time(tz(), day, 14, 30), local_time(tz(), day, 15, 30));
    let readings = load(tz(), date(2026, 7, 1), day, 900, move |t| {
        if t.date_naive() == day {
            20.0
        } else {
            10.0
        }
    });
    let req = baseline_with(meter("TIER_1"), start, end, readings);
    let b = Dlrp::baseline(&params_with("weather_adjustment", false.into()), &req).unwrap();
    assert_eq!(b.days_used[0], "2026-09-04");
    assert!(!b.days_used.contains(&"2026-09-07".to_string()));
    // Baseline 10 kW over hours 14 and 15 (half each); actual 20 kW → −10 kW, −10 kWh.
    assert_eq!(b.starts, [start - 1800, start + 1800]);
    let d = gridhub_plugin_sdk::performance::delivered(&b, &req.readings, start, end).unwrap();
    assert!((d.kw + 10.0).abs() < 1e-9 && (d.kwh + 10.0).abs() < 1e-9);
}
