use sea_orm::entity::prelude::*;

/// A line item of a meter's settlement, in exact cents.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "settlement_lines")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub run_id: String,
    pub meter_id: String,
    pub partner_id: String,
    pub month: String,
    pub event_id: Option<String>,
    pub code: String,
    pub description: String,
    pub quantity: f64,
    pub unit: String,
    pub rate: String,
    pub amount_cents: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
