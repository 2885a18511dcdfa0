use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "meters")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub partner_id: String,
    pub external_id: String,
    pub kind: String,
    pub device_type: Option<String>,
    pub region: String,
    pub utility: Option<String>,
    pub iso: String,
    pub load_zone: Option<String>,
    pub customer_class: Option<String>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub capacity_kw: Option<f64>,
    pub energy_kwh: Option<f64>,
    pub utility_account_number: Option<String>,
    pub utility_service_id: Option<String>,
    pub esi_id: Option<String>,
    pub authorization_status: String,
    /// The customer's consent (Connect) this meter's utility data is shared under.
    pub authorization_id: Option<String>,
    pub status: String,
    pub deactivated_at: Option<DateTimeUtc>,
    pub deactivation_reason: Option<String>,
    pub network_tier: Option<String>,
    pub commercial_operation_date: Option<Date>,
    pub colocated_renewable_kw: Option<f64>,
    pub attributes: Json,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
