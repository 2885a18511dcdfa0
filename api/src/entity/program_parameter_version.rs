use sea_orm::entity::prelude::*;

/// One immutable version of a program's parameters and seasons. The version in
/// force at time T is the one with the greatest `effective_from <= T`.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "program_parameter_versions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub program_id: String,
    pub version: i32,
    pub effective_from: DateTimeUtc,
    /// `Vec<domain::program::Parameter>` as JSON.
    pub parameters: Json,
    /// `Vec<domain::program::Season>` as JSON.
    pub seasons: Json,
    pub note: Option<String>,
    pub changed_by: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
