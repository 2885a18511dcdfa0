//! The ConnectedSolutions checks run twice: natively (as in the plugin's own
//! tests) and through the real wasm host on the compiled plugin. Both must agree.
//! `programs.rs` does the same for the other five programs.

#[path = "plugin_host/programs.rs"]
mod programs;
#[path = "support/to_host.rs"]
mod to_host;

use to_host::{host_meter, host_settlement};

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
