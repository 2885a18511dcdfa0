use sea_orm::entity::prelude::*;

/// One notification owed to one endpoint, retried until delivered or given up.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    /// Also the idempotency id the receiver sees (`Gridhub-Webhook-Id`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub endpoint_id: String,
    pub partner_id: String,
    /// The event notification carried; `None` for test notifications.
    pub notification_id: Option<String>,
    pub event_type: String,
    /// The exact JSON body POSTed.
    pub payload: Json,
    /// `PENDING`, `DELIVERED` or `FAILED`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
