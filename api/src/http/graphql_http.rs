//! GraphQL over HTTP, following the GraphQL-over-HTTP specification:
//! - POST with `application/json` bodies; GET with URL parameters, queries only
//!   (a mutation over GET is 405 with `Allow: POST`).
//! - Response media type negotiated from `Accept`: `application/graphql-response+json`
//!   (also for a missing `Accept` or a wildcard) or `application/json`; anything
//!   else is 406.
//! - With `application/graphql-response+json`, a request that fails to parse or
//!   validate is 400 with no `data` entry; with `application/json` it is 200.
//!   A body that is not a GraphQL request is 400 for both.
//! - An unknown or revoked API key is 401 before anything runs.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{json, Value};

use super::AppState;
use crate::auth::Principal;
use crate::error::ApiError;
use crate::graphql::{ExecutionMarker, Loaders, RequestContext};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";
const IDEMPOTENCY_KEY: &str = "idempotency-key";

#[derive(Debug, Clone, Copy, PartialEq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// Picks the response media type from `Accept` (highest q wins; on a tie the
/// GraphQL media type is preferred). `None` means nothing we can produce.
fn negotiate(headers: &HeaderMap) -> Option<MediaType> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(MediaType::GraphqlResponseJson);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let candidate = match media.as_str() {
            GRAPHQL_RESPONSE_JSON | "application/*" | "*/*" => MediaType::GraphqlResponseJson,
            APPLICATION_JSON => MediaType::Json,
            _ => continue,
        };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((bq, bm)) => {
                q > bq
                    || (q == bq && candidate == MediaType::GraphqlResponseJson && bm != candidate)
            }
        };
        if better {
            best = Some((q, candidate));
        }
    }
    best.map(|(_, m)| m)
}

fn json_response(status: StatusCode, media: MediaType, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media.content_type()),
    );
    response
}

fn error_body(message: &str, code: &str) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

fn bad_request(media: MediaType, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        media,
        &error_body(message, "BAD_REQUEST"),
    )
}

fn not_acceptable() -> Response {
    json_response(
        StatusCode::NOT_ACCEPTABLE,
        MediaType::Json,
        &error_body(
            "cannot produce a response in the requested media type; accept application/graphql-response+json or application/json",
            "NOT_ACCEPTABLE",
        ),
    )
}

pub async fn post_graphql(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if content_type.as_deref() != Some(APPLICATION_JSON) {
        let mut response = json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            &error_body(
                "send the request as Content-Type: application/json",
                "UNSUPPORTED_MEDIA_TYPE",
            ),
        );
        response
            .headers_mut()
            .insert(header::ACCEPT, HeaderValue::from_static(APPLICATION_JSON));
        return response;
    }
    let parsed = serde_json::from_slice::<Value>(&body)
        .map_err(|e| e.to_string())
        .and_then(|v| {
            if !v.get("query").is_some_and(Value::is_string) {
                return Err("`query` must be a string".to_owned());
            }
            serde_json::from_value::<async_graphql::Request>(v).map_err(|e| e.to_string())
        });
    let request = match parsed {
        Ok(r) => r,
        Err(err) => {
            return bad_request(
                media,
                &format!(
                    "the body is not a GraphQL request ({{\"query\": …, \"variables\": …}}): {err}"
                ),
            )
        }
    };
    execute(app, &headers, request, media).await
}

pub async fn get_graphql(
    State(app): State<AppState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
    websocket: Result<
        axum::extract::ws::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
) -> Response {
    if let Ok(ws) = websocket {
        let timeout = app.ws_init_timeout;
        return super::ws::upgrade(app, ws, timeout);
    }
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let Some(query) = params.get("query") else {
        if wants_html {
            return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
        }
        let media = negotiate(&headers).unwrap_or(MediaType::Json);
        return bad_request(
            media,
            "give the GraphQL document in the `query` URL parameter",
        );
    };
    let Some(media) = negotiate(&headers) else {
        return not_acceptable();
    };
    let operation_name = params
        .get("operationName")
        .filter(|n| !n.is_empty())
        .cloned();
    if is_mutation(query, operation_name.as_deref()) {
        let mut response = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            &error_body("mutations must be sent with POST", "METHOD_NOT_ALLOWED"),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let mut request = async_graphql::Request::new(query.clone());
    if let Some(name) = operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.get("variables").filter(|v| !v.is_empty()) {
        match serde_json::from_str::<Value>(variables) {
            Ok(v @ Value::Object(_)) => {
                request = request.variables(async_graphql::Variables::from_json(v))
            }
            _ => return bad_request(media, "the `variables` URL parameter must be a JSON object"),
        }
    }
    execute(app, &headers, request, media).await
}

/// True when the operation that would run is a mutation. Unparsable documents
/// are left for the executor to report.
fn is_mutation(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let mut operations = document.operations.iter();
    let selected = match operation_name {
        Some(name) => operations.find(|(n, _)| n.is_some_and(|n| n.as_str() == name)),
        None => operations.next(),
    };
    selected.is_some_and(|(_, op)| op.node.ty == OperationType::Mutation)
}

async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Option<Principal>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::InvalidApiKey)?;
    let (scheme, secret) = value.split_once(' ').ok_or(ApiError::InvalidApiKey)?;
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(ApiError::InvalidApiKey);
    }
    app.services
        .api_keys
        .authenticate(secret.trim())
        .await
        .map(Some)
}

async fn execute(
    app: AppState,
    headers: &HeaderMap,
    request: async_graphql::Request,
    media: MediaType,
) -> Response {
    let principal = match authenticate(&app, headers).await {
        Ok(p) => p,
        Err(err) => {
            let status = match err {
                ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let mut response =
                json_response(status, media, &error_body(&err.to_string(), err.code()));
            if status == StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            return response;
        }
    };
    let idempotency_key = headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let marker = ExecutionMarker::default();
    let loaders = Loaders::new(&app.services, principal.as_ref());
    let request = request
        .data(RequestContext {
            principal,
            idempotency_key,
        })
        .data(loaders)
        .data(marker.clone());
    app.metrics.graphql_requests.fetch_add(1, Ordering::Relaxed);
    let response = app.schema.execute(request).await;

    let mut body = serde_json::to_value(&response)
        .unwrap_or_else(|err| error_body(&ApiError::internal(err).to_string(), "INTERNAL"));
    let status = if marker.executed() {
        StatusCode::OK
    } else {
        // A request error: the document did not parse or validate, so there is no `data`.
        if let Some(object) = body.as_object_mut() {
            object.remove("data");
        }
        match media {
            MediaType::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            MediaType::Json => StatusCode::OK,
        }
    };
    json_response(status, media, &body)
}

pub async fn sdl(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        app.schema.sdl(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn negotiation_follows_the_spec() {
        assert_eq!(
            negotiate(&HeaderMap::new()),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept("application/json")),
            Some(MediaType::Json)
        );
        assert_eq!(
            negotiate(&accept("*/*")),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/json, application/graphql-response+json"
            )),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(
            negotiate(&accept(
                "application/graphql-response+json;q=0.5, application/json"
            )),
            Some(MediaType::Json)
        );
        assert_eq!(negotiate(&accept("text/html")), None);
    }

    #[test]
    fn mutations_are_detected_by_selected_operation() {
        assert!(is_mutation("mutation { x }", None));
        assert!(!is_mutation("{ x }", None));
        assert!(is_mutation("query A { x } mutation B { y }", Some("B")));
        assert!(!is_mutation("query A { x } mutation B { y }", Some("A")));
    }
}
