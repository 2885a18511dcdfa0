//! Time from scheduling an event to its delivery at 1,000 concurrent
//! `dispatchEvents` subscribers (graphql-transport-ws), on the embedded
//! database — or PostgreSQL when GRIDHUB_TEST_POSTGRES_URL is set.
//!
//! Run: `cargo bench -p gridhub-tests --bench subscribers` (after
//! `scripts/build-plugins.sh`). Figures: docs/benchmarks.md.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gridhub_tests::ws_client::WsClient;
use gridhub_tests::{battery, plugins_dir, TestServer};
use serde_json::json;

const SUBSCRIBERS: usize = 1_000;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let s = TestServer::start_with(|c| c.bundled_plugin_dir = Some(plugins_dir())).await;
    let cs = s
        .ok(
            &s.admin_key,
            "{ program(code: \"MA_CONNECTED_SOLUTIONS\") { id } }",
            json!({}),
        )
        .await["program"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, partner) = s.partner("Acme").await;
    let meter = s
        .ok(
            &partner,
            "mutation($in: MeterInput!) { createMeter(input: $in) { id } }",
            json!({ "in": battery("b1") }),
        )
        .await["createMeter"]["id"]
        .clone();
    s.ok(&partner, "mutation($p: ID!, $in: [EnrollmentInput!]!) { enrollMeters(programId: $p, inputs: $in) { portfolioEligible } }", json!({ "p": cs, "in": [{ "meterId": meter, "startDate": "2027-06-01" }] }))
        .await;

    let connect = Instant::now();
    let mut clients = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let mut c = WsClient::connect(&s.base, "graphql-transport-ws").await;
        c.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {partner}") } })).await;
        assert_eq!(c.next_json().await["type"], "connection_ack");
        c.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": "subscription { dispatchEvents { kind eventId } }" } })).await;
        clients.push(c);
    }
    println!(
        "{SUBSCRIBERS} subscribers connected in {:.2} s",
        connect.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let t0: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let waiters: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            let t0 = t0.clone();
            tokio::spawn(async move {
                let m = c.next_json().await;
                assert_eq!(m["payload"]["data"]["dispatchEvents"]["kind"], "CREATED");
                t0.get().expect("scheduled").elapsed()
            })
        })
        .collect();
    t0.set(Instant::now()).unwrap();
    s.ok(
        &s.admin_key,
        "mutation($in: ScheduleEventInput!) { scheduleEvent(input: $in) { id } }",
        json!({ "in": {
        "programId": cs, "type": "EMERGENCY",
        "start": "2027-07-15T20:00:00Z", "end": "2027-07-15T23:00:00Z",
    } }),
    )
    .await;
    let mut latencies = Vec::with_capacity(SUBSCRIBERS);
    for w in waiters {
        latencies.push(w.await.unwrap());
    }
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "schedule → delivered to {SUBSCRIBERS} subscribers: p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms",
        ms(latencies[SUBSCRIBERS / 2]),
        ms(latencies[SUBSCRIBERS * 95 / 100]),
        ms(*latencies.last().unwrap())
    );
}
