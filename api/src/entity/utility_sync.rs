use sea_orm::entity::prelude::*;

/// Fetching utility data for one authorized meter: how far it got and when
/// to ask again. The row exists only while the meter is authorized.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "utility_sync")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub meter_id: String,
    pub partner_id: String,
    pub authorization_id: String,
    pub utility: String,
    pub account_number: String,
    pub service_id: String,
    /// Unix seconds up to which readings were fetched (exclusive).
    pub synced_through: Option<i64>,
    pub next_sync_at: DateTimeUtc,
    /// Set while a replica works on the row.
    pub lease_until: Option<DateTimeUtc>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub last_synced_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
