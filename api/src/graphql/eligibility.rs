//! Eligibility answers from the program plugins.

use async_graphql::{Context, Object, Result, SimpleObject, ID};

use super::context::ContextExt;
use super::meters::Meter;
use crate::rules::wit;
use crate::services::eligibility::Verdict;

/// Why a meter is not eligible, and what would fix it.
#[derive(SimpleObject, Clone)]
pub struct IneligibilityReason {
    /// Stable machine code from the program's rules, e.g. `UTILITY_NOT_ELIGIBLE`.
    pub code: String,
    pub message: String,
    /// The action that would make the meter eligible.
    pub action: String,
    /// The meter field concerned, if any.
    pub field: Option<String>,
}

impl From<wit::Reason> for IneligibilityReason {
    fn from(r: wit::Reason) -> Self {
        Self {
            code: r.code,
            message: r.message,
            action: r.action,
            field: r.field,
        }
    }
}

pub struct EligibilityResult(pub Verdict);

#[Object]
impl EligibilityResult {
    async fn meter(&self) -> Meter {
        Meter(self.0.meter.clone())
    }
    async fn program_id(&self) -> ID {
        ID(self.0.program_id.clone())
    }
    async fn eligible(&self) -> bool {
        self.0.eligibility.eligible
    }
    async fn reasons(&self) -> Vec<IneligibilityReason> {
        self.0
            .eligibility
            .reasons
            .iter()
            .cloned()
            .map(Into::into)
            .collect()
    }
    /// The plugin version that decided.
    async fn plugin_version(&self) -> &str {
        &self.0.plugin_version
    }
    async fn plugin_sha256(&self) -> &str {
        &self.0.plugin_sha256
    }
}

#[derive(Default)]
pub struct EligibilityQuery;

#[Object]
impl EligibilityQuery {
    /// Whether meters may enroll in a program, per the program's rules plugin
    /// (nothing is written). Up to 1000 meters, evaluated in one batch.
    async fn eligibility(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        meter_ids: Vec<ID>,
        #[graphql(desc = "kW to commit; defaults to each meter's capacity")] committed_kw: Option<
            f64,
        >,
    ) -> Result<Vec<EligibilityResult>> {
        let p = ctx.principal()?;
        let ids: Vec<String> = meter_ids.into_iter().map(|id| id.0).collect();
        let verdicts = ctx
            .services()?
            .eligibility
            .evaluate(p, &program_id, &ids, committed_kw)
            .await?;
        Ok(verdicts.into_iter().map(EligibilityResult).collect())
    }
}
