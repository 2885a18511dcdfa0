//! Enrolling meters in programs. The program's plugin decides eligibility
//! (meter level, then portfolio level); every status change is kept in the
//! enrollment's history with the plugin version that decided it.

use std::collections::{HashMap, HashSet};

use chrono::{NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};

use super::eligibility::{local_today, EligibilityService, Verdict};
use super::idempotency::{self, IdempotencyKey, Start};
use super::meters::MeterService;
use super::pagination::{Page, PageRequest};
use super::programs::ProgramService;
use crate::auth::{Principal, Tenant};
use crate::db::{Db, WriteTxn};
use crate::domain::enrollment::{EnrollmentInput, EnrollmentStatus, Reason};
use crate::domain::Role;
use crate::entity::{enrollment, enrollment_history as history, enrollment_idle_period as idle};
use crate::error::{ApiError, ApiResult, FieldError, Validator};
use crate::ids;
use crate::rules::{convert, wit};

pub const MAX_BATCH: usize = 1000;

#[derive(Clone)]
pub struct EnrollmentService {
    db: Db,
    meters: MeterService,
    programs: ProgramService,
    eligibility: EligibilityService,
}

/// The outcome of an enrollment request.
#[derive(Debug, Serialize, Deserialize)]
pub struct EnrollOutcome {
    pub enrollment_ids: Vec<String>,
    pub portfolio_eligible: bool,
    pub portfolio_reasons: Vec<Reason>,
}

#[derive(Debug, Clone, Default)]
pub struct EnrollmentFilter {
    pub program_ids: Option<Vec<String>>,
    pub statuses: Option<Vec<EnrollmentStatus>>,
    pub meter_ids: Option<Vec<String>>,
}

impl EnrollmentService {
    pub fn new(
        db: Db,
        meters: MeterService,
        programs: ProgramService,
        eligibility: EligibilityService,
    ) -> Self {
        Self {
            db,
            meters,
            programs,
            eligibility,
        }
    }

    fn require(principal: &Principal) -> ApiResult<()> {
        principal.require(&[Role::Partner, Role::Admin])
    }

    /// Enrolls meters of one partner in a program, all in one transaction.
    pub async fn enroll(
        &self,
        principal: &Principal,
        program_id: &str,
        inputs: Vec<EnrollmentInput>,
        idempotency_key: Option<String>,
    ) -> ApiResult<EnrollOutcome> {
        Self::require(principal)?;
        validate_inputs(&inputs)?;
        let program = self.programs.get(program_id).await?;
        let tenant = principal.tenant(None)?;
        let ids: Vec<String> = inputs.iter().map(|i| i.meter_id.0.clone()).collect();
        let meters = self.meters.in_order(&tenant, &ids).await?;
        let partners: HashSet<&str> = meters.iter().map(|m| m.partner_id.as_str()).collect();
        if partners.len() > 1 {
            return Err(ApiError::validation(
                "inputs",
                "enroll one partner's meters per request",
            ));
        }
        let partner_id = meters[0].partner_id.clone();
        let key = idempotency_key
            .map(|k| IdempotencyKey::new(principal, k, "enrollMeters", &(program_id, &inputs)))
            .transpose()?;

        let today = local_today(&program);
        let terms: Vec<(Option<f64>, chrono::NaiveDate)> = inputs
            .iter()
            .map(|i| (i.committed_kw, i.start_date.map(|d| d.0).unwrap_or(today)))
            .collect();
        let requests = self.eligibility.requests(&program, &meters, &terms).await?;
        let committed: Vec<Option<f64>> = requests.iter().map(|r| r.committed_kw).collect();
        let verdicts = self.eligibility.run(program_id, meters, requests).await?;

        let txn = match idempotency::start::<EnrollOutcome>(&self.db, key.as_ref()).await? {
            Start::Replay(outcome) => return Ok(outcome),
            Start::Fresh(txn) => txn,
        };
        // Portfolio: the partner's participating meters plus the newly eligible ones.
        let batch: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut members: Vec<wit::PortfolioMember> = enrollment::Entity::find()
            .filter(enrollment::Column::PartnerId.eq(partner_id.clone()))
            .filter(enrollment::Column::ProgramId.eq(program_id))
            .filter(enrollment::Column::Status.is_in([
                EnrollmentStatus::Pending.as_str(),
                EnrollmentStatus::Enrolled.as_str(),
            ]))
            .all(&*txn)
            .await?
            .into_iter()
            .filter(|e| !batch.contains(e.meter_id.as_str()))
            .map(|e| wit::PortfolioMember {
                meter_id: e.meter_id,
                committed_kw: e.committed_kw.unwrap_or_default(),
            })
            .collect();
        for (v, kw) in verdicts.iter().zip(&committed) {
            if v.eligibility.eligible {
                members.push(wit::PortfolioMember {
                    meter_id: v.meter.id.clone(),
                    committed_kw: kw.unwrap_or_default(),
                });
            }
        }
        let portfolio = self.eligibility.portfolio(program_id, &members).await?;

        let now = Utc::now();
        let mut enrollment_ids = Vec::with_capacity(verdicts.len());
        for ((verdict, input), kw) in verdicts.iter().zip(&inputs).zip(&committed) {
            let status = if !verdict.eligibility.eligible {
                EnrollmentStatus::Ineligible
            } else if portfolio.eligible {
                EnrollmentStatus::Enrolled
            } else {
                EnrollmentStatus::Pending
            };
            let reasons = if verdict.eligibility.eligible && !portfolio.eligible {
                convert::reasons(&portfolio.reasons)
            } else {
                convert::reasons(&verdict.eligibility.reasons)
            };
            let id = upsert(
                &txn,
                &partner_id,
                verdict,
                status,
                &reasons,
                *kw,
                input.start_date.map(|d| d.0).unwrap_or(today),
                input.end_date.map(|d| d.0),
                &principal.key_id,
                now,
            )
            .await?;
            enrollment_ids.push(id);
        }
        if portfolio.eligible {
            promote_pending(&txn, &partner_id, program_id, &principal.key_id, now).await?;
        }
        let outcome = EnrollOutcome {
            enrollment_ids,
            portfolio_eligible: portfolio.eligible,
            portfolio_reasons: convert::reasons(&portfolio.reasons),
        };
        idempotency::finish(txn, key.as_ref(), &outcome).await?;
        tracing::info!(program = %program.code, partner_id = %partner_id, count = outcome.enrollment_ids.len(), "meters enrolled");
        Ok(outcome)
    }

    /// Ends participation at the partner's request.
    pub async fn unenroll(
        &self,
        principal: &Principal,
        id: &str,
        reason: Option<String>,
    ) -> ApiResult<enrollment::Model> {
        Self::require(principal)?;
        let txn = self.db.begin_write().await?;
        let current = self.get_in(&*txn, principal, id).await?;
        if current.status == EnrollmentStatus::Unenrolled.as_str() {
            return Ok(current);
        }
        let now = Utc::now();
        let note = reason.map(|r| r.trim().chars().take(500).collect::<String>());
        let mut row: enrollment::ActiveModel = current.clone().into();
        row.status = Set(EnrollmentStatus::Unenrolled.as_str().to_owned());
        row.end_date = Set(Some(now.date_naive()));
        row.updated_at = Set(now);
        let updated = row.update(&*txn).await?;
        record(
            &txn,
            &updated,
            note.or(Some("unenrolled at the partner's request".into())),
            &principal.key_id,
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// Sets an enrolled meter idle for local dates `start..=end`: it sits out
    /// dispatches in that period.
    pub async fn set_idle(
        &self,
        principal: &Principal,
        id: &str,
        start: NaiveDate,
        end: NaiveDate,
        reason: Option<String>,
    ) -> ApiResult<idle::Model> {
        Self::require(principal)?;
        if end < start {
            return Err(ApiError::validation(
                "endDate",
                "must not be before startDate",
            ));
        }
        if (end - start).num_days() > 366 {
            return Err(ApiError::validation(
                "endDate",
                "an idle period is at most a year; unenroll instead",
            ));
        }
        let txn = self.db.begin_write().await?;
        let current = self.get_in(&*txn, principal, id).await?;
        if !EnrollmentStatus::from_db(&current.status)?.participating() {
            return Err(ApiError::Conflict(format!(
                "enrollment {id} is {}; only PENDING or ENROLLED meters can be set idle",
                current.status
            )));
        }
        let period = idle::ActiveModel {
            id: Set(ids::new_id(ids::IDLE_PERIOD)),
            enrollment_id: Set(current.id.clone()),
            start_date: Set(start),
            end_date: Set(end),
            reason: Set(reason.map(|r| r.trim().chars().take(500).collect())),
            created_by: Set(Some(principal.key_id.clone())),
            created_at: Set(Utc::now()),
        }
        .insert(&*txn)
        .await?;
        txn.commit().await?;
        Ok(period)
    }

    pub async fn get(&self, principal: &Principal, id: &str) -> ApiResult<enrollment::Model> {
        Self::require(principal)?;
        self.get_in(self.db.conn(), principal, id).await
    }

    async fn get_in(
        &self,
        conn: &impl ConnectionTrait,
        principal: &Principal,
        id: &str,
    ) -> ApiResult<enrollment::Model> {
        let mut query = enrollment::Entity::find_by_id(id.to_owned());
        if let Tenant::Partner(pid) = principal.tenant(None)? {
            query = query.filter(enrollment::Column::PartnerId.eq(pid));
        }
        query
            .one(conn)
            .await?
            .ok_or_else(|| ApiError::not_found("enrollment", id))
    }

    pub async fn list(
        &self,
        principal: &Principal,
        filter: &EnrollmentFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<enrollment::Model>> {
        Self::require(principal)?;
        let mut query = enrollment::Entity::find();
        if let Tenant::Partner(pid) = principal.tenant(None)? {
            query = query.filter(enrollment::Column::PartnerId.eq(pid));
        }
        if let Some(p) = &filter.program_ids {
            query = query.filter(enrollment::Column::ProgramId.is_in(p.clone()));
        }
        if let Some(m) = &filter.meter_ids {
            query = query.filter(enrollment::Column::MeterId.is_in(m.clone()));
        }
        if let Some(s) = &filter.statuses {
            query = query.filter(enrollment::Column::Status.is_in(s.iter().map(|x| x.as_str())));
        }
        let query = match page {
            PageRequest::Forward { after, first } => {
                let q = match after {
                    Some(a) => query.filter(enrollment::Column::Id.gt(a.clone())),
                    None => query,
                };
                q.order_by_asc(enrollment::Column::Id)
                    .limit(*first as u64 + 1)
            }
            PageRequest::Backward { before, last } => {
                let q = match before {
                    Some(b) => query.filter(enrollment::Column::Id.lt(b.clone())),
                    None => query,
                };
                q.order_by_desc(enrollment::Column::Id)
                    .limit(*last as u64 + 1)
            }
        };
        Ok(Page::from_fetched(page, query.all(self.db.conn()).await?))
    }

    /// Enrollments of meters (for batch loaders); the meters are already
    /// tenant-checked by the caller.
    pub async fn by_meters(
        &self,
        meter_ids: &[String],
    ) -> ApiResult<HashMap<String, Vec<enrollment::Model>>> {
        let rows = enrollment::Entity::find()
            .filter(enrollment::Column::MeterId.is_in(meter_ids.iter().cloned()))
            .order_by_asc(enrollment::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |r| r.meter_id.clone()))
    }

    pub async fn history_of(
        &self,
        ids: &[String],
    ) -> ApiResult<HashMap<String, Vec<history::Model>>> {
        let rows = history::Entity::find()
            .filter(history::Column::EnrollmentId.is_in(ids.iter().cloned()))
            .order_by_asc(history::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |r| r.enrollment_id.clone()))
    }

    pub async fn idle_periods_of(
        &self,
        ids: &[String],
    ) -> ApiResult<HashMap<String, Vec<idle::Model>>> {
        let rows = idle::Entity::find()
            .filter(idle::Column::EnrollmentId.is_in(ids.iter().cloned()))
            .order_by_asc(idle::Column::StartDate)
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |r| r.enrollment_id.clone()))
    }

    /// Re-decides the current enrollments of some meters (after they changed)
    /// or of a whole program (after its parameters or plugin changed).
    pub async fn reevaluate(
        &self,
        program_id: &str,
        meter_ids: Option<&[String]>,
    ) -> ApiResult<usize> {
        let mut query = enrollment::Entity::find()
            .filter(enrollment::Column::ProgramId.eq(program_id))
            .filter(enrollment::Column::Status.ne(EnrollmentStatus::Unenrolled.as_str()));
        if let Some(ids) = meter_ids {
            query = query.filter(enrollment::Column::MeterId.is_in(ids.iter().cloned()));
        }
        let current = query.all(self.db.conn()).await?;
        let program = self.programs.get(program_id).await?;
        let mut changed = 0;
        let mut partners = HashSet::new();
        for chunk in current.chunks(MAX_BATCH) {
            let ids: Vec<String> = chunk.iter().map(|e| e.meter_id.clone()).collect();
            let mut meters = self.meters.by_ids(&Tenant::All, &ids).await?;
            let mut rows = Vec::new();
            let mut terms = Vec::new();
            let mut models = Vec::new();
            for e in chunk {
                if let Some(m) = meters.remove(&e.meter_id) {
                    terms.push((e.committed_kw, e.start_date));
                    models.push(m);
                    rows.push(e.clone());
                }
            }
            let requests = self.eligibility.requests(&program, &models, &terms).await?;
            let verdicts = self.eligibility.run(program_id, models, requests).await?;
            let txn = self.db.begin_write().await?;
            let now = Utc::now();
            for (row, verdict) in rows.into_iter().zip(verdicts) {
                let was = EnrollmentStatus::from_db(&row.status)?;
                let now_status = match (verdict.eligibility.eligible, was) {
                    (false, _) => EnrollmentStatus::Ineligible,
                    (true, EnrollmentStatus::Ineligible) => EnrollmentStatus::Pending,
                    (true, s) => s,
                };
                let reasons = convert::reasons(&verdict.eligibility.reasons);
                let old_reasons: Vec<Reason> =
                    serde_json::from_value(row.reasons.clone()).unwrap_or_default();
                if now_status == was
                    && (reasons == old_reasons || was != EnrollmentStatus::Ineligible)
                {
                    continue;
                }
                let mut active: enrollment::ActiveModel = row.into();
                active.status = Set(now_status.as_str().to_owned());
                active.reasons = Set(serde_json::to_value(&reasons)?);
                active.plugin_id = Set(Some(verdict.plugin_id.clone()));
                active.plugin_sha256 = Set(Some(verdict.plugin_sha256.clone()));
                active.parameter_version_id = Set(Some(verdict.parameter_version_id.clone()));
                active.updated_at = Set(now);
                let updated = active.update(&*txn).await?;
                record(
                    &txn,
                    &updated,
                    Some("re-evaluated after a change to the meter or the program".into()),
                    "system",
                    now,
                )
                .await?;
                partners.insert(updated.partner_id.clone());
                changed += 1;
            }
            txn.commit().await?;
        }
        for partner_id in partners {
            self.settle_portfolio(&partner_id, program_id).await?;
        }
        Ok(changed)
    }

    /// Promotes a partner's PENDING enrollments in a program once its portfolio
    /// meets the program's portfolio rules.
    async fn settle_portfolio(&self, partner_id: &str, program_id: &str) -> ApiResult<()> {
        let members: Vec<wit::PortfolioMember> = enrollment::Entity::find()
            .filter(enrollment::Column::PartnerId.eq(partner_id))
            .filter(enrollment::Column::ProgramId.eq(program_id))
            .filter(enrollment::Column::Status.is_in([
                EnrollmentStatus::Pending.as_str(),
                EnrollmentStatus::Enrolled.as_str(),
            ]))
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|e| wit::PortfolioMember {
                meter_id: e.meter_id,
                committed_kw: e.committed_kw.unwrap_or_default(),
            })
            .collect();
        if members.is_empty()
            || !self
                .eligibility
                .portfolio(program_id, &members)
                .await?
                .eligible
        {
            return Ok(());
        }
        let txn = self.db.begin_write().await?;
        promote_pending(&txn, partner_id, program_id, "system", Utc::now()).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Re-decides a meter's enrollments after it changed. Best effort: a
    /// failure is logged and the enrollment keeps its status until next time.
    pub async fn after_meter_change(&self, meter_id: &str) {
        let programs = match self.programs_of_meter(meter_id).await {
            Ok(p) => p,
            Err(err) => {
                tracing::warn!(%meter_id, %err, "cannot list the meter's enrollments to re-evaluate");
                return;
            }
        };
        for program_id in programs {
            if let Err(err) = self
                .reevaluate(&program_id, Some(&[meter_id.to_owned()]))
                .await
            {
                tracing::warn!(%meter_id, %program_id, %err, "re-evaluation failed");
            }
        }
    }

    /// Re-decides a program's enrollments after its parameters or plugin changed.
    pub async fn after_program_change(&self, program_id: &str) {
        match self.reevaluate(program_id, None).await {
            Ok(0) => {}
            Ok(changed) => tracing::info!(%program_id, changed, "enrollments re-evaluated"),
            Err(err) => tracing::warn!(%program_id, %err, "re-evaluation failed"),
        }
    }

    /// Programs a meter is enrolled in (or was), for re-evaluation after a meter change.
    pub async fn programs_of_meter(&self, meter_id: &str) -> ApiResult<Vec<String>> {
        Ok(enrollment::Entity::find()
            .select_only()
            .column(enrollment::Column::ProgramId)
            .filter(enrollment::Column::MeterId.eq(meter_id))
            .into_tuple::<String>()
            .all(self.db.conn())
            .await?)
    }
}

fn validate_inputs(inputs: &[EnrollmentInput]) -> ApiResult<()> {
    let mut v = Validator::default();
    if inputs.is_empty() || inputs.len() > MAX_BATCH {
        v.field("inputs", format!("give 1 to {MAX_BATCH} meters"));
    }
    let mut seen = HashSet::new();
    for (row, input) in inputs.iter().enumerate() {
        let at = |f: &str| format!("inputs[{row}].{f}");
        if !seen.insert(input.meter_id.0.as_str()) {
            v.push(FieldError::new(at("meterId"), "appears twice in this request").in_row(row));
        }
        if let Some(kw) = input.committed_kw {
            if !kw.is_finite() || kw <= 0.0 {
                v.push(
                    FieldError::new(
                        at("committedKw"),
                        format!("must be greater than 0 (got {kw})"),
                    )
                    .in_row(row),
                );
            }
        }
        if let (Some(s), Some(e)) = (input.start_date, input.end_date) {
            if e < s {
                v.push(FieldError::new(at("endDate"), "must not be before startDate").in_row(row));
            }
        }
    }
    v.finish()
}

#[allow(clippy::too_many_arguments)]
async fn upsert(
    txn: &WriteTxn,
    partner_id: &str,
    verdict: &Verdict,
    status: EnrollmentStatus,
    reasons: &[Reason],
    committed_kw: Option<f64>,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    by: &str,
    now: chrono::DateTime<Utc>,
) -> ApiResult<String> {
    let existing = enrollment::Entity::find()
        .filter(enrollment::Column::MeterId.eq(verdict.meter.id.clone()))
        .filter(enrollment::Column::ProgramId.eq(verdict.program_id.clone()))
        .one(&**txn)
        .await?;
    let is_new = existing.is_none();
    let mut row: enrollment::ActiveModel = match existing {
        Some(e) => e.into(),
        None => enrollment::ActiveModel {
            id: Set(ids::new_id(ids::ENROLLMENT)),
            partner_id: Set(partner_id.to_owned()),
            meter_id: Set(verdict.meter.id.clone()),
            program_id: Set(verdict.program_id.clone()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.status = Set(status.as_str().to_owned());
    row.committed_kw = Set(committed_kw);
    row.start_date = Set(start_date);
    row.end_date = Set(end_date);
    row.reasons = Set(serde_json::to_value(reasons)?);
    row.plugin_id = Set(Some(verdict.plugin_id.clone()));
    row.plugin_sha256 = Set(Some(verdict.plugin_sha256.clone()));
    row.parameter_version_id = Set(Some(verdict.parameter_version_id.clone()));
    row.updated_at = Set(now);
    let saved = if is_new {
        row.insert(&**txn).await?
    } else {
        row.update(&**txn).await?
    };
    record(txn, &saved, None, by, now).await?;
    Ok(saved.id)
}

async fn promote_pending(
    txn: &WriteTxn,
    partner_id: &str,
    program_id: &str,
    by: &str,
    now: chrono::DateTime<Utc>,
) -> ApiResult<()> {
    let pending = enrollment::Entity::find()
        .filter(enrollment::Column::PartnerId.eq(partner_id))
        .filter(enrollment::Column::ProgramId.eq(program_id))
        .filter(enrollment::Column::Status.eq(EnrollmentStatus::Pending.as_str()))
        .all(&**txn)
        .await?;
    for e in pending {
        let mut row: enrollment::ActiveModel = e.into();
        row.status = Set(EnrollmentStatus::Enrolled.as_str().to_owned());
        row.reasons = Set(serde_json::json!([]));
        row.updated_at = Set(now);
        let updated = row.update(&**txn).await?;
        record(
            txn,
            &updated,
            Some("the partner's portfolio now meets the program's rules".into()),
            by,
            now,
        )
        .await?;
    }
    Ok(())
}

async fn record(
    txn: &WriteTxn,
    e: &enrollment::Model,
    note: Option<String>,
    by: &str,
    now: chrono::DateTime<Utc>,
) -> ApiResult<()> {
    history::ActiveModel {
        id: Set(ids::new_id(ids::ENROLLMENT_HISTORY)),
        enrollment_id: Set(e.id.clone()),
        status: Set(e.status.clone()),
        reasons: Set(e.reasons.clone()),
        note: Set(note),
        changed_by: Set(Some(by.to_owned())),
        plugin_id: Set(e.plugin_id.clone()),
        plugin_sha256: Set(e.plugin_sha256.clone()),
        created_at: Set(now),
    }
    .insert(&**txn)
    .await?;
    Ok(())
}
