use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollments")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    pub meter_id: String,
    pub program_id: String,
    pub status: String,
    pub committed_kw: Option<f64>,
    pub start_date: Date,
    pub end_date: Option<Date>,
    /// `Vec<domain::enrollment::Reason>` as JSON: why not eligible.
    pub reasons: Json,
    /// The plugin version that last decided eligibility.
    pub plugin_id: Option<String>,
    pub plugin_sha256: Option<String>,
    pub parameter_version_id: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
