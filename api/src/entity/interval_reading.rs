use sea_orm::entity::prelude::*;

/// One interval of energy: `kwh` over `[start_ts, start_ts + interval_seconds)`,
/// unix seconds UTC. Written in bulk by `services::intervals`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "interval_readings")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub meter_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub start_ts: i64,
    pub interval_seconds: i32,
    pub kwh: f64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
