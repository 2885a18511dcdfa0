//! Connect sessions (the hosted customer authorization flow), the utility
//! data authorizations they produce, and their revocation.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::meters::Meter;
use super::pagination::{edges, PageInfo};
use crate::domain::connect::{
    AbandonReason, AuthorizationState, ConnectSessionRequest, ConnectSessionStatus, ConnectStep,
    DataScope,
};
use crate::entity::{connect_session, utility_authorization, utility_sync};
use crate::error::ApiError;
use crate::services::connect::{AuthorizationFilter, SessionFilter};
use crate::services::intervals::to_time;
use crate::services::pagination::PageRequest;

pub struct ConnectSession(pub connect_session::Model);

#[Object]
impl ConnectSession {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn partner_id(&self) -> ID {
        ID(self.0.partner_id.clone())
    }
    async fn status(&self) -> Result<ConnectSessionStatus> {
        Ok(ConnectSessionStatus::from_db(&self.0.status)?)
    }
    /// The step the customer is on, or left the flow at.
    async fn step(&self) -> Result<ConnectStep> {
        Ok(ConnectStep::from_db(&self.0.step)?)
    }
    async fn abandon_reason(&self) -> Result<Option<AbandonReason>> {
        Ok(self
            .0
            .abandon_reason
            .as_deref()
            .map(AbandonReason::from_db)
            .transpose()?)
    }
    async fn customer_reference(&self) -> Option<&str> {
        self.0.customer_reference.as_deref()
    }
    async fn return_url(&self) -> &str {
        &self.0.return_url
    }
    /// Utilities offered to the customer (empty: every utility with a data source).
    async fn utilities(&self) -> Result<Vec<String>> {
        Ok(serde_json::from_value(self.0.utilities.clone()).map_err(ApiError::from)?)
    }
    /// The utility the customer chose.
    async fn utility(&self) -> Option<&str> {
        self.0.utility.as_deref()
    }
    async fn scopes(&self) -> Result<Vec<DataScope>> {
        Ok(serde_json::from_value(self.0.scopes.clone()).map_err(ApiError::from)?)
    }
    async fn authorization_days(&self) -> i32 {
        self.0.authorization_days
    }
    /// Account details the utility did not recognise.
    async fn lookup_failures(&self) -> i32 {
        self.0.lookup_failures
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The link stops working at this instant.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn opened_at(&self) -> Option<DateTime<Utc>> {
        self.0.opened_at
    }
    async fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.0.finished_at
    }
    /// The consent given, once COMPLETED.
    async fn authorization(&self, ctx: &Context<'_>) -> Result<Option<UtilityAuthorization>> {
        let Some(id) = &self.0.authorization_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .authorizations
            .load_one(id.clone())
            .await?
            .map(UtilityAuthorization))
    }
}

pub struct UtilityAuthorization(pub utility_authorization::Model);

#[Object]
impl UtilityAuthorization {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn partner_id(&self) -> ID {
        ID(self.0.partner_id.clone())
    }
    /// The Connect session it was given in.
    async fn session_id(&self) -> ID {
        ID(self.0.session_id.clone())
    }
    async fn status(&self) -> Result<AuthorizationState> {
        Ok(AuthorizationState::from_db(&self.0.status)?)
    }
    async fn utility(&self) -> &str {
        &self.0.utility
    }
    async fn account_number(&self) -> &str {
        &self.0.account_number
    }
    /// Who consented: the account holder's name as entered.
    async fn customer_name(&self) -> &str {
        &self.0.customer_name
    }
    async fn customer_email(&self) -> &str {
        &self.0.customer_email
    }
    async fn scopes(&self) -> Result<Vec<DataScope>> {
        Ok(serde_json::from_value(self.0.scopes.clone()).map_err(ApiError::from)?)
    }
    /// The statement the customer agreed to, word for word.
    async fn consent_text(&self) -> &str {
        &self.0.consent_text
    }
    async fn consent_sha256(&self) -> &str {
        &self.0.consent_sha256
    }
    /// The address the consent came from.
    async fn ip_address(&self) -> Option<&str> {
        self.0.ip_address.as_deref()
    }
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    async fn granted_at(&self) -> DateTime<Utc> {
        self.0.granted_at
    }
    async fn expires_at(&self) -> DateTime<Utc> {
        self.0.expires_at
    }
    async fn ended_at(&self) -> Option<DateTime<Utc>> {
        self.0.ended_at
    }
    /// `system` (expiry), `utility`, `customer` (a newer consent) or the API key id.
    async fn ended_by(&self) -> Option<&str> {
        self.0.ended_by.as_deref()
    }
    async fn end_reason(&self) -> Option<&str> {
        self.0.end_reason.as_deref()
    }
    /// Meters whose data this authorization shares (currently).
    async fn meters(&self, ctx: &Context<'_>) -> Result<Vec<Meter>> {
        let rows = ctx
            .loaders()?
            .authorization_meters
            .load_one(self.0.id.clone())
            .await?;
        Ok(rows.unwrap_or_default().into_iter().map(Meter).collect())
    }
}

/// Fetching a meter's utility data.
pub struct UtilityDataSync(pub utility_sync::Model);

#[Object]
impl UtilityDataSync {
    /// Readings are stored up to (not including) this instant.
    async fn synced_through(&self) -> Option<DateTime<Utc>> {
        self.0.synced_through.map(to_time)
    }
    async fn last_synced_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_synced_at
    }
    async fn next_sync_at(&self) -> DateTime<Utc> {
        self.0.next_sync_at
    }
    /// Failed fetches in a row (retried with backoff).
    async fn failed_attempts(&self) -> i32 {
        self.0.attempts
    }
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct CreatedConnectSession {
    pub session: ConnectSession,
    /// The link to send the customer to. It works once, in one browser,
    /// until `session.expiresAt`; it is not shown again.
    pub url: String,
}

#[derive(InputObject, Default)]
pub struct ConnectSessionFilter {
    pub statuses: Option<Vec<ConnectSessionStatus>>,
    pub customer_reference: Option<String>,
}

#[derive(InputObject, Default)]
pub struct UtilityAuthorizationFilter {
    pub statuses: Option<Vec<AuthorizationState>>,
    pub utilities: Option<Vec<String>>,
}

#[derive(SimpleObject)]
pub struct ConnectSessionEdge {
    pub cursor: String,
    pub node: ConnectSession,
}

#[derive(SimpleObject)]
pub struct ConnectSessionConnection {
    pub edges: Vec<ConnectSessionEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct UtilityAuthorizationEdge {
    pub cursor: String,
    pub node: UtilityAuthorization,
}

#[derive(SimpleObject)]
pub struct UtilityAuthorizationConnection {
    pub edges: Vec<UtilityAuthorizationEdge>,
    pub page_info: PageInfo,
}

#[derive(Default)]
pub struct ConnectQuery;

#[Object]
impl ConnectQuery {
    async fn connect_session(&self, ctx: &Context<'_>, id: ID) -> Result<ConnectSession> {
        let p = ctx.principal()?;
        Ok(ConnectSession(
            ctx.services()?.connect.session(p, &id).await?,
        ))
    }

    /// Sessions in creation order (Relay pagination).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn connect_sessions(
        &self,
        ctx: &Context<'_>,
        filter: Option<ConnectSessionFilter>,
        #[graphql(desc = "ADMIN only: one partner's")] partner_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<ConnectSessionConnection> {
        let p = ctx.principal()?;
        let page = PageRequest::from_relay(after, before, first, last)?;
        let f = filter.unwrap_or_default();
        let filter = SessionFilter {
            statuses: f.statuses,
            customer_reference: f.customer_reference,
        };
        let result = ctx
            .services()?
            .connect
            .sessions(p, partner_id.as_ref().map(|i| i.as_str()), &filter, &page)
            .await?;
        let (edges, page_info) = edges(
            result,
            |s| &s.id,
            |cursor, s| ConnectSessionEdge {
                cursor,
                node: ConnectSession(s),
            },
        );
        Ok(ConnectSessionConnection { edges, page_info })
    }

    async fn utility_authorization(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<UtilityAuthorization> {
        let p = ctx.principal()?;
        Ok(UtilityAuthorization(
            ctx.services()?.connect.authorization(p, &id).await?,
        ))
    }

    /// Customer consents in creation order (Relay pagination).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn utility_authorizations(
        &self,
        ctx: &Context<'_>,
        filter: Option<UtilityAuthorizationFilter>,
        #[graphql(desc = "ADMIN only: one partner's")] partner_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<UtilityAuthorizationConnection> {
        let p = ctx.principal()?;
        let page = PageRequest::from_relay(after, before, first, last)?;
        let f = filter.unwrap_or_default();
        let filter = AuthorizationFilter {
            statuses: f.statuses,
            utilities: f
                .utilities
                .map(|u| u.into_iter().map(|c| c.trim().to_uppercase()).collect()),
        };
        let result = ctx
            .services()?
            .connect
            .authorizations(p, partner_id.as_ref().map(|i| i.as_str()), &filter, &page)
            .await?;
        let (edges, page_info) = edges(
            result,
            |a| &a.id,
            |cursor, a| UtilityAuthorizationEdge {
                cursor,
                node: UtilityAuthorization(a),
            },
        );
        Ok(UtilityAuthorizationConnection { edges, page_info })
    }
}

#[derive(Default)]
pub struct ConnectMutation;

#[Object]
impl ConnectMutation {
    /// Opens a hosted Connect session for one customer and returns its link
    /// (see docs/connect.md). The customer's meters appear AUTHORIZED when they
    /// consent; `connectSessionEvents` and the `CONNECT_SESSION_*` webhooks
    /// announce the outcome.
    async fn create_connect_session(
        &self,
        ctx: &Context<'_>,
        input: ConnectSessionRequest,
        #[graphql(desc = "ADMIN only: the partner to open it for")] partner_id: Option<ID>,
        #[graphql(desc = "Retrying with the same key returns the first session and link")]
        idempotency_key: Option<String>,
    ) -> Result<CreatedConnectSession> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        let (session, url) = ctx
            .services()?
            .connect
            .create_session(p, partner_id.as_ref().map(|i| i.as_str()), input, key)
            .await?;
        Ok(CreatedConnectSession {
            session: ConnectSession(session),
            url,
        })
    }

    /// Ends a customer's authorization (e.g. at the customer's request): its
    /// meters become REVOKED, their utility data stops, and enrollments in
    /// programs that need it are re-decided.
    async fn revoke_utility_authorization(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<UtilityAuthorization> {
        let p = ctx.principal()?;
        Ok(UtilityAuthorization(
            ctx.services()?.connect.revoke(p, &id, reason).await?,
        ))
    }
}
