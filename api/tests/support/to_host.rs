//! SDK (guest) requests copied into the host's generated types, so tests and
//! benches run a plugin natively and through the wasm host on identical inputs.
#![allow(dead_code)]

use gridhub_api::rules::wit;
use gridhub_plugin_sdk as sdk;

pub fn host_meter(m: &sdk::Meter) -> wit::Meter {
    wit::Meter {
        id: m.id.clone(),
        kind: m.kind.clone(),
        device_type: m.device_type.clone(),
        region: m.region.clone(),
        iso: m.iso.clone(),
        utility: m.utility.clone(),
        load_zone: m.load_zone.clone(),
        customer_class: m.customer_class.clone(),
        capacity_kw: m.capacity_kw,
        energy_kwh: m.energy_kwh,
        authorization_status: m.authorization_status.clone(),
        status: m.status.clone(),
        network_tier: m.network_tier.clone(),
        commercial_operation_date: m.commercial_operation_date.clone(),
        colocated_renewable_kw: m.colocated_renewable_kw,
        esi_id: m.esi_id.clone(),
        attributes_json: m.attributes_json.clone(),
    }
}

pub fn host_settlement(r: &sdk::SettlementRequest) -> wit::SettlementRequest {
    wit::SettlementRequest {
        meter: host_meter(&r.meter),
        period_start: r.period_start.clone(),
        period_end: r.period_end.clone(),
        season: r.season.clone(),
        committed_kw: r.committed_kw,
        events: r
            .events
            .iter()
            .map(|e| wit::EventPerformance {
                event_id: e.event_id.clone(),
                start: e.start,
                end: e.end,
                event_type: e.event_type.clone(),
                committed_kw: e.committed_kw,
                delivered_kw: e.delivered_kw,
                delivered_kwh: e.delivered_kwh,
                energy_price: e.energy_price.clone(),
            })
            .collect(),
    }
}

pub fn host_baseline_request(r: &sdk::BaselineRequest) -> wit::BaselineRequest {
    wit::BaselineRequest {
        meter: host_meter(&r.meter),
        event: wit::EventWindow {
            event_id: r.event.event_id.clone(),
            start: r.event.start,
            end: r.event.end,
            energy_price: r.event.energy_price.clone(),
        },
        readings: wit::Series {
            interval_seconds: r.readings.interval_seconds,
            starts: r.readings.starts.clone(),
            values: r.readings.values.clone(),
        },
        event_days: r.event_days.clone(),
    }
}
