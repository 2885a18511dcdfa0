//! Partners: the companies whose fleets the platform serves.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};

use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::Role;
use crate::entity::partner;
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::services::idempotency::{self, IdempotencyKey, Start};

#[derive(Clone)]
pub struct PartnerService {
    db: Db,
}

impl PartnerService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn create(
        &self,
        principal: &Principal,
        name: &str,
        idempotency_key: Option<String>,
    ) -> ApiResult<partner::Model> {
        principal.require(&[Role::Admin])?;
        let key = idempotency_key
            .map(|k| IdempotencyKey::new(principal, k, "createPartner", &name))
            .transpose()?;
        self.insert(name, key.as_ref()).await
    }

    /// Creates a partner without a principal (command line, demo data).
    pub async fn create_unchecked(&self, name: &str) -> ApiResult<partner::Model> {
        self.insert(name, None).await
    }

    async fn insert(&self, name: &str, key: Option<&IdempotencyKey>) -> ApiResult<partner::Model> {
        let name = name.trim();
        if name.is_empty() || name.len() > 200 {
            return Err(ApiError::validation("name", "must be 1 to 200 characters"));
        }
        let txn = match idempotency::start::<String>(&self.db, key).await? {
            Start::Replay(id) => return self.by_id(&id).await,
            Start::Fresh(txn) => txn,
        };
        let now = Utc::now();
        let model = partner::ActiveModel {
            id: Set(ids::new_id(ids::PARTNER)),
            name: Set(name.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*txn)
        .await?;
        idempotency::finish(txn, key, &model.id).await?;
        tracing::info!(partner_id = %model.id, "partner created");
        Ok(model)
    }

    async fn by_id(&self, id: &str) -> ApiResult<partner::Model> {
        partner::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("partner", id))
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> ApiResult<partner::Model> {
        let visible = match principal.tenant(Some(id)) {
            Ok(_) => true,
            // A partner asking for another partner learns nothing about it.
            Err(ApiError::Forbidden(_)) if principal.role == Role::Partner => false,
            Err(e) => return Err(e),
        };
        let found = if visible {
            partner::Entity::find_by_id(id.to_owned())
                .one(self.db.conn())
                .await?
        } else {
            None
        };
        found.ok_or_else(|| ApiError::not_found("partner", id))
    }

    pub async fn list(&self, principal: &Principal) -> ApiResult<Vec<partner::Model>> {
        let mut query = partner::Entity::find().order_by_asc(partner::Column::Id);
        if let Tenant::Partner(id) = principal.tenant(None)? {
            query = query.filter(partner::Column::Id.eq(id));
        }
        Ok(query.all(self.db.conn()).await?)
    }

    /// Batch lookup for DataLoaders.
    pub async fn by_ids(&self, ids: &[String]) -> ApiResult<HashMap<String, partner::Model>> {
        let rows = partner::Entity::find()
            .filter(partner::Column::Id.is_in(ids.iter().cloned()))
            .all(self.db.conn())
            .await?;
        Ok(rows.into_iter().map(|p| (p.id.clone(), p)).collect())
    }
}
