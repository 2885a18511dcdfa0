//! Utility data sources: where customer-authorized account details and
//! interval usage come from. A source serves some utilities; the server
//! holds one [`UtilitySources`] registry and asks the source of a meter's
//! utility. The built-in [`simulated::SimulatedUtility`] serves every
//! utility in the catalog with deterministic synthetic data, so the whole
//! Connect flow works on one machine; a real integration (Green Button
//! Connect, a utility's API, a data aggregator) implements the same trait.

pub mod simulated;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::meter::CustomerClass;

/// What the customer typed on the account step.
#[derive(Debug, Clone)]
pub struct AccountQuery {
    pub utility: String,
    /// Digits only (spaces and dashes removed).
    pub account_number: String,
    pub postal_code: String,
}

/// A utility account and the service points (meters) under it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UtilityAccount {
    pub utility: String,
    pub account_number: String,
    pub customer_class: CustomerClass,
    pub service_points: Vec<ServicePoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePoint {
    /// The utility's service point / meter number.
    pub service_id: String,
    pub address_line1: String,
    pub city: String,
    pub state: String,
    pub postal_code: String,
    pub load_zone: Option<String>,
    pub rate_schedule: String,
}

/// Why an account lookup failed, in words the customer can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LookupError {
    #[error("{0}")]
    InvalidAccountNumber(String),
    #[error("{utility} has no account with that number and ZIP code")]
    NotFound { utility: String },
    #[error("ZIP code {postal_code} is not in {utility}'s service area")]
    OutsideServiceArea {
        utility: String,
        postal_code: String,
    },
    #[error("the utility cannot be reached right now; try again in a few minutes")]
    Unavailable(String),
}

/// What a fetch of readings needs to know about the authorization.
#[derive(Debug, Clone)]
pub struct AuthorizedAccount {
    pub authorization_id: String,
    pub utility: String,
    pub account_number: String,
    pub expires_at: DateTime<Utc>,
}

/// One 15-minute (or other length) reading from the utility.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UtilityReading {
    /// Unix seconds of the interval start.
    pub start: i64,
    pub interval_seconds: i64,
    pub kwh: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SourceError {
    /// The utility no longer honours the authorization (revoked at the
    /// utility or expired): data stops and the authorization ends.
    #[error("the utility ended the authorization: {0}")]
    AuthorizationEnded(String),
    /// Worth retrying later.
    #[error("utility data source unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait UtilityDataSource: Send + Sync {
    /// A short name for logs and the API (`simulated`, `green-button` …).
    fn name(&self) -> &'static str;
    /// Whether this source serves the utility.
    fn serves(&self, utility: &str) -> bool;
    /// Finds the account the customer described.
    async fn find_account(&self, query: &AccountQuery) -> Result<UtilityAccount, LookupError>;
    /// Readings of one service point with starts in `[from, to)` (unix
    /// seconds). The source returns what it has published; later calls may
    /// return more.
    async fn readings(
        &self,
        account: &AuthorizedAccount,
        service_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<UtilityReading>, SourceError>;
    /// Tells the utility the customer's authorization ended (best effort).
    async fn revoke(&self, account: &AuthorizedAccount) -> Result<(), SourceError>;
}

/// The data sources the server knows, asked in order.
#[derive(Clone)]
pub struct UtilitySources(Vec<Arc<dyn UtilityDataSource>>);

impl UtilitySources {
    pub fn new(sources: Vec<Arc<dyn UtilityDataSource>>) -> Self {
        Self(sources)
    }

    /// The embedded default: the simulated utility for every utility.
    pub fn simulated() -> Self {
        Self::new(vec![Arc::new(simulated::SimulatedUtility)])
    }

    pub fn for_utility(&self, utility: &str) -> Option<&Arc<dyn UtilityDataSource>> {
        self.0.iter().find(|s| s.serves(utility))
    }

    /// Utility codes of the catalog that some source serves, in catalog order.
    pub fn served(&self) -> Vec<&'static str> {
        crate::domain::geo::UTILITIES
            .iter()
            .map(|u| u.code)
            .filter(|code| self.for_utility(code).is_some())
            .collect()
    }
}
