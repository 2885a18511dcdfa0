//! The partner's web site in Connect tests: serves the return URL the
//! customer's browser lands on, and records each visit's query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;

/// Query parameters of each visit, in order.
type Visits = Arc<Mutex<Vec<HashMap<String, String>>>>;

#[derive(Clone)]
pub struct PartnerSite {
    /// The return URL to give `createConnectSession`.
    pub return_url: String,
    visits: Visits,
}

impl PartnerSite {
    pub async fn start() -> Self {
        let visits: Visits = Arc::new(Mutex::new(Vec::new()));
        let app = axum::Router::new()
            .route("/signup/done", get(back))
            .with_state(visits.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            return_url: format!("http://127.0.0.1:{}/signup/done", addr.port()),
            visits,
        }
    }

    /// Query parameters of every visit so far.
    pub fn visits(&self) -> Vec<HashMap<String, String>> {
        self.visits.lock().unwrap().clone()
    }
}

async fn back(
    State(visits): State<Visits>,
    Query(query): Query<HashMap<String, String>>,
) -> Html<String> {
    let status = query.get("status").cloned().unwrap_or_default();
    visits.lock().unwrap().push(query);
    Html(format!(
        "<!DOCTYPE html><html lang=\"en\"><head><title>Back at the partner</title></head>\
         <body><h1>Sign-up: {status}</h1></body></html>"
    ))
}
