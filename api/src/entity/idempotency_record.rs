use sea_orm::entity::prelude::*;

/// The stored first result of a mutation sent with an idempotency key.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "idempotency_records")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Who sent it: the partner id, or the API key id for platform roles.
    pub scope: String,
    pub idempotency_key: String,
    pub operation: String,
    /// SHA-256 of the canonical request, to refuse a key reused for another request.
    pub request_hash: String,
    pub response: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
