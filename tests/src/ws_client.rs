//! A GraphQL-over-WebSocket client for tests: raw frames, so tests can check
//! each subprotocol's messages and close codes exactly.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub struct WsClient {
    socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
}

/// What the server sent next.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Json(Value),
    Close(u16, String),
    /// The connection ended without a close frame, or nothing came in time.
    Nothing,
}

impl WsClient {
    /// Connects to `ws://…/graphql` offering `protocol`.
    pub async fn connect(base_http: &str, protocol: &str) -> Self {
        Self::try_connect(base_http, protocol).await.unwrap()
    }

    /// The handshake's outcome (a client refuses a server that accepts none
    /// of the subprotocols it offered).
    pub async fn try_connect(
        base_http: &str,
        protocol: &str,
    ) -> Result<Self, tokio_tungstenite::tungstenite::Error> {
        let url = format!("{}/graphql", base_http.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_str(protocol).unwrap(),
        );
        let (socket, response) = tokio_tungstenite::connect_async(request).await?;
        let chosen = response
            .headers()
            .get("sec-websocket-protocol")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(chosen.as_deref(), Some(protocol));
        Ok(Self { socket })
    }

    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).await.unwrap();
    }

    /// The next frame within `wait` (keep-alives `ka` skipped when `skip_ka`).
    pub async fn next_within(&mut self, wait: Duration, skip_ka: bool) -> Frame {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.socket.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if skip_ka && v["type"] == "ka" {
                        continue;
                    }
                    return Frame::Json(v);
                }
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return frame
                        .map(|f| Frame::Close(f.code.into(), f.reason.to_string()))
                        .unwrap_or(Frame::Close(1005, String::new()));
                }
                Ok(Some(Ok(_))) => continue,
                _ => return Frame::Nothing,
            }
        }
    }

    /// The next JSON message (keep-alives skipped), failing the test otherwise.
    pub async fn next_json(&mut self) -> Value {
        match self.next_within(Duration::from_secs(10), true).await {
            Frame::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// The close code the server ends with.
    pub async fn close_code(&mut self) -> (u16, String) {
        loop {
            match self.next_within(Duration::from_secs(10), true).await {
                Frame::Close(code, reason) => return (code, reason),
                Frame::Json(_) => continue,
                Frame::Nothing => panic!("expected a close frame"),
            }
        }
    }
}
