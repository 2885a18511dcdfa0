//! Creating mutations accept an idempotency key (argument or header).

use gridhub_tests::{battery, TestServer};
use serde_json::{json, Value};

const CREATE: &str =
    "mutation($in: MeterInput!, $k: String) { createMeter(input: $in, idempotencyKey: $k) { id } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_with_the_same_key_return_the_first_result() {
    let s = TestServer::start().await;
    let (_, a) = s.partner("Acme").await;
    let (_, b) = s.partner("Volt").await;

    let first = s
        .ok(&a, CREATE, json!({ "in": battery("b-1"), "k": "req-1" }))
        .await;
    let again = s
        .ok(&a, CREATE, json!({ "in": battery("b-1"), "k": "req-1" }))
        .await;
    assert_eq!(first, again, "same meter returned");
    let total = s.ok(&a, "{ meters { totalCount } }", json!({})).await;
    assert_eq!(total["meters"]["totalCount"], 1, "nothing new written");

    // The same key with a different request is refused.
    let e = s
        .err(
            Some(&a),
            CREATE,
            json!({ "in": battery("b-2"), "k": "req-1" }),
        )
        .await;
    assert_eq!(e.code, "IDEMPOTENCY_KEY_REUSED");

    // Keys are per partner: B may use the same key for its own request.
    s.ok(&b, CREATE, json!({ "in": battery("b-1"), "k": "req-1" }))
        .await;

    // The Idempotency-Key header works the same way, for batches too.
    let batch = "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id } }";
    let send = || async {
        let r = s
            .client
            .post(s.url("/graphql"))
            .bearer_auth(&a)
            .header("Idempotency-Key", "batch-7")
            .json(
                &json!({ "query": batch, "variables": { "in": [battery("h-1"), battery("h-2")] } }),
            )
            .send()
            .await
            .unwrap();
        r.json::<Value>().await.unwrap()
    };
    let one = send().await;
    let two = send().await;
    assert!(one.get("errors").is_none(), "{one}");
    assert_eq!(one, two);
    let total = s.ok(&a, "{ meters { totalCount } }", json!({})).await;
    assert_eq!(total["meters"]["totalCount"], 3);

    // A failed request stores nothing: fixing it and retrying with the key works.
    let mut bad = battery("b-9");
    bad["capacityKw"] = json!(-1);
    let e = s
        .err(Some(&a), CREATE, json!({ "in": bad, "k": "req-9" }))
        .await;
    assert_eq!(e.code, "VALIDATION");
    s.ok(&a, CREATE, json!({ "in": battery("b-9"), "k": "req-9" }))
        .await;
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_creating_mutation_takes_a_key() {
    let s = TestServer::start().await;
    let admin = s.admin_key.clone();

    let partner =
        "mutation($k: String) { createPartner(name: \"Acme\", idempotencyKey: $k) { id } }";
    let one = s.ok(&admin, partner, json!({ "k": "p-1" })).await;
    let two = s.ok(&admin, partner, json!({ "k": "p-1" })).await;
    assert_eq!(one, two);
    let partners = s.ok(&admin, "{ partners { id } }", json!({})).await;
    assert_eq!(partners["partners"].as_array().unwrap().len(), 1);
    let partner_id = one["createPartner"]["id"].clone();

    // A replayed key issue returns the same key without its secret, which is never stored.
    let key = "mutation($p: ID, $k: String) { createApiKey(role: PARTNER, name: \"prod\", partnerId: $p, idempotencyKey: $k) { secret apiKey { id } } }";
    let first = s
        .ok(&admin, key, json!({ "p": partner_id, "k": "k-1" }))
        .await["createApiKey"]
        .clone();
    let replay = s
        .ok(&admin, key, json!({ "p": partner_id, "k": "k-1" }))
        .await["createApiKey"]
        .clone();
    assert!(first["secret"].as_str().unwrap().starts_with("ghk_"));
    assert!(replay["secret"].is_null());
    assert_eq!(first["apiKey"]["id"], replay["apiKey"]["id"]);
    let keys = s
        .ok(
            &admin,
            "query($id: ID!) { partner(id: $id) { apiKeys { id } } }",
            json!({ "id": partner_id }),
        )
        .await;
    assert_eq!(keys["partner"]["apiKeys"].as_array().unwrap().len(), 1);

    let program = "mutation($in: CreateProgramInput!, $k: String) { createProgram(input: $in, idempotencyKey: $k) { id } }";
    let input = json!({
        "code": "TEST_PROGRAM", "name": "Test", "region": "TX", "mvKind": "DEVICE",
        "partnerSuppliedIntervals": true, "timezone": "America/Chicago", "seasons": [], "parameters": []
    });
    let a = s
        .ok(&admin, program, json!({ "in": input, "k": "prog-1" }))
        .await;
    let b = s
        .ok(&admin, program, json!({ "in": input, "k": "prog-1" }))
        .await;
    assert_eq!(a, b, "a replay is not a CONFLICT on the code");
    s.shutdown().await;
}
