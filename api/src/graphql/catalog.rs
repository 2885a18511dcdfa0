//! Reference data: utilities and load zones that meters refer to.

use async_graphql::{Object, SimpleObject};

use crate::domain::geo::{self, Iso, Region};

#[derive(SimpleObject)]
pub struct Utility {
    pub code: &'static str,
    pub name: &'static str,
    pub regions: Vec<Region>,
    /// Municipal utilities are excluded by some programs.
    pub municipal: bool,
}

#[derive(Default)]
pub struct CatalogQuery;

#[Object]
impl CatalogQuery {
    /// Utilities gridhub knows, optionally of one region.
    async fn utilities(&self, region: Option<Region>) -> Vec<Utility> {
        geo::UTILITIES
            .iter()
            .filter(|u| region.is_none_or(|r| u.regions.contains(&r)))
            .map(|u| Utility {
                code: u.code,
                name: u.name,
                regions: u.regions.to_vec(),
                municipal: u.municipal,
            })
            .collect()
    }

    /// Load zones of an ISO.
    async fn load_zones(&self, iso: Iso) -> Vec<&'static str> {
        geo::load_zones(iso).to_vec()
    }
}
