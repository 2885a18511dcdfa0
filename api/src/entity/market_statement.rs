use sea_orm::entity::prelude::*;

/// A market's settlement statement as imported: per meter, or one aggregate.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "market_statements")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub program_id: String,
    pub period_start: String,
    pub period_end: String,
    pub basis: String,
    pub aggregate_cents: Option<i64>,
    pub reference: Option<String>,
    pub imported_by: String,
    pub imported_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
