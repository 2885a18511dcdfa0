//! The hosted Connect pages: plain server-rendered HTML forms (no scripts),
//! Post/Redirect/Get between steps. See `services/connect.rs` for the
//! session rules and `docs/connect.md` for the flow.
//!
//! Every response forbids caching, framing and cross-site referrers (the
//! first URL holds the link token), and a Content-Security-Policy allows only our
//! stylesheet and form posts to ourselves and the partner's return URL.

mod pages;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use super::AppState;
use crate::domain::connect::ConnectStep;
use crate::entity::connect_session as session;
use crate::services::connect::{csrf_token, same_secret, ConsentForm, FlowError, Submitted};

const COOKIE_PREFIX: &str = "gh_connect_";
const STYLESHEET: &str = include_str!("connect.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/connect/assets/connect.css", get(stylesheet))
        .route("/connect/{token}", get(open))
        .route("/connect/s/{session}", get(page))
        .route("/connect/s/{session}/{action}", post(submit))
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        STYLESHEET,
    )
        .into_response()
}

/// The link: binds the session to this browser and moves to the flow's own
/// address (so the token leaves the address bar and history).
async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Response {
    let cookies = cookies(&headers);
    let connect = &state.services.connect;
    match connect
        .open(&token, |sid| cookies.get(&cookie_name(sid)).cloned())
        .await
    {
        Ok((row, new_secret)) => {
            let mut response = see_other(&format!("/connect/s/{}", row.id));
            if let Some(secret) = new_secret {
                let max_age = (row.expires_at - chrono::Utc::now()).num_seconds().max(60);
                let secure = if state.public_https { "; Secure" } else { "" };
                let cookie = format!(
                    "{}={secret}; Path=/connect; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
                    cookie_name(&row.id)
                );
                if let Ok(value) = HeaderValue::from_str(&cookie) {
                    response.headers_mut().append(header::SET_COOKIE, value);
                }
            }
            response
        }
        Err(err) => failure(&state, err).await,
    }
}

#[derive(serde::Deserialize)]
struct PageQuery {
    step: Option<String>,
}

/// The current step (or an earlier one with `?step=`).
async fn page(
    State(state): State<AppState>,
    Path(sid): Path<String>,
    Query(query): Query<PageQuery>,
    headers: HeaderMap,
) -> Response {
    let Some(secret) = cookies(&headers).remove(&cookie_name(&sid)) else {
        return failure(&state, FlowError::LinkUsed).await;
    };
    let connect = &state.services.connect;
    let mut row = match connect.flow(&sid, Some(&secret)).await {
        Ok(row) => row,
        Err(err) => return failure(&state, err).await,
    };
    if let Some(step) = query
        .step
        .as_deref()
        .and_then(|s| ConnectStep::parse(&s.to_uppercase()))
    {
        row = match connect.back_to(row, step).await {
            Ok(row) => row,
            Err(err) => return failure(&state, err).await,
        };
    }
    render_step(&state, &row, &secret, None, StatusCode::OK).await
}

type Fields = HashMap<String, String>;

/// What every form post checks first: the browser's cookie, the CSRF value
/// derived from it, and (when the browser sends one) the Origin.
async fn verified(
    state: &AppState,
    sid: &str,
    headers: &HeaderMap,
    fields: &Fields,
) -> Result<(session::Model, String), FlowError> {
    let secret = cookies(headers)
        .remove(&cookie_name(sid))
        .ok_or(FlowError::Forgery)?;
    let sent = fields.get("csrf").map(String::as_str).unwrap_or_default();
    if !same_secret(sent, &csrf_token(&secret)) || !same_origin(headers) {
        return Err(FlowError::Forgery);
    }
    let row = state.services.connect.flow(sid, Some(&secret)).await?;
    Ok((row, secret))
}

/// Every form of the flow: `utility`, `account`, `consent`, `cancel`.
async fn submit(
    State(state): State<AppState>,
    Path((sid, action)): Path<(String, String)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(fields): Form<Fields>,
) -> Response {
    if !["utility", "account", "consent", "cancel"].contains(&action.as_str()) {
        return failure(&state, FlowError::UnknownLink).await;
    }
    let (row, secret) = match verified(&state, &sid, &headers, &fields).await {
        Ok(v) => v,
        Err(err) => return failure(&state, err).await,
    };
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let connect = &state.services.connect;
    let outcome = match action.as_str() {
        "utility" => connect.choose_utility(row, &field("utility")).await,
        "account" => {
            connect
                .submit_account(row, &field("accountNumber"), &field("postalCode"))
                .await
        }
        "consent" => {
            let form = ConsentForm {
                name: field("name"),
                email: field("email"),
                agreed: field("agree") == "yes",
                ip_address: Some(client_ip(&state, &headers, peer)),
                user_agent: headers
                    .get(header::USER_AGENT)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
            };
            connect.consent(row, form).await
        }
        _ => connect.cancel(row).await.map(Submitted::Finished),
    };
    after_submit(&state, &secret, outcome).await
}

async fn after_submit(
    state: &AppState,
    secret: &str,
    outcome: Result<Submitted, FlowError>,
) -> Response {
    match outcome {
        Ok(Submitted::Next(row)) => see_other(&format!("/connect/s/{}", row.id)),
        Ok(Submitted::Invalid(row, errors)) => {
            render_step(
                state,
                &row,
                secret,
                Some(errors),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Ok(Submitted::Finished(url)) => see_other(&url),
        Err(err) => failure(state, err).await,
    }
}

async fn render_step(
    state: &AppState,
    row: &session::Model,
    secret: &str,
    errors: Option<crate::services::connect::FormErrors>,
    status: StatusCode,
) -> Response {
    let connect = &state.services.connect;
    let built = async {
        let partner = connect.partner_name(&row.partner_id).await?;
        let view = pages::StepView {
            session: row,
            partner: &partner,
            csrf: &csrf_token(secret),
            offered: connect.offered(row)?,
            account: connect.account_of(row)?,
            errors: errors.unwrap_or_default(),
        };
        pages::step(&view)
    };
    match built.await {
        Ok(html) => html_response(status, html, Some(&row.return_url)),
        Err(err) => failure(state, FlowError::Api(err)).await,
    }
}

/// The page for a flow that cannot go on.
async fn failure(state: &AppState, err: FlowError) -> Response {
    let (status, html, return_url) = match err {
        FlowError::UnknownLink => (StatusCode::NOT_FOUND, pages::unknown_link(), None),
        FlowError::LinkUsed => (StatusCode::GONE, pages::link_used(), None),
        FlowError::Forgery => (StatusCode::FORBIDDEN, pages::forgery(), None),
        FlowError::Ended(row) => {
            let partner = state
                .services
                .connect
                .partner_name(&row.partner_id)
                .await
                .unwrap_or_else(|_| "your provider".into());
            let status = if row.status == "COMPLETED" {
                StatusCode::OK
            } else {
                StatusCode::GONE
            };
            (
                status,
                pages::ended(&row, &partner),
                Some(row.return_url.clone()),
            )
        }
        FlowError::Api(err) => {
            tracing::error!(%err, "connect page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, pages::broken(), None)
        }
    };
    html_response(status, html, return_url.as_deref())
}

fn html_response(status: StatusCode, html: String, return_url: Option<&str>) -> Response {
    let form_action = match return_url.and_then(|u| reqwest::Url::parse(u).ok()) {
        Some(u) => format!("'self' {}", u.origin().ascii_serialization()),
        None => "'self'".into(),
    };
    let csp = format!(
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action {form_action}; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let mut response = (status, html).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure_headers(h);
    if let Ok(v) = HeaderValue::from_str(&csp) {
        h.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Same-origin: no referrer leaves the site (the first URL holds the
    // token), and browsers still send a real `Origin` on our own forms.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    secure_headers(h);
    response
}

fn cookie_name(session_id: &str) -> String {
    format!("{COOKIE_PREFIX}{session_id}")
}

fn cookies(headers: &HeaderMap) -> HashMap<String, String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}

/// A browser's Origin, when sent, must be this server (as the Host header names it).
fn same_origin(headers: &HeaderMap) -> bool {
    // Absent or `null` (privacy settings): the CSRF value alone decides.
    let origin = match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None | Some("null") => return true,
        Some(origin) => origin,
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    reqwest::Url::parse(origin)
        .ok()
        .and_then(|u| {
            u.host_str().map(|h| match u.port() {
                Some(p) => format!("{h}:{p}"),
                None => h.to_owned(),
            })
        })
        .is_some_and(|o| o.eq_ignore_ascii_case(host))
}

/// The client's address: the first `X-Forwarded-For` hop when the server is
/// configured to sit behind a proxy, otherwise the TCP peer.
fn client_ip(state: &AppState, headers: &HeaderMap, peer: SocketAddr) -> String {
    if state.trust_forwarded {
        if let Some(first) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
        {
            return first.trim().to_owned();
        }
    }
    peer.ip().to_string()
}
