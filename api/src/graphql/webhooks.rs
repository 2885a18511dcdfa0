//! Webhook endpoints, their deliveries and attempts.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::pagination::{edges, PageInfo};
use crate::entity::{webhook_attempt, webhook_delivery, webhook_endpoint};
use crate::error::ApiError;
use crate::services::pagination::PageRequest;
use crate::services::webhooks::{
    DeliveryFilter as ServiceFilter, DeliveryStatus, EndpointStatus, WebhookEventType,
};

pub struct WebhookEndpoint(pub webhook_endpoint::Model);

#[Object]
impl WebhookEndpoint {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn partner_id(&self) -> ID {
        ID(self.0.partner_id.clone())
    }
    async fn url(&self) -> &str {
        &self.0.url
    }
    async fn event_types(&self) -> Result<Vec<WebhookEventType>> {
        Ok(serde_json::from_value(self.0.event_types.clone()).map_err(ApiError::from)?)
    }
    async fn status(&self) -> Result<EndpointStatus> {
        Ok(EndpointStatus::from_db(&self.0.status)?)
    }
    /// Why it is DISABLED (e.g. deliveries kept failing).
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }
    async fn consecutive_failures(&self) -> i32 {
        self.0.consecutive_failures
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct WebhookDelivery(pub webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    /// Also sent as `Gridhub-Webhook-Id`: the receiver's idempotency key.
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn endpoint_id(&self) -> ID {
        ID(self.0.endpoint_id.clone())
    }
    async fn event_type(&self) -> Result<WebhookEventType> {
        Ok(WebhookEventType::from_db(&self.0.event_type)?)
    }
    /// The JSON body POSTed.
    async fn payload(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.payload.clone())
    }
    async fn status(&self) -> Result<DeliveryStatus> {
        Ok(DeliveryStatus::from_db(&self.0.status)?)
    }
    async fn attempt_count(&self) -> i32 {
        self.0.attempts
    }
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == DeliveryStatus::Pending.as_str()).then_some(self.0.next_attempt_at)
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// Every attempt, oldest first.
    async fn attempts(&self, ctx: &Context<'_>) -> Result<Vec<WebhookAttempt>> {
        let rows = ctx
            .loaders()?
            .webhook_attempts
            .load_one(self.0.id.clone())
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(WebhookAttempt)
            .collect())
    }
}

pub struct WebhookAttempt(pub webhook_attempt::Model);

#[Object]
impl WebhookAttempt {
    /// The HTTP status the receiver answered, if it answered.
    async fn status_code(&self) -> Option<i32> {
        self.0.status_code
    }
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    async fn duration_ms(&self) -> i64 {
        self.0.duration_ms
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.attempted_at
    }
}

#[derive(SimpleObject)]
pub struct CreatedWebhookEndpoint {
    pub endpoint: WebhookEndpoint,
    /// The signing secret, shown only in this response.
    pub secret: String,
}

#[derive(SimpleObject)]
pub struct WebhookDeliveryEdge {
    pub cursor: String,
    pub node: WebhookDelivery,
}

#[derive(SimpleObject)]
pub struct WebhookDeliveryConnection {
    pub edges: Vec<WebhookDeliveryEdge>,
    pub page_info: PageInfo,
}

#[derive(InputObject)]
pub struct WebhookEndpointInput {
    /// Absolute http(s) URL.
    pub url: String,
    /// Types delivered; all when empty or absent.
    pub event_types: Option<Vec<WebhookEventType>>,
    /// Required for an admin key; a partner key registers its own.
    pub partner_id: Option<ID>,
}

#[derive(InputObject, Default)]
pub struct WebhookEndpointUpdate {
    pub url: Option<String>,
    pub event_types: Option<Vec<WebhookEventType>>,
    /// `false` disables; `true` re-enables and resumes pending deliveries.
    pub enabled: Option<bool>,
}

#[derive(InputObject, Default)]
pub struct WebhookDeliveryFilter {
    pub endpoint_id: Option<ID>,
    pub statuses: Option<Vec<DeliveryStatus>>,
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        let p = ctx.principal()?;
        let rows = ctx.services()?.webhooks.endpoints(p).await?;
        Ok(rows.into_iter().map(WebhookEndpoint).collect())
    }

    /// Deliveries in creation order, with their attempts (Relay pagination).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        filter: Option<WebhookDeliveryFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<WebhookDeliveryConnection> {
        let p = ctx.principal()?;
        let page = PageRequest::from_relay(after, before, first, last)?;
        let f = filter.unwrap_or_default();
        let filter = ServiceFilter {
            endpoint_id: f.endpoint_id.map(|i| i.0),
            statuses: f.statuses,
        };
        let result = ctx
            .services()?
            .webhooks
            .deliveries(p, &filter, &page)
            .await?;
        let (edges, page_info) = edges(
            result,
            |d| &d.id,
            |cursor, d| WebhookDeliveryEdge {
                cursor,
                node: WebhookDelivery(d),
            },
        );
        Ok(WebhookDeliveryConnection { edges, page_info })
    }
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint for signed notifications (see docs/webhooks.md);
    /// the secret is returned once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> Result<CreatedWebhookEndpoint> {
        let p = ctx.principal()?;
        let (endpoint, secret) = ctx
            .services()?
            .webhooks
            .create_endpoint(
                p,
                input.partner_id.as_ref().map(|i| i.as_str()),
                &input.url,
                input.event_types.unwrap_or_default(),
            )
            .await?;
        Ok(CreatedWebhookEndpoint {
            endpoint: WebhookEndpoint(endpoint),
            secret,
        })
    }

    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: WebhookEndpointUpdate,
    ) -> Result<WebhookEndpoint> {
        let p = ctx.principal()?;
        let e = ctx
            .services()?
            .webhooks
            .update_endpoint(p, &id, input.url, input.event_types, input.enabled)
            .await?;
        Ok(WebhookEndpoint(e))
    }

    /// Sends a delivery again, with the same id.
    async fn replay_webhook_delivery(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookDelivery> {
        let p = ctx.principal()?;
        Ok(WebhookDelivery(
            ctx.services()?.webhooks.replay(p, &id).await?,
        ))
    }

    /// Sends a TEST notification to an endpoint, to check an integration.
    async fn send_test_webhook(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
    ) -> Result<WebhookDelivery> {
        let p = ctx.principal()?;
        Ok(WebhookDelivery(
            ctx.services()?.webhooks.send_test(p, &endpoint_id).await?,
        ))
    }
}
