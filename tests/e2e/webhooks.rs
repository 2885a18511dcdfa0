//! Webhooks: signed deliveries from the outbox, retried until accepted and
//! delivered exactly once per id, surviving a restart, tenant-scoped, with
//! attempts, replay, test notifications and disabling.

use std::time::Duration;

use gridhub_api::services::webhooks::WebhookConfig;
use gridhub_tests::webhook_receiver::WebhookReceiver;
use gridhub_tests::TestServer;
use serde_json::{json, Value};

use super::events::{setup_with, summer_event, Setup, SCHEDULE};

const CREATE: &str = "mutation($in: WebhookEndpointInput!) { createWebhookEndpoint(input: $in) { secret endpoint { id status eventTypes } } }";
const DELIVERIES: &str = "query($e: ID) { webhookDeliveries(filter: { endpointId: $e }, first: 50) { edges { node { id eventType status attemptCount lastError payload attempts { statusCode error } } } } }";

fn fast() -> WebhookConfig {
    WebhookConfig {
        backoff_base: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        poll_interval: Duration::from_millis(50),
        request_timeout: Duration::from_secs(2),
        ..WebhookConfig::default()
    }
}

async fn endpoint(s: &TestServer, key: &str, receiver: &WebhookReceiver, types: Value) -> String {
    let created = s
        .ok(
            key,
            CREATE,
            json!({ "in": { "url": receiver.url, "eventTypes": types } }),
        )
        .await;
    receiver.set_secret(created["createWebhookEndpoint"]["secret"].as_str().unwrap());
    created["createWebhookEndpoint"]["endpoint"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn deliveries(s: &TestServer, key: &str, endpoint: &str) -> Vec<Value> {
    s.ok(key, DELIVERIES, json!({ "e": endpoint })).await["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_retry_until_accepted_and_arrive_once_per_partner() {
    let Setup { s, cs, acme, volt } = setup_with(|c| c.webhooks = fast()).await;
    // Acme's receiver fails twice before accepting; Volt's accepts at once.
    let acme_hook = WebhookReceiver::start(2).await;
    let volt_hook = WebhookReceiver::start(0).await;
    let acme_ep = endpoint(&s, &acme, &acme_hook, json!([])).await;
    let volt_ep = endpoint(
        &s,
        &volt,
        &volt_hook,
        json!(["EVENT_CREATED", "EVENT_CANCELLED"]),
    )
    .await;

    let event = s
        .ok(
            &s.admin_key,
            SCHEDULE,
            json!({ "in": summer_event(&cs, 15) }),
        )
        .await;
    let event_id = event["scheduleEvent"]["id"].as_str().unwrap().to_owned();
    acme_hook
        .wait_for("Acme's EVENT_CREATED", |r| !r.accepted.is_empty())
        .await;
    volt_hook
        .wait_for("Volt's EVENT_CREATED", |r| !r.accepted.is_empty())
        .await;

    // Acme: two 500s, then accepted; the body names only Acme's meter.
    let (requests, accepted) = acme_hook.with(|r| (r.requests.clone(), r.accepted.clone()));
    let codes: Vec<u16> = requests.iter().map(|(_, c)| *c).collect();
    assert_eq!(codes, [500, 500, 200]);
    assert!(
        requests.iter().all(|(id, _)| *id == requests[0].0),
        "one id across retries"
    );
    let body = &accepted[0].1;
    assert_eq!(body["type"], "EVENT_CREATED");
    assert_eq!(body["id"], requests[0].0.as_str());
    assert_eq!(body["data"]["event"]["id"], event_id.as_str());
    assert_eq!(body["data"]["dispatches"].as_array().unwrap().len(), 1);
    assert_eq!(acme_hook.with(|r| r.bad_signatures), 0);
    let volt_body = volt_hook.with(|r| r.accepted[0].1.clone());
    assert_eq!(volt_body["data"]["dispatches"].as_array().unwrap().len(), 1);
    assert_ne!(
        volt_body["data"]["dispatches"][0]["id"],
        body["data"]["dispatches"][0]["id"]
    );

    // The attempts are recorded and visible to the partner, not to others.
    let mine = deliveries(&s, &acme, &acme_ep).await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["status"], "DELIVERED");
    assert_eq!(mine[0]["attemptCount"], 3);
    let codes: Vec<i64> = mine[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["statusCode"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [500, 500, 200]);
    assert!(deliveries(&s, &volt, &acme_ep).await.is_empty());

    // Volt did not ask for EVENT_UPDATED: a move reaches Acme only.
    s.ok(&s.admin_key, "mutation($id: ID!) { updateEvent(id: $id, input: { ackDeadline: \"2027-07-15T19:00:00Z\" }) { revision } }", json!({ "id": event_id }))
        .await;
    acme_hook
        .wait_for("Acme's EVENT_UPDATED", |r| r.accepted.len() == 2)
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(volt_hook.with(|r| r.accepted.len()), 1);
    let _ = volt_ep;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_retries_loses_nothing() {
    let Setup { mut s, acme, .. } = setup_with(|c| c.webhooks = fast()).await;
    let hook = WebhookReceiver::start(usize::MAX).await;
    let ep = endpoint(&s, &acme, &hook, json!([])).await;
    let sent = s
        .ok(
            &acme,
            "mutation($e: ID!) { sendTestWebhook(endpointId: $e) { id status } }",
            json!({ "e": ep }),
        )
        .await;
    let id = sent["sendTestWebhook"]["id"].as_str().unwrap().to_owned();
    hook.wait_for("a failed attempt", |r| !r.requests.is_empty())
        .await;
    s.stop().await;
    hook.fail_next(0);
    let before = hook.with(|r| r.requests.len());
    // A new server on the same database picks the delivery up.
    let s2 = s.replica(|c| c.webhooks = fast()).await;
    hook.wait_for("the delivery after the restart", |r| !r.accepted.is_empty())
        .await;
    let (accepted, requests) = hook.with(|r| (r.accepted.clone(), r.requests.len()));
    assert_eq!(accepted.len(), 1);
    assert_eq!(accepted[0].0, id);
    assert_eq!(accepted[0].1["type"], "TEST");
    assert!(requests > before);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(hook.with(|r| r.accepted.len()), 1, "delivered exactly once");
    let d = deliveries(&s2, &acme, &ep).await;
    assert_eq!(d[0]["status"], "DELIVERED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_endpoints_are_disabled_and_replays_resend_the_same_id() {
    let Setup { s, acme, volt, .. } = setup_with(|c| {
        c.webhooks = WebhookConfig {
            disable_after_failures: 3,
            ..fast()
        }
    })
    .await;
    let hook = WebhookReceiver::start(usize::MAX).await;
    let ep = endpoint(&s, &acme, &hook, json!([])).await;
    let test = "mutation($e: ID!) { sendTestWebhook(endpointId: $e) { id } }";
    let id = s.ok(&acme, test, json!({ "e": ep })).await["sendTestWebhook"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let status = "{ webhookEndpoints { id status disabledReason consecutiveFailures } }";
    let mut endpoint_state = Value::Null;
    for _ in 0..100 {
        endpoint_state = s.ok(&acme, status, json!({})).await["webhookEndpoints"][0].clone();
        if endpoint_state["status"] == "DISABLED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(endpoint_state["status"], "DISABLED");
    assert!(
        endpoint_state["disabledReason"]
            .as_str()
            .unwrap()
            .contains("3 consecutive failed deliveries"),
        "{endpoint_state}"
    );
    // Another partner neither sees nor touches it.
    assert!(s.ok(&volt, status, json!({})).await["webhookEndpoints"]
        .as_array()
        .unwrap()
        .is_empty());
    let enable = "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { enabled: true }) { status } }";
    assert_eq!(
        s.err(Some(&volt), enable, json!({ "id": ep })).await.code,
        "NOT_FOUND"
    );

    // Re-enabled, the pending delivery goes out; a replay sends the same id again.
    hook.fail_next(0);
    assert_eq!(
        s.ok(&acme, enable, json!({ "id": ep })).await["updateWebhookEndpoint"]["status"],
        "ACTIVE"
    );
    hook.wait_for("the delivery after re-enabling", |r| r.accepted.len() == 1)
        .await;
    s.ok(
        &acme,
        "mutation($id: ID!) { replayWebhookDelivery(id: $id) { status } }",
        json!({ "id": id }),
    )
    .await;
    hook.wait_for("the replay", |r| r.accepted.len() == 2).await;
    let ids: Vec<String> = hook.with(|r| r.accepted.iter().map(|(i, _)| i.clone()).collect());
    assert_eq!(ids, [id.clone(), id]);
    // A bad URL is an input error.
    let bad = s
        .err(
            Some(&acme),
            CREATE,
            json!({ "in": { "url": "ftp://example.com/x" } }),
        )
        .await;
    assert_eq!(bad.code, "VALIDATION");
}
