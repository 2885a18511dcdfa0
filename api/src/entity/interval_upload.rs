use sea_orm::entity::prelude::*;

/// One upload of readings and what became of them.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "interval_uploads")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    pub created_by: String,
    pub format: String,
    pub status: String,
    pub received: i64,
    pub inserted: i64,
    pub corrected: i64,
    pub unchanged: i64,
    pub rejected: i64,
    pub first_ts: Option<i64>,
    pub last_ts: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
