//! GraphQL over HTTP: media types, status codes, GET rules, limits, health.

use gridhub_tests::TestServer;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

const VIEWER: &str = r#"{"query":"{ viewer { role } }"}"#;

async fn post(
    s: &TestServer,
    accept: Option<&str>,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    let mut req = s
        .client
        .post(s.url("/graphql"))
        .bearer_auth(&s.admin_key)
        .header(CONTENT_TYPE, content_type)
        .body(body.to_owned());
    if let Some(a) = accept {
        req = req.header(ACCEPT, a);
    }
    req.send().await.unwrap()
}

fn content_type(r: &reqwest::Response) -> String {
    r.headers()[CONTENT_TYPE].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_type_negotiation() {
    let s = TestServer::start().await;
    let r = post(&s, None, "application/json", VIEWER).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(content_type(&r).starts_with("application/graphql-response+json"));
    assert_eq!(
        r.json::<Value>().await.unwrap()["data"]["viewer"]["role"],
        "ADMIN"
    );

    let r = post(&s, Some("application/json"), "application/json", VIEWER).await;
    assert!(content_type(&r).starts_with("application/json"));

    let r = post(
        &s,
        Some("application/json;q=0.9, application/graphql-response+json"),
        "application/json",
        VIEWER,
    )
    .await;
    assert!(content_type(&r).starts_with("application/graphql-response+json"));

    let r = post(&s, Some("text/html"), "application/json", VIEWER).await;
    assert_eq!(r.status(), StatusCode::NOT_ACCEPTABLE);

    let r = post(&s, None, "text/plain", VIEWER).await;
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_errors_are_4xx_for_the_graphql_media_type() {
    let s = TestServer::start().await;
    // Not JSON at all: 400 whatever the media type.
    for accept in ["application/graphql-response+json", "application/json"] {
        let r = post(&s, Some(accept), "application/json", "{not json").await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{accept}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
        let r = post(&s, Some(accept), "application/json", r#"{"variables":{}}"#).await;
        assert_eq!(
            r.status(),
            StatusCode::BAD_REQUEST,
            "missing query, {accept}"
        );
    }

    // Validation error: 400 without `data` for graphql-response+json …
    let bad = r#"{"query":"{ viewer { nope } }"}"#;
    let r = post(&s, None, "application/json", bad).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // … and 200 for legacy application/json.
    let r = post(&s, Some("application/json"), "application/json", bad).await;
    assert_eq!(r.status(), StatusCode::OK);

    let r = post(&s, None, "application/json", r#"{"query":"{ viewer { "}"#).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );

    // An execution error is still a 200 with `data`.
    let r = post(
        &s,
        None,
        "application/json",
        r#"{"query":"{ meter(id: \"mtr_x\") { id } }"}"#,
    )
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert!(body.get("data").is_some());
    assert_eq!(body["errors"][0]["extensions"]["code"], "NOT_FOUND");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_runs_queries_but_not_mutations() {
    let s = TestServer::start().await;
    let r = s
        .client
        .get(s.url("/graphql"))
        .bearer_auth(&s.admin_key)
        .query(&[
            (
                "query",
                "query Q($r: Region) { utilities(region: $r) { code } }",
            ),
            ("variables", r#"{"r":"TX"}"#),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    let codes: Vec<&str> = body["data"]["utilities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"ONCOR") && !codes.contains(&"PGE"),
        "{codes:?}"
    );

    let r = s
        .client
        .get(s.url("/graphql"))
        .bearer_auth(&s.admin_key)
        .query(&[("query", "mutation { createPartner(name: \"x\") { id } }")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers()[ALLOW], "POST");
    // Nothing was created.
    let data = s.ok(&s.admin_key, "{ partners { id } }", json!({})).await;
    assert_eq!(data["partners"].as_array().unwrap().len(), 0);

    let html = s
        .client
        .get(s.url("/graphql"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(html.status(), StatusCode::OK);
    assert!(html
        .text()
        .await
        .unwrap()
        .to_lowercase()
        .contains("graphiql"));
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_on_body_depth_and_complexity() {
    let s = TestServer::start_with(|c| c.max_body_bytes = 64 * 1024).await;
    let huge = format!(
        r#"{{"query":"{{ viewer {{ role }} }}","variables":{{"pad":"{}"}}}}"#,
        "x".repeat(70 * 1024)
    );
    let r = post(&s, None, "application/json", &huge).await;
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let deep = "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } }";
    let e = s.err(Some(&s.admin_key), deep, json!({})).await;
    assert_eq!(e.code, "GRAPHQL_VALIDATION_FAILED");
    assert!(e.message.contains("nested too deep"), "{}", e.message);

    let fields = "id externalId kind deviceType region iso utility loadZone customerClass capacityKw energyKwh status authorizationStatus createdAt updatedAt partner { id name }";
    let page = format!("meters(first: 500) {{ edges {{ cursor node {{ {fields} }} }} }}");
    let complex =
        format!("{{ a: {page} b: {page} c: {page} d: {page} e: {page} f: {page} g: {page} }}");
    let e = s.err(Some(&s.admin_key), &complex, json!({})).await;
    assert_eq!(e.code, "GRAPHQL_VALIDATION_FAILED");
    assert!(e.message.contains("too complex"), "{}", e.message);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_schema_endpoints() {
    let s = TestServer::start().await;
    let r = s.client.get(s.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    let r = s.client.get(s.url("/health/live")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let metrics = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("gridhub_graphql_requests_total"));
    s.shutdown().await;
}
