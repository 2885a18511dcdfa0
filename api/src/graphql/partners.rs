//! Viewer, partners and API keys.

use async_graphql::{Context, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use crate::domain::Role;
use crate::entity::{api_key, partner};

pub struct Partner(pub partner::Model);

#[Object]
impl Partner {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// API keys issued to this partner (their secrets are never shown again).
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        // Visible to admins and to the partner itself; `tenant` enforces both.
        ctx.principal()?.tenant(Some(&self.0.id))?;
        let keys = ctx
            .loaders()?
            .api_keys_by_partner
            .load_one(self.0.id.clone())
            .await?
            .unwrap_or_default();
        Ok(keys.into_iter().map(ApiKey).collect())
    }
}

pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn role(&self) -> Result<Role> {
        Ok(Role::from_db(&self.0.role)?)
    }
    async fn partner_id(&self) -> Option<ID> {
        self.0.partner_id.clone().map(ID)
    }
    /// The first characters of the key, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.0.key_prefix
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }
    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

/// A new key. `secret` is shown only in this response: store it now. It is
/// null when an idempotent retry returns a key issued earlier.
#[derive(SimpleObject)]
pub struct CreatedApiKey {
    pub secret: Option<String>,
    pub api_key: ApiKey,
}

/// Who the request's API key stands for.
pub struct Viewer {
    role: Role,
    key_id: String,
    partner_id: Option<String>,
}

#[Object]
impl Viewer {
    async fn role(&self) -> Role {
        self.role
    }
    async fn api_key_id(&self) -> ID {
        ID(self.key_id.clone())
    }
    async fn partner(&self, ctx: &Context<'_>) -> Result<Option<Partner>> {
        let Some(id) = &self.partner_id else {
            return Ok(None);
        };
        Ok(ctx
            .loaders()?
            .partners
            .load_one(id.clone())
            .await?
            .map(Partner))
    }
}

#[derive(Default)]
pub struct PartnerQuery;

#[Object]
impl PartnerQuery {
    /// The caller, as identified by its API key.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<Viewer> {
        let p = ctx.principal()?;
        Ok(Viewer {
            role: p.role,
            key_id: p.key_id.clone(),
            partner_id: p.partner_id.clone(),
        })
    }

    /// Every partner (ADMIN), or the caller's own partner.
    async fn partners(&self, ctx: &Context<'_>) -> Result<Vec<Partner>> {
        let p = ctx.principal()?;
        let rows = ctx.services()?.partners.list(p).await?;
        Ok(rows.into_iter().map(Partner).collect())
    }

    async fn partner(&self, ctx: &Context<'_>, id: ID) -> Result<Partner> {
        let p = ctx.principal()?;
        Ok(Partner(ctx.services()?.partners.get(p, &id).await?))
    }
}

#[derive(Default)]
pub struct PartnerMutation;

#[Object]
impl PartnerMutation {
    /// Creates a partner (ADMIN).
    async fn create_partner(
        &self,
        ctx: &Context<'_>,
        name: String,
        idempotency_key: Option<String>,
    ) -> Result<Partner> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        Ok(Partner(
            ctx.services()?.partners.create(p, &name, key).await?,
        ))
    }

    /// Issues an API key (ADMIN). PARTNER keys need `partnerId`; ANALYST and
    /// ADMIN keys must not have one. The secret is returned only here.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        role: Role,
        name: String,
        partner_id: Option<ID>,
        idempotency_key: Option<String>,
    ) -> Result<CreatedApiKey> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        let issued = ctx
            .services()?
            .api_keys
            .issue(Some(p), role, partner_id.map(|id| id.0), name, key)
            .await?;
        Ok(CreatedApiKey {
            secret: issued.secret,
            api_key: ApiKey(issued.key),
        })
    }

    /// Revokes an API key (ADMIN); requests with it fail from now on.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: ID) -> Result<ApiKey> {
        let p = ctx.principal()?;
        Ok(ApiKey(ctx.services()?.api_keys.revoke(p, &id).await?))
    }
}
