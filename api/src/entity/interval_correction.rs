use sea_orm::entity::prelude::*;

/// A stored reading an upload changed: the value before and after.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "interval_corrections")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub meter_id: String,
    pub source: String,
    pub channel: String,
    pub start_ts: i64,
    pub previous_kwh: f64,
    pub kwh: f64,
    pub upload_id: String,
    pub corrected_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
