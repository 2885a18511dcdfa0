use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: Option<String>,
    pub role: String,
    pub name: String,
    /// First characters of the key, shown in listings so a person can tell keys apart.
    pub key_prefix: String,
    /// SHA-256 of the whole key, hex. Keys are 256-bit random, so a fast hash is safe.
    pub key_hash: String,
    pub created_by: Option<String>,
    pub created_at: DateTimeUtc,
    pub revoked_at: Option<DateTimeUtc>,
    pub last_used_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
