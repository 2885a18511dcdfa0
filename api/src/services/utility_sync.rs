//! Fetching utility data for authorized meters.
//!
//! Each authorized meter has a `utility_sync` row (written with the consent,
//! deleted when the authorization ends, which is what stops its data). A
//! replica claims due rows with a conditional update (a lease), asks the
//! utility's data source for readings since the last fetch (the whole
//! backfill window the first time), and stores them through the interval
//! upload path as `UTILITY` readings, so checks, idempotency, corrections
//! and late-data recomputation of event performance apply as for partner
//! uploads.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::auth::Principal;
use crate::db::Db;
use crate::domain::connect::AuthorizationState;
use crate::domain::interval::{RawReading, ReadingSource, DEFAULT_CHANNEL};
use crate::domain::Role;
use crate::entity::{utility_authorization as authorization, utility_sync as sync};
use crate::error::{ApiError, ApiResult};
use crate::utility::{AuthorizedAccount, SourceError, UtilitySources};

use super::connect::{ConnectConfig, ConnectService};
use super::intervals::{IntervalService, UploadFormat, UploadMode};

/// Meters claimed per step.
const BATCH: u64 = 50;
/// How long a claim holds before another replica may take the row over.
const LEASE_SECONDS: i64 = 300;
/// One fetch covers at most this much time (≤ 50,000 readings per upload).
const WINDOW_SECONDS: i64 = 400 * 86_400;
const INTERVAL: i64 = 900;

#[derive(Clone)]
pub struct UtilitySyncService {
    db: Db,
    sources: UtilitySources,
    intervals: IntervalService,
    connect: ConnectService,
    config: ConnectConfig,
}

impl UtilitySyncService {
    pub fn new(
        db: Db,
        sources: UtilitySources,
        intervals: IntervalService,
        connect: ConnectService,
        config: ConnectConfig,
    ) -> Self {
        Self {
            db,
            sources,
            intervals,
            connect,
            config,
        }
    }

    pub fn spawn_worker(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        super::every(self.config.sync_poll, "utility data sync", move || {
            let this = this.clone();
            async move { this.step().await }
        })
    }

    /// Fetches data for the meters that are due; returns how many were done.
    pub async fn step(&self) -> ApiResult<usize> {
        let now = Utc::now();
        let due = sync::Entity::find()
            .filter(sync::Column::NextSyncAt.lte(now))
            .filter(
                Condition::any()
                    .add(sync::Column::LeaseUntil.is_null())
                    .add(sync::Column::LeaseUntil.lt(now)),
            )
            .order_by_asc(sync::Column::NextSyncAt)
            .limit(BATCH)
            .all(self.db.conn())
            .await?;
        let mut done = 0;
        for row in due {
            if !self.claim(&row, now).await? {
                continue;
            }
            match self.fetch(&row, now).await {
                Ok(through) => {
                    self.release(&row, Some(through), None, now).await?;
                    done += 1;
                }
                Err(SyncError::Ended(reason)) => {
                    tracing::info!(meter = %row.meter_id, %reason, "utility ended the authorization");
                    self.connect
                        .end(
                            &row.authorization_id,
                            AuthorizationState::Revoked,
                            "utility",
                            &reason,
                        )
                        .await?;
                }
                Err(SyncError::Expired) => {
                    self.connect
                        .end(
                            &row.authorization_id,
                            AuthorizationState::Expired,
                            "system",
                            super::connect::EXPIRY_REASON,
                        )
                        .await?;
                }
                Err(SyncError::Failed(err)) => {
                    tracing::warn!(meter = %row.meter_id, %err, "utility data fetch failed");
                    self.release(&row, None, Some(err), now).await?;
                }
            }
        }
        Ok(done)
    }

    async fn claim(&self, row: &sync::Model, now: DateTime<Utc>) -> ApiResult<bool> {
        // Writes go through the write lock (SQLite allows one writer).
        let txn = self.db.begin_write().await?;
        let done = sync::Entity::update_many()
            .col_expr(
                sync::Column::LeaseUntil,
                Expr::value(now + Duration::seconds(LEASE_SECONDS)),
            )
            .filter(sync::Column::MeterId.eq(row.meter_id.clone()))
            .filter(sync::Column::NextSyncAt.eq(row.next_sync_at))
            .filter(
                Condition::any()
                    .add(sync::Column::LeaseUntil.is_null())
                    .add(sync::Column::LeaseUntil.lt(now)),
            )
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        Ok(done.rows_affected == 1)
    }

    /// Records the outcome. The row may be gone (the authorization ended
    /// meanwhile): then there is nothing to record.
    async fn release(
        &self,
        row: &sync::Model,
        through: Option<i64>,
        error: Option<String>,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        let mut update = sync::Entity::update_many()
            .col_expr(
                sync::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(sync::Column::MeterId.eq(row.meter_id.clone()))
            .filter(sync::Column::AuthorizationId.eq(row.authorization_id.clone()));
        update = match (through, error) {
            (Some(t), _) => update
                .col_expr(sync::Column::SyncedThrough, Expr::value(t))
                .col_expr(sync::Column::Attempts, Expr::value(0))
                .col_expr(sync::Column::LastError, Expr::value(Option::<String>::None))
                .col_expr(sync::Column::LastSyncedAt, Expr::value(now))
                .col_expr(
                    sync::Column::NextSyncAt,
                    Expr::value(
                        now + Duration::from_std(self.config.sync_interval).unwrap_or_default(),
                    ),
                ),
            (None, error) => {
                let attempts = row.attempts + 1;
                let wait = Duration::minutes(1 << attempts.min(8)).min(Duration::hours(6));
                update
                    .col_expr(sync::Column::Attempts, Expr::value(attempts))
                    .col_expr(sync::Column::LastError, Expr::value(error))
                    .col_expr(sync::Column::NextSyncAt, Expr::value(now + wait))
            }
        };
        let txn = self.db.begin_write().await?;
        update.exec(&*txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Fetches and stores the meter's new readings; returns the new
    /// `synced_through`.
    async fn fetch(&self, row: &sync::Model, now: DateTime<Utc>) -> Result<i64, SyncError> {
        let auth = authorization::Entity::find_by_id(row.authorization_id.clone())
            .one(self.db.conn())
            .await
            .map_err(|e| SyncError::Failed(e.to_string()))?
            .filter(|a| a.status == AuthorizationState::Authorized.as_str())
            .ok_or_else(|| SyncError::Ended("the authorization is no longer in force".into()))?;
        if auth.expires_at <= now {
            return Err(SyncError::Expired);
        }
        let source = self
            .sources
            .for_utility(&row.utility)
            .ok_or_else(|| SyncError::Failed(format!("no data source for {}", row.utility)))?;
        let account = AuthorizedAccount {
            authorization_id: auth.id.clone(),
            utility: auth.utility.clone(),
            account_number: auth.account_number.clone(),
            expires_at: auth.expires_at,
        };
        let end = now.timestamp().div_euclid(INTERVAL) * INTERVAL;
        let mut from = row.synced_through.unwrap_or_else(|| {
            (end - self.config.backfill_days * 86_400).div_euclid(INTERVAL) * INTERVAL
        });
        // The last interval fetched may have been revised: ask for it again.
        if row.synced_through.is_some() {
            from -= INTERVAL;
        }
        let mut stored = 0;
        while from < end {
            let to = (from + WINDOW_SECONDS).min(end);
            let readings = source
                .readings(&account, &row.service_id, from, to)
                .await
                .map_err(|e| match e {
                    SourceError::AuthorizationEnded(r) => SyncError::Ended(r),
                    SourceError::Unavailable(r) => SyncError::Failed(r),
                })?;
            if !readings.is_empty() {
                stored += readings.len();
                let rows = readings
                    .into_iter()
                    .enumerate()
                    .map(|(i, r)| {
                        (
                            i + 1,
                            Ok(RawReading {
                                meter_id: Some(row.meter_id.clone()),
                                external_id: None,
                                start: r.start,
                                interval_seconds: r.interval_seconds,
                                kwh: r.kwh,
                                channel: DEFAULT_CHANNEL.into(),
                                source: ReadingSource::Utility,
                            }),
                        )
                    })
                    .collect();
                let outcome = self
                    .intervals
                    .upload(
                        &system(),
                        Some(&row.partner_id),
                        rows,
                        UploadFormat::UtilitySync,
                        UploadMode {
                            atomic: false,
                            dry_run: false,
                        },
                    )
                    .await
                    .map_err(|e: ApiError| SyncError::Failed(e.to_string()))?;
                if outcome.error_count > 0 {
                    tracing::warn!(
                        meter = %row.meter_id,
                        refused = outcome.error_count,
                        first = ?outcome.errors.first().map(|e| e.error.clone()),
                        "utility readings refused"
                    );
                }
            }
            from = to;
        }
        tracing::debug!(meter = %row.meter_id, partner = %row.partner_id, stored, "utility data fetched");
        Ok(end)
    }
}

enum SyncError {
    /// The utility no longer honours the authorization.
    Ended(String),
    /// The authorization reached its expiry date.
    Expired,
    Failed(String),
}

/// The principal utility data is stored as.
fn system() -> Principal {
    Principal {
        key_id: "system:utility-sync".into(),
        role: Role::Admin,
        partner_id: None,
    }
}
