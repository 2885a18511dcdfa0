use sea_orm::entity::prelude::*;

/// One meter's result in one performance run.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meter_performances")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub run_id: String,
    pub event_id: String,
    pub meter_id: String,
    pub partner_id: String,
    pub dispatch_id: String,
    /// `MEASURED`, `MISSING_DATA`, `INSUFFICIENT_HISTORY` or `FAILED`.
    pub status: String,
    pub committed_kw: f64,
    pub delivered_kw: Option<f64>,
    pub delivered_kwh: Option<f64>,
    pub performance_factor: Option<f64>,
    pub under_performing: bool,
    pub baseline_method: Option<String>,
    /// `LOAD_REDUCTION` or `DEVICE_OUTPUT`.
    pub measure: Option<String>,
    /// Baseline days used, `["YYYY-MM-DD", …]`.
    pub days_used: Json,
    pub notes: Json,
    /// `[{ start, weight, baselineKw, actualKw, reductionKw }]` per baseline interval.
    pub intervals: Json,
    pub error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
