//! Idempotency keys for creating mutations.
//!
//! The first result is stored in the same transaction as the write it reports,
//! so a retried request either finds the stored result (and writes nothing) or
//! finds nothing because the first attempt rolled back.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{de::DeserializeOwned, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::Principal;
use crate::db::{Db, WriteTxn};
use crate::entity::idempotency_record as record;
use crate::error::{ApiError, ApiResult};
use crate::ids;

pub const MAX_KEY_LEN: usize = 255;

#[derive(Debug, Clone)]
pub struct IdempotencyKey {
    scope: String,
    key: String,
    operation: &'static str,
    request_hash: String,
}

impl IdempotencyKey {
    /// `request` is everything that makes two requests the same request.
    pub fn new(
        principal: &Principal,
        key: String,
        operation: &'static str,
        request: &impl Serialize,
    ) -> ApiResult<Self> {
        if key.is_empty() || key.len() > MAX_KEY_LEN || key.chars().any(char::is_control) {
            return Err(ApiError::validation(
                "idempotencyKey",
                format!("must be 1 to {MAX_KEY_LEN} printable characters"),
            ));
        }
        let canonical = serde_json::to_vec(&(operation, request))?;
        Ok(Self {
            scope: principal.idempotency_scope(),
            key,
            operation,
            request_hash: hex::encode(Sha256::digest(canonical)),
        })
    }

    /// The stored result of an earlier request with this key, if any.
    pub async fn replay<T: DeserializeOwned>(
        &self,
        conn: &impl ConnectionTrait,
    ) -> ApiResult<Option<T>> {
        let found = record::Entity::find()
            .filter(record::Column::Scope.eq(&self.scope))
            .filter(record::Column::IdempotencyKey.eq(&self.key))
            .one(conn)
            .await?;
        match found {
            None => Ok(None),
            Some(r) if r.operation == self.operation && r.request_hash == self.request_hash => {
                tracing::debug!(key = %self.key, operation = self.operation, "idempotent replay");
                Ok(Some(serde_json::from_value(r.response)?))
            }
            Some(_) => Err(ApiError::IdempotencyKeyReused(self.key.clone())),
        }
    }

    /// Stores the result; call inside the transaction that made it.
    pub async fn remember<T: Serialize>(
        &self,
        conn: &impl ConnectionTrait,
        result: &T,
    ) -> ApiResult<()> {
        let row = record::ActiveModel {
            id: Set(ids::new_id(ids::IDEMPOTENCY_RECORD)),
            scope: Set(self.scope.clone()),
            idempotency_key: Set(self.key.clone()),
            operation: Set(self.operation.to_owned()),
            request_hash: Set(self.request_hash.clone()),
            response: Set(serde_json::to_value(result)?),
            created_at: Set(Utc::now()),
        };
        row.insert(conn).await.map_err(|err| match ApiError::from(err) {
            ApiError::Conflict(_) => ApiError::Conflict(format!(
                "another request with idempotency key `{}` completed at the same time; retry to get its result",
                self.key
            )),
            other => other,
        })?;
        Ok(())
    }
}

/// How a creating write begins: with the stored result of an earlier request
/// with the same key, or with a fresh transaction to do the work in.
pub enum Start<T> {
    Replay(T),
    Fresh(WriteTxn),
}

/// Opens the write transaction and looks up `key` in it.
pub async fn start<T: DeserializeOwned>(
    db: &Db,
    key: Option<&IdempotencyKey>,
) -> ApiResult<Start<T>> {
    let txn = db.begin_write().await?;
    if let Some(key) = key {
        if let Some(stored) = key.replay(&*txn).await? {
            return Ok(Start::Replay(stored));
        }
    }
    Ok(Start::Fresh(txn))
}

/// Remembers `result` under `key` (if any) and commits, atomically with the work.
pub async fn finish<T: Serialize>(
    txn: WriteTxn,
    key: Option<&IdempotencyKey>,
    result: &T,
) -> ApiResult<()> {
    if let Some(key) = key {
        key.remember(&*txn, result).await?;
    }
    txn.commit().await?;
    Ok(())
}
