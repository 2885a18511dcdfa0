//! Nested fields are batched: a page of 500 meters with nested fields costs the
//! same number of SQL statements as a page of 10.

use gridhub_tests::{battery, quiet, TestServer};
use serde_json::{json, Value};

const PAGE: &str = "query($n: Int) { meters(first: $n) { edges { node { id externalId partner { id name apiKeys { prefix } } } } } }";
const PROGRAMS: &str = "{ programs { code parameters { key } parameterHistory { version } parameterVersion { version } } }";

async fn statements_for(s: &TestServer, key: &str, query: &str, vars: Value) -> u64 {
    let before = s.statements().await;
    s.ok(key, query, vars).await;
    s.statements().await - before
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_fields_cost_a_constant_number_of_queries() {
    // Background pollers (event clock, webhooks, notification relay) would
    // add their statements to the count: slow them right down.
    let s = TestServer::start_with(quiet).await;
    let (_, key) = s.partner("Acme").await;
    let inputs: Vec<Value> = (0..500).map(|i| battery(&format!("b-{i:03}"))).collect();
    s.ok(
        &key,
        "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id } }",
        json!({ "in": inputs }),
    )
    .await;
    // Warm up: the first use of a key records `lastUsedAt` in the background.
    s.ok(&key, "{ viewer { role } }", json!({})).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let small = statements_for(&s, &key, PAGE, json!({ "n": 10 })).await;
    let large = statements_for(&s, &key, PAGE, json!({ "n": 500 })).await;
    assert_eq!(small, large, "500 meters cost as many statements as 10");
    // key lookup + page + partners + api keys
    assert!(large <= 4, "{large} statements");

    let programs = statements_for(&s, &key, PROGRAMS, json!({})).await;
    assert!(
        programs <= 3,
        "six programs with nested parameters: {programs} statements"
    );
    s.shutdown().await;
}
