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
