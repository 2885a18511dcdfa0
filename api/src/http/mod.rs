//! HTTP routes: GraphQL over HTTP, the explorer, health, metrics.

mod connect;
mod graphql_http;
mod health;
pub mod ws;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::Router;
use tower_http::trace::TraceLayer;

use crate::graphql::GridhubSchema;
use crate::services::Services;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub schema: GridhubSchema,
    pub metrics: Arc<Metrics>,
    /// How long a WebSocket client has to send `connection_init`.
    pub ws_init_timeout: std::time::Duration,
    /// Customers reach the server over https (Connect cookies are `Secure`).
    pub public_https: bool,
    /// Take the client address of consent records from `X-Forwarded-For`.
    pub trust_forwarded: bool,
}

/// Counters exported on `/metrics` in the Prometheus text format.
#[derive(Default)]
pub struct Metrics {
    pub graphql_requests: AtomicU64,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route(
            "/graphql",
            get(graphql_http::get_graphql).post(graphql_http::post_graphql),
        )
        .route("/graphql/schema.graphql", get(graphql_http::sdl))
        .route("/health", get(health::ready))
        .route("/health/live", get(health::live))
        .route("/metrics", get(health::metrics))
        .merge(connect::routes())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
