use sea_orm::entity::prelude::*;

/// A grid event of a program. `revision` grows with every change.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "events")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub program_id: String,
    pub event_type: String,
    pub status: String,
    pub notification_at: DateTimeUtc,
    pub start_at: DateTimeUtc,
    pub end_at: DateTimeUtc,
    /// Partners acknowledge or opt out before this instant.
    pub ack_deadline: DateTimeUtc,
    /// `domain::event::Targeting` as JSON.
    pub targeting: Json,
    /// Exact decimal USD/kWh.
    pub energy_price: Option<String>,
    /// Set when an admin scheduled past the program's schedule rules.
    pub override_reason: Option<String>,
    pub revision: i32,
    pub created_by: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
