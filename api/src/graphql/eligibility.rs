//! Eligibility answers from the program plugins.

use async_graphql::{Context, Object, Result, ID};

use super::context::ContextExt;
use super::meters::Meter;
use crate::domain::enrollment::Reason;
use crate::rules::convert;
use crate::services::eligibility::Verdict;

pub struct EligibilityResult(pub Verdict);

#[Object]
impl EligibilityResult {
    async fn meter(&self) -> Meter {
        Meter(self.0.meter.clone())
    }
    async fn program_id(&self) -> ID {
        ID(self.0.program_id.clone())
    }
    async fn program(&self, ctx: &Context<'_>) -> Result<super::programs::Program> {
        let p = ctx
            .loaders()?
            .programs
            .load_one(self.0.program_id.clone())
            .await?;
        Ok(super::programs::Program(p.ok_or_else(|| {
            crate::error::ApiError::not_found("program", self.0.program_id.clone())
        })?))
    }
    async fn eligible(&self) -> bool {
        self.0.eligibility.eligible
    }
    async fn reasons(&self) -> Vec<Reason> {
        convert::reasons(&self.0.eligibility.reasons)
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
        #[graphql(
            desc = "First day of participation in the program's time zone; defaults to today"
        )]
        start_date: Option<crate::domain::date::Date>,
    ) -> Result<Vec<EligibilityResult>> {
        let p = ctx.principal()?;
        let ids: Vec<String> = meter_ids.into_iter().map(|id| id.0).collect();
        let verdicts = ctx
            .services()?
            .eligibility
            .evaluate(p, &program_id, &ids, committed_kw, start_date.map(|d| d.0))
            .await?;
        Ok(verdicts.into_iter().map(EligibilityResult).collect())
    }

    /// One meter against every program with rules installed: where it is
    /// eligible, and for the others what is missing ("optimize enrollments").
    async fn program_eligibility(
        &self,
        ctx: &Context<'_>,
        meter_id: ID,
    ) -> Result<Vec<EligibilityResult>> {
        let p = ctx.principal()?;
        let verdicts = ctx.services()?.eligibility.for_meter(p, &meter_id).await?;
        Ok(verdicts.into_iter().map(EligibilityResult).collect())
    }
}
