use sea_orm::entity::prelude::*;

/// A partner's notice of an event change, written in the change's
/// transaction: the durable source of webhook deliveries and subscriptions.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "event_notifications")]
pub struct Model {
    /// Time-ordered (UUIDv7), so ids sort in creation order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    pub event_id: String,
    pub kind: String,
    pub payload: Json,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
