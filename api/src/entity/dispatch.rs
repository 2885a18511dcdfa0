use sea_orm::entity::prelude::*;

/// An event's call on one meter, with the partner's response.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dispatches")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_id: String,
    pub partner_id: String,
    pub meter_id: String,
    pub enrollment_id: String,
    pub committed_kw: f64,
    /// `PENDING`, `ACKNOWLEDGED` or `OPTED_OUT`.
    pub response: String,
    pub responded_at: Option<DateTimeUtc>,
    pub responded_by: Option<String>,
    pub opt_out_reason: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
