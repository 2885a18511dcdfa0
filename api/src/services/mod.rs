//! Domain services: business rules and transactions. They know the database and
//! the domain types, not GraphQL or HTTP.

pub mod api_keys;
pub mod idempotency;
pub mod meters;
pub mod pagination;
pub mod partners;
pub mod programs;

use crate::db::Db;

/// All services, cheap to clone (each holds a pooled connection handle).
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub api_keys: api_keys::ApiKeyService,
    pub partners: partners::PartnerService,
    pub meters: meters::MeterService,
    pub programs: programs::ProgramService,
}

impl Services {
    pub fn new(db: Db) -> Self {
        Self {
            api_keys: api_keys::ApiKeyService::new(db.clone()),
            partners: partners::PartnerService::new(db.clone()),
            meters: meters::MeterService::new(db.clone()),
            programs: programs::ProgramService::new(db.clone()),
            db,
        }
    }
}
