//! Enrollments: meters in programs, with status history and idle periods.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::meters::Meter;
use super::pagination::{edges, PageInfo};
use super::programs::Program;
use crate::domain::date::Date;
use crate::domain::enrollment::{EnrollmentInput, EnrollmentStatus, Reason};
use crate::entity::{enrollment, enrollment_history, enrollment_idle_period};
use crate::error::ApiError;
use crate::services::enrollments::EnrollmentFilter as ServiceFilter;
use crate::services::pagination::PageRequest;

pub struct Enrollment(pub enrollment::Model);

fn reasons_of(json: &serde_json::Value) -> Result<Vec<Reason>> {
    Ok(serde_json::from_value(json.clone()).map_err(ApiError::from)?)
}

#[Object]
impl Enrollment {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn meter(&self, ctx: &Context<'_>) -> Result<Meter> {
        let m = ctx
            .loaders()?
            .meters
            .load_one(self.0.meter_id.clone())
            .await?;
        Ok(Meter(m.ok_or_else(|| {
            ApiError::internal("enrollment without meter")
        })?))
    }
    async fn program(&self, ctx: &Context<'_>) -> Result<Program> {
        let p = ctx
            .loaders()?
            .programs
            .load_one(self.0.program_id.clone())
            .await?;
        Ok(Program(p.ok_or_else(|| {
            ApiError::internal("enrollment without program")
        })?))
    }
    async fn status(&self) -> Result<EnrollmentStatus> {
        Ok(EnrollmentStatus::from_db(&self.0.status)?)
    }
    async fn committed_kw(&self) -> Option<f64> {
        self.0.committed_kw
    }
    async fn start_date(&self) -> Date {
        Date(self.0.start_date)
    }
    async fn end_date(&self) -> Option<Date> {
        self.0.end_date.map(Date)
    }
    /// Why the meter is INELIGIBLE (or PENDING), with the fixing actions.
    async fn reasons(&self) -> Result<Vec<Reason>> {
        reasons_of(&self.0.reasons)
    }
    /// The plugin version that last decided (id and content hash).
    async fn plugin_id(&self) -> Option<ID> {
        self.0.plugin_id.clone().map(ID)
    }
    async fn plugin_sha256(&self) -> Option<&str> {
        self.0.plugin_sha256.as_deref()
    }
    async fn parameter_version_id(&self) -> Option<ID> {
        self.0.parameter_version_id.clone().map(ID)
    }
    /// Every status the enrollment has had, oldest first.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<EnrollmentStatusChange>> {
        let rows = ctx
            .loaders()?
            .enrollment_history
            .load_one(self.0.id.clone())
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(EnrollmentStatusChange)
            .collect())
    }
    /// Periods in which the meter sits out dispatches.
    async fn idle_periods(&self, ctx: &Context<'_>) -> Result<Vec<IdlePeriod>> {
        let rows = ctx
            .loaders()?
            .idle_periods
            .load_one(self.0.id.clone())
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(IdlePeriod::from)
            .collect())
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct EnrollmentStatusChange(pub enrollment_history::Model);

#[Object]
impl EnrollmentStatusChange {
    async fn status(&self) -> Result<EnrollmentStatus> {
        Ok(EnrollmentStatus::from_db(&self.0.status)?)
    }
    async fn reasons(&self) -> Result<Vec<Reason>> {
        reasons_of(&self.0.reasons)
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// API key id of whoever caused it (`system` for re-evaluations).
    async fn changed_by(&self) -> Option<&str> {
        self.0.changed_by.as_deref()
    }
    async fn plugin_sha256(&self) -> Option<&str> {
        self.0.plugin_sha256.as_deref()
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

#[derive(SimpleObject)]
pub struct IdlePeriod {
    pub id: ID,
    /// First idle day, in the program's time zone.
    pub start_date: Date,
    /// Last idle day (inclusive).
    pub end_date: Date,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<enrollment_idle_period::Model> for IdlePeriod {
    fn from(m: enrollment_idle_period::Model) -> Self {
        Self {
            id: ID(m.id),
            start_date: Date(m.start_date),
            end_date: Date(m.end_date),
            reason: m.reason,
            created_at: m.created_at,
        }
    }
}

#[derive(SimpleObject)]
pub struct EnrollmentEdge {
    pub cursor: String,
    pub node: Enrollment,
}

#[derive(SimpleObject)]
pub struct EnrollmentConnection {
    pub edges: Vec<EnrollmentEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct EnrollMetersPayload {
    /// One enrollment per input, in input order.
    pub enrollments: Vec<Enrollment>,
    /// Whether the partner's portfolio in the program meets the portfolio rules;
    /// eligible meters wait as PENDING until it does.
    pub portfolio_eligible: bool,
    pub portfolio_reasons: Vec<Reason>,
}

#[derive(InputObject, Default)]
pub struct EnrollmentFilter {
    pub program_ids: Option<Vec<ID>>,
    pub statuses: Option<Vec<EnrollmentStatus>>,
    pub meter_ids: Option<Vec<ID>>,
}

#[derive(Default)]
pub struct EnrollmentQuery;

#[Object]
impl EnrollmentQuery {
    async fn enrollment(&self, ctx: &Context<'_>, id: ID) -> Result<Enrollment> {
        let p = ctx.principal()?;
        Ok(Enrollment(ctx.services()?.enrollments.get(p, &id).await?))
    }

    /// Enrollments in creation order, with Relay pagination (at most 500 a page).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    async fn enrollments(
        &self,
        ctx: &Context<'_>,
        filter: Option<EnrollmentFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<EnrollmentConnection> {
        let p = ctx.principal()?;
        let page = PageRequest::from_relay(after, before, first, last)?;
        let f = filter.unwrap_or_default();
        let ids = |v: Option<Vec<ID>>| v.map(|l| l.into_iter().map(|i| i.0).collect());
        let filter = ServiceFilter {
            program_ids: ids(f.program_ids),
            statuses: f.statuses,
            meter_ids: ids(f.meter_ids),
        };
        let result = ctx.services()?.enrollments.list(p, &filter, &page).await?;
        let (edges, page_info) = edges(
            result,
            |e| &e.id,
            |cursor, e| EnrollmentEdge {
                cursor,
                node: Enrollment(e),
            },
        );
        Ok(EnrollmentConnection { edges, page_info })
    }
}

#[derive(Default)]
pub struct EnrollmentMutation;

#[Object]
impl EnrollmentMutation {
    /// Enrolls up to 1000 meters in a program. The program's plugin decides
    /// each meter (ENROLLED, or INELIGIBLE with reasons and fixing actions) and
    /// the portfolio (eligible meters wait as PENDING until it qualifies).
    /// Enrolling a meter again updates its enrollment and adds to its history.
    async fn enroll_meters(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        inputs: Vec<EnrollmentInput>,
        idempotency_key: Option<String>,
    ) -> Result<EnrollMetersPayload> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        let services = ctx.services()?;
        let outcome = services
            .enrollments
            .enroll(p, &program_id, inputs, key)
            .await?;
        let mut enrollments = Vec::with_capacity(outcome.enrollment_ids.len());
        for id in &outcome.enrollment_ids {
            enrollments.push(Enrollment(services.enrollments.get(p, id).await?));
        }
        Ok(EnrollMetersPayload {
            enrollments,
            portfolio_eligible: outcome.portfolio_eligible,
            portfolio_reasons: outcome.portfolio_reasons,
        })
    }

    /// Requests disenrollment: the enrollment ends today (UNENROLLED).
    async fn unenroll(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<Enrollment> {
        let p = ctx.principal()?;
        Ok(Enrollment(
            ctx.services()?.enrollments.unenroll(p, &id, reason).await?,
        ))
    }

    /// Sets an enrolled meter idle for local dates `startDate..=endDate`; it is
    /// left out of dispatches in that period.
    async fn set_enrollment_idle(
        &self,
        ctx: &Context<'_>,
        id: ID,
        start_date: Date,
        end_date: Date,
        reason: Option<String>,
    ) -> Result<IdlePeriod> {
        let p = ctx.principal()?;
        let period = ctx
            .services()?
            .enrollments
            .set_idle(p, &id, start_date.0, end_date.0, reason)
            .await?;
        Ok(period.into())
    }
}
