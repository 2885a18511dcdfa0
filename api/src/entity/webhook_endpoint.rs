use sea_orm::entity::prelude::*;

/// Where a partner wants notifications POSTed, signed with `secret`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    pub url: String,
    pub secret: String,
    /// Notification types delivered (`EVENT_CREATED` …), JSON list.
    pub event_types: Json,
    /// `ACTIVE` or `DISABLED`.
    pub status: String,
    pub disabled_reason: Option<String>,
    pub consecutive_failures: i32,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
