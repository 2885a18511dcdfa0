use sea_orm::entity::prelude::*;

/// A performance computation due for an event.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "performance_jobs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_id: String,
    /// `EVENT_COMPLETED` or `LATE_DATA`.
    pub reason: String,
    /// `PENDING`, `RUNNING`, `DONE` or `FAILED`.
    pub status: String,
    pub not_before: DateTimeUtc,
    pub attempts: i32,
    pub claimed_at: Option<DateTimeUtc>,
    pub last_error: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
