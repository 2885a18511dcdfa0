use sea_orm::entity::prelude::*;

/// What is stored for one (meter, source, channel): its interval length, the
/// first and last interval, and how many readings.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "interval_series")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub meter_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub source: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub channel: String,
    pub interval_seconds: i32,
    pub first_ts: i64,
    pub last_ts: i64,
    pub reading_count: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
