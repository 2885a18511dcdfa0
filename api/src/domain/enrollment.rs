//! Enrollment of a meter in a program.

use super::date::Date;
use async_graphql::{InputObject, SimpleObject};
use serde::{Deserialize, Serialize};

use super::string_enum;

string_enum! {
    pub enum EnrollmentStatus {
        /// Eligible, waiting for the partner's portfolio to meet the program's
        /// portfolio rules (e.g. aggregated kW).
        Pending => "PENDING",
        Enrolled => "ENROLLED",
        /// Not eligible; `reasons` say why and what would fix it.
        Ineligible => "INELIGIBLE",
        /// Disenrolled at the partner's request.
        Unenrolled => "UNENROLLED",
    }
}

impl EnrollmentStatus {
    /// Statuses that count towards the partner's portfolio in the program.
    pub fn participating(self) -> bool {
        matches!(self, EnrollmentStatus::Pending | EnrollmentStatus::Enrolled)
    }
}

/// Why a meter is not eligible, and what would fix it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject)]
#[graphql(name = "IneligibilityReason")]
pub struct Reason {
    /// Stable machine code from the program's rules, e.g. `UTILITY_NOT_ELIGIBLE`.
    pub code: String,
    pub message: String,
    /// The action that would make the meter eligible.
    pub action: String,
    /// The meter field concerned, if any.
    pub field: Option<String>,
}

#[derive(Debug, Clone, InputObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnrollmentInput {
    pub meter_id: async_graphql::ID,
    /// kW committed; defaults to the meter's capacity.
    pub committed_kw: Option<f64>,
    /// First day of participation in the program's time zone; defaults to today.
    pub start_date: Option<Date>,
    pub end_date: Option<Date>,
}
