use sea_orm::entity::prelude::*;

/// One computation of an event's performance. Versions count up per event;
/// the latest is `current`. Records the plugin and parameters that computed it.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "performance_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub event_id: String,
    pub program_id: String,
    pub version: i32,
    pub current: bool,
    /// `EVENT_COMPLETED`, `LATE_DATA` or `ON_DEMAND`.
    pub trigger: String,
    pub plugin_id: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    pub parameter_version_id: String,
    /// Performance factor below which a meter under-performed.
    pub threshold: f64,
    pub meter_count: i32,
    pub committed_kw: f64,
    pub delivered_kw: f64,
    pub under_performing_count: i32,
    pub missing_data_count: i32,
    pub requested_by: String,
    pub duration_ms: i64,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
