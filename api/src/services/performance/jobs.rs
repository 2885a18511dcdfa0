//! The durable queue of performance computations: written in the same
//! transaction as what makes them due (an event completing, late readings),
//! claimed by any replica with a conditional update, retried with backoff.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query::{Expr, Query},
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use super::{PerformanceService, PerformanceTrigger};
use crate::domain::event::EventStatus;
use crate::domain::string_enum;
use crate::entity::{dispatch, event, performance_job, performance_run};
use crate::error::ApiResult;
use crate::ids;
use crate::services::intervals::TouchedRange;

string_enum! {
    pub enum JobStatus {
        Pending => "PENDING",
        Running => "RUNNING",
        Done => "DONE",
        Failed => "FAILED",
    }
}

/// Readings this far before an event can still change its baseline (SCR
/// looks a year back); older corrections leave computed events alone.
const LATE_DATA_REACH_DAYS: i64 = 400;
/// A RUNNING job not finished after this is taken over (its replica died).
const STALE_AFTER: chrono::Duration = chrono::Duration::minutes(15);
const MAX_ATTEMPTS: i32 = 5;

/// Makes a computation of `event_id` due at `not_before`, unless one is
/// already pending for the event.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    event_id: &str,
    reason: PerformanceTrigger,
    not_before: DateTime<Utc>,
) -> ApiResult<()> {
    let pending = performance_job::Entity::find()
        .filter(performance_job::Column::EventId.eq(event_id))
        .filter(performance_job::Column::Status.eq(JobStatus::Pending.as_str()))
        .one(conn)
        .await?;
    if pending.is_some() {
        return Ok(());
    }
    performance_job::ActiveModel {
        id: Set(ids::new_id("pjb")),
        event_id: Set(event_id.to_owned()),
        reason: Set(reason.as_str().into()),
        status: Set(JobStatus::Pending.as_str().into()),
        not_before: Set(not_before),
        attempts: Set(0),
        claimed_at: Set(None),
        last_error: Set(None),
        created_at: Set(Utc::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// After readings changed: recompute the completed events already computed
/// that called these meters and whose baseline or event window the readings
/// can reach. `delay` lets a burst of uploads settle into one recomputation.
pub async fn enqueue_late_data<C: ConnectionTrait>(
    conn: &C,
    touched: &[TouchedRange],
    delay: Duration,
) -> ApiResult<()> {
    if touched.is_empty() {
        return Ok(());
    }
    let first = touched.iter().map(|t| t.first_ts).min().unwrap_or_default();
    let last = touched.iter().map(|t| t.last_ts).max().unwrap_or_default();
    let (Some(first), Some(reach)) = (
        DateTime::from_timestamp(first, 0),
        DateTime::from_timestamp(last + LATE_DATA_REACH_DAYS * 86_400, 0),
    ) else {
        return Ok(());
    };
    let mut events: Vec<String> = Vec::new();
    for chunk in touched.chunks(500) {
        let ids: Vec<String> = event::Entity::find()
            .select_only()
            .column(event::Column::Id)
            .filter(event::Column::Status.eq(EventStatus::Completed.as_str()))
            .filter(event::Column::EndAt.gt(first))
            .filter(event::Column::StartAt.lt(reach))
            .filter(
                event::Column::Id.in_subquery(
                    Query::select()
                        .column(dispatch::Column::EventId)
                        .from(dispatch::Entity)
                        .and_where(
                            Expr::col(dispatch::Column::MeterId)
                                .is_in(chunk.iter().map(|t| t.meter_id.clone())),
                        )
                        .to_owned(),
                ),
            )
            .filter(
                event::Column::Id.in_subquery(
                    Query::select()
                        .column(performance_run::Column::EventId)
                        .from(performance_run::Entity)
                        .to_owned(),
                ),
            )
            .into_tuple()
            .all(conn)
            .await?;
        events.extend(ids);
    }
    events.sort();
    events.dedup();
    let not_before = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    for event_id in events {
        enqueue(conn, &event_id, PerformanceTrigger::LateData, not_before).await?;
    }
    Ok(())
}

impl PerformanceService {
    /// Claims and runs due jobs until none is left; returns how many ran.
    pub async fn run_due_jobs(&self) -> ApiResult<usize> {
        let mut ran = 0;
        while let Some(job) = self.claim().await? {
            let reason = PerformanceTrigger::parse(&job.reason)
                .unwrap_or(PerformanceTrigger::EventCompleted);
            let result = self.run_and_follow(&job.event_id, reason, "system").await;
            let mut row: performance_job::ActiveModel = job.clone().into();
            match result {
                Ok(_) => {
                    row.status = Set(JobStatus::Done.as_str().into());
                    row.last_error = Set(None);
                }
                Err(e) => {
                    let attempts = job.attempts + 1;
                    tracing::warn!(event = %job.event_id, attempts, error = %e, "performance job failed");
                    row.last_error = Set(Some(e.to_string()));
                    if attempts >= MAX_ATTEMPTS {
                        row.status = Set(JobStatus::Failed.as_str().into());
                    } else {
                        row.status = Set(JobStatus::Pending.as_str().into());
                        row.not_before =
                            Set(Utc::now() + chrono::Duration::seconds(30 << attempts));
                    }
                }
            }
            row.attempts = Set(job.attempts + 1);
            let txn = self.db.begin_write().await?;
            row.update(&*txn).await?;
            txn.commit().await?;
            ran += 1;
        }
        Ok(ran)
    }

    /// The oldest due job, taken with a conditional update so that one
    /// replica runs it.
    async fn claim(&self) -> ApiResult<Option<performance_job::Model>> {
        let now = Utc::now();
        let candidates = performance_job::Entity::find()
            .filter(
                performance_job::Column::Status
                    .eq(JobStatus::Pending.as_str())
                    .and(performance_job::Column::NotBefore.lte(now))
                    .or(performance_job::Column::Status
                        .eq(JobStatus::Running.as_str())
                        .and(performance_job::Column::ClaimedAt.lt(now - STALE_AFTER))),
            )
            .order_by_asc(performance_job::Column::NotBefore)
            .limit(5)
            .all(self.db.conn())
            .await?;
        for job in candidates {
            let txn = self.db.begin_write().await?;
            let won = performance_job::Entity::update_many()
                .col_expr(
                    performance_job::Column::Status,
                    Expr::value(JobStatus::Running.as_str()),
                )
                .col_expr(performance_job::Column::ClaimedAt, Expr::value(now))
                .filter(performance_job::Column::Id.eq(job.id.clone()))
                .filter(performance_job::Column::Status.eq(job.status.clone()))
                .filter(match job.claimed_at {
                    Some(at) => performance_job::Column::ClaimedAt.eq(at),
                    None => performance_job::Column::ClaimedAt.is_null(),
                })
                .exec(&*txn)
                .await?;
            txn.commit().await?;
            if won.rows_affected == 1 {
                return Ok(Some(job));
            }
        }
        Ok(None)
    }

    /// Runs due jobs every `interval`.
    pub fn spawn_worker(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        crate::services::every(interval, "performance jobs", move || {
            let this = this.clone();
            async move { this.run_due_jobs().await }
        })
    }
}
