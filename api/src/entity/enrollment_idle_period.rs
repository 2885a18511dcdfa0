use sea_orm::entity::prelude::*;

/// A period (local dates, inclusive) in which an enrolled meter sits out dispatches.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollment_idle_periods")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub enrollment_id: String,
    pub start_date: Date,
    pub end_date: Date,
    pub reason: Option<String>,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
