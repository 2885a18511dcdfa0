use sea_orm::entity::prelude::*;

/// Every status an enrollment has had, with the reasons and the plugin that decided.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollment_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub enrollment_id: String,
    pub status: String,
    pub reasons: Json,
    pub note: Option<String>,
    pub changed_by: Option<String>,
    pub plugin_id: Option<String>,
    pub plugin_sha256: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
