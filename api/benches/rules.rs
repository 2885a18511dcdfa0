//! One rule through the wasm host versus the same rule compiled natively, on
//! the same data: per-call time, and meters per second for 10,000 meters with
//! 10 days of 15-minute readings each.
//!
//! Run: `scripts/build-plugins.sh` once for the bench plugin
//! (`PLUGIN_OUT_DIR=target/test-plugins scripts/build-plugins.sh tests/plugins/bench-baseline`),
//! then `cargo bench -p gridhub-api --bench rules`. Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use gridhub_api::rules::{wit, RulesHost, RulesLimits};
use gridhub_plugin_sdk as sdk;
use plugin_test_bench_baseline::BenchBaseline;
use sdk::Rules;

const METERS: usize = 10_000;
const DAYS: i64 = 10;
const STEP: i64 = 900;
const EVENT_START: i64 = 1_782_921_600 + 14 * 3600; // 2026-07-01 14:00 UTC
const EVENT_END: i64 = EVENT_START + 4 * 3600;
const BATCH: usize = 500;

struct Readings {
    starts: Vec<i64>,
    values: Vec<f64>,
}

fn readings(meter: usize) -> Readings {
    let first = EVENT_START - DAYS * 86_400;
    let n = (DAYS * 86_400 / STEP) as usize;
    let mut x = meter as u64 * 2_654_435_761 + 1;
    let mut values = Vec::with_capacity(n);
    for _ in 0..n {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        values.push(0.5 + (x >> 40) as f64 / (1u64 << 24) as f64);
    }
    Readings {
        starts: (0..n as i64).map(|i| first + i * STEP).collect(),
        values,
    }
}

fn host_request(id: usize, r: &Readings) -> wit::BaselineRequest {
    let m = sdk::testing::battery(&format!("m{id}"));
    wit::BaselineRequest {
        meter: wit::Meter {
            id: m.id,
            kind: m.kind,
            device_type: m.device_type,
            region: m.region,
            iso: m.iso,
            utility: m.utility,
            load_zone: m.load_zone,
            customer_class: m.customer_class,
            capacity_kw: m.capacity_kw,
            energy_kwh: m.energy_kwh,
            authorization_status: m.authorization_status,
            status: m.status,
            network_tier: m.network_tier,
            commercial_operation_date: m.commercial_operation_date,
            colocated_renewable_kw: m.colocated_renewable_kw,
            esi_id: m.esi_id,
            attributes_json: m.attributes_json,
        },
        event: wit::EventWindow {
            event_id: "e".into(),
            start: EVENT_START,
            end: EVENT_END,
            energy_price: None,
        },
        readings: wit::Series {
            interval_seconds: STEP as u32,
            starts: r.starts.clone(),
            values: r.values.clone(),
        },
        event_days: Vec::new(),
    }
}

fn native_request(id: usize, r: &Readings) -> sdk::BaselineRequest {
    let mut req = sdk::testing::baseline_request(
        sdk::testing::battery(&format!("m{id}")),
        EVENT_START,
        EVENT_END,
    );
    req.readings = sdk::Series {
        interval_seconds: STEP as u32,
        starts: r.starts.clone(),
        values: r.values.clone(),
    };
    req
}

fn per_call(label: &str, iterations: u32, mut f: impl FnMut()) -> Duration {
    f();
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    let each = start.elapsed() / iterations;
    println!("{label:<44} {:>10.1} µs/call", each.as_secs_f64() * 1e6);
    each
}

fn main() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/test-plugins/plugin-test-bench-baseline.wasm"
    );
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}; build it with PLUGIN_OUT_DIR=target/test-plugins scripts/build-plugins.sh tests/plugins/bench-baseline"));
    let host = RulesHost::new(
        RulesLimits {
            fuel_per_call: u64::MAX / 2,
            memory_bytes: 1 << 30,
            ..RulesLimits::default()
        },
        None,
    )
    .unwrap();
    let compile = Instant::now();
    let plugin = host.load(&bytes).unwrap();
    println!(
        "load + compile plugin ({} KB): {:.1} ms",
        bytes.len() / 1024,
        compile.elapsed().as_secs_f64() * 1e3
    );

    println!(
        "preparing {METERS} meters × {} readings",
        DAYS * 86_400 / STEP
    );
    let data: Vec<Readings> = (0..METERS).map(readings).collect();
    let host_requests: Vec<wit::BaselineRequest> = data
        .iter()
        .enumerate()
        .map(|(i, r)| host_request(i, r))
        .collect();
    let native_requests: Vec<sdk::BaselineRequest> = data
        .iter()
        .enumerate()
        .map(|(i, r)| native_request(i, r))
        .collect();
    let params = sdk::Params::parse("{}").unwrap();

    // Same answers both ways.
    let w = host
        .compute_baselines(&plugin, "{}", &host_requests[..1])
        .unwrap()
        .remove(0)
        .unwrap();
    let n = BenchBaseline::baseline(&params, &native_requests[0]).unwrap();
    assert_eq!(w.kw, n.kw, "wasm and native disagree");

    println!("\n-- one meter per call (960 readings) --");
    let wasm_one = per_call("wasm: instantiate + lower + compute", 2000, || {
        host.compute_baselines(&plugin, "{}", &host_requests[..1])
            .unwrap();
    });
    let native_one = per_call("native: compute", 2000, || {
        std::hint::black_box(BenchBaseline::baseline(&params, &native_requests[0]).unwrap());
    });
    println!(
        "ratio wasm/native: {:.1}×",
        wasm_one.as_secs_f64() / native_one.as_secs_f64()
    );

    println!("\n-- {METERS} meters, {BATCH} per call --");
    let start = Instant::now();
    for chunk in host_requests.chunks(BATCH) {
        std::hint::black_box(host.compute_baselines(&plugin, "{}", chunk).unwrap());
    }
    let wasm_all = start.elapsed();
    let start = Instant::now();
    for r in &native_requests {
        std::hint::black_box(BenchBaseline::baseline(&params, r).unwrap());
    }
    let native_all = start.elapsed();
    let rate = |d: Duration| METERS as f64 / d.as_secs_f64();
    println!(
        "{:<44} {:>10.0} meters/s ({:.2} s)",
        "wasm (one core)",
        rate(wasm_all),
        wasm_all.as_secs_f64()
    );
    println!(
        "{:<44} {:>10.0} meters/s ({:.2} s)",
        "native (one core)",
        rate(native_all),
        native_all.as_secs_f64()
    );
    println!(
        "ratio wasm/native: {:.1}×",
        wasm_all.as_secs_f64() / native_all.as_secs_f64()
    );
}
