use sea_orm::entity::prelude::*;

/// A hosted Connect session a partner opened for one customer.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "connect_sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    /// SHA-256 of the link token; the token is only in the link.
    pub token_hash: String,
    /// SHA-256 of the cookie secret of the browser that opened the link.
    pub browser_hash: Option<String>,
    pub customer_reference: Option<String>,
    pub return_url: String,
    pub return_state: Option<String>,
    /// Utility codes offered (JSON list; empty: every utility with a data source).
    pub utilities: Json,
    /// Data scopes asked for (JSON list).
    pub scopes: Json,
    pub authorization_days: i32,
    pub status: String,
    pub step: String,
    pub utility: Option<String>,
    /// The account the utility returned (JSON), shown for consent.
    pub account: Option<Json>,
    pub lookup_failures: i32,
    pub abandon_reason: Option<String>,
    pub authorization_id: Option<String>,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub expires_at: DateTimeUtc,
    pub opened_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
