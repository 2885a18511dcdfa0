//! GraphQL subscriptions over WebSocket, both subprotocols: events arrive in
//! order, each partner sees only its own, and the protocol rules (close
//! codes, keep-alives) hold.

use std::time::Duration;

use gridhub_tests::ws_client::{Frame, WsClient};
use serde_json::{json, Value};

use super::events::{setup_with, summer_event, Setup, SCHEDULE};

const TRANSPORT: &str = "graphql-transport-ws";
const LEGACY: &str = "graphql-ws";
/// Time for a subscription to be registered (generous: CI machines are busy).
const SETTLE: Duration = Duration::from_millis(1000);
const SUBSCRIBE: &str = "subscription { dispatchEvents { kind eventId revision status dispatches { meterId committedKw } message } }";

async fn transport_client(base: &str, key: &str) -> WsClient {
    let mut c = WsClient::connect(base, TRANSPORT).await;
    c.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } })).await;
    assert_eq!(c.next_json().await["type"], "connection_ack");
    c
}

async fn legacy_client(base: &str, key: &str) -> WsClient {
    let mut c = WsClient::connect(base, LEGACY).await;
    c.send(json!({ "type": "connection_init", "payload": { "apiKey": key } }))
        .await;
    assert_eq!(c.next_json().await["type"], "connection_ack");
    c
}

fn kinds_and_meters(messages: &[Value], data_key: &str) -> Vec<(String, usize)> {
    messages
        .iter()
        .map(|m| {
            let n = &m["payload"]["data"][data_key];
            (
                n["kind"].as_str().unwrap().to_owned(),
                n["dispatches"].as_array().unwrap().len(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_protocols_receive_their_partners_events_in_order() {
    let Setup { s, cs, acme, volt } = setup_with(|_| {}).await;
    let (_, zeta) = s.partner("Zeta").await;
    let mut a = transport_client(&s.base, &acme).await;
    a.send(json!({ "type": "subscribe", "id": "a", "payload": { "query": SUBSCRIBE } }))
        .await;
    let mut v = legacy_client(&s.base, &volt).await;
    v.send(json!({ "type": "start", "id": "v", "payload": { "query": SUBSCRIBE } }))
        .await;
    let mut z = transport_client(&s.base, &zeta).await;
    z.send(json!({ "type": "subscribe", "id": "z", "payload": { "query": SUBSCRIBE } }))
        .await;
    // Let the server register the subscriptions before anything is published.
    tokio::time::sleep(SETTLE).await;

    let id = s
        .ok(
            &s.admin_key,
            SCHEDULE,
            json!({ "in": summer_event(&cs, 15) }),
        )
        .await["scheduleEvent"]["id"]
        .clone();
    s.ok(&s.admin_key, "mutation($id: ID!) { updateEvent(id: $id, input: { note: \"price\", energyPrice: \"0.30\" }) { id } }", json!({ "id": id })).await;
    s.ok(
        &s.admin_key,
        "mutation($id: ID!) { cancelEvent(id: $id) { id } }",
        json!({ "id": id }),
    )
    .await;

    let mut from_a = Vec::new();
    for _ in 0..3 {
        let m = a.next_json().await;
        assert_eq!(
            (m["type"].as_str(), m["id"].as_str()),
            (Some("next"), Some("a")),
            "{m}"
        );
        from_a.push(m);
    }
    assert_eq!(
        kinds_and_meters(&from_a, "dispatchEvents"),
        [
            ("CREATED".into(), 1),
            ("UPDATED".into(), 1),
            ("CANCELLED".into(), 1)
        ]
    );
    let revisions: Vec<i64> = from_a
        .iter()
        .map(|m| {
            m["payload"]["data"]["dispatchEvents"]["revision"]
                .as_i64()
                .unwrap()
        })
        .collect();
    assert_eq!(revisions, [1, 2, 3]);

    let mut from_v = Vec::new();
    for _ in 0..3 {
        let m = v.next_json().await;
        assert_eq!(
            (m["type"].as_str(), m["id"].as_str()),
            (Some("data"), Some("v")),
            "{m}"
        );
        from_v.push(m);
    }
    assert_eq!(
        kinds_and_meters(&from_v, "dispatchEvents"),
        [
            ("CREATED".into(), 1),
            ("UPDATED".into(), 1),
            ("CANCELLED".into(), 1)
        ]
    );
    let a_meter = &from_a[0]["payload"]["data"]["dispatchEvents"]["dispatches"][0]["meterId"];
    let v_meter = &from_v[0]["payload"]["data"]["dispatchEvents"]["dispatches"][0]["meterId"];
    assert_ne!(a_meter, v_meter);

    // Zeta has no meters in the event: nothing, until it tests its integration.
    assert_eq!(
        z.next_within(Duration::from_millis(500), true).await,
        Frame::Nothing
    );
    s.ok(&zeta, "mutation { sendTestNotification }", json!({}))
        .await;
    let t = z.next_json().await;
    assert_eq!(t["payload"]["data"]["dispatchEvents"]["kind"], "TEST");
    assert_eq!(
        t["payload"]["data"]["dispatchEvents"]["message"],
        "a test notification from gridhub"
    );
    // And neither Acme nor Volt got Zeta's test.
    assert_eq!(
        a.next_within(Duration::from_millis(300), true).await,
        Frame::Nothing
    );

    // `complete` stops a subscription: no more messages for it.
    a.send(json!({ "type": "complete", "id": "a" })).await;
    tokio::time::sleep(SETTLE).await;
    s.ok(&acme, "mutation { sendTestNotification }", json!({}))
        .await;
    assert_eq!(
        a.next_within(Duration::from_millis(500), true).await,
        Frame::Nothing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_transport_ws_close_codes() {
    let Setup { s, acme, .. } =
        setup_with(|c| c.ws_init_timeout = Duration::from_millis(300)).await;
    let init = |key: &str| json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {key}") } });

    // 4408: no connection_init in time.
    let mut c = WsClient::connect(&s.base, TRANSPORT).await;
    assert_eq!(c.close_code().await.0, 4408);
    // 4403: a key that is not valid.
    let mut c = WsClient::connect(&s.base, TRANSPORT).await;
    c.send(init("ghk_not_a_key")).await;
    assert_eq!(c.close_code().await.0, 4403);
    // 4401: subscribe before the ack.
    let mut c = WsClient::connect(&s.base, TRANSPORT).await;
    c.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": SUBSCRIBE } }))
        .await;
    assert_eq!(c.close_code().await.0, 4401);
    // 4429: a second connection_init.
    let mut c = transport_client(&s.base, &acme).await;
    c.send(init(&acme)).await;
    assert_eq!(c.close_code().await.0, 4429);
    // 4409: a second subscription with a running id.
    let mut c = transport_client(&s.base, &acme).await;
    c.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": SUBSCRIBE } }))
        .await;
    c.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": SUBSCRIBE } }))
        .await;
    let (code, reason) = c.close_code().await;
    assert_eq!(
        (code, reason.as_str()),
        (4409, "Subscriber for 1 already exists")
    );
    // 4400: not a protocol message.
    let mut c = transport_client(&s.base, &acme).await;
    c.send_raw("{ not json").await;
    assert_eq!(c.close_code().await.0, 4400);
    // No known subprotocol: the server selects none (and would close with
    // 4406), so a conforming client refuses the handshake.
    let refused = WsClient::try_connect(&s.base, "chat").await;
    assert!(matches!(
        refused,
        Err(tokio_tungstenite::tungstenite::Error::Protocol(
            tokio_tungstenite::tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(_)
        ))
    ));

    // A query over subscribe: one `next`, then `complete`; a bad one: `error`.
    let mut c = transport_client(&s.base, &acme).await;
    c.send(
        json!({ "type": "subscribe", "id": "q", "payload": { "query": "{ programs { code } }" } }),
    )
    .await;
    let next = c.next_json().await;
    assert_eq!(next["type"], "next");
    assert_eq!(
        next["payload"]["data"]["programs"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    assert_eq!(
        c.next_json().await,
        json!({ "type": "complete", "id": "q" })
    );
    c.send(json!({ "type": "subscribe", "id": "bad", "payload": { "query": "subscription { nope }" } })).await;
    let err = c.next_json().await;
    assert_eq!(
        (err["type"].as_str(), err["id"].as_str()),
        (Some("error"), Some("bad"))
    );
    assert!(err["payload"].as_array().is_some_and(|e| !e.is_empty()));
    // ping → pong
    c.send(json!({ "type": "ping" })).await;
    assert_eq!(c.next_json().await["type"], "pong");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legacy_graphql_ws_errors_and_keep_alive() {
    let Setup { s, acme, .. } = setup_with(|_| {}).await;
    // A rejected key: connection_error, then the socket closes.
    let mut c = WsClient::connect(&s.base, LEGACY).await;
    c.send(json!({ "type": "connection_init", "payload": { "apiKey": "ghk_wrong" } }))
        .await;
    let m = c.next_json().await;
    assert_eq!(m["type"], "connection_error");
    assert!(m["payload"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Forbidden"));
    c.close_code().await;
    // Accepted: ack, then a keep-alive.
    let mut c = WsClient::connect(&s.base, LEGACY).await;
    c.send(json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {acme}") } })).await;
    assert_eq!(c.next_json().await["type"], "connection_ack");
    match c.next_within(Duration::from_secs(2), false).await {
        Frame::Json(v) => assert_eq!(v["type"], "ka"),
        other => panic!("expected ka, got {other:?}"),
    }
    // stop → complete
    c.send(json!({ "type": "start", "id": "s", "payload": { "query": SUBSCRIBE } }))
        .await;
    c.send(json!({ "type": "stop", "id": "s" })).await;
    assert_eq!(
        c.next_json().await,
        json!({ "type": "complete", "id": "s" })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_on_another_replica_gets_the_event() {
    let Setup { s, cs, acme, .. } = setup_with(|_| {}).await;
    let replica = s.replica(|_| {}).await;
    let mut a = transport_client(&replica.base, &acme).await;
    a.send(json!({ "type": "subscribe", "id": "r", "payload": { "query": SUBSCRIBE } }))
        .await;
    // Let the server register the subscriptions before anything is published.
    tokio::time::sleep(SETTLE).await;
    // Scheduled through the first server; announced by the replica.
    s.ok(
        &s.admin_key,
        SCHEDULE,
        json!({ "in": summer_event(&cs, 20) }),
    )
    .await;
    let m = a.next_json().await;
    assert_eq!(m["payload"]["data"]["dispatchEvents"]["kind"], "CREATED");
    // Both of Acme's batteries are called on July 20 (a2 is idle only on the 15th).
    assert_eq!(
        m["payload"]["data"]["dispatchEvents"]["dispatches"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_program_filter_keeps_other_programs_out() {
    let Setup { s, cs, acme, .. } = setup_with(|_| {}).await;
    let dram = s
        .ok(&acme, "{ program(code: \"CAISO_DRAM\") { id } }", json!({}))
        .await["program"]["id"]
        .clone();
    let only = |program: &Value| {
        json!({ "type": "subscribe", "id": "p", "payload": {
            "query": "subscription($p: ID) { dispatchEvents(programId: $p) { kind programCode } }",
            "variables": { "p": program },
        } })
    };
    let mut to_dram = transport_client(&s.base, &acme).await;
    to_dram.send(only(&dram)).await;
    let mut to_cs = transport_client(&s.base, &acme).await;
    to_cs.send(only(&json!(cs))).await;
    // Let the server register the subscriptions before anything is published.
    tokio::time::sleep(SETTLE).await;
    s.ok(
        &s.admin_key,
        SCHEDULE,
        json!({ "in": summer_event(&cs, 15) }),
    )
    .await;
    let m = to_cs.next_json().await;
    assert_eq!(
        m["payload"]["data"]["dispatchEvents"]["programCode"],
        "MA_CONNECTED_SOLUTIONS"
    );
    assert_eq!(
        to_dram.next_within(Duration::from_millis(500), true).await,
        Frame::Nothing
    );
}
