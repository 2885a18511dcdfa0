//! Issuing, checking and revoking API keys.

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::auth::{self, Principal};
use crate::db::Db;
use crate::domain::Role;
use crate::entity::{api_key, partner};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::services::idempotency::{self, IdempotencyKey, Start};

/// `last_used_at` is refreshed at most this often, to keep reads read-only.
const LAST_USED_RESOLUTION_SECS: i64 = 60;

#[derive(Clone)]
pub struct ApiKeyService {
    db: Db,
}

/// A newly issued key: the record, and the secret that is shown only now
/// (`None` when an idempotent retry replays an earlier issue).
pub struct IssuedKey {
    pub key: api_key::Model,
    pub secret: Option<String>,
}

impl ApiKeyService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Resolves a bearer secret to the principal it stands for.
    pub async fn authenticate(&self, secret: &str) -> ApiResult<Principal> {
        let key = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(auth::hash_key(secret)))
            .one(self.db.conn())
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or(ApiError::InvalidApiKey)?;
        let now = Utc::now();
        let stale = key
            .last_used_at
            .is_none_or(|t| now - t > Duration::seconds(LAST_USED_RESOLUTION_SECS));
        if stale {
            let db = self.db.clone();
            let id = key.id.clone();
            tokio::spawn(async move {
                let touch = async {
                    let txn = db.begin_write().await?;
                    api_key::Entity::update_many()
                        .col_expr(
                            api_key::Column::LastUsedAt,
                            sea_orm::sea_query::Expr::value(now),
                        )
                        .filter(api_key::Column::Id.eq(id))
                        .exec(&*txn)
                        .await?;
                    txn.commit().await
                };
                if let Err(err) = touch.await {
                    tracing::warn!(%err, "could not record API key use");
                }
            });
        }
        Ok(Principal {
            role: Role::from_db(&key.role)?,
            partner_id: key.partner_id,
            key_id: key.id,
        })
    }

    /// Issues a key. `issuer` is `None` only for the command-line bootstrap.
    pub async fn issue(
        &self,
        issuer: Option<&Principal>,
        role: Role,
        partner_id: Option<String>,
        name: String,
        idempotency_key: Option<String>,
    ) -> ApiResult<IssuedKey> {
        if let Some(issuer) = issuer {
            issuer.require(&[Role::Admin])?;
        }
        let idem = match (issuer, idempotency_key) {
            (Some(issuer), Some(k)) => Some(IdempotencyKey::new(
                issuer,
                k,
                "createApiKey",
                &(role, &partner_id, &name),
            )?),
            _ => None,
        };
        let name = name.trim().to_owned();
        if name.is_empty() || name.len() > 100 {
            return Err(ApiError::validation("name", "must be 1 to 100 characters"));
        }
        match (role, &partner_id) {
            (Role::Partner, None) => {
                return Err(ApiError::validation(
                    "partnerId",
                    "is required for a PARTNER key",
                ))
            }
            (Role::Analyst | Role::Admin, Some(_)) => {
                return Err(ApiError::validation(
                    "partnerId",
                    "must be empty for ANALYST and ADMIN keys, which are not tied to a partner",
                ))
            }
            _ => {}
        }
        let txn = match idempotency::start::<String>(&self.db, idem.as_ref()).await? {
            // The secret was shown with the first response and is not stored.
            Start::Replay(id) => {
                let key = api_key::Entity::find_by_id(id.clone())
                    .one(self.db.conn())
                    .await?
                    .ok_or_else(|| ApiError::not_found("API key", id))?;
                return Ok(IssuedKey { key, secret: None });
            }
            Start::Fresh(txn) => txn,
        };
        if let Some(pid) = &partner_id {
            if partner::Entity::find_by_id(pid.clone())
                .one(&*txn)
                .await?
                .is_none()
            {
                return Err(ApiError::not_found("partner", pid.clone()));
            }
        }
        let generated = auth::generate_key();
        let key = api_key::ActiveModel {
            id: Set(ids::new_id(ids::API_KEY)),
            partner_id: Set(partner_id),
            role: Set(role.as_str().to_owned()),
            name: Set(name),
            key_prefix: Set(generated.display_prefix),
            key_hash: Set(generated.hash),
            created_by: Set(issuer.map(|p| p.key_id.clone())),
            created_at: Set(Utc::now()),
            revoked_at: Set(None),
            last_used_at: Set(None),
        }
        .insert(&*txn)
        .await?;
        idempotency::finish(txn, idem.as_ref(), &key.id).await?;
        tracing::info!(key_id = %key.id, role = %role, "API key issued");
        Ok(IssuedKey {
            key,
            secret: Some(generated.secret),
        })
    }

    /// Stores a key with a known secret. Only the demo data uses this, so the
    /// README's example requests work with fixed keys on a demo database.
    pub async fn install_known(
        &self,
        secret: &str,
        role: Role,
        partner_id: Option<String>,
        name: &str,
    ) -> ApiResult<()> {
        let hash = auth::hash_key(secret);
        let exists = api_key::Entity::find()
            .filter(api_key::Column::KeyHash.eq(hash.clone()))
            .one(self.db.conn())
            .await?
            .is_some();
        if !exists {
            let txn = self.db.begin_write().await?;
            api_key::ActiveModel {
                id: Set(ids::new_id(ids::API_KEY)),
                partner_id: Set(partner_id),
                role: Set(role.as_str().to_owned()),
                name: Set(name.to_owned()),
                key_prefix: Set(auth::display_prefix(secret)),
                key_hash: Set(hash),
                created_by: Set(None),
                created_at: Set(Utc::now()),
                revoked_at: Set(None),
                last_used_at: Set(None),
            }
            .insert(&*txn)
            .await?;
            txn.commit().await?;
        }
        Ok(())
    }

    pub async fn revoke(&self, principal: &Principal, key_id: &str) -> ApiResult<api_key::Model> {
        principal.require(&[Role::Admin])?;
        let txn = self.db.begin_write().await?;
        let key = api_key::Entity::find_by_id(key_id.to_owned())
            .one(&*txn)
            .await?
            .ok_or_else(|| ApiError::not_found("API key", key_id))?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        let mut active: api_key::ActiveModel = key.into();
        active.revoked_at = Set(Some(Utc::now()));
        let key = active.update(&*txn).await?;
        txn.commit().await?;
        tracing::info!(key_id = %key.id, by = %principal.key_id, "API key revoked");
        Ok(key)
    }

    /// Keys of one partner, or every key for `None`.
    pub async fn list(&self, partner_id: Option<&str>) -> ApiResult<Vec<api_key::Model>> {
        let mut query = api_key::Entity::find().order_by_asc(api_key::Column::Id);
        if let Some(pid) = partner_id {
            query = query.filter(api_key::Column::PartnerId.eq(pid));
        }
        Ok(query.all(self.db.conn()).await?)
    }
}

impl ApiKeyService {
    /// Keys grouped by partner (for batch loaders).
    pub async fn by_partners(
        &self,
        partner_ids: &[String],
    ) -> ApiResult<std::collections::HashMap<String, Vec<api_key::Model>>> {
        let rows = api_key::Entity::find()
            .filter(api_key::Column::PartnerId.is_in(partner_ids.iter().cloned()))
            .order_by_asc(api_key::Column::Id)
            .all(self.db.conn())
            .await?;
        // The filter guarantees every row has a partner.
        Ok(super::group_by(rows, |k| {
            k.partner_id.clone().unwrap_or_default()
        }))
    }
}
