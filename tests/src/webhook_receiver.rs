//! A webhook receiver for tests: verifies each POST's signature the way the
//! docs tell partners to, fails the first `fail_first` requests with 500, and
//! records what it accepted.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use hmac::{Hmac, Mac};
use sha2::Sha256;

#[derive(Default)]
pub struct Received {
    /// Every request, accepted or not: (id, status returned).
    pub requests: Vec<(String, u16)>,
    /// Bodies accepted (2xx), in order.
    pub accepted: Vec<(String, serde_json::Value)>,
    pub bad_signatures: usize,
}

#[derive(Default)]
struct Inner {
    secret: Option<String>,
    fail_first: usize,
    seen: usize,
    received: Received,
}

#[derive(Clone)]
pub struct WebhookReceiver {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

impl WebhookReceiver {
    pub async fn start(fail_first: usize) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            fail_first,
            ..Inner::default()
        }));
        let app = axum::Router::new()
            .route("/hook", post(receive))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    pub fn set_secret(&self, secret: &str) {
        self.inner.lock().unwrap().secret = Some(secret.to_owned());
    }

    /// From now on, fail the next `n` requests.
    pub fn fail_next(&self, n: usize) {
        let mut inner = self.inner.lock().unwrap();
        inner.fail_first = inner.seen + n;
    }

    pub fn with<T>(&self, f: impl FnOnce(&Received) -> T) -> T {
        f(&self.inner.lock().unwrap().received)
    }

    /// Waits until `done` holds (up to 20 s).
    pub async fn wait_for(&self, what: &str, done: impl Fn(&Received) -> bool) {
        for _ in 0..400 {
            if self.with(&done) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("webhook receiver: timed out waiting for {what}");
    }
}

/// What a partner's receiver does: HMAC-SHA256 over `"{timestamp}.{body}"`,
/// compared with the `v1=` signature.
pub fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(ts), Some(sig)) = (
        header("gridhub-webhook-timestamp"),
        header("gridhub-webhook-signature"),
    ) else {
        return false;
    };
    let Some(hex_sig) = sig.strip_prefix("v1=") else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_sig) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(ts.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn receive(
    State(inner): State<Arc<Mutex<Inner>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let mut inner = inner.lock().unwrap();
    let id = headers
        .get("gridhub-webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    inner.seen += 1;
    let status = if !inner
        .secret
        .as_deref()
        .is_some_and(|s| verify(s, &headers, &body))
    {
        inner.received.bad_signatures += 1;
        StatusCode::BAD_REQUEST
    } else if inner.seen <= inner.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        let json = serde_json::from_slice(&body).unwrap_or_default();
        inner.received.accepted.push((id.clone(), json));
        StatusCode::OK
    };
    inner.received.requests.push((id, status.as_u16()));
    status
}
