//! GraphQL over WebSocket at `/graphql`, speaking both subprotocols:
//!
//! - `graphql-transport-ws` (the `graphql-ws` library's protocol), with its
//!   close codes: 4400 invalid message, 4401 subscribe before
//!   `connection_ack`, 4403 rejected `connection_init`, 4406 unknown
//!   subprotocol, 4408 no `connection_init` in time, 4409 duplicate
//!   subscription id, 4429 a second `connection_init`.
//! - `graphql-ws` (the legacy `subscriptions-transport-ws` protocol):
//!   `connection_error` for a rejected init, `ka` keep-alives, `data`/`error`/
//!   `complete` per operation.
//!
//! The API key goes in the `connection_init` payload: `{"Authorization":
//! "Bearer <key>"}` (or `{"apiKey": "<key>"}`).

use std::collections::HashMap;
use std::time::Duration;

use async_graphql::Request;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::AppState;
use crate::auth::Principal;
use crate::graphql::{Loaders, RequestContext};

pub const TRANSPORT_WS: &str = "graphql-transport-ws";
pub const LEGACY_WS: &str = "graphql-ws";

/// Legacy protocol keep-alive interval.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Protocol {
    Transport,
    Legacy,
}

pub fn upgrade(app: AppState, ws: WebSocketUpgrade, init_timeout: Duration) -> Response {
    let ws = ws.protocols([TRANSPORT_WS, LEGACY_WS]);
    let protocol = match ws.selected_protocol().and_then(|p| p.to_str().ok()) {
        Some(TRANSPORT_WS) => Some(Protocol::Transport),
        Some(LEGACY_WS) => Some(Protocol::Legacy),
        _ => None,
    };
    ws.on_upgrade(move |socket| async move {
        match protocol {
            Some(p) => Connection::new(app, p).run(socket, init_timeout).await,
            None => {
                let mut socket = socket;
                let _ = socket.send(close(4406, "Subprotocol not acceptable")).await;
            }
        }
    })
}

fn close(code: u16, reason: &str) -> Message {
    // A close reason is at most 123 bytes.
    let mut reason = reason.to_owned();
    while reason.len() > 123 {
        reason.pop();
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason),
    }))
}

#[derive(Deserialize)]
struct Incoming {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
    payload: Option<Value>,
}

/// What the reader tells the writer loop.
enum Out {
    Text(Value),
    Close(u16, String),
}

struct Connection {
    app: AppState,
    protocol: Protocol,
    principal: Option<Principal>,
    initialised: bool,
    operations: HashMap<String, JoinHandle<()>>,
}

impl Connection {
    fn new(app: AppState, protocol: Protocol) -> Self {
        Self {
            app,
            protocol,
            principal: None,
            initialised: false,
            operations: HashMap::new(),
        }
    }

    async fn run(mut self, socket: WebSocket, init_timeout: Duration) {
        let (mut sink, mut stream) = socket.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Out>();
        let writer = tokio::spawn(async move {
            while let Some(message) = out_rx.recv().await {
                let frame = match message {
                    Out::Text(v) => Message::Text(Utf8Bytes::from(v.to_string())),
                    Out::Close(code, reason) => {
                        let _ = sink.send(close(code, &reason)).await;
                        break;
                    }
                };
                if sink.send(frame).await.is_err() {
                    break;
                }
            }
        });
        let deadline = tokio::time::sleep(init_timeout);
        tokio::pin!(deadline);
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline, if !self.initialised => {
                    self.fail(&out, 4408, "Connection initialisation timeout");
                    break;
                }
                _ = keep_alive.tick(), if self.initialised && self.protocol == Protocol::Legacy => {
                    let _ = out.send(Out::Text(json!({ "type": "ka" })));
                }
                message = stream.next() => {
                    let text = match message {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Binary(_))) => {
                            self.fail(&out, 4400, "Binary messages are not supported");
                            break;
                        }
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => continue,
                    };
                    if !self.handle(&text, &out).await {
                        break;
                    }
                }
            }
        }
        for (_, task) in self.operations.drain() {
            task.abort();
        }
        drop(out);
        let _ = writer.await;
    }

    /// Ends the connection: a close code, or for the legacy protocol a
    /// `connection_error` first.
    fn fail(&self, out: &mpsc::UnboundedSender<Out>, code: u16, reason: &str) {
        if self.protocol == Protocol::Legacy {
            let _ = out.send(Out::Text(
                json!({ "type": "connection_error", "payload": { "message": reason } }),
            ));
            let _ = out.send(Out::Close(1000, reason.to_owned()));
        } else {
            let _ = out.send(Out::Close(code, reason.to_owned()));
        }
    }

    /// Handles one client message; `false` ends the connection.
    async fn handle(&mut self, text: &str, out: &mpsc::UnboundedSender<Out>) -> bool {
        let Ok(message) = serde_json::from_str::<Incoming>(text) else {
            self.fail(out, 4400, "Invalid message received");
            return false;
        };
        match (self.protocol, message.kind.as_str()) {
            (_, "connection_init") => {
                if self.initialised || self.principal.is_some() {
                    self.fail(out, 4429, "Too many initialisation requests");
                    return false;
                }
                match self.authenticate(message.payload.as_ref()).await {
                    Ok(p) => {
                        self.principal = Some(p);
                        self.initialised = true;
                        let _ = out.send(Out::Text(json!({ "type": "connection_ack" })));
                        if self.protocol == Protocol::Legacy {
                            let _ = out.send(Out::Text(json!({ "type": "ka" })));
                        }
                        true
                    }
                    Err(reason) => {
                        self.fail(out, 4403, &format!("Forbidden: {reason}"));
                        false
                    }
                }
            }
            (Protocol::Transport, "ping") => {
                let _ = out.send(Out::Text(json!({ "type": "pong" })));
                true
            }
            (Protocol::Transport, "pong") => true,
            (Protocol::Transport, "subscribe") | (Protocol::Legacy, "start") => {
                let Some(id) = message.id.filter(|i| !i.is_empty()) else {
                    self.fail(
                        out,
                        4400,
                        "Invalid message received: an operation needs an id",
                    );
                    return false;
                };
                if !self.initialised {
                    self.fail(out, 4401, "Unauthorized");
                    return false;
                }
                if self.operations.get(&id).is_some_and(|t| !t.is_finished()) {
                    if self.protocol == Protocol::Transport {
                        self.fail(out, 4409, &format!("Subscriber for {id} already exists"));
                        return false;
                    }
                    let _ = out.send(Out::Text(json!({ "type": "error", "id": id, "payload": { "message": format!("an operation with id {id} is already running") } })));
                    return true;
                }
                let request: Request = match message.payload.map(serde_json::from_value).transpose()
                {
                    Ok(Some(r)) => r,
                    _ => {
                        self.fail(
                            out,
                            4400,
                            "Invalid message received: the payload is not a GraphQL request",
                        );
                        return false;
                    }
                };
                let task = self.execute(id.clone(), request, out.clone());
                self.operations.insert(id, task);
                true
            }
            (Protocol::Transport, "complete") | (Protocol::Legacy, "stop") => {
                if let Some(id) = message.id {
                    if let Some(task) = self.operations.remove(&id) {
                        task.abort();
                        if self.protocol == Protocol::Legacy {
                            let _ = out.send(Out::Text(json!({ "type": "complete", "id": id })));
                        }
                    }
                }
                true
            }
            (Protocol::Legacy, "connection_terminate") => false,
            _ => {
                self.fail(
                    out,
                    4400,
                    &format!("Invalid message received: unknown type `{}`", message.kind),
                );
                false
            }
        }
    }

    async fn authenticate(&self, payload: Option<&Value>) -> Result<Principal, String> {
        let field = |name: &str| -> Option<&str> {
            let payload = payload?;
            payload
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .and_then(|(_, v)| v.as_str())
        };
        let secret = match (field("authorization"), field("apiKey")) {
            (Some(auth), _) => auth
                .split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, s)| s.trim().to_owned())
                .ok_or("use `Authorization: Bearer <api key>`")?,
            (None, Some(key)) => key.trim().to_owned(),
            (None, None) => return Err("send the API key in the connection_init payload".into()),
        };
        self.app
            .services
            .api_keys
            .authenticate(&secret)
            .await
            .map_err(|e| e.to_string())
    }

    /// Runs one operation, streaming its results until it ends.
    fn execute(
        &self,
        id: String,
        request: Request,
        out: mpsc::UnboundedSender<Out>,
    ) -> JoinHandle<()> {
        let principal = self.principal.clone();
        let loaders = Loaders::new(&self.app.services, principal.as_ref());
        let request = request
            .data(RequestContext {
                principal,
                idempotency_key: None,
            })
            .data(loaders);
        let schema = self.app.schema.clone();
        let protocol = self.protocol;
        tokio::spawn(async move {
            let mut results = schema.execute_stream(request);
            while let Some(response) = results.next().await {
                let body = serde_json::to_value(&response).unwrap_or_default();
                // A failure before any data (a bad document, unknown field,
                // no access) is the operation's `error` message.
                let early_failure =
                    response.data == async_graphql::Value::Null && !response.errors.is_empty();
                let message = match (protocol, early_failure) {
                    (Protocol::Transport, true) => {
                        json!({ "type": "error", "id": id, "payload": body["errors"] })
                    }
                    (Protocol::Transport, false) => {
                        json!({ "type": "next", "id": id, "payload": body })
                    }
                    (Protocol::Legacy, true) => {
                        json!({ "type": "error", "id": id, "payload": body["errors"][0] })
                    }
                    (Protocol::Legacy, false) => {
                        json!({ "type": "data", "id": id, "payload": body })
                    }
                };
                if out.send(Out::Text(message)).is_err() {
                    return;
                }
                if early_failure {
                    return;
                }
            }
            let _ = out.send(Out::Text(json!({ "type": "complete", "id": id })));
        })
    }
}
