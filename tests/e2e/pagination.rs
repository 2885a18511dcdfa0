//! Relay pagination through 1,000 meters.

use std::collections::HashSet;

use gridhub_tests::{battery, TestServer};
use serde_json::{json, Value};

const PAGE_FWD: &str = "query($n: Int, $a: String) { meters(first: $n, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
const PAGE_BACK: &str = "query($n: Int, $b: String) { meters(last: $n, before: $b) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

fn ids(page: &Value) -> Vec<String> {
    page["meters"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_through_1000_meters_without_duplicates_or_gaps() {
    let s = TestServer::start().await;
    let (_, key) = s.partner("Acme").await;
    let mut created = Vec::new();
    for chunk in 0..2 {
        let inputs: Vec<Value> = (0..500)
            .map(|i| battery(&format!("b-{chunk}-{i:03}")))
            .collect();
        let data = s
            .ok(
                &key,
                "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id } }",
                json!({ "in": inputs }),
            )
            .await;
        created.extend(
            data["createMeters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["id"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(created.len(), 1000);

    // Forward with an odd page size, so the last page is partial.
    let mut forward = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let data = s.ok(&key, PAGE_FWD, json!({ "n": 137, "a": after })).await;
        let info = &data["meters"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], json!(after.is_some()));
        forward.extend(ids(&data));
        pages += 1;
        if !info["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = Some(info["endCursor"].as_str().unwrap().to_owned());
        assert!(pages < 20, "pagination does not end");
    }
    assert_eq!(pages, 8);
    assert_eq!(forward.len(), 1000);
    assert_eq!(
        forward.iter().collect::<HashSet<_>>().len(),
        1000,
        "no duplicates"
    );
    assert_eq!(
        forward.iter().collect::<HashSet<_>>(),
        created.iter().collect::<HashSet<_>>(),
        "no gaps"
    );
    let mut sorted = forward.clone();
    sorted.sort();
    assert_eq!(forward, sorted, "stable id order");

    // Backward gives the same sequence.
    let mut backward: Vec<String> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let data = s
            .ok(&key, PAGE_BACK, json!({ "n": 300, "b": before }))
            .await;
        let mut page = ids(&data);
        page.extend(backward);
        backward = page;
        let info = &data["meters"]["pageInfo"];
        if !info["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = Some(info["startCursor"].as_str().unwrap().to_owned());
    }
    assert_eq!(backward, forward);

    // Page size is capped; cursors are validated.
    for (vars, field) in [
        (json!({ "n": 501 }), "first"),
        (json!({ "n": -1 }), "first"),
        (json!({ "n": 10, "a": "not-a-cursor" }), "after"),
    ] {
        let e = s.err(Some(&key), PAGE_FWD, vars).await;
        assert_eq!(e.code, "VALIDATION");
        assert_eq!(e.error["extensions"]["field"], field);
    }
    let full = s.ok(&key, PAGE_FWD, json!({ "n": 500 })).await;
    assert_eq!(ids(&full).len(), 500);
    s.shutdown().await;
}
