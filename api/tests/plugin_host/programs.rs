//! One hand-computed case per program, run natively and through the wasm host
//! on the compiled plugin; and the server's seeded parameters checked against
//! each plugin's `params.json`.

use gridhub_plugin_sdk::chrono::{Datelike, Timelike};
use gridhub_plugin_sdk::testing::{
    baseline_with, date, event_at, load, local_time, settlement_for, utility_meter,
};
use gridhub_plugin_sdk::time::zone;
use gridhub_plugin_sdk::{self as sdk, Rules};

use super::to_host::{host_baseline_request, host_settlement};
use super::wasm;

const DRAM: &str = include_str!("../../../plugins/dram/params.json");
const SCR: &str = include_str!("../../../plugins/scr/params.json");
const DLRP: &str = include_str!("../../../plugins/dlrp/params.json");
const ERS: &str = include_str!("../../../plugins/ers/params.json");
const CPS: &str = include_str!("../../../plugins/cps/params.json");
const CS: &str = include_str!("../../../plugins/connected-solutions/params.json");

/// Runs a baseline both ways and checks they agree with `expected_kw`.
fn baseline_both_ways<R: Rules>(
    name: &str,
    params: &str,
    request: sdk::BaselineRequest,
    expected_kw: f64,
) {
    let native = R::baseline(&sdk::Params::parse(params).unwrap(), &request).unwrap();
    let (host, plugin) = wasm(name);
    let through_wasm = host
        .compute_baselines(&plugin, params, &[host_baseline_request(&request)])
        .unwrap()
        .remove(0)
        .unwrap();
    assert!(!native.kw.is_empty());
    for kw in native.kw.iter().chain(&through_wasm.kw) {
        assert!(
            (kw - expected_kw).abs() < 1e-9,
            "{name}: {kw} ≠ {expected_kw}"
        );
    }
    assert_eq!(native.starts, through_wasm.starts);
    assert_eq!(native.days_used, through_wasm.days_used);
    assert_eq!(native.method, through_wasm.method);
}

/// Runs a settlement both ways and checks the amounts.
fn settle_both_ways<R: Rules>(
    name: &str,
    params: &str,
    request: sdk::SettlementRequest,
    expected: &[&str],
) {
    let native = R::settle(&sdk::Params::parse(params).unwrap(), &request).unwrap();
    let (host, plugin) = wasm(name);
    let through_wasm = host
        .settle(&plugin, params, &[host_settlement(&request)])
        .unwrap()
        .remove(0)
        .unwrap();
    let native: Vec<&str> = native
        .line_items
        .iter()
        .map(|l| l.amount.as_str())
        .collect();
    let wasm: Vec<&str> = through_wasm
        .line_items
        .iter()
        .map(|l| l.amount.as_str())
        .collect();
    assert_eq!(native, expected, "{name} natively");
    assert_eq!(wasm, expected, "{name} through wasm");
}

#[test]
fn dram_10_in_10_with_a_clamped_adjustment() {
    // Weekday like days of Aug 20, 2026 average 12.7 kW; a 16 kW morning clamps the
    // ratio at 1.2 → 15.24 kW.
    let tz = zone("America/Los_Angeles").unwrap();
    let day = date(2026, 8, 20);
    let readings = load(tz, date(2026, 7, 1), day, 3600, move |t| {
        match (t.date_naive() == day, t.hour() < 14) {
            (true, true) => 16.0,
            (true, false) => 10.0,
            _ => f64::from(t.day()),
        }
    });
    let (start, end) = (local_time(tz, day, 14, 0), local_time(tz, day, 16, 0));
    let request = baseline_with(
        utility_meter("m", "CA", "CAISO", "PGE"),
        start,
        end,
        readings,
    );
    baseline_both_ways::<plugin_dram::Dram>("dram", DRAM, request, 15.24);
}

#[test]
fn scr_strip_capacity_and_energy() {
    let tz = zone("America/New_York").unwrap();
    let at = |d, h| local_time(tz, date(2026, 7, d), h, 0);
    let mut e1 = event_at("e1", at(8, 14), at(8, 16), 200.0, 150.0);
    e1.energy_price = Some("0.80".into());
    let mut t1 = event_at("t1", at(9, 14), at(9, 15), 200.0, 200.0);
    t1.event_type = "TEST".into();
    let mut e3 = event_at("e3", at(20, 12), at(20, 17), 200.0, 100.0);
    e3.energy_price = Some("0.30".into());
    let mut meter = utility_meter("m", "NY", "NYISO", "CONED");
    meter.load_zone = Some("J".into());
    let request = settlement_for(meter, "2026-07-01", "2026-07-31", 200.0, vec![e1, t1, e3]);
    // Factor 0.75 → $450.00; 600 kWh × $0.80 = $480.00; 500 kWh × $0.50 = $250.00.
    settle_both_ways::<plugin_scr::Scr>("scr", SCR, request, &["450.00", "480.00", "250.00"]);
}

#[test]
fn dlrp_published_pledge_example() {
    // 100 kW Tier 1 at $18/kW-month over the May–September season: 5 × $1,800.
    let mut meter = utility_meter("m", "NY", "NYISO", "CONED");
    meter.network_tier = Some("TIER_1".into());
    let request = settlement_for(meter, "2026-05-01", "2026-09-30", 100.0, vec![]);
    settle_both_ways::<plugin_dlrp::Dlrp>("dlrp", DLRP, request, &["1800.00"; 5]);
}

#[test]
fn ers_middle_8_of_10_on_15_minute_data() {
    // Middle 8 of days 19…6 = 12.75 kW; the morning at 14.75 kW adds +2 → 14.75 kW.
    let tz = zone("America/Chicago").unwrap();
    let day = date(2026, 8, 20);
    let readings = load(tz, date(2026, 6, 1), day, 900, move |t| {
        match (t.date_naive() == day, t.hour() < 15) {
            (true, true) => 14.75,
            (true, false) => 3.0,
            _ => f64::from(t.day()),
        }
    });
    let start = local_time(tz, day, 15, 0);
    let mut meter = utility_meter("m", "TX", "ERCOT", "ONCOR");
    meter.esi_id = Some("10443720000000001".into());
    meter.load_zone = Some("LZ_HOUSTON".into());
    let request = baseline_with(meter, start, start + 3600, readings);
    baseline_both_ways::<plugin_ers::Ers>("ers", ERS, request, 14.75);
}

#[test]
fn cps_certificates_in_the_summer_window() {
    // 400 kWh in the 15:00–19:00 window on July 15: 0.4 MWh × 4 = 1.6 certificates × $45.
    let tz = zone("America/New_York").unwrap();
    let day = date(2026, 7, 15);
    let (start, end) = (local_time(tz, day, 15, 0), local_time(tz, day, 19, 0));
    let mut storage = sdk::testing::battery("b");
    storage.commercial_operation_date = Some("2021-05-01".into());
    let request = settlement_for(
        storage,
        "2026-07-01",
        "2026-07-31",
        100.0,
        vec![event_at("w", start, end, 100.0, 100.0)],
    );
    assert_eq!(day.month(), 7);
    settle_both_ways::<plugin_cps::Cps>("cps", CPS, request, &["72.00"]);
}

#[test]
fn parameters_seeded_by_the_server_match_each_plugins_defaults() {
    let plugins = [
        ("CAISO_DRAM", DRAM),
        ("NYISO_SCR", SCR),
        ("CONED_DLRP", DLRP),
        ("ERCOT_ERS", ERS),
        ("MA_CONNECTED_SOLUTIONS", CS),
        ("MA_CPS", CPS),
    ];
    let seeded = gridhub_api::seed::programs::default_programs();
    assert_eq!(seeded.len(), plugins.len());
    for (code, json) in plugins {
        let program = seeded.iter().find(|p| p.code == code).unwrap();
        let mut defaults: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(json).unwrap();
        // The platform adds the program's time zone and seasons to the parameters.
        assert_eq!(
            defaults.remove("timezone"),
            Some(program.timezone.clone().into()),
            "{code}"
        );
        let seasons = serde_json::to_value(&program.seasons).unwrap();
        assert_eq!(defaults.remove("seasons"), Some(seasons), "{code}");
        let keys: Vec<&String> = program.parameters.iter().map(|p| &p.key).collect();
        assert_eq!(program.parameters.len(), defaults.len(), "{code}: {keys:?}");
        for p in &program.parameters {
            assert_eq!(Some(&p.value.0), defaults.get(&p.key), "{code}.{}", p.key);
        }
    }
}
