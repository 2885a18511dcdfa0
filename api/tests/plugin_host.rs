//! The ConnectedSolutions checks run twice: natively (as in the plugin's own
//! tests) and through the real wasm host on the compiled plugin. Both must agree.
//! `programs.rs` does the same for the other five programs.

#[path = "plugin_host/programs.rs"]
mod programs;

use gridhub_api::rules::{wit, RulesHost, RulesLimits};
use gridhub_plugin_sdk::{self as sdk, testing, Rules};
use plugin_connected_solutions::ConnectedSolutions;

const PARAMS: &str = include_str!("../../plugins/connected-solutions/params.json");

fn plugin() -> (RulesHost, std::sync::Arc<gridhub_api::rules::LoadedPlugin>) {
    wasm("connected-solutions")
}

/// The compiled plugin `target/plugins/plugin-<name>.wasm` in a real host.
pub fn wasm(name: &str) -> (RulesHost, std::sync::Arc<gridhub_api::rules::LoadedPlugin>) {
    let path = format!(
        "{}/../target/plugins/plugin-{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run scripts/build-plugins.sh"));
    let host = RulesHost::new(RulesLimits::default(), None).unwrap();
    let loaded = host.load(&bytes).unwrap();
    (host, loaded)
}

/// SDK (guest) types and host types are generated from the same WIT; JSON-free
/// field-by-field copies keep the two paths on identical inputs.
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

#[test]
fn published_checks_hold_natively_and_through_the_wasm_host() {
    let (host, plugin) = plugin();
    assert_eq!(plugin.info.program_code, "MA_CONNECTED_SOLUTIONS");
    let params = sdk::Params::parse(PARAMS).unwrap();

    let mut cni = testing::battery("cni");
    cni.customer_class = Some("COMMERCIAL".into());
    cni.attributes_json = r#"{"connectedSolutionsOption":"DAILY_DISPATCH"}"#.into();
    let cases = [
        // 5 kW over the summer × $225/kW = $1,125
        (
            testing::settlement(
                testing::battery("res"),
                "summer",
                (0..30)
                    .map(|i| testing::event(&format!("e{i}"), 5.0))
                    .collect(),
            ),
            "1125.00",
        ),
        // C&I daily dispatch, 1,000 kW × $200/kW = $200,000
        (
            testing::settlement(cni, "summer", vec![testing::event("e", 1000.0)]),
            "200000.00",
        ),
        // winter: mean of 6, 0, 3 kW = 3 kW × $50 = $150
        (
            testing::settlement(
                testing::battery("w"),
                "winter",
                vec![
                    testing::event("a", 6.0),
                    testing::event("b", 0.0),
                    testing::event("c", 3.0),
                ],
            ),
            "150.00",
        ),
    ];
    let requests: Vec<wit::SettlementRequest> =
        cases.iter().map(|(r, _)| host_settlement(r)).collect();
    let through_wasm = host.settle(&plugin, PARAMS, &requests).unwrap();
    for ((request, expected), wasm) in cases.iter().zip(through_wasm) {
        let native = ConnectedSolutions::settle(&params, request).unwrap();
        let wasm = wasm.unwrap();
        assert_eq!(native.line_items[0].amount, *expected);
        assert_eq!(wasm.line_items[0].amount, *expected);
        assert_eq!(
            wasm.line_items[0].description,
            native.line_items[0].description
        );
    }

    // Eligibility: the same verdicts both ways.
    let mut municipal = testing::battery("m");
    municipal.utility = Some("MA_MUNICIPAL".into());
    let natives = [
        testing::enrollment(testing::battery("ok"), Some(5.0)),
        testing::enrollment(municipal, None),
    ];
    let hosts: Vec<wit::EnrollmentRequest> = natives
        .iter()
        .map(|r| wit::EnrollmentRequest {
            meter: host_meter(&r.meter),
            committed_kw: r.committed_kw,
            start_date: r.start_date.clone(),
            interval_history_days: r.interval_history_days,
            other_enrollments: r.other_enrollments.clone(),
        })
        .collect();
    let wasm = host.check_eligibility(&plugin, PARAMS, &hosts).unwrap();
    for (native, wasm) in natives.iter().zip(wasm) {
        let native = ConnectedSolutions::eligibility(&params, native).unwrap();
        assert_eq!(native.eligible, wasm.eligible);
        let codes = |r: Vec<String>| r;
        assert_eq!(
            codes(native.reasons.iter().map(|r| r.code.clone()).collect()),
            codes(wasm.reasons.iter().map(|r| r.code.clone()).collect())
        );
    }
}
