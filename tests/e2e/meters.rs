//! Meter inventory: create, validate, update, deactivate, sync, filter.

use gridhub_tests::{battery, coned_meter, TestServer};
use serde_json::{json, Value};

pub const METER_FIELDS: &str = "id externalId kind deviceType region iso utility loadZone customerClass capacityKw energyKwh networkTier esiId utilityAccountNumber status authorizationStatus deactivatedAt deactivationReason attributes serviceAddress { line1 city state postalCode } createdAt updatedAt";

const CREATE: &str =
    "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id externalId } }";
const UPSERT: &str = "mutation($in: [MeterInput!]!) { upsertMeters(inputs: $in) { created updated unchanged meters { id externalId updatedAt } } }";

async fn count(s: &TestServer, key: &str) -> u64 {
    s.ok(key, "{ meters { totalCount } }", json!({})).await["meters"]["totalCount"]
        .as_u64()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_read_update_deactivate() {
    let s = TestServer::start().await;
    let (partner_id, key) = s.partner("Acme").await;
    let mut input = battery(" b-1 ");
    input["utility"] = json!("eversource");
    input["attributes"] = json!({ "site": "garage", "firmware": 7 });
    let q = format!("mutation($in: MeterInput!) {{ createMeter(input: $in) {{ {METER_FIELDS} partner {{ id }} }} }}");
    let m = s.ok(&key, &q, json!({ "in": input })).await["createMeter"].clone();
    let id = m["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("mtr_"), "{id}");
    assert_eq!(m["externalId"], "b-1", "external id is trimmed");
    assert_eq!(m["utility"], "EVERSOURCE", "codes are normalized");
    assert_eq!(m["iso"], "ISONE");
    assert_eq!(m["status"], "ACTIVE");
    assert_eq!(m["authorizationStatus"], "NOT_AUTHORIZED");
    assert_eq!(
        m["serviceAddress"]["state"], "MA",
        "state follows the region"
    );
    assert_eq!(m["attributes"]["firmware"], 7);
    assert_eq!(m["partner"]["id"], partner_id.as_str());

    let q = format!("query($id: ID!) {{ meter(id: $id) {{ {METER_FIELDS} }} }}");
    let read = s.ok(&key, &q, json!({ "id": id })).await["meter"].clone();
    assert_eq!(read["capacityKw"], 5.0);
    let by_ext = s
        .ok(
            &key,
            "{ meterByExternalId(externalId: \"b-1\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(by_ext["meterByExternalId"]["id"], id.as_str());

    let update = "mutation($id: ID!, $in: MeterUpdateInput!) { updateMeter(id: $id, input: $in) { capacityKw loadZone energyKwh updatedAt } }";
    let u = s
        .ok(
            &key,
            update,
            json!({ "id": id, "in": { "capacityKw": 7.5, "loadZone": null } }),
        )
        .await["updateMeter"]
        .clone();
    assert_eq!(u["capacityKw"], 7.5);
    assert!(u["loadZone"].is_null(), "null clears a field");
    assert_eq!(u["energyKwh"], 13.5, "absent fields are kept");
    assert!(u["updatedAt"].as_str().unwrap() > m["updatedAt"].as_str().unwrap());

    let mut bad = battery("b-bad");
    bad["capacityKw"] = json!(0);
    let single = "mutation($in: MeterInput!) { createMeter(input: $in) { id } }";
    let e = s.err(Some(&key), single, json!({ "in": bad })).await;
    assert_eq!(e.error["extensions"]["field"], "input.capacityKw");
    assert!(e.error["extensions"].get("row").is_none());
    let e = s
        .err(
            Some(&key),
            update,
            json!({ "id": id, "in": { "region": "TX" } }),
        )
        .await;
    assert_eq!(e.code, "VALIDATION");
    assert_eq!(
        e.error["extensions"]["field"], "input.utility",
        "{}",
        e.message
    );
    let unchanged = s.ok(&key, &q, json!({ "id": id })).await["meter"].clone();
    assert_eq!(unchanged["region"], "MA");

    let d = s
        .ok(&key, "mutation($id: ID!) { deactivateMeter(id: $id, reason: \"sold\") { status deactivatedAt deactivationReason } }", json!({ "id": id }))
        .await["deactivateMeter"]
        .clone();
    assert_eq!(d["status"], "INACTIVE");
    assert_eq!(d["deactivationReason"], "sold");
    assert!(d["deactivatedAt"].is_string());
    let r = s
        .ok(
            &key,
            "mutation($id: ID!) { reactivateMeter(id: $id) { status deactivatedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(r["reactivateMeter"]["status"], "ACTIVE");
    assert!(r["reactivateMeter"]["deactivatedAt"].is_null());
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_with_bad_rows_writes_nothing_and_names_each_row() {
    let s = TestServer::start().await;
    let (_, key) = s.partner("Acme").await;
    let mut bad_capacity = battery("b-2");
    bad_capacity["capacityKw"] = json!(-3);
    let mut bad_utility = coned_meter("m-3");
    bad_utility["utility"] = json!("PGE");
    let mut bad_zip = battery("b-4");
    bad_zip["serviceAddress"]["postalCode"] = json!("ABCDE");
    let inputs = json!([
        battery("b-1"),
        bad_capacity,
        bad_utility,
        bad_zip,
        battery("b-1")
    ]);
    let e = s.err(Some(&key), CREATE, json!({ "in": inputs })).await;
    assert_eq!(e.code, "VALIDATION");
    let errors = e.error["extensions"]["fieldErrors"].as_array().unwrap();
    let fields: Vec<(&str, u64)> = errors
        .iter()
        .map(|f| (f["field"].as_str().unwrap(), f["row"].as_u64().unwrap()))
        .collect();
    for expected in [
        ("inputs[1].capacityKw", 1),
        ("inputs[2].utility", 2),
        ("inputs[2].networkTier", 2),
        ("inputs[3].serviceAddress.postalCode", 3),
        ("inputs[4].externalId", 4),
    ] {
        assert!(
            fields.contains(&expected),
            "missing {expected:?} in {fields:?}"
        );
    }
    assert_eq!(e.error["extensions"]["row"], 1, "first offending row");
    assert!(e.message.contains("inputs[1].capacityKw"), "{}", e.message);
    assert_eq!(count(&s, &key).await, 0, "nothing written");

    // A GraphQL-level type error (bad enum) is also refused before anything runs.
    let mut bad_enum = battery("b-5");
    bad_enum["region"] = json!("ZZ");
    let e = s
        .err(
            Some(&key),
            CREATE,
            json!({ "in": [battery("b-6"), bad_enum] }),
        )
        .await;
    assert!(!e.code.is_empty());
    assert_eq!(count(&s, &key).await, 0);

    // Existing external ids are a conflict, and the good rows are not written either.
    s.ok(&key, CREATE, json!({ "in": [battery("b-1")] })).await;
    let e = s
        .err(
            Some(&key),
            CREATE,
            json!({ "in": [battery("b-7"), battery("b-1")] }),
        )
        .await;
    assert_eq!(e.code, "CONFLICT");
    assert!(e.message.contains("inputs[1].externalId"), "{}", e.message);
    assert_eq!(count(&s, &key).await, 1);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inventory_sync_is_idempotent() {
    let s = TestServer::start_with(gridhub_tests::quiet).await;
    let (_, key) = s.partner("Acme").await;
    let mut batch: Vec<Value> = (0..50).map(|i| battery(&format!("b-{i:03}"))).collect();
    batch.push(coned_meter("nyc-1"));

    let first = s.ok(&key, UPSERT, json!({ "in": batch })).await["upsertMeters"].clone();
    assert_eq!(
        (
            first["created"].as_u64(),
            first["updated"].as_u64(),
            first["unchanged"].as_u64()
        ),
        (Some(51), Some(0), Some(0))
    );
    let before = s.statements().await;
    let again = s.ok(&key, UPSERT, json!({ "in": batch })).await["upsertMeters"].clone();
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(51))
    );
    assert_eq!(first["meters"], again["meters"], "same ids, same updatedAt");
    assert!(
        s.statements().await - before < 20,
        "a no-op sync is a handful of statements"
    );

    // Same meters written differently (case, spaces, explicit nulls) are still unchanged.
    let mut restyled = batch.clone();
    restyled[0]["utility"] = json!(" Eversource ");
    restyled[0]["esiId"] = json!(null);
    let r = s.ok(&key, UPSERT, json!({ "in": restyled })).await["upsertMeters"].clone();
    assert_eq!(r["unchanged"], 51);

    // One changed row and one new row.
    batch[3]["capacityKw"] = json!(9.9);
    batch.push(battery("b-new"));
    let r = s.ok(&key, UPSERT, json!({ "in": batch })).await["upsertMeters"].clone();
    assert_eq!(
        (
            r["created"].as_u64(),
            r["updated"].as_u64(),
            r["unchanged"].as_u64()
        ),
        (Some(1), Some(1), Some(50))
    );
    assert_eq!(
        r["meters"][3]["id"], first["meters"][3]["id"],
        "ids are stable"
    );
    assert_ne!(r["meters"][3]["updatedAt"], first["meters"][3]["updatedAt"]);
    assert_eq!(count(&s, &key).await, 52);

    // A bad row fails the whole sync.
    batch[0]["capacityKw"] = json!(0);
    batch[1]["capacityKw"] = json!(1.5);
    let e = s.err(Some(&key), UPSERT, json!({ "in": batch })).await;
    assert_eq!(e.code, "VALIDATION");
    let q = "{ meterByExternalId(externalId: \"b-001\") { capacityKw } }";
    assert_eq!(
        s.ok(&key, q, json!({})).await["meterByExternalId"]["capacityKw"],
        5.0
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_meters() {
    let s = TestServer::start().await;
    let (_, key) = s.partner("Acme").await;
    let mut tx = coned_meter("tx-1");
    tx["region"] = json!("TX");
    tx["utility"] = json!("ONCOR");
    tx["loadZone"] = json!("LZ_HOUSTON");
    tx["networkTier"] = json!(null);
    tx["esiId"] = json!("10443720001234567");
    s.ok(
        &key,
        CREATE,
        json!({ "in": [battery("b-1"), battery("b-2"), coned_meter("nyc-1"), tx] }),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let cutoff = chrono::Utc::now().to_rfc3339();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let id = s
        .ok(
            &key,
            "{ meterByExternalId(externalId: \"b-2\") { id } }",
            json!({}),
        )
        .await["meterByExternalId"]["id"]
        .clone();
    s.ok(
        &key,
        "mutation($id: ID!) { deactivateMeter(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;

    let q = "query($f: MeterFilter) { meters(filter: $f) { totalCount nodes { externalId } } }";
    let ext = |v: &Value| -> Vec<String> {
        v["meters"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["externalId"].as_str().unwrap().to_owned())
            .collect()
    };
    let cases = [
        (json!({ "regions": ["MA"] }), vec!["b-1", "b-2"]),
        (json!({ "regions": ["NY", "TX"] }), vec!["nyc-1", "tx-1"]),
        (json!({ "kinds": ["UTILITY_METER"] }), vec!["nyc-1", "tx-1"]),
        (json!({ "statuses": ["INACTIVE"] }), vec!["b-2"]),
        (json!({ "utilities": ["coned"] }), vec!["nyc-1"]),
        (
            json!({ "externalIds": ["tx-1", "b-1", "nope"] }),
            vec!["b-1", "tx-1"],
        ),
        (json!({ "updatedSince": cutoff }), vec!["b-2"]),
        (
            json!({ "regions": ["MA"], "statuses": ["ACTIVE"] }),
            vec!["b-1"],
        ),
        (json!({ "authorizationStatuses": ["AUTHORIZED"] }), vec![]),
    ];
    for (filter, expected) in cases {
        let data = s.ok(&key, q, json!({ "f": filter })).await;
        assert_eq!(ext(&data), expected, "filter {filter}");
        assert_eq!(
            data["meters"]["totalCount"].as_u64().unwrap() as usize,
            expected.len(),
            "count for {filter}"
        );
    }
    s.shutdown().await;
}
