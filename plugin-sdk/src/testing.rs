//! Builders for native unit tests of plugins: plain `cargo test`, no wasm.

use crate::{
    BaselineRequest, EnrollmentRequest, EventPerformance, EventWindow, Meter, Params, Series,
    SettlementRequest,
};

pub fn params_from(json: &str) -> Params {
    Params::parse(json).expect("test parameters are a JSON object")
}

/// A 5 kW / 13.5 kWh residential battery of an Eversource customer in Massachusetts.
pub fn battery(id: &str) -> Meter {
    Meter {
        id: id.into(),
        kind: "DEVICE".into(),
        device_type: Some("BATTERY".into()),
        region: "MA".into(),
        iso: "ISONE".into(),
        utility: Some("EVERSOURCE".into()),
        load_zone: Some("NEMA".into()),
        customer_class: Some("RESIDENTIAL".into()),
        capacity_kw: Some(5.0),
        energy_kwh: Some(13.5),
        authorization_status: "NOT_AUTHORIZED".into(),
        status: "ACTIVE".into(),
        network_tier: None,
        commercial_operation_date: None,
        colocated_renewable_kw: None,
        esi_id: None,
        attributes_json: "{}".into(),
    }
}

pub fn enrollment(meter: Meter, committed_kw: Option<f64>) -> EnrollmentRequest {
    EnrollmentRequest {
        meter,
        committed_kw,
        start_date: "2026-06-01".into(),
        interval_history_days: 0,
        other_enrollments: Vec::new(),
    }
}

/// An emergency event one hour long that delivered `kw`.
pub fn event(id: &str, delivered_kw: f64) -> EventPerformance {
    EventPerformance {
        event_id: id.into(),
        start: 1_780_000_000,
        end: 1_780_003_600,
        event_type: "EMERGENCY".into(),
        committed_kw: delivered_kw.max(0.0),
        delivered_kw,
        delivered_kwh: delivered_kw,
        energy_price: None,
    }
}

pub fn settlement(meter: Meter, season: &str, events: Vec<EventPerformance>) -> SettlementRequest {
    SettlementRequest {
        committed_kw: meter.capacity_kw.unwrap_or_default(),
        meter,
        period_start: "2026-06-01".into(),
        period_end: "2026-09-30".into(),
        season: Some(season.into()),
        events,
    }
}

pub fn baseline_request(meter: Meter, start: i64, end: i64) -> BaselineRequest {
    BaselineRequest {
        meter,
        event: EventWindow {
            event_id: "event".into(),
            start,
            end,
            energy_price: None,
        },
        readings: Series {
            interval_seconds: 900,
            starts: Vec::new(),
            values: Vec::new(),
        },
        event_days: Vec::new(),
    }
}

/// A utility meter in `region` (for the utility-meter programs' tests).
pub fn utility_meter(id: &str, region: &str, iso: &str, utility: &str) -> Meter {
    Meter {
        id: id.into(),
        kind: "UTILITY_METER".into(),
        device_type: None,
        region: region.into(),
        iso: iso.into(),
        utility: Some(utility.into()),
        load_zone: None,
        customer_class: Some("COMMERCIAL".into()),
        capacity_kw: Some(200.0),
        energy_kwh: None,
        authorization_status: "AUTHORIZED".into(),
        status: "ACTIVE".into(),
        network_tier: None,
        commercial_operation_date: None,
        colocated_renewable_kw: None,
        esi_id: None,
        attributes_json: "{}".into(),
    }
}

/// The six NERC holidays, as the programs' `holidays` parameter lists them.
pub fn nerc_holidays() -> Vec<String> {
    [
        "NEW_YEARS_DAY",
        "MEMORIAL_DAY",
        "INDEPENDENCE_DAY",
        "LABOR_DAY",
        "THANKSGIVING_DAY",
        "CHRISTMAS_DAY",
    ]
    .map(String::from)
    .to_vec()
}

/// A synthetic load from local midnight of `from` to the end of `to`
/// (inclusive), `interval_seconds` apart; `kw` gives the load at each interval
/// start in local time (23- and 25-hour days come out right).
pub fn load(
    tz: chrono_tz::Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    interval_seconds: u32,
    kw: impl Fn(chrono::DateTime<chrono_tz::Tz>) -> f64,
) -> Series {
    let start = crate::time::local_midnight(from, tz);
    let end = crate::time::local_midnight(to + chrono::Duration::days(1), tz);
    let step = i64::from(interval_seconds);
    let hours = f64::from(interval_seconds) / 3600.0;
    let starts: Vec<i64> = (start..end).step_by(step as usize).collect();
    let values = starts
        .iter()
        .map(|s| {
            let local = chrono::DateTime::from_timestamp(*s, 0)
                .expect("valid")
                .with_timezone(&tz);
            kw(local) * hours
        })
        .collect();
    Series {
        interval_seconds,
        starts,
        values,
    }
}

/// [`load`] in hours.
pub fn hourly_load(
    tz: chrono_tz::Tz,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    kw: impl Fn(chrono::DateTime<chrono_tz::Tz>) -> f64,
) -> Series {
    load(tz, from, to, 3600, kw)
}

/// Removes every reading of local day `date` (a day with missing data).
pub fn drop_day(series: &mut Series, tz: chrono_tz::Tz, date: chrono::NaiveDate) {
    drop_where(series, |s| crate::time::local_date(s, tz) == date);
}

/// Removes readings whose start satisfies `gone`.
pub fn drop_where(series: &mut Series, gone: impl Fn(i64) -> bool) {
    let (starts, values) = series
        .starts
        .iter()
        .zip(&series.values)
        .filter(|(s, _)| !gone(**s))
        .map(|(s, v)| (*s, *v))
        .unzip();
    series.starts = starts;
    series.values = values;
}

/// Unix seconds of a local wall-clock time.
pub fn local_time(tz: chrono_tz::Tz, date: chrono::NaiveDate, hour: u32, minute: u32) -> i64 {
    use chrono::TimeZone;
    tz.from_local_datetime(&date.and_hms_opt(hour, minute, 0).expect("valid time"))
        .earliest()
        .expect("exists")
        .timestamp()
}

/// A baseline request for `meter` over `[start, end)` with `readings`.
pub fn baseline_with(meter: Meter, start: i64, end: i64, readings: Series) -> BaselineRequest {
    let mut request = baseline_request(meter, start, end);
    request.readings = readings;
    request
}

/// An event of `[start, end)` that delivered `kw` on average.
pub fn event_at(id: &str, start: i64, end: i64, committed_kw: f64, kw: f64) -> EventPerformance {
    EventPerformance {
        event_id: id.into(),
        start,
        end,
        event_type: "EMERGENCY".into(),
        committed_kw,
        delivered_kw: kw,
        delivered_kwh: kw * (end - start) as f64 / 3600.0,
        energy_price: None,
    }
}

/// A settlement request over `[from, to]` (`YYYY-MM-DD`).
pub fn settlement_for(
    meter: Meter,
    from: &str,
    to: &str,
    committed_kw: f64,
    events: Vec<EventPerformance>,
) -> SettlementRequest {
    SettlementRequest {
        meter,
        period_start: from.into(),
        period_end: to.into(),
        season: None,
        committed_kw,
        events,
    }
}

/// Local date shorthand for tests.
pub fn date(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
}

/// Reason codes of a verdict, in order.
pub fn codes(e: &crate::Eligibility) -> Vec<&str> {
    e.reasons.iter().map(|r| r.code.as_str()).collect()
}

/// `(code, amount)` of each line item, in order.
pub fn amounts(s: &crate::Settlement) -> Vec<(&str, &str)> {
    s.line_items
        .iter()
        .map(|l| (l.code.as_str(), l.amount.as_str()))
        .collect()
}
