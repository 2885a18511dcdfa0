use sea_orm::entity::prelude::*;

/// One installed version of a program's rules plugin. At most one per program
/// is active; earlier versions stay for rollback.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "plugins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub program_id: String,
    pub plugin_version: String,
    pub contract_version: String,
    pub description: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub wasm: Vec<u8>,
    pub active: bool,
    pub installed_by: Option<String>,
    pub installed_at: DateTimeUtc,
    pub activated_by: Option<String>,
    pub activated_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
