//! Dispatch events: scheduling against the program's rules, resolving the
//! called meters from enrollments, changes and cancellation, the clock that
//! starts and completes events, and partners' acknowledgements and opt-outs.
//!
//! Every change writes the event row, an `event_changes` row, and one
//! notification per partner concerned in the same transaction, so nothing a
//! webhook or subscription delivers can be lost or half-written.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::enrollment::EnrollmentStatus;
use crate::domain::event::{
    status_at, DispatchResponse, EventChangeKind, EventStatus, EventType, Schedule, ScheduleRules,
    Targeting,
};
use crate::domain::program::Season;
use crate::domain::Role;
use crate::entity::{
    dispatch, enrollment, enrollment_idle_period as idle, event, event_change, program,
};
use crate::error::{ApiError, ApiResult, Validator};
use crate::ids::new_id;
use crate::services::idempotency::{self, IdempotencyKey, Start};
use crate::services::meters::MeterService;
use crate::services::notifications::NotificationService;
use crate::services::pagination::{keyset, Page, PageRequest};
use crate::services::programs::ProgramService;

/// What an admin schedules.
#[derive(Debug, Clone, Serialize)]
pub struct ScheduleInput {
    pub program_id: String,
    pub event_type: EventType,
    /// When partners are told; defaults to now.
    pub notification_at: Option<DateTime<Utc>>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Defaults to the start.
    pub ack_deadline: Option<DateTime<Utc>>,
    pub targeting: Targeting,
    /// USD/kWh.
    pub energy_price: Option<Decimal>,
    /// Schedules even against the program's rules; recorded with the event.
    pub override_reason: Option<String>,
}

/// A change of an event's times, deadline or price.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EventChanges {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub ack_deadline: Option<DateTime<Utc>>,
    pub energy_price: Option<Decimal>,
    pub override_reason: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub program_ids: Option<Vec<String>>,
    pub statuses: Option<Vec<EventStatus>>,
    /// Events ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events starting before this instant.
    pub to: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Default)]
pub struct DispatchFilter {
    pub event_ids: Option<Vec<String>>,
    pub responses: Option<Vec<DispatchResponse>>,
    /// Dispatches of events matching this filter.
    pub events: Option<EventFilter>,
}

/// Per event: how the called meters answered.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseSummary {
    pub meters: u64,
    pub committed_kw: f64,
    pub acknowledged: u64,
    pub opted_out: u64,
    pub pending: u64,
}

#[derive(Serialize, Deserialize)]
struct Created {
    event_id: String,
}

#[derive(Clone)]
pub struct EventService {
    db: Db,
    meters: MeterService,
    programs: ProgramService,
    notifications: NotificationService,
}

impl EventService {
    pub fn new(
        db: Db,
        meters: MeterService,
        programs: ProgramService,
        notifications: NotificationService,
    ) -> Self {
        Self {
            db,
            meters,
            programs,
            notifications,
        }
    }

    /// Schedules an event and creates one dispatch per called meter.
    pub async fn schedule(
        &self,
        principal: &Principal,
        input: ScheduleInput,
        idempotency_key: Option<String>,
    ) -> ApiResult<event::Model> {
        principal.require(&[Role::Admin])?;
        let now = Utc::now();
        let notification_at = input.notification_at.unwrap_or(now);
        let ack_deadline = input.ack_deadline.unwrap_or(input.start);
        validate_times(
            notification_at,
            input.start,
            input.end,
            ack_deadline,
            now,
            input.override_reason.is_some(),
        )?;
        if input.energy_price.is_some_and(|p| p.is_sign_negative()) {
            return Err(ApiError::validation("energyPrice", "must not be negative"));
        }
        let key = idempotency_key
            .map(|k| IdempotencyKey::new(principal, k, "scheduleEvent", &input))
            .transpose()?;
        let program = self.programs.get(&input.program_id).await?;
        self.check_rules(
            &program,
            None,
            notification_at,
            input.start,
            input.end,
            input.override_reason.as_deref(),
        )
        .await?;
        let targets = self
            .resolve_targets(&program, input.start, &input.targeting)
            .await?;

        let txn = match idempotency::start::<Created>(&self.db, key.as_ref()).await? {
            Start::Replay(created) => return self.get_any(&created.event_id).await,
            Start::Fresh(txn) => txn,
        };
        let id = new_id("evt");
        let row = event::ActiveModel {
            id: Set(id.clone()),
            program_id: Set(program.id.clone()),
            event_type: Set(input.event_type.as_str().into()),
            status: Set(
                status_at(EventStatus::Scheduled, input.start, input.end, now)
                    .as_str()
                    .into(),
            ),
            notification_at: Set(notification_at),
            start_at: Set(input.start),
            end_at: Set(input.end),
            ack_deadline: Set(ack_deadline),
            targeting: Set(serde_json::to_value(&input.targeting)?),
            energy_price: Set(input.energy_price.map(|p| p.normalize().to_string())),
            override_reason: Set(input.override_reason.clone()),
            revision: Set(1),
            created_by: Set(principal.key_id.clone()),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&*txn)
        .await?;
        for chunk in targets.chunks(500) {
            let rows = chunk.iter().map(|t| dispatch::ActiveModel {
                id: Set(new_id("dsp")),
                event_id: Set(id.clone()),
                partner_id: Set(t.partner_id.clone()),
                meter_id: Set(t.meter_id.clone()),
                enrollment_id: Set(t.enrollment_id.clone()),
                committed_kw: Set(t.committed_kw),
                response: Set(DispatchResponse::Pending.as_str().into()),
                responded_at: Set(None),
                responded_by: Set(None),
                opt_out_reason: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            });
            dispatch::Entity::insert_many(rows).exec(&*txn).await?;
        }
        let detail = json!({ "meters": targets.len(), "overrideReason": input.override_reason });
        record_change(
            &*txn,
            &row,
            &program,
            EventChangeKind::Created,
            detail,
            principal,
        )
        .await?;
        if row.status == EventStatus::Completed.as_str() {
            // A past market event recorded after the fact: measure it now.
            super::performance::jobs::enqueue(
                &*txn,
                &id,
                super::performance::PerformanceTrigger::EventCompleted,
                now,
            )
            .await?;
        }
        idempotency::finish(txn, key.as_ref(), &Created { event_id: id }).await?;
        self.notifications.wake();
        tracing::info!(event = %row.id, program = %program.code, meters = targets.len(), "event scheduled");
        Ok(row)
    }

    /// Moves an event or changes its deadline or price (re-checking the rules).
    pub async fn update(
        &self,
        principal: &Principal,
        id: &str,
        changes: EventChanges,
    ) -> ApiResult<event::Model> {
        principal.require(&[Role::Admin])?;
        let current = self.get_any(id).await?;
        let status = EventStatus::from_db(&current.status)?;
        if matches!(status, EventStatus::Cancelled | EventStatus::Completed) {
            return Err(ApiError::Conflict(format!(
                "event {id} is {status} and can no longer change"
            )));
        }
        let now = Utc::now();
        let start = changes.start.unwrap_or(current.start_at);
        let end = changes.end.unwrap_or(current.end_at);
        let ack_deadline = changes.ack_deadline.unwrap_or(if changes.start.is_some() {
            current.ack_deadline.min(start)
        } else {
            current.ack_deadline
        });
        validate_times(
            current.notification_at,
            start,
            end,
            ack_deadline,
            now,
            false,
        )?;
        let program = self.programs.get(&current.program_id).await?;
        if start != current.start_at || end != current.end_at {
            self.check_rules(
                &program,
                Some(&current.id),
                now.min(start),
                start,
                end,
                changes.override_reason.as_deref(),
            )
            .await?;
        }
        let txn = self.db.begin_write().await?;
        let mut row: event::ActiveModel = current.clone().into();
        row.start_at = Set(start);
        row.end_at = Set(end);
        row.ack_deadline = Set(ack_deadline);
        if let Some(p) = changes.energy_price {
            row.energy_price = Set(Some(p.normalize().to_string()));
        }
        if changes.override_reason.is_some() {
            row.override_reason = Set(changes.override_reason.clone());
        }
        row.status = Set(status_at(status, start, end, now).as_str().into());
        row.revision = Set(current.revision + 1);
        row.updated_at = Set(now);
        let updated = row.update(&*txn).await?;
        let detail = json!({
            "previous": { "start": current.start_at, "end": current.end_at, "ackDeadline": current.ack_deadline, "energyPrice": current.energy_price },
            "note": changes.note,
            "overrideReason": changes.override_reason,
        });
        record_change(
            &*txn,
            &updated,
            &program,
            EventChangeKind::Updated,
            detail,
            principal,
        )
        .await?;
        txn.commit().await?;
        self.notifications.wake();
        Ok(updated)
    }

    pub async fn cancel(
        &self,
        principal: &Principal,
        id: &str,
        reason: Option<String>,
    ) -> ApiResult<event::Model> {
        principal.require(&[Role::Admin])?;
        let current = self.get_any(id).await?;
        let status = EventStatus::from_db(&current.status)?;
        if matches!(status, EventStatus::Cancelled | EventStatus::Completed) {
            return Err(ApiError::Conflict(format!(
                "event {id} is already {status}"
            )));
        }
        let program = self.programs.get(&current.program_id).await?;
        let txn = self.db.begin_write().await?;
        let mut row: event::ActiveModel = current.clone().into();
        row.status = Set(EventStatus::Cancelled.as_str().into());
        row.revision = Set(current.revision + 1);
        row.updated_at = Set(Utc::now());
        let updated = row.update(&*txn).await?;
        record_change(
            &*txn,
            &updated,
            &program,
            EventChangeKind::Cancelled,
            json!({ "reason": reason }),
            principal,
        )
        .await?;
        txn.commit().await?;
        self.notifications.wake();
        Ok(updated)
    }

    /// Starts and completes events whose time has come. Safe to run on every
    /// replica: each transition is a conditional update that one wins.
    pub async fn advance_clock(&self, now: DateTime<Utc>) -> ApiResult<usize> {
        let due = event::Entity::find()
            .filter(
                event::Column::Status
                    .eq(EventStatus::Scheduled.as_str())
                    .and(event::Column::StartAt.lte(now))
                    .or(event::Column::Status
                        .eq(EventStatus::Active.as_str())
                        .and(event::Column::EndAt.lte(now))),
            )
            .order_by_asc(event::Column::StartAt)
            .limit(200)
            .all(self.db.conn())
            .await?;
        let system = Principal {
            key_id: "system".into(),
            role: Role::Admin,
            partner_id: None,
        };
        let mut moved = 0;
        for current in due {
            let from = EventStatus::from_db(&current.status)?;
            let to = status_at(from, current.start_at, current.end_at, now);
            // Scheduled → completed passes through started, so both are told.
            let steps: Vec<(EventStatus, EventChangeKind)> = match (from, to) {
                (EventStatus::Scheduled, EventStatus::Active) => {
                    vec![(EventStatus::Active, EventChangeKind::Started)]
                }
                (EventStatus::Scheduled, EventStatus::Completed) => vec![
                    (EventStatus::Active, EventChangeKind::Started),
                    (EventStatus::Completed, EventChangeKind::Completed),
                ],
                (EventStatus::Active, EventStatus::Completed) => {
                    vec![(EventStatus::Completed, EventChangeKind::Completed)]
                }
                _ => continue,
            };
            let program = self.programs.get(&current.program_id).await?;
            let txn = self.db.begin_write().await?;
            let won = event::Entity::update_many()
                .col_expr(
                    event::Column::Status,
                    sea_orm::sea_query::Expr::value(to.as_str()),
                )
                .col_expr(
                    event::Column::Revision,
                    sea_orm::sea_query::Expr::value(current.revision + steps.len() as i32),
                )
                .col_expr(
                    event::Column::UpdatedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(event::Column::Id.eq(current.id.clone()))
                .filter(event::Column::Revision.eq(current.revision))
                .exec(&*txn)
                .await?;
            if won.rows_affected != 1 {
                continue;
            }
            let mut row = current.clone();
            for (status, kind) in steps {
                row.status = status.as_str().into();
                row.revision += 1;
                record_change(&*txn, &row, &program, kind, json!({}), &system).await?;
            }
            if to == EventStatus::Completed {
                super::performance::jobs::enqueue(
                    &*txn,
                    &current.id,
                    super::performance::PerformanceTrigger::EventCompleted,
                    now,
                )
                .await?;
            }
            txn.commit().await?;
            self.notifications.wake();
            moved += 1;
        }
        Ok(moved)
    }

    /// Runs [`Self::advance_clock`] every `interval`.
    pub fn spawn_clock(&self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        super::every(interval, "event clock", move || {
            let this = this.clone();
            async move { this.advance_clock(Utc::now()).await }
        })
    }

    /// Acknowledges a dispatch, or opts the meter out with a reason.
    pub async fn respond(
        &self,
        principal: &Principal,
        dispatch_id: &str,
        response: DispatchResponse,
        reason: Option<String>,
    ) -> ApiResult<dispatch::Model> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let tenant = principal.tenant(None)?;
        let current = dispatch::Entity::find_by_id(dispatch_id.to_owned())
            .one(self.db.conn())
            .await?
            .filter(|d| tenant.partner_id().is_none_or(|p| p == d.partner_id))
            .ok_or_else(|| ApiError::not_found("dispatch", dispatch_id))?;
        let event = self.get_any(&current.event_id).await?;
        let now = Utc::now();
        let status = EventStatus::from_db(&event.status)?;
        if status == EventStatus::Cancelled {
            return Err(ApiError::Conflict(format!(
                "event {} was cancelled",
                event.id
            )));
        }
        if now > event.ack_deadline || status == EventStatus::Completed {
            return Err(ApiError::Conflict(format!(
                "the deadline to respond to event {} passed at {}",
                event.id,
                event.ack_deadline.to_rfc3339()
            )));
        }
        if response == DispatchResponse::OptedOut
            && reason.as_deref().is_none_or(|r| r.trim().is_empty())
        {
            return Err(ApiError::validation("reason", "say why the meter opts out"));
        }
        let txn = self.db.begin_write().await?;
        let mut row: dispatch::ActiveModel = current.into();
        row.response = Set(response.as_str().into());
        row.responded_at = Set(Some(now));
        row.responded_by = Set(Some(principal.key_id.clone()));
        row.opt_out_reason = Set(reason.filter(|_| response == DispatchResponse::OptedOut));
        row.updated_at = Set(now);
        let updated = row.update(&*txn).await?;
        txn.commit().await?;
        Ok(updated)
    }

    /// An event the principal may see: any for the operator, one with the
    /// partner's dispatches for a partner.
    pub async fn get(&self, principal: &Principal, id: &str) -> ApiResult<event::Model> {
        let found = self.get_any(id).await?;
        if let Tenant::Partner(pid) = principal.tenant(None)? {
            let mine = dispatch::Entity::find()
                .filter(dispatch::Column::EventId.eq(id))
                .filter(dispatch::Column::PartnerId.eq(pid))
                .one(self.db.conn())
                .await?;
            if mine.is_none() {
                return Err(ApiError::not_found("event", id));
            }
        }
        Ok(found)
    }

    async fn get_any(&self, id: &str) -> ApiResult<event::Model> {
        event::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("event", id))
    }

    /// Events in id (creation) order; a partner sees those calling its meters.
    pub async fn list(
        &self,
        principal: &Principal,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<event::Model>> {
        principal.require(&[Role::Partner, Role::Admin, Role::Analyst])?;
        let mut query = event::Entity::find();
        if principal.role != Role::Analyst {
            if let Tenant::Partner(pid) = principal.tenant(None)? {
                let ids: Vec<String> = dispatch::Entity::find()
                    .select_only()
                    .column(dispatch::Column::EventId)
                    .filter(dispatch::Column::PartnerId.eq(pid))
                    .distinct()
                    .into_tuple()
                    .all(self.db.conn())
                    .await?;
                query = query.filter(event::Column::Id.is_in(ids));
            }
        }
        query = query.filter(event_condition(filter));
        let rows = keyset(query, page, event::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(Page::from_fetched(page, rows))
    }

    /// Dispatches in id order; a partner sees only its own.
    pub async fn dispatches(
        &self,
        principal: &Principal,
        filter: &DispatchFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<dispatch::Model>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let mut query = dispatch::Entity::find();
        if let Tenant::Partner(pid) = principal.tenant(None)? {
            query = query.filter(dispatch::Column::PartnerId.eq(pid));
        }
        if let Some(e) = &filter.event_ids {
            query = query.filter(dispatch::Column::EventId.is_in(e.clone()));
        }
        if let Some(r) = &filter.responses {
            query = query.filter(dispatch::Column::Response.is_in(r.iter().map(|x| x.as_str())));
        }
        if let Some(f) = &filter.events {
            query = query.filter(
                dispatch::Column::EventId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(event::Column::Id)
                        .from(event::Entity)
                        .cond_where(event_condition(f))
                        .to_owned(),
                ),
            );
        }
        let rows = keyset(query, page, dispatch::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(Page::from_fetched(page, rows))
    }

    /// Response summaries of events, over the partner's dispatches only for a
    /// partner (for batch loaders).
    pub async fn summaries(
        &self,
        tenant: &Tenant,
        event_ids: &[String],
    ) -> ApiResult<HashMap<String, ResponseSummary>> {
        let mut query = dispatch::Entity::find()
            .select_only()
            .column(dispatch::Column::EventId)
            .column(dispatch::Column::Response)
            .column(dispatch::Column::CommittedKw)
            .filter(dispatch::Column::EventId.is_in(event_ids.iter().cloned()));
        if let Tenant::Partner(pid) = tenant {
            query = query.filter(dispatch::Column::PartnerId.eq(pid.clone()));
        }
        let rows: Vec<(String, String, f64)> = query.into_tuple().all(self.db.conn()).await?;
        let mut out: HashMap<String, ResponseSummary> = HashMap::new();
        for (event_id, response, kw) in rows {
            let s = out.entry(event_id).or_default();
            s.meters += 1;
            s.committed_kw += kw;
            match DispatchResponse::from_db(&response)? {
                DispatchResponse::Acknowledged => s.acknowledged += 1,
                DispatchResponse::OptedOut => s.opted_out += 1,
                DispatchResponse::Pending => s.pending += 1,
            }
        }
        Ok(out)
    }

    /// The changes of events, oldest first (for batch loaders).
    pub async fn changes_of(
        &self,
        event_ids: &[String],
    ) -> ApiResult<HashMap<String, Vec<event_change::Model>>> {
        let rows = event_change::Entity::find()
            .filter(event_change::Column::EventId.is_in(event_ids.iter().cloned()))
            .order_by_asc(event_change::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |r| r.event_id.clone()))
    }

    /// The program's schedule rules against this schedule.
    async fn check_rules(
        &self,
        program: &program::Model,
        moving: Option<&str>,
        notification_at: DateTime<Utc>,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        override_reason: Option<&str>,
    ) -> ApiResult<()> {
        let version = self.programs.parameters_at(&program.id, start).await?;
        let params = crate::services::eligibility::parameter_map(&version)?;
        let seasons: Vec<Season> = serde_json::from_value(version.seasons.clone())?;
        let tz: chrono_tz::Tz = program
            .timezone
            .parse()
            .map_err(|_| ApiError::internal(format!("bad time zone {}", program.timezone)))?;
        let rules = ScheduleRules {
            params: &params,
            seasons: &seasons,
            tz,
        };
        let local = start.with_timezone(&tz).date_naive();
        let season_events = match rules.season_of(local) {
            Some((season, from)) => {
                let others = event::Entity::find()
                    .filter(event::Column::ProgramId.eq(program.id.clone()))
                    .filter(event::Column::Status.ne(EventStatus::Cancelled.as_str()))
                    .filter(event::Column::StartAt.gte(start - Duration::days(400)))
                    .filter(event::Column::StartAt.lte(start + Duration::days(400)))
                    .all(self.db.conn())
                    .await?;
                others
                    .iter()
                    .filter(|e| Some(e.id.as_str()) != moving)
                    .filter(|e| {
                        rules
                            .season_of(e.start_at.with_timezone(&tz).date_naive())
                            .is_some_and(|(s, f)| s.name == season.name && f == from)
                    })
                    .count() as u32
            }
            None => 0,
        };
        let violations = rules.check(&Schedule {
            notification_at,
            start,
            end,
            season_events,
        });
        match (violations.is_empty(), override_reason) {
            (true, _) => Ok(()),
            (false, Some(reason)) if !reason.trim().is_empty() => {
                tracing::warn!(program = %program.code, ?violations, %reason, "schedule rules overridden");
                Ok(())
            }
            (false, _) => Err(ApiError::ScheduleRules(violations)),
        }
    }

    /// Enrolled meters an event at `start` calls: enrollment in force that
    /// day, not idle, meter active, matching the targeting.
    async fn resolve_targets(
        &self,
        program: &program::Model,
        start: DateTime<Utc>,
        targeting: &Targeting,
    ) -> ApiResult<Vec<Target>> {
        let day: NaiveDate = crate::services::eligibility::local_date(&program.timezone, start);
        let enrollments = enrollment::Entity::find()
            .filter(enrollment::Column::ProgramId.eq(program.id.clone()))
            .filter(enrollment::Column::Status.eq(EnrollmentStatus::Enrolled.as_str()))
            .filter(enrollment::Column::StartDate.lte(day))
            .order_by_asc(enrollment::Column::Id)
            .all(self.db.conn())
            .await?;
        let enrollments: Vec<enrollment::Model> = enrollments
            .into_iter()
            .filter(|e| e.end_date.is_none_or(|end| end >= day))
            .collect();
        let ids: Vec<String> = enrollments.iter().map(|e| e.id.clone()).collect();
        let mut idle_ids = HashSet::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<String> = idle::Entity::find()
                .select_only()
                .column(idle::Column::EnrollmentId)
                .filter(idle::Column::EnrollmentId.is_in(chunk.iter().cloned()))
                .filter(idle::Column::StartDate.lte(day))
                .filter(idle::Column::EndDate.gte(day))
                .into_tuple()
                .all(self.db.conn())
                .await?;
            idle_ids.extend(rows);
        }
        let mut meters = HashMap::new();
        let meter_ids: Vec<String> = enrollments.iter().map(|e| e.meter_id.clone()).collect();
        for chunk in meter_ids.chunks(500) {
            meters.extend(self.meters.by_ids(&Tenant::All, chunk).await?);
        }
        let wanted = |list: &Option<Vec<String>>, value: Option<&String>| {
            list.as_ref()
                .is_none_or(|l| value.is_some_and(|v| l.contains(v)))
        };
        Ok(enrollments
            .into_iter()
            .filter(|e| !idle_ids.contains(&e.id))
            .filter_map(|e| {
                let m = meters.get(&e.meter_id)?;
                let called = m.status == "ACTIVE"
                    && wanted(&targeting.load_zones, m.load_zone.as_ref())
                    && wanted(&targeting.utilities, m.utility.as_ref())
                    && wanted(&targeting.meter_ids, Some(&m.id));
                called.then(|| Target {
                    partner_id: e.partner_id.clone(),
                    meter_id: e.meter_id.clone(),
                    enrollment_id: e.id.clone(),
                    committed_kw: e.committed_kw.or(m.capacity_kw).unwrap_or(0.0),
                })
            })
            .collect())
    }
}

struct Target {
    partner_id: String,
    meter_id: String,
    enrollment_id: String,
    committed_kw: f64,
}

/// The SQL condition of an event filter.
fn event_condition(filter: &EventFilter) -> sea_orm::Condition {
    let mut c = sea_orm::Condition::all();
    if let Some(p) = &filter.program_ids {
        c = c.add(event::Column::ProgramId.is_in(p.clone()));
    }
    if let Some(s) = &filter.statuses {
        c = c.add(event::Column::Status.is_in(s.iter().map(|x| x.as_str())));
    }
    if let Some(from) = filter.from {
        c = c.add(event::Column::EndAt.gt(from));
    }
    if let Some(to) = filter.to {
        c = c.add(event::Column::StartAt.lt(to));
    }
    c
}

fn validate_times(
    notification_at: DateTime<Utc>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    ack_deadline: DateTime<Utc>,
    now: DateTime<Utc>,
    recording_past: bool,
) -> ApiResult<()> {
    let mut v = Validator::default();
    if end <= start {
        v.field("end", "must be after the start");
    }
    if end <= now && !recording_past {
        v.field(
            "end",
            "the event is already over; an ADMIN records a past market event with `overrideReason`",
        );
    }
    if notification_at > start {
        v.field(
            "notificationAt",
            "partners must be notified before the start",
        );
    }
    if ack_deadline > start {
        v.field("ackDeadline", "must not be after the start");
    }
    if ack_deadline < notification_at {
        v.field("ackDeadline", "must not be before the notification");
    }
    v.finish()
}

/// The event as partners see it in notifications.
pub fn event_payload(row: &event::Model, program: &program::Model) -> Value {
    json!({
        "id": row.id,
        "programId": program.id,
        "programCode": program.code,
        "type": row.event_type,
        "status": row.status,
        "notificationAt": row.notification_at,
        "start": row.start_at,
        "end": row.end_at,
        "ackDeadline": row.ack_deadline,
        "energyPrice": row.energy_price,
        "revision": row.revision,
    })
}

/// Writes the change and one notification per partner with dispatches in
/// the event, in the caller's transaction.
pub(crate) async fn record_change(
    conn: &impl ConnectionTrait,
    row: &event::Model,
    program: &program::Model,
    kind: EventChangeKind,
    detail: Value,
    by: &Principal,
) -> ApiResult<()> {
    let now = Utc::now();
    event_change::ActiveModel {
        id: Set(new_id("chg")),
        event_id: Set(row.id.clone()),
        kind: Set(kind.as_str().into()),
        detail: Set(detail),
        changed_by: Set(by.key_id.clone()),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    let dispatches = dispatch::Entity::find()
        .filter(dispatch::Column::EventId.eq(row.id.clone()))
        .order_by_asc(dispatch::Column::Id)
        .all(conn)
        .await?;
    let by_partner = super::group_by(dispatches, |d| d.partner_id.clone());
    let mut partners: Vec<&String> = by_partner.keys().collect();
    partners.sort();
    for partner_id in partners {
        let mine = &by_partner[partner_id];
        let payload = json!({
            "kind": kind.as_str(),
            "event": event_payload(row, program),
            "dispatches": mine.iter().map(|d| json!({
                "id": d.id, "meterId": d.meter_id, "committedKw": d.committed_kw, "response": d.response,
            })).collect::<Vec<_>>(),
        });
        super::notifications::record(conn, partner_id, Some(&row.id), kind.as_str(), payload, now)
            .await?;
    }
    Ok(())
}
