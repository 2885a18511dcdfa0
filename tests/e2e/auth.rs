//! API keys and roles.

use gridhub_api::domain::Role;
use gridhub_tests::TestServer;
use reqwest::StatusCode;
use serde_json::{json, Value};

const VIEWER: &str = "{ viewer { role apiKeyId partner { id name } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_key_are_refused() {
    let s = TestServer::start().await;
    let e = s.err(None, VIEWER, json!({})).await;
    assert_eq!(e.code, "UNAUTHENTICATED");

    for header in ["Bearer ghk_not_a_real_key", "Basic dXNlcjpwYXNz", "Bearer "] {
        let r = s
            .client
            .post(s.url("/graphql"))
            .header("authorization", header)
            .json(&json!({ "query": VIEWER }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{header}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    }
    // Introspection needs no key.
    let body = s
        .gql(None, "{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_issues_keys_shown_once_and_revocable() {
    let s = TestServer::start().await;
    let (partner_id, key) = s.partner("Acme").await;
    assert!(key.starts_with("ghk_"));
    let data = s.ok(&key, VIEWER, json!({})).await;
    assert_eq!(data["viewer"]["role"], "PARTNER");
    assert_eq!(data["viewer"]["partner"]["id"], partner_id.as_str());

    // Listings show a prefix, never the secret.
    let data = s
        .ok(
            &s.admin_key,
            "query($id: ID!) { partner(id: $id) { apiKeys { id prefix role revokedAt } } }",
            json!({ "id": partner_id }),
        )
        .await;
    let listed = &data["partner"]["apiKeys"][0];
    assert_eq!(listed["prefix"].as_str().unwrap(), &key[..12]);
    assert!(!data.to_string().contains(&key));

    let e = s
        .err(
            Some(&s.admin_key),
            "mutation { createApiKey(role: PARTNER, name: \"x\") { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(e.code, "VALIDATION");
    assert_eq!(e.error["extensions"]["field"], "partnerId");
    let e = s
        .err(
            Some(&s.admin_key),
            "mutation($p: ID) { createApiKey(role: ADMIN, name: \"x\", partnerId: $p) { secret } }",
            json!({ "p": partner_id }),
        )
        .await;
    assert_eq!(e.code, "VALIDATION");
    let e = s
        .err(Some(&s.admin_key), "mutation { createApiKey(role: PARTNER, name: \"x\", partnerId: \"ptr_missing\") { secret } }", json!({}))
        .await;
    assert_eq!(e.code, "NOT_FOUND");

    let id = listed["id"].as_str().unwrap();
    let data = s
        .ok(
            &s.admin_key,
            "mutation($id: ID!) { revokeApiKey(id: $id) { revokedAt } }",
            json!({ "id": id }),
        )
        .await;
    assert!(data["revokeApiKey"]["revokedAt"].is_string());
    let r = s
        .client
        .post(s.url("/graphql"))
        .bearer_auth(&key)
        .json(&json!({ "query": VIEWER }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_what_a_key_can_do() {
    let s = TestServer::start().await;
    let (_, partner_key) = s.partner("Acme").await;
    let analyst = s.key(Role::Analyst, None).await;

    // Partners cannot administer.
    for mutation in [
        "mutation { createPartner(name: \"Evil\") { id } }",
        "mutation { createApiKey(role: ADMIN, name: \"root\") { secret } }",
        "mutation { revokeApiKey(id: \"key_x\") { id } }",
    ] {
        let e = s.err(Some(&partner_key), mutation, json!({})).await;
        assert_eq!(e.code, "FORBIDDEN", "{mutation}: {}", e.message);
    }
    let program_id = s
        .ok(
            &partner_key,
            "{ program(code: \"MA_CPS\") { id } }",
            json!({}),
        )
        .await["program"]["id"]
        .clone();
    let update = "mutation($id: ID!) { updateProgramParameters(programId: $id, changes: [{ key: \"cpec_price_per_mwh\", value: \"50.00\" }]) { version } }";
    let e = s
        .err(Some(&partner_key), update, json!({ "id": program_id }))
        .await;
    assert_eq!(e.code, "FORBIDDEN");

    // Analysts change program rules but do not read partner inventory or create programs.
    let data = s.ok(&analyst, update, json!({ "id": program_id })).await;
    assert_eq!(data["updateProgramParameters"]["version"], 2);
    let e = s
        .err(
            Some(&analyst),
            "{ meters { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");
    let e = s
        .err(
            Some(&analyst),
            "mutation { createPartner(name: \"x\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");
    s.shutdown().await;
}
