//! Interval upload throughput: 1,000,000 readings (1,000 batteries × 1,000
//! 15-minute intervals) sent through `uploadIntervals` in requests of 10,000
//! readings, as `gridhub intervals upload` sends them; then the same readings
//! again (all unchanged: the idempotency check), on the embedded database — or
//! PostgreSQL when GRIDHUB_TEST_POSTGRES_URL is set.
//!
//! Run: `cargo bench -p gridhub-tests --bench intervals`. Figures: docs/benchmarks.md.

use std::time::Instant;

use gridhub_tests::{battery, TestServer};
use serde_json::{json, Value};

const METERS: usize = 1_000;
const INTERVALS: i64 = 1_000;
const CHUNK: usize = 10_000;
const UPLOAD: &str = "mutation($r: [IntervalReadingInput!]!) { uploadIntervals(readings: $r) { upload { status inserted unchanged } errorCount } }";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = TestServer::start_with(gridhub_tests::quiet).await;
    let (_, partner) = s.partner("Acme").await;
    let mut ids = Vec::with_capacity(METERS);
    for batch in 0..METERS / 500 {
        let inputs: Vec<Value> = (0..500)
            .map(|i| battery(&format!("b{}", batch * 500 + i)))
            .collect();
        let created = s
            .ok(
                &partner,
                "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id } }",
                json!({ "in": inputs }),
            )
            .await;
        for m in created["createMeters"].as_array().unwrap() {
            ids.push(m["id"].as_str().unwrap().to_owned());
        }
    }
    // 2026-01-01T00:00Z onwards; meters interleaved the way a fleet export
    // usually is (all meters for an interval, then the next interval).
    let t0 = 1_767_225_600i64;
    let readings: Vec<Value> = (0..INTERVALS)
        .flat_map(|k| {
            let ids = &ids;
            (0..METERS).map(move |m| {
                json!({
                    "meterId": ids[m],
                    "start": chrono::DateTime::from_timestamp(t0 + k * 900, 0).unwrap().to_rfc3339(),
                    "intervalMinutes": 15,
                    "kwh": 0.25 + (k % 7) as f64 * 0.1,
                })
            })
        })
        .collect();
    let db = if s.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    for (pass, expect_inserted) in [("first upload", true), ("same readings again", false)] {
        let started = Instant::now();
        let (mut inserted, mut unchanged) = (0, 0);
        for chunk in readings.chunks(CHUNK) {
            let data = s.ok(&partner, UPLOAD, json!({ "r": chunk })).await;
            let u = &data["uploadIntervals"]["upload"];
            inserted += u["inserted"].as_i64().unwrap();
            unchanged += u["unchanged"].as_i64().unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        let total = readings.len() as f64;
        if expect_inserted {
            assert_eq!(inserted as usize, readings.len());
        } else {
            assert_eq!(unchanged as usize, readings.len());
        }
        println!(
            "{db}: {pass}: {} readings in {secs:.1} s = {:.0} readings/s ({inserted} inserted, {unchanged} unchanged)",
            readings.len(),
            total / secs
        );
    }
}
