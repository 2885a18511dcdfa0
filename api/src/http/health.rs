use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use super::AppState;

/// Liveness: the process serves HTTP.
pub async fn live() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the database answers. 503 when it does not.
pub async fn ready(State(app): State<AppState>) -> impl IntoResponse {
    match app.services.db.ping().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "database": "ok", "version": env!("CARGO_PKG_VERSION") })),
        ),
        Err(err) => {
            tracing::warn!(%err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable", "database": "unreachable" })),
            )
        }
    }
}

pub async fn metrics(State(app): State<AppState>) -> impl IntoResponse {
    let body = format!(
        "# HELP gridhub_db_statements_total SQL statements executed.\n\
         # TYPE gridhub_db_statements_total counter\n\
         gridhub_db_statements_total {}\n\
         # HELP gridhub_graphql_requests_total GraphQL requests executed.\n\
         # TYPE gridhub_graphql_requests_total counter\n\
         gridhub_graphql_requests_total {}\n",
        app.services.db.statements_executed(),
        app.metrics.graphql_requests.load(Ordering::Relaxed),
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
