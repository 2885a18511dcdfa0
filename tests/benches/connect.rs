//! The Connect flow and the utility data it starts: 20 customers go through
//! the hosted pages over HTTP (create session, open the link, account,
//! consent); then the time until every authorized meter has its 395-day
//! utility backfill (15-minute readings from the simulated utility) stored —
//! on the embedded database, or PostgreSQL when GRIDHUB_TEST_POSTGRES_URL is set.
//!
//! Run: `cargo bench -p gridhub-tests --bench connect`. Figures: docs/benchmarks.md.

use std::time::{Duration, Instant};

use gridhub_api::entity::utility_sync;
use gridhub_tests::connect_customer::Customer;
use gridhub_tests::TestServer;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

const CUSTOMERS: usize = 20;
const CREATE: &str = "mutation($in: ConnectSessionInput!) { createConnectSession(input: $in) { url session { id } } }";

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = TestServer::start_with(|c| {
        gridhub_tests::quiet(c);
        c.connect.sync_poll = Duration::from_millis(100);
    })
    .await;
    let (_, key) = s.partner("Volt").await;
    let db = if s.database_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };

    let mut flows = Vec::new();
    let mut consents = Vec::new();
    let started = Instant::now();
    for i in 0..CUSTOMERS {
        let t = Instant::now();
        let created = s
            .ok(
                &key,
                CREATE,
                json!({ "in": { "returnUrl": "https://volt.example/back", "utilities": ["PGE"] } }),
            )
            .await;
        let url = created["createConnectSession"]["url"].as_str().unwrap();
        let sid = created["createConnectSession"]["session"]["id"]
            .as_str()
            .unwrap();
        let mut c = Customer::new(&s.base);
        assert_eq!(c.get(url).await.status(), 303);
        let csrf = c.csrf(sid).await;
        let account = format!("5551{i:04}{}", 1 + i % 9);
        let r = c
            .post(
                &format!("/connect/s/{sid}/account"),
                &[
                    ("csrf", &csrf),
                    ("accountNumber", &account),
                    ("postalCode", "94110"),
                ],
                None,
            )
            .await;
        assert_eq!(r.status(), 303);
        let tc = Instant::now();
        let r = c
            .post(
                &format!("/connect/s/{sid}/consent"),
                &[
                    ("csrf", &csrf),
                    ("name", "A"),
                    ("email", "a@example.com"),
                    ("agree", "yes"),
                ],
                None,
            )
            .await;
        assert_eq!(r.status(), 303);
        consents.push(tc.elapsed());
        flows.push(t.elapsed());
    }
    let flow_secs = started.elapsed().as_secs_f64();
    flows.sort();
    consents.sort();
    let meters = utility_sync::Entity::find()
        .count(s.services().db.conn())
        .await
        .unwrap();
    println!(
        "{db}: {CUSTOMERS} Connect flows (5 requests each) in {flow_secs:.2} s: flow p50 {:?}, p95 {:?}; consent request p50 {:?}; {meters} meters authorized",
        flows[flows.len() / 2],
        flows[flows.len() * 95 / 100],
        consents[consents.len() / 2],
    );

    // The backfill: every meter's sync row gets its `synced_through`.
    loop {
        let pending = utility_sync::Entity::find()
            .filter(utility_sync::Column::SyncedThrough.is_null())
            .count(s.services().db.conn())
            .await
            .unwrap();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = started.elapsed().as_secs_f64() - flow_secs;
    let readings: i64 = s
        .ok(
            &key,
            "{ utilityAuthorizations(first: 100) { edges { node { meters { intervalSeries { source readingCount } } } } } }",
            json!({}),
        )
        .await["utilityAuthorizations"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|e| e["node"]["meters"].as_array().unwrap().clone())
        .flat_map(|m| m["intervalSeries"].as_array().unwrap().clone())
        .filter(|x| x["source"] == "UTILITY")
        .map(|x| x["readingCount"].as_i64().unwrap())
        .sum();
    println!(
        "{db}: backfill of {meters} meters × 395 days: {readings} readings in {secs:.1} s = {:.0} readings/s",
        readings as f64 / secs
    );
    s.shutdown().await;
}
