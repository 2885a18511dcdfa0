//! Webhooks: partners' endpoints, signed deliveries from a durable outbox,
//! retries with exponential backoff and jitter for a bounded period, every
//! attempt recorded, replay, test notifications, and endpoints disabled (with
//! a visible reason) when they keep failing.
//!
//! A delivery row is written in the same transaction as the event change it
//! carries ([`enqueue`]), so a committed change is never lost; the worker on
//! any replica claims due deliveries with a conditional update, so two
//! replicas never POST the same attempt.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::{json, Value};
use sha2::Sha256;

use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::string_enum;
use crate::domain::Role;
use crate::entity::{
    event_notification as notification, webhook_attempt as attempt, webhook_delivery as delivery,
    webhook_endpoint as endpoint,
};
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::services::pagination::{keyset, Page, PageRequest};

string_enum! {
    pub enum WebhookEventType {
        EventCreated => "EVENT_CREATED",
        EventUpdated => "EVENT_UPDATED",
        EventCancelled => "EVENT_CANCELLED",
        EventStarted => "EVENT_STARTED",
        EventCompleted => "EVENT_COMPLETED",
        /// Performance (and the preliminary settlement) of an event is ready.
        EventMeasured => "EVENT_MEASURED",
        /// A customer finished the Connect flow: the meters are authorized.
        ConnectSessionCompleted => "CONNECT_SESSION_COMPLETED",
        /// A customer cancelled the Connect flow or left it until it expired.
        ConnectSessionAbandoned => "CONNECT_SESSION_ABANDONED",
        /// A Connect link expired without being opened.
        ConnectSessionExpired => "CONNECT_SESSION_EXPIRED",
        /// A utility data authorization was revoked: data stops, enrollments
        /// that need it are re-decided.
        AuthorizationRevoked => "AUTHORIZATION_REVOKED",
        /// A utility data authorization reached its expiry date.
        AuthorizationExpired => "AUTHORIZATION_EXPIRED",
        /// Sent on request to check an integration.
        Test => "TEST",
    }
}

string_enum! {
    pub enum EndpointStatus {
        Active => "ACTIVE",
        /// Not delivered to; `disabledReason` says why.
        Disabled => "DISABLED",
    }
}

string_enum! {
    pub enum DeliveryStatus {
        /// Waiting for its next attempt.
        Pending => "PENDING",
        Delivered => "DELIVERED",
        /// Given up after the retry period.
        Failed => "FAILED",
    }
}

impl WebhookEventType {
    /// The webhook type of a notification kind (`CREATED` → `EVENT_CREATED`;
    /// Connect and authorization kinds are their own type).
    pub fn of_change(kind: &str) -> Option<Self> {
        match kind {
            "TEST" => Some(Self::Test),
            k if k.starts_with("CONNECT_") || k.starts_with("AUTHORIZATION_") => Self::parse(k),
            _ => Self::parse(&format!("EVENT_{kind}")),
        }
    }
}

/// Header names a receiver reads.
pub const ID_HEADER: &str = "Gridhub-Webhook-Id";
pub const TIMESTAMP_HEADER: &str = "Gridhub-Webhook-Timestamp";
pub const SIGNATURE_HEADER: &str = "Gridhub-Webhook-Signature";

/// `v1=` + hex HMAC-SHA256 of `"{timestamp}.{body}"` with the endpoint secret.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Retry policy of deliveries.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// Wait after the first failure; doubles per attempt (± 20 % jitter).
    pub backoff_base: StdDuration,
    pub backoff_max: StdDuration,
    /// A delivery still failing this long after it was created is given up
    /// and its endpoint disabled.
    pub give_up_after: StdDuration,
    /// Consecutive failed attempts that disable an endpoint.
    pub disable_after_failures: i32,
    pub request_timeout: StdDuration,
    pub poll_interval: StdDuration,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        Self {
            backoff_base: StdDuration::from_secs(10),
            backoff_max: StdDuration::from_secs(3600),
            give_up_after: StdDuration::from_secs(3 * 24 * 3600),
            disable_after_failures: 100,
            request_timeout: StdDuration::from_secs(10),
            poll_interval: StdDuration::from_secs(1),
        }
    }
}

/// Wait before attempt `attempts + 1` after `attempts` failures.
pub fn backoff(config: &WebhookConfig, attempts: i32) -> StdDuration {
    let exp = 2f64.powi(attempts.clamp(1, 30) - 1);
    let base = (config.backoff_base.as_secs_f64() * exp).min(config.backoff_max.as_secs_f64());
    let jitter = rand::rng().random_range(0.8..1.2);
    StdDuration::from_secs_f64(base * jitter)
}

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub endpoint_id: Option<String>,
    pub statuses: Option<Vec<DeliveryStatus>>,
}

#[derive(Clone)]
pub struct WebhookService {
    db: Db,
    config: WebhookConfig,
    client: reqwest::Client,
}

impl WebhookService {
    pub fn new(db: Db, config: WebhookConfig) -> Self {
        let client = reqwest::Client::builder()
            .timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("gridhub-webhooks/1")
            .build()
            .expect("HTTP client");
        Self { db, config, client }
    }

    /// Registers an endpoint; the returned secret is shown only now.
    pub async fn create_endpoint(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        url: &str,
        event_types: Vec<WebhookEventType>,
    ) -> ApiResult<(endpoint::Model, String)> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let partner = match principal.tenant(partner_id)? {
            Tenant::Partner(p) => p,
            Tenant::All => {
                return Err(ApiError::validation(
                    "partnerId",
                    "an admin names the partner the endpoint belongs to",
                ))
            }
        };
        validate_url(url)?;
        let types = types_or_all(event_types);
        let secret = format!("whsec_{}", hex::encode(rand::random::<[u8; 32]>()));
        let now = Utc::now();
        let row = endpoint::ActiveModel {
            id: Set(new_id("whe")),
            partner_id: Set(partner),
            url: Set(url.to_owned()),
            secret: Set(secret.clone()),
            event_types: Set(serde_json::to_value(&types)?),
            status: Set(EndpointStatus::Active.as_str().into()),
            disabled_reason: Set(None),
            consecutive_failures: Set(0),
            created_by: Set(principal.key_id.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(self.db.conn())
        .await?;
        Ok((row, secret))
    }

    /// Changes an endpoint's URL or types, or disables / re-enables it (which
    /// resumes its pending deliveries at once).
    pub async fn update_endpoint(
        &self,
        principal: &Principal,
        id: &str,
        url: Option<String>,
        event_types: Option<Vec<WebhookEventType>>,
        enabled: Option<bool>,
    ) -> ApiResult<endpoint::Model> {
        let current = self.endpoint(principal, id).await?;
        if let Some(u) = &url {
            validate_url(u)?;
        }
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        let mut row: endpoint::ActiveModel = current.into();
        if let Some(u) = url {
            row.url = Set(u);
        }
        if let Some(t) = event_types {
            row.event_types = Set(serde_json::to_value(types_or_all(t))?);
        }
        match enabled {
            Some(true) => {
                row.status = Set(EndpointStatus::Active.as_str().into());
                row.disabled_reason = Set(None);
                row.consecutive_failures = Set(0);
                delivery::Entity::update_many()
                    .col_expr(
                        delivery::Column::NextAttemptAt,
                        sea_orm::sea_query::Expr::value(now),
                    )
                    .filter(delivery::Column::EndpointId.eq(id))
                    .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                    .exec(&*txn)
                    .await?;
            }
            Some(false) => {
                row.status = Set(EndpointStatus::Disabled.as_str().into());
                row.disabled_reason = Set(Some(format!("disabled by {}", principal.key_id)));
            }
            None => {}
        }
        row.updated_at = Set(now);
        let updated = row.update(&*txn).await?;
        txn.commit().await?;
        Ok(updated)
    }

    pub async fn endpoint(&self, principal: &Principal, id: &str) -> ApiResult<endpoint::Model> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let tenant = principal.tenant(None)?;
        endpoint::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .filter(|e| tenant.partner_id().is_none_or(|p| p == e.partner_id))
            .ok_or_else(|| ApiError::not_found("webhook endpoint", id))
    }

    pub async fn endpoints(&self, principal: &Principal) -> ApiResult<Vec<endpoint::Model>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let mut query = endpoint::Entity::find().order_by_asc(endpoint::Column::Id);
        if let Tenant::Partner(p) = principal.tenant(None)? {
            query = query.filter(endpoint::Column::PartnerId.eq(p));
        }
        Ok(query.all(self.db.conn()).await?)
    }

    pub async fn deliveries(
        &self,
        principal: &Principal,
        filter: &DeliveryFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<delivery::Model>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let mut query = delivery::Entity::find();
        if let Tenant::Partner(p) = principal.tenant(None)? {
            query = query.filter(delivery::Column::PartnerId.eq(p));
        }
        if let Some(e) = &filter.endpoint_id {
            query = query.filter(delivery::Column::EndpointId.eq(e.clone()));
        }
        if let Some(s) = &filter.statuses {
            query = query.filter(delivery::Column::Status.is_in(s.iter().map(|x| x.as_str())));
        }
        let rows = keyset(query, page, delivery::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(Page::from_fetched(page, rows))
    }

    /// Attempts of deliveries, oldest first (for batch loaders).
    pub async fn attempts_of(
        &self,
        delivery_ids: &[String],
    ) -> ApiResult<std::collections::HashMap<String, Vec<attempt::Model>>> {
        let rows = attempt::Entity::find()
            .filter(attempt::Column::DeliveryId.is_in(delivery_ids.iter().cloned()))
            .order_by_asc(attempt::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |a| a.delivery_id.clone()))
    }

    /// Sends a delivery again (same id, so a receiver that has it ignores it).
    pub async fn replay(&self, principal: &Principal, id: &str) -> ApiResult<delivery::Model> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let tenant = principal.tenant(None)?;
        let current = delivery::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .filter(|d| tenant.partner_id().is_none_or(|p| p == d.partner_id))
            .ok_or_else(|| ApiError::not_found("webhook delivery", id))?;
        let mut row: delivery::ActiveModel = current.into();
        row.status = Set(DeliveryStatus::Pending.as_str().into());
        row.next_attempt_at = Set(Utc::now());
        Ok(row.update(self.db.conn()).await?)
    }

    /// Queues a `TEST` notification to an endpoint.
    pub async fn send_test(
        &self,
        principal: &Principal,
        endpoint_id: &str,
    ) -> ApiResult<delivery::Model> {
        let ep = self.endpoint(principal, endpoint_id).await?;
        let id = new_id("whd");
        let now = Utc::now();
        let body = envelope(
            &id,
            WebhookEventType::Test,
            now,
            json!({
                "message": "a test notification from gridhub",
                "partnerId": ep.partner_id,
            }),
        );
        Ok(insert_delivery(
            self.db.conn(),
            &ep,
            id,
            None,
            WebhookEventType::Test,
            body,
            now,
        )
        .await?)
    }

    /// Starts the delivery worker.
    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(this.config.poll_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(err) = this.deliver_due(Utc::now()).await {
                    tracing::warn!(%err, "webhook worker failed");
                }
            }
        })
    }

    /// Attempts every due delivery once (concurrently); returns how many.
    pub async fn deliver_due(&self, now: DateTime<Utc>) -> ApiResult<usize> {
        let due = delivery::Entity::find()
            .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .filter(delivery::Column::NextAttemptAt.lte(now))
            .order_by_asc(delivery::Column::NextAttemptAt)
            .limit(100)
            .all(self.db.conn())
            .await?;
        let lease = now + Duration::from_std(self.config.request_timeout * 2).unwrap_or_default();
        let mut claimed = Vec::new();
        for d in due {
            // Claim: only the replica whose update matches the old time wins.
            let won = delivery::Entity::update_many()
                .col_expr(
                    delivery::Column::NextAttemptAt,
                    sea_orm::sea_query::Expr::value(lease),
                )
                .filter(delivery::Column::Id.eq(d.id.clone()))
                .filter(delivery::Column::NextAttemptAt.eq(d.next_attempt_at))
                .filter(delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .exec(self.db.conn())
                .await?;
            if won.rows_affected == 1 {
                claimed.push(d);
            }
        }
        let count = claimed.len();
        // One read of the endpoints for the whole batch.
        let ids: Vec<String> = claimed.iter().map(|d| d.endpoint_id.clone()).collect();
        let endpoints: std::collections::HashMap<String, endpoint::Model> =
            endpoint::Entity::find()
                .filter(endpoint::Column::Id.is_in(ids))
                .all(self.db.conn())
                .await?
                .into_iter()
                .map(|e| (e.id.clone(), e))
                .collect();
        let results = futures::future::join_all(claimed.into_iter().filter_map(|d| {
            let ep = endpoints.get(&d.endpoint_id)?.clone();
            Some(self.attempt(d, ep))
        }))
        .await;
        for r in results {
            if let Err(err) = r {
                tracing::warn!(%err, "webhook attempt could not be recorded");
            }
        }
        Ok(count)
    }

    async fn attempt(&self, d: delivery::Model, ep: endpoint::Model) -> ApiResult<()> {
        if ep.status != EndpointStatus::Active.as_str() {
            // Parked until the endpoint is enabled again.
            let mut row: delivery::ActiveModel = d.into();
            row.next_attempt_at =
                Set(Utc::now() + Duration::from_std(self.config.backoff_max).unwrap_or_default());
            row.update(self.db.conn()).await?;
            return Ok(());
        }
        let body = serde_json::to_vec(&d.payload)?;
        let timestamp = Utc::now().timestamp();
        let started = std::time::Instant::now();
        let outcome = self
            .client
            .post(&ep.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(ID_HEADER, &d.id)
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, sign(&ep.secret, timestamp, &body))
            .body(body)
            .send()
            .await;
        let elapsed = started.elapsed().as_millis() as i64;
        let (code, error) = match outcome {
            Ok(r) if r.status().is_success() => (Some(i32::from(r.status().as_u16())), None),
            Ok(r) => (
                Some(i32::from(r.status().as_u16())),
                Some(format!("HTTP {}", r.status())),
            ),
            Err(e) => (None, Some(describe(&e))),
        };
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        attempt::ActiveModel {
            id: Set(new_id("wha")),
            delivery_id: Set(d.id.clone()),
            status_code: Set(code),
            error: Set(error.clone()),
            duration_ms: Set(elapsed),
            attempted_at: Set(now),
        }
        .insert(&*txn)
        .await?;
        let attempts = d.attempts + 1;
        let created_at = d.created_at;
        let mut row: delivery::ActiveModel = d.into();
        row.attempts = Set(attempts);
        let mut ep_row: endpoint::ActiveModel = ep.clone().into();
        match error {
            None => {
                row.status = Set(DeliveryStatus::Delivered.as_str().into());
                row.delivered_at = Set(Some(now));
                row.last_error = Set(None);
                ep_row.consecutive_failures = Set(0);
            }
            Some(err) => {
                let failures = ep.consecutive_failures + 1;
                ep_row.consecutive_failures = Set(failures);
                let give_up = now - created_at
                    > Duration::from_std(self.config.give_up_after).unwrap_or_default();
                if give_up {
                    row.status = Set(DeliveryStatus::Failed.as_str().into());
                } else {
                    row.next_attempt_at = Set(now
                        + Duration::from_std(backoff(&self.config, attempts)).unwrap_or_default());
                }
                if give_up || failures >= self.config.disable_after_failures {
                    ep_row.status = Set(EndpointStatus::Disabled.as_str().into());
                    ep_row.disabled_reason = Set(Some(format!(
                        "{failures} consecutive failed deliveries; the last: {err}"
                    )));
                    tracing::warn!(endpoint = %ep.id, %err, "webhook endpoint disabled");
                }
                row.last_error = Set(Some(err));
            }
        }
        ep_row.updated_at = Set(now);
        row.update(&*txn).await?;
        ep_row.update(&*txn).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Queues deliveries of a notification to its partner's active endpoints that
/// take its type, in the caller's transaction.
pub async fn enqueue(conn: &impl ConnectionTrait, n: &notification::Model) -> ApiResult<()> {
    let Some(kind) = WebhookEventType::of_change(&n.kind) else {
        return Ok(());
    };
    let endpoints = endpoint::Entity::find()
        .filter(endpoint::Column::PartnerId.eq(n.partner_id.clone()))
        .filter(endpoint::Column::Status.eq(EndpointStatus::Active.as_str()))
        .all(conn)
        .await?;
    for ep in endpoints {
        let types: Vec<WebhookEventType> = serde_json::from_value(ep.event_types.clone())?;
        if !types.contains(&kind) {
            continue;
        }
        let id = new_id("whd");
        let body = envelope(&id, kind, n.created_at, n.payload.clone());
        insert_delivery(conn, &ep, id, Some(n.id.clone()), kind, body, n.created_at).await?;
    }
    Ok(())
}

/// The JSON body a receiver gets.
fn envelope(id: &str, kind: WebhookEventType, at: DateTime<Utc>, data: Value) -> Value {
    json!({ "id": id, "type": kind.as_str(), "createdAt": at, "data": data })
}

async fn insert_delivery(
    conn: &impl ConnectionTrait,
    ep: &endpoint::Model,
    id: String,
    notification_id: Option<String>,
    kind: WebhookEventType,
    payload: Value,
    now: DateTime<Utc>,
) -> Result<delivery::Model, sea_orm::DbErr> {
    delivery::ActiveModel {
        id: Set(id),
        endpoint_id: Set(ep.id.clone()),
        partner_id: Set(ep.partner_id.clone()),
        notification_id: Set(notification_id),
        event_type: Set(kind.as_str().into()),
        payload: Set(payload),
        status: Set(DeliveryStatus::Pending.as_str().into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        last_error: Set(None),
        delivered_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await
}

fn types_or_all(types: Vec<WebhookEventType>) -> Vec<WebhookEventType> {
    if types.is_empty() {
        WebhookEventType::ALL.to_vec()
    } else {
        types
    }
}

fn validate_url(url: &str) -> ApiResult<()> {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => Ok(()),
        _ => Err(ApiError::validation(
            "url",
            "must be an absolute http(s) URL",
        )),
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "could not connect".into()
    } else {
        e.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_timestamp_dot_body() {
        // printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac whsec_test
        let s = sign("whsec_test", 1_700_000_000, br#"{"a":1}"#);
        assert_eq!(
            s,
            "v1=38877139021993b830af32feea6e18a8da83eb2f6e49ee50bd9e4cf4ca4d3789"
        );
        assert_ne!(s, sign("whsec_other", 1_700_000_000, br#"{"a":1}"#));
        assert_ne!(s, sign("whsec_test", 1_700_000_001, br#"{"a":1}"#));
    }

    #[test]
    fn backoff_doubles_with_jitter_up_to_the_cap() {
        let c = WebhookConfig::default();
        let first = backoff(&c, 1).as_secs_f64();
        assert!((8.0..=12.0).contains(&first), "{first}");
        let fourth = backoff(&c, 4).as_secs_f64();
        assert!((64.0..=96.0).contains(&fourth), "{fourth}");
        assert!(backoff(&c, 30).as_secs_f64() <= 3600.0 * 1.2);
    }
}
