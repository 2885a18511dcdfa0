use sea_orm::entity::prelude::*;

/// One settlement of a program's period: PRELIMINARY (our measurements through the
/// plugin) or FINAL (the market's statement). Versions count up per program,
/// kind and period start; the latest is `current`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "settlement_runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub program_id: String,
    pub kind: String,
    pub period_start: String,
    pub period_end: String,
    pub season: Option<String>,
    pub version: i32,
    pub current: bool,
    pub trigger: String,
    pub statement_id: Option<String>,
    pub plugin_id: Option<String>,
    pub plugin_version: Option<String>,
    pub plugin_sha256: Option<String>,
    pub parameter_version_id: Option<String>,
    pub meter_count: i32,
    pub total_cents: i64,
    pub created_by: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
