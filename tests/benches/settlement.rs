//! Settling one event for 10,000 meters end to end from the database: the
//! CAISO DRAM plugin's 10-in-10 baselines over 10 days of 15-minute history
//! (9.6 million readings), measurement, the preliminary settlement of the
//! season with full-performance amounts, everything stored — one
//! `computeEventPerformance` call, on the embedded database or PostgreSQL
//! when GRIDHUB_TEST_POSTGRES_URL is set.
//!
//! Readings are written straight into the tables (the upload path has its
//! own benchmark, `intervals`); meters, enrollments and the event go through
//! the API. Run: `cargo bench -p gridhub-tests --bench settlement` (after
//! `scripts/build-plugins.sh`). Figures: docs/benchmarks.md.

use std::time::Instant;

use gridhub_api::services::bulk::{self, OnConflict};
use gridhub_tests::{plugins_dir, TestServer};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{json, Value};

const METERS: usize = 10_000;
const DAYS: i64 = 10;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = TestServer::start_with(|c| {
        c.bundled_plugin_dir = Some(plugins_dir());
        gridhub_tests::quiet(c);
        c.performance_poll = std::time::Duration::from_secs(3600);
    })
    .await;
    let db_name = if s.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let dram = s
        .ok(
            &s.admin_key,
            "{ program(code: \"CAISO_DRAM\") { id } }",
            json!({}),
        )
        .await["program"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (partner_id, partner) = s.partner("Acme").await;

    let setup = Instant::now();
    let mut ids = Vec::with_capacity(METERS);
    for batch in 0..METERS / 1000 {
        let inputs: Vec<Value> = (0..1000)
            .map(|i| json!({
                "externalId": format!("pge-{}", batch * 1000 + i), "kind": "UTILITY_METER", "region": "CA",
                "utility": "PGE", "loadZone": "DLAP_PGAE", "customerClass": "COMMERCIAL", "capacityKw": 150.0
            }))
            .collect();
        let created = s
            .ok(
                &partner,
                "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id } }",
                json!({ "in": inputs }),
            )
            .await;
        ids.extend(
            created["createMeters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
    }
    let services = s.services();
    {
        use gridhub_api::entity::meter;
        meter::Entity::update_many()
            .col_expr(
                meter::Column::AuthorizationStatus,
                Expr::value("AUTHORIZED"),
            )
            .filter(meter::Column::PartnerId.eq(partner_id.clone()))
            .exec(services.db.conn())
            .await
            .unwrap();
    }
    for chunk in ids.chunks(1000) {
        let inputs: Vec<Value> = chunk
            .iter()
            .map(|m| json!({ "meterId": m, "committedKw": 1.0, "startDate": "2026-06-01" }))
            .collect();
        s.ok(&partner, "mutation($p: ID!, $in: [EnrollmentInput!]!) { enrollMeters(programId: $p, inputs: $in) { portfolioEligible } }", json!({ "p": dram, "in": inputs }))
            .await;
    }
    // 1 kW each: DRAM resources are at most 10 MW.
    // Ten days of 15-minute load before and through the event, Wednesday
    // July 15, 2026, 16:00–18:00 PDT: 10 kW, 4 kW during the event.
    let event_start = 1_784_156_400i64; // 2026-07-15T23:00:00Z
    let event_end = event_start + 2 * 3600;
    let first = event_end - DAYS * 86_400;
    let per_meter = ((event_end - first) / 900) as usize;
    for chunk in ids.chunks(200) {
        let mut rows = Vec::with_capacity(chunk.len() * per_meter);
        for m in chunk {
            for q in 0..per_meter as i64 {
                let t = first + q * 900;
                let kwh = if t >= event_start { 1.0 } else { 2.5 };
                rows.push(vec![
                    m.clone().into(),
                    "UTILITY".into(),
                    "main".into(),
                    t.into(),
                    900i32.into(),
                    kwh.into(),
                ]);
            }
        }
        bulk::insert(
            services.db.conn(),
            "interval_readings",
            &[
                "meter_id",
                "source",
                "channel",
                "start_ts",
                "interval_seconds",
                "kwh",
            ],
            rows,
            OnConflict::Fail,
        )
        .await
        .unwrap();
    }
    println!(
        "{db_name}: setup of {METERS} meters and {} readings in {:.1} s",
        METERS * per_meter,
        setup.elapsed().as_secs_f64()
    );
    let event = s
        .ok(
            &s.admin_key,
            "mutation($in: ScheduleEventInput!) { scheduleEvent(input: $in) { id status responses { meters } } }",
            json!({ "in": {
                "programId": dram, "type": "ECONOMIC",
                "notificationAt": "2026-07-15T22:00:00Z", "start": "2026-07-15T23:00:00Z", "end": "2026-07-16T01:00:00Z",
                "energyPrice": "0.25", "overrideReason": "benchmark"
            } }),
        )
        .await["scheduleEvent"]
        .clone();
    assert_eq!(event["responses"]["meters"], METERS as i64);

    let started = Instant::now();
    let run = s
        .ok(
            &s.admin_key,
            "mutation($e: ID!) { computeEventPerformance(eventId: $e) { version durationMs summary { meters measured missingData deliveredKw } } }",
            json!({ "e": event["id"] }),
        )
        .await["computeEventPerformance"]
        .clone();
    let total = started.elapsed().as_secs_f64();
    let settlement = s
        .ok(&s.admin_key, "query($p: ID!) { settlementRuns(programId: $p) { total meters(first: 1) { edges { node { amount } } } } }", json!({ "p": dram }))
        .await["settlementRuns"][0]
        .clone();
    if run["summary"]["measured"] != METERS as i64 {
        let failed = s
            .ok(&s.admin_key, "query($e: ID!) { eventPerformance(eventId: $e) { meters(first: 3, filter: { statuses: [MISSING_DATA, INSUFFICIENT_HISTORY, FAILED] }) { edges { node { status error } } } } }", json!({ "e": event["id"] }))
            .await;
        panic!("not every meter was measured: {run}\n{failed}");
    }
    println!(
        "{db_name}: one event, {METERS} meters: performance {:.1} s, with the preliminary settlement {total:.1} s ({:.0} meters/s); settled total ${}",
        run["durationMs"].as_f64().unwrap() / 1000.0,
        METERS as f64 / total,
        settlement["total"].as_str().unwrap()
    );
}
