use sea_orm::entity::prelude::*;

/// A customer's consent to share utility data with a partner: who gave it,
/// when, for what, until when, and how it ended.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "utility_authorizations")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    pub session_id: String,
    pub utility: String,
    pub account_number: String,
    pub customer_name: String,
    pub customer_email: String,
    pub scopes: Json,
    /// The consent statement exactly as the customer saw it.
    pub consent_text: String,
    pub consent_sha256: String,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    /// `AUTHORIZED`, `REVOKED`, `EXPIRED` or `SUPERSEDED`.
    pub status: String,
    pub granted_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub ended_at: Option<DateTimeUtc>,
    pub ended_by: Option<String>,
    pub end_reason: Option<String>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
