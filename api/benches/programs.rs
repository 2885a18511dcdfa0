//! The real program plugins through the wasm host versus natively: DRAM's
//! 10-in-10 (hourly, 60 days of history) and ERS's middle 8 of 10 (15-minute,
//! 60 days) for 2,000 meters, in batches as settlement calls them.
//!
//! Run: `scripts/build-plugins.sh`, then `cargo bench -p gridhub-api --bench programs`.
//! Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use gridhub_api::rules::{wit, LoadedPlugin, RulesHost, RulesLimits};
use gridhub_plugin_sdk::chrono::{Datelike, Timelike};
use gridhub_plugin_sdk::testing::{baseline_with, date, load, local_time, utility_meter};
use gridhub_plugin_sdk::time::zone;
use gridhub_plugin_sdk::{self as sdk, Rules};

#[path = "../tests/support/to_host.rs"]
mod to_host;
use to_host::host_baseline_request as host_request;

const METERS: usize = 2_000;
const BATCH: usize = 200;

fn plugin(host: &RulesHost, name: &str) -> std::sync::Arc<LoadedPlugin> {
    let path = format!(
        "{}/../target/plugins/plugin-{name}.wasm",
        env!("CARGO_MANIFEST_DIR")
    );
    let bytes = std::fs::read(&path)
        .unwrap_or_else(|e| panic!("{path}: {e}; run scripts/build-plugins.sh"));
    let start = Instant::now();
    let loaded = host.load(&bytes).unwrap();
    println!(
        "{name}: load + compile ({} KB) {:.0} ms",
        bytes.len() / 1024,
        start.elapsed().as_secs_f64() * 1e3
    );
    loaded
}

fn run<R: Rules>(host: &RulesHost, name: &str, params: &str, requests: Vec<sdk::BaselineRequest>) {
    let plugin = plugin(host, name);
    let parsed = sdk::Params::parse(params).unwrap();
    let hosts: Vec<wit::BaselineRequest> = requests.iter().map(host_request).collect();
    let readings = requests[0].readings.values.len();
    // Same answer both ways.
    let w = host
        .compute_baselines(&plugin, params, &hosts[..1])
        .unwrap()
        .remove(0)
        .unwrap();
    assert_eq!(w.kw, R::baseline(&parsed, &requests[0]).unwrap().kw);

    let start = Instant::now();
    for chunk in hosts.chunks(BATCH) {
        for r in host.compute_baselines(&plugin, params, chunk).unwrap() {
            r.unwrap();
        }
    }
    let wasm = start.elapsed();
    let start = Instant::now();
    for r in &requests {
        std::hint::black_box(R::baseline(&parsed, r).unwrap());
    }
    let native = start.elapsed();
    let rate = |d: Duration| METERS as f64 / d.as_secs_f64();
    println!(
        "{name}: {METERS} meters × {readings} readings, {BATCH} per call: wasm {:.0} meters/s, native {:.0} meters/s, ratio {:.1}×",
        rate(wasm),
        rate(native),
        wasm.as_secs_f64() / native.as_secs_f64()
    );
}

fn main() {
    let host = RulesHost::new(
        RulesLimits {
            fuel_per_call: u64::MAX / 2,
            memory_bytes: 1 << 30,
            ..RulesLimits::default()
        },
        None,
    )
    .unwrap();

    let la = zone("America/Los_Angeles").unwrap();
    let day = date(2026, 8, 20);
    let (start, end) = (local_time(la, day, 14, 0), local_time(la, day, 18, 0));
    let dram: Vec<sdk::BaselineRequest> = (0..METERS)
        .map(|i| {
            let s = load(la, date(2026, 6, 21), day, 3600, move |t| {
                f64::from(t.day()) + f64::from(t.hour()) * 0.1 + (i % 7) as f64
            });
            baseline_with(
                utility_meter(&format!("m{i}"), "CA", "CAISO", "PGE"),
                start,
                end,
                s,
            )
        })
        .collect();
    run::<plugin_dram::Dram>(
        &host,
        "dram",
        include_str!("../../plugins/dram/params.json"),
        dram,
    );

    let chicago = zone("America/Chicago").unwrap();
    let start = local_time(chicago, day, 15, 0);
    let ers: Vec<sdk::BaselineRequest> = (0..METERS)
        .map(|i| {
            let s = load(chicago, date(2026, 6, 21), day, 900, move |t| {
                f64::from(t.day()) + f64::from(t.minute()) * 0.01 + (i % 5) as f64
            });
            let mut m = utility_meter(&format!("m{i}"), "TX", "ERCOT", "ONCOR");
            m.esi_id = Some("10443720000000001".into());
            baseline_with(m, start, start + 2 * 3600, s)
        })
        .collect();
    run::<plugin_ers::Ers>(
        &host,
        "ers",
        include_str!("../../plugins/ers/params.json"),
        ers,
    );
}
