//! Partner A can neither read nor change partner B's data through any entry point.

use gridhub_tests::{battery, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_are_isolated_everywhere() {
    let s = TestServer::start().await;
    let (a_id, a) = s.partner("Acme").await;
    let (b_id, b) = s.partner("Volt").await;
    let create = "mutation($in: MeterInput!) { createMeter(input: $in) { id } }";
    let a_meter = s
        .ok(&a, create, json!({ "in": battery("shared-ext") }))
        .await["createMeter"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_meter = s
        .ok(&b, create, json!({ "in": battery("shared-ext") }))
        .await["createMeter"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(a_meter, b_meter, "external ids are unique per partner only");

    // Reads of B's meter by id or external id: not found, as if it did not exist.
    let e = s
        .err(
            Some(&a),
            "query($id: ID!) { meter(id: $id) { id } }",
            json!({ "id": b_meter }),
        )
        .await;
    assert_eq!(e.code, "NOT_FOUND");
    let mine = s
        .ok(
            &a,
            "{ meterByExternalId(externalId: \"shared-ext\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["meterByExternalId"]["id"], a_meter.as_str());
    let e = s
        .err(
            Some(&a),
            "query($p: ID) { meterByExternalId(externalId: \"shared-ext\", partnerId: $p) { id } }",
            json!({ "p": b_id }),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");

    // Lists show only A's meters; asking for B's is forbidden.
    let list = s
        .ok(
            &a,
            "{ meters { totalCount nodes { id partner { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["meters"]["totalCount"], 1);
    assert_eq!(list["meters"]["nodes"][0]["id"], a_meter.as_str());
    assert_eq!(list["meters"]["nodes"][0]["partner"]["id"], a_id.as_str());
    let e = s
        .err(
            Some(&a),
            "query($p: ID) { meters(partnerId: $p) { totalCount } }",
            json!({ "p": b_id }),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");

    // Partners: A sees only itself; B's partner record and keys are hidden.
    let partners = s.ok(&a, "{ partners { id } }", json!({})).await;
    assert_eq!(partners["partners"], json!([{ "id": a_id }]));
    let e = s
        .err(
            Some(&a),
            "query($id: ID!) { partner(id: $id) { name } }",
            json!({ "id": b_id }),
        )
        .await;
    assert_eq!(e.code, "NOT_FOUND");
    let keys = s
        .ok(
            &a,
            "{ viewer { partner { apiKeys { partnerId } } } }",
            json!({}),
        )
        .await;
    for k in keys["viewer"]["partner"]["apiKeys"].as_array().unwrap() {
        assert_eq!(k["partnerId"], a_id.as_str());
    }

    // Writes to B's meter: not found, and B's meter is untouched.
    let writes = [
        "mutation($id: ID!) { updateMeter(id: $id, input: { capacityKw: 99 }) { id } }",
        "mutation($id: ID!) { deactivateMeter(id: $id, reason: \"x\") { id } }",
        "mutation($id: ID!) { reactivateMeter(id: $id) { id } }",
    ];
    for w in writes {
        let e = s.err(Some(&a), w, json!({ "id": b_meter })).await;
        assert_eq!(e.code, "NOT_FOUND", "{w}");
    }
    let e = s
        .err(
            Some(&a),
            "mutation($p: ID, $in: MeterInput!) { createMeter(input: $in, partnerId: $p) { id } }",
            json!({ "p": b_id, "in": battery("x") }),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");
    let e = s.err(Some(&a), "mutation($p: ID, $in: [MeterInput!]!) { upsertMeters(inputs: $in, partnerId: $p) { created } }", json!({ "p": b_id, "in": [battery("shared-ext")] })).await;
    assert_eq!(e.code, "FORBIDDEN");
    let e = s.err(Some(&a), "mutation($p: ID, $in: [MeterInput!]!) { createMeters(inputs: $in, partnerId: $p) { id } }", json!({ "p": b_id, "in": [battery("y")] })).await;
    assert_eq!(e.code, "FORBIDDEN");

    let b_view = s
        .ok(
            &b,
            "query($id: ID!) { meter(id: $id) { capacityKw status } meters { totalCount } }",
            json!({ "id": b_meter }),
        )
        .await;
    assert_eq!(b_view["meter"]["capacityKw"], 5.0);
    assert_eq!(b_view["meter"]["status"], "ACTIVE");
    assert_eq!(b_view["meters"]["totalCount"], 1);

    // An admin sees both, and can act for a named partner.
    let all = s
        .ok(&s.admin_key, "{ meters { totalCount } }", json!({}))
        .await;
    assert_eq!(all["meters"]["totalCount"], 2);
    let one = s
        .ok(
            &s.admin_key,
            "query($p: ID) { meters(partnerId: $p) { nodes { id } } }",
            json!({ "p": b_id }),
        )
        .await;
    assert_eq!(one["meters"]["nodes"], json!([{ "id": b_meter }]));
    let e = s
        .err(Some(&s.admin_key), create, json!({ "in": battery("z") }))
        .await;
    assert_eq!(e.code, "VALIDATION");
    assert_eq!(e.error["extensions"]["field"], "partnerId");
    s.shutdown().await;
}
