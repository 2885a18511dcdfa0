use sea_orm::entity::prelude::*;

/// One meter's total in a settlement run, and what full performance would
/// have earned (preliminary runs).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "settlement_meters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub run_id: String,
    pub meter_id: String,
    pub partner_id: String,
    pub committed_kw: f64,
    pub amount_cents: i64,
    pub full_performance_cents: Option<i64>,
    /// `{ "YYYY-MM": cents }` of full performance.
    pub full_by_month: Json,
    /// Delivered kWh in the period: the meter's share when a market pays an aggregate.
    pub weight: f64,
    pub notes: Json,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
