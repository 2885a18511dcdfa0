//! Interval data: idempotent bulk uploads with row-level validation and a
//! history of corrections, reads by meter and range (raw or hourly), data
//! completeness, and the readings the performance runner feeds to plugins.
//!
//! An upload is checked whole before anything is written. Valid readings are
//! compared with what is stored: new ones are inserted in multi-row
//! statements, identical ones are left alone (so the same file twice writes
//! nothing), and a changed value is a correction whose previous value is kept
//! in `interval_corrections`. Everything an upload writes — readings,
//! corrections, the series summary, the upload record and the performance
//! recomputations it makes due (see `performance::jobs`) — commits in one
//! transaction.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Statement, Value,
};

use super::bulk::{self, OnConflict};
use super::pagination::{Page, PageRequest};
use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::interval::{
    check_reading, same_value, MeterFacts, RawReading, ReadingErrorCode, ReadingSource, RowError,
    DEFAULT_CHANNEL,
};
use crate::domain::meter::{DeviceType, MeterKind};
use crate::domain::{string_enum, Role};
use crate::entity::{
    interval_correction, interval_reading, interval_series, interval_upload, meter,
};
use crate::error::{ApiError, ApiResult};
use crate::ids;

/// Most readings one call may carry (the CLI sends larger files in chunks).
pub const MAX_READINGS_PER_UPLOAD: usize = 50_000;
/// Row errors returned in full; the count covers all of them.
pub const MAX_REPORTED_ERRORS: usize = 1_000;
/// Longest range one read may cover.
pub const MAX_READ_DAYS: i64 = 400;
/// Gaps listed per meter by the completeness report (the count covers all).
pub const MAX_LISTED_GAPS: usize = 100;
const ID_CHUNK: usize = 500;

string_enum! {
    pub enum UploadFormat {
        Graphql => "GRAPHQL",
        Csv => "CSV",
        /// Fetched from the utility for an authorized meter; not listed as
        /// an upload (the sync state is on the meter's authorization).
        UtilitySync => "UTILITY_SYNC",
    }
}

string_enum! {
    pub enum UploadStatus {
        /// Every reading was valid and is stored.
        Applied => "APPLIED",
        /// Valid readings are stored; the rows in `errors` were refused.
        Partial => "PARTIAL",
        /// Some rows were invalid and the upload was atomic: nothing was written.
        Rejected => "REJECTED",
        /// A dry run: checked and compared with what is stored, nothing written.
        Validated => "VALIDATED",
    }
}

/// How an upload treats invalid rows and whether it writes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UploadMode {
    /// One invalid row rejects the whole upload.
    pub atomic: bool,
    /// Check and count only; write nothing (not even the upload record).
    pub dry_run: bool,
}

/// A (meter, source, channel) series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub meter_id: String,
    pub source: ReadingSource,
    pub channel: String,
}

/// A refused row of an upload.
#[derive(Debug, Clone)]
pub struct UploadRowError {
    /// The row's number: its index in the GraphQL list, or its CSV line.
    pub row: usize,
    pub meter_id: Option<String>,
    pub external_id: Option<String>,
    pub start: Option<i64>,
    pub error: RowError,
}

/// The readings an upload changed for one meter (for recomputing performance).
#[derive(Debug, Clone, PartialEq)]
pub struct TouchedRange {
    pub meter_id: String,
    pub first_ts: i64,
    pub last_ts: i64,
}

pub struct UploadOutcome {
    pub upload: interval_upload::Model,
    /// The first [`MAX_REPORTED_ERRORS`] refused rows, in row order.
    pub errors: Vec<UploadRowError>,
    pub error_count: usize,
}

/// One value of an hourly roll-up.
#[derive(Debug, Clone, PartialEq)]
pub struct HourlyReading {
    pub start: i64,
    pub kwh: f64,
    pub intervals: i64,
    pub expected_intervals: i64,
}

/// How complete a meter's series is over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct Completeness {
    pub meter_id: String,
    pub source: ReadingSource,
    pub channel: String,
    pub interval_seconds: Option<i64>,
    pub expected: i64,
    pub present: i64,
    /// Missing stretches `[from, to)`, the first [`MAX_LISTED_GAPS`].
    pub gaps: Vec<(i64, i64)>,
    pub gap_count: usize,
}

/// Readings of one meter as the rules plugins take them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Columns {
    pub interval_seconds: u32,
    pub starts: Vec<i64>,
    pub values: Vec<f64>,
}

#[derive(Clone)]
pub struct IntervalService {
    db: Db,
    /// Delay before late readings recompute an event's performance.
    late_data_delay: std::time::Duration,
}

#[derive(FromQueryResult)]
struct StoredValue {
    meter_id: String,
    source: String,
    channel: String,
    start_ts: i64,
    kwh: f64,
}

impl IntervalService {
    pub fn new(db: Db, late_data_delay: std::time::Duration) -> Self {
        Self {
            db,
            late_data_delay,
        }
    }

    /// Checks and stores an upload. `rows` carry their row numbers and either a
    /// parsed reading or why it could not be parsed. With `atomic`, one bad row
    /// rejects the upload; otherwise the valid rows are stored.
    pub async fn upload(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        rows: Vec<(usize, Result<RawReading, RowError>)>,
        format: UploadFormat,
        mode: UploadMode,
    ) -> ApiResult<UploadOutcome> {
        let UploadMode { atomic, dry_run } = mode;
        principal.require(&[Role::Partner, Role::Admin])?;
        let partner = principal.acting_partner(partner_id)?;
        if rows.is_empty() {
            return Err(ApiError::validation(
                "readings",
                "send at least one reading",
            ));
        }
        if rows.len() > MAX_READINGS_PER_UPLOAD {
            return Err(ApiError::validation(
                "readings",
                format!(
                    "{} readings in one call; send at most {MAX_READINGS_PER_UPLOAD} (`gridhub intervals upload` splits files)",
                    rows.len()
                ),
            ));
        }
        let received = rows.len();
        let started = std::time::Instant::now();
        let now = Utc::now();
        let meters = self.resolve_meters(&partner, &rows).await?;
        let owned: Vec<String> = meters
            .by_id
            .values()
            .filter(|m| m.partner_id == partner)
            .map(|m| m.id.clone())
            .collect();
        let stored_series = self.series_of(&owned).await?;

        let (valid, mut errors) =
            check_rows(rows, &partner, &meters, &stored_series, now.timestamp());
        errors.sort_by_key(|e| e.row);
        let error_count = errors.len();
        errors.truncate(MAX_REPORTED_ERRORS);
        let (first_ts, last_ts) = (
            valid.iter().map(|v| v.start).min(),
            valid.iter().map(|v| v.start).max(),
        );
        let mut upload = interval_upload::Model {
            id: ids::new_id(ids::INTERVAL_UPLOAD),
            partner_id: partner.clone(),
            created_by: principal.key_id.clone(),
            format: format.as_str().into(),
            status: UploadStatus::Applied.as_str().into(),
            received: received as i64,
            inserted: 0,
            corrected: 0,
            unchanged: 0,
            rejected: error_count as i64,
            first_ts,
            last_ts,
            created_at: now,
        };
        if atomic && error_count > 0 {
            upload.status = UploadStatus::Rejected.as_str().into();
            if dry_run {
                return Ok(UploadOutcome {
                    upload,
                    errors,
                    error_count,
                });
            }
            if format != UploadFormat::UtilitySync {
                let txn = self.db.begin_write().await?;
                insert_upload(&*txn, &upload).await?;
                txn.commit().await?;
            }
            return Ok(UploadOutcome {
                upload,
                errors,
                error_count,
            });
        }
        if error_count > 0 {
            upload.status = UploadStatus::Partial.as_str().into();
        }

        let checked_ms = started.elapsed().as_millis();
        let existing = self.stored_values(&valid, &stored_series).await?;
        let mut fresh = Vec::new();
        let mut changed = Vec::new();
        for v in valid {
            match existing.get(&(v.key.clone(), v.start)) {
                None => fresh.push(v),
                Some(old) if same_value(*old, v.kwh) => upload.unchanged += 1,
                Some(old) => changed.push((v, *old)),
            }
        }
        let touched = touched_ranges(fresh.iter().chain(changed.iter().map(|(v, _)| v)));
        if dry_run {
            upload.status = UploadStatus::Validated.as_str().into();
            upload.inserted = fresh.len() as i64;
            upload.corrected = changed.len() as i64;
            return Ok(UploadOutcome {
                upload,
                errors,
                error_count,
            });
        }

        let txn = self.db.begin_write().await?;
        let backend = txn.get_database_backend();
        let fresh_count = fresh.len() as u64;
        let series_rows = series_rows(&fresh, now);
        let inserted = bulk::insert(
            &*txn,
            "interval_readings",
            &[
                "meter_id",
                "source",
                "channel",
                "start_ts",
                "interval_seconds",
                "kwh",
            ],
            fresh.into_iter().map(ValidReading::values).collect(),
            OnConflict::Ignore,
        )
        .await?;
        for (v, _) in &changed {
            let sql = format!(
                "UPDATE interval_readings SET kwh = {} WHERE meter_id = {} AND source = {} AND channel = {} AND start_ts = {}",
                bulk::param(backend, 1),
                bulk::param(backend, 2),
                bulk::param(backend, 3),
                bulk::param(backend, 4),
                bulk::param(backend, 5),
            );
            txn.execute(Statement::from_sql_and_values(
                backend,
                sql,
                [
                    v.kwh.into(),
                    v.key.meter_id.clone().into(),
                    v.key.source.as_str().into(),
                    v.key.channel.clone().into(),
                    v.start.into(),
                ],
            ))
            .await?;
        }
        bulk::insert(
            &*txn,
            "interval_corrections",
            &[
                "id",
                "meter_id",
                "source",
                "channel",
                "start_ts",
                "previous_kwh",
                "kwh",
                "upload_id",
                "corrected_at",
            ],
            changed
                .iter()
                .map(|(v, old)| {
                    vec![
                        ids::new_id(ids::INTERVAL_CORRECTION).into(),
                        v.key.meter_id.clone().into(),
                        v.key.source.as_str().into(),
                        v.key.channel.clone().into(),
                        v.start.into(),
                        (*old).into(),
                        v.kwh.into(),
                        upload.id.clone().into(),
                        now.into(),
                    ]
                })
                .collect(),
            OnConflict::Fail,
        )
        .await?;
        bulk::insert(
            &*txn,
            "interval_series",
            &[
                "meter_id",
                "source",
                "channel",
                "interval_seconds",
                "first_ts",
                "last_ts",
                "reading_count",
                "updated_at",
            ],
            series_rows,
            OnConflict::Update(SERIES_UPSERT),
        )
        .await?;
        if inserted != fresh_count {
            // Another upload stored some of these readings first: the series
            // counts above assumed all were new, so count them again.
            recount_series(&*txn, &touched).await?;
        }
        upload.inserted = inserted as i64;
        upload.unchanged += (fresh_count - inserted) as i64;
        upload.corrected = changed.len() as i64;
        if format != UploadFormat::UtilitySync {
            insert_upload(&*txn, &upload).await?;
        }
        super::performance::jobs::enqueue_late_data(&*txn, &touched, self.late_data_delay).await?;
        txn.commit().await?;
        // Utility fetches (every few minutes per meter) log in utility_sync.
        if format != UploadFormat::UtilitySync {
            tracing::info!(
                upload = %upload.id,
                partner = %partner,
                received,
                inserted = upload.inserted,
                corrected = upload.corrected,
                unchanged = upload.unchanged,
                rejected = upload.rejected,
                checked_ms,
                total_ms = started.elapsed().as_millis(),
                "interval upload"
            );
        }
        Ok(UploadOutcome {
            upload,
            errors,
            error_count,
        })
    }

    async fn resolve_meters(
        &self,
        partner: &str,
        rows: &[(usize, Result<RawReading, RowError>)],
    ) -> ApiResult<ResolvedMeters> {
        let mut ids: HashSet<String> = HashSet::new();
        let mut externals: HashSet<String> = HashSet::new();
        for (_, row) in rows {
            if let Ok(r) = row {
                match (&r.meter_id, &r.external_id) {
                    (Some(id), _) => {
                        ids.insert(id.clone());
                    }
                    (None, Some(ext)) => {
                        externals.insert(ext.clone());
                    }
                    (None, None) => {}
                }
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        // Every partner's meters, to tell a foreign meter from an unknown one.
        let mut by_id = super::meters::any_by_ids(&self.db, &ids).await?;
        let mut by_external = HashMap::new();
        let externals: Vec<String> = externals.into_iter().collect();
        for chunk in externals.chunks(ID_CHUNK) {
            for m in meter::Entity::find()
                .filter(meter::Column::PartnerId.eq(partner))
                .filter(meter::Column::ExternalId.is_in(chunk.iter().cloned()))
                .all(self.db.conn())
                .await?
            {
                by_external.insert(m.external_id.clone(), m.id.clone());
                by_id.insert(m.id.clone(), m);
            }
        }
        Ok(ResolvedMeters { by_id, by_external })
    }

    /// The stored series of these meters.
    pub async fn series_of(
        &self,
        meter_ids: &[String],
    ) -> ApiResult<HashMap<SeriesKey, interval_series::Model>> {
        let mut out = HashMap::new();
        for chunk in meter_ids.chunks(ID_CHUNK) {
            for s in interval_series::Entity::find()
                .filter(interval_series::Column::MeterId.is_in(chunk.iter().cloned()))
                .all(self.db.conn())
                .await?
            {
                out.insert(
                    SeriesKey {
                        meter_id: s.meter_id.clone(),
                        source: ReadingSource::from_db(&s.source)?,
                        channel: s.channel.clone(),
                    },
                    s,
                );
            }
        }
        Ok(out)
    }

    /// Stored values at the starts the upload carries, read only for series
    /// whose stored range overlaps the upload (appends skip the read).
    async fn stored_values(
        &self,
        valid: &[ValidReading],
        stored: &HashMap<SeriesKey, interval_series::Model>,
    ) -> ApiResult<HashMap<(SeriesKey, i64), f64>> {
        let mut ranges: BTreeMap<&SeriesKey, (i64, i64)> = BTreeMap::new();
        for v in valid {
            let r = ranges.entry(&v.key).or_insert((v.start, v.start));
            r.0 = r.0.min(v.start);
            r.1 = r.1.max(v.start);
        }
        let overlapping: Vec<(&SeriesKey, (i64, i64))> = ranges
            .into_iter()
            .filter(|(key, (lo, hi))| {
                stored
                    .get(*key)
                    .is_some_and(|s| *lo <= s.last_ts && *hi >= s.first_ts)
            })
            .collect();
        let mut out = HashMap::new();
        for chunk in overlapping.chunks(ID_CHUNK) {
            let lo = chunk.iter().map(|(_, r)| r.0).min().unwrap_or_default();
            let hi = chunk.iter().map(|(_, r)| r.1).max().unwrap_or_default();
            let meters: HashSet<&str> = chunk.iter().map(|(k, _)| k.meter_id.as_str()).collect();
            let wanted: HashMap<&SeriesKey, (i64, i64)> = chunk.iter().copied().collect();
            let rows = interval_reading::Entity::find()
                .select_only()
                .columns([
                    interval_reading::Column::MeterId,
                    interval_reading::Column::Source,
                    interval_reading::Column::Channel,
                    interval_reading::Column::StartTs,
                    interval_reading::Column::Kwh,
                ])
                .filter(
                    interval_reading::Column::MeterId.is_in(meters.iter().map(|m| m.to_string())),
                )
                .filter(interval_reading::Column::StartTs.between(lo, hi))
                .into_model::<StoredValue>()
                .all(self.db.conn())
                .await?;
            for row in rows {
                let key = SeriesKey {
                    meter_id: row.meter_id,
                    source: ReadingSource::from_db(&row.source)?,
                    channel: row.channel,
                };
                if wanted
                    .get(&key)
                    .is_some_and(|(lo, hi)| (*lo..=*hi).contains(&row.start_ts))
                {
                    out.insert((key, row.start_ts), row.kwh);
                }
            }
        }
        Ok(out)
    }

    /// A meter the principal may read.
    async fn readable_meter(
        &self,
        principal: &Principal,
        meter_id: &str,
    ) -> ApiResult<meter::Model> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let tenant = principal.tenant(None)?;
        let found = meter::Entity::find_by_id(meter_id.to_owned())
            .one(self.db.conn())
            .await?
            .filter(|m| match &tenant {
                Tenant::Partner(p) => &m.partner_id == p,
                Tenant::All => true,
            });
        found.ok_or_else(|| ApiError::not_found("meter", meter_id))
    }

    /// Readings of one series in `[from, to)`, oldest first.
    pub async fn readings(
        &self,
        principal: &Principal,
        key: &SeriesKey,
        from: i64,
        to: i64,
    ) -> ApiResult<Vec<interval_reading::Model>> {
        check_range(from, to)?;
        self.readable_meter(principal, &key.meter_id).await?;
        Ok(series_query(key, from, to)
            .order_by_asc(interval_reading::Column::StartTs)
            .all(self.db.conn())
            .await?)
    }

    /// Hourly sums of one series in `[from, to)` (UTC hours, which are the
    /// local clock hours of every whole-hour time zone).
    pub async fn hourly(
        &self,
        principal: &Principal,
        key: &SeriesKey,
        from: i64,
        to: i64,
    ) -> ApiResult<Vec<HourlyReading>> {
        let rows = self.readings(principal, key, from, to).await?;
        let mut hours: BTreeMap<i64, HourlyReading> = BTreeMap::new();
        for r in rows {
            let hour = r.start_ts - r.start_ts.rem_euclid(3600);
            let h = hours.entry(hour).or_insert(HourlyReading {
                start: hour,
                kwh: 0.0,
                intervals: 0,
                expected_intervals: (3600 / i64::from(r.interval_seconds.max(1))).max(1),
            });
            h.kwh += r.kwh;
            h.intervals += 1;
        }
        Ok(hours.into_values().collect())
    }

    /// Expected vs present intervals of each meter's series over `[from, to)`
    /// and the gaps between them.
    pub async fn completeness(
        &self,
        principal: &Principal,
        meter_ids: &[String],
        source: ReadingSource,
        channel: &str,
        from: i64,
        to: i64,
    ) -> ApiResult<Vec<Completeness>> {
        check_range(from, to)?;
        if meter_ids.len() > 100 {
            return Err(ApiError::validation(
                "meterIds",
                "at most 100 meters per call",
            ));
        }
        let mut out = Vec::with_capacity(meter_ids.len());
        for meter_id in meter_ids {
            self.readable_meter(principal, meter_id).await?;
            let key = SeriesKey {
                meter_id: meter_id.clone(),
                source,
                channel: channel.to_owned(),
            };
            let series = self.series_of(std::slice::from_ref(meter_id)).await?;
            let len = series.get(&key).map(|s| i64::from(s.interval_seconds));
            let starts: Vec<i64> = series_query(&key, from, to)
                .select_only()
                .column(interval_reading::Column::StartTs)
                .order_by_asc(interval_reading::Column::StartTs)
                .into_tuple()
                .all(self.db.conn())
                .await?;
            out.push(completeness_of(key, len, &starts, from, to));
        }
        Ok(out)
    }

    /// Corrections of a meter's readings in `[from, to)`, newest first.
    pub async fn corrections(
        &self,
        principal: &Principal,
        meter_id: &str,
        from: i64,
        to: i64,
    ) -> ApiResult<Vec<interval_correction::Model>> {
        check_range(from, to)?;
        self.readable_meter(principal, meter_id).await?;
        Ok(interval_correction::Entity::find()
            .filter(interval_correction::Column::MeterId.eq(meter_id))
            .filter(interval_correction::Column::StartTs.gte(from))
            .filter(interval_correction::Column::StartTs.lt(to))
            .order_by_desc(interval_correction::Column::Id)
            .limit(1000)
            .all(self.db.conn())
            .await?)
    }

    /// A partner's uploads, newest first.
    pub async fn uploads(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        page: &PageRequest,
    ) -> ApiResult<Page<interval_upload::Model>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let mut query = interval_upload::Entity::find();
        if let Some(p) = principal.tenant(partner_id)?.partner_id() {
            query = query.filter(interval_upload::Column::PartnerId.eq(p));
        }
        query = match page {
            PageRequest::Forward { after, first } => {
                if let Some(after) = after {
                    query = query.filter(interval_upload::Column::Id.lt(after.clone()));
                }
                query
                    .order_by_desc(interval_upload::Column::Id)
                    .limit(*first as u64 + 1)
            }
            PageRequest::Backward { before, last } => {
                if let Some(before) = before {
                    query = query.filter(interval_upload::Column::Id.gt(before.clone()));
                }
                query
                    .order_by_asc(interval_upload::Column::Id)
                    .limit(*last as u64 + 1)
            }
        };
        let rows = query.all(self.db.conn()).await?;
        Ok(Page::from_fetched(page, rows))
    }

    /// Days of data held per meter (readings × length ÷ one day, over the
    /// meter's `main` channel), as eligibility rules count history.
    pub async fn history_days(&self, meter_ids: &[String]) -> ApiResult<HashMap<String, u32>> {
        let mut out: HashMap<String, u32> = HashMap::new();
        for (key, s) in self.series_of(meter_ids).await? {
            if key.channel != DEFAULT_CHANNEL {
                continue;
            }
            let days = (s.reading_count * i64::from(s.interval_seconds) / 86_400) as u32;
            let entry = out.entry(key.meter_id).or_default();
            *entry = (*entry).max(days);
        }
        Ok(out)
    }

    /// Each meter's `main`-channel readings in `[from, to)` as columns, from
    /// its preferred source (its own kind's), else the other one, plus the
    /// readings in `extra_hours` (hour beginnings outside the window some
    /// methods need, e.g. last year's peaks). Lean queries over groups of
    /// meters, a few groups at a time.
    pub async fn columns_for(
        &self,
        meters: &[&meter::Model],
        from: i64,
        to: i64,
        extra_hours: &HashMap<String, Vec<i64>>,
    ) -> ApiResult<HashMap<String, Columns>> {
        use futures::StreamExt;
        // Each meter's source from its stored series, so every read is a
        // range scan of the primary key (meter, source, channel, start).
        let ids: Vec<String> = meters.iter().map(|m| m.id.clone()).collect();
        let series = self.series_of(&ids).await?;
        let mut by_source: BTreeMap<ReadingSource, Vec<String>> = BTreeMap::new();
        for m in meters {
            let preferred = preferred_source(m);
            let other = match preferred {
                ReadingSource::Device => ReadingSource::Utility,
                ReadingSource::Utility => ReadingSource::Device,
            };
            let has = |source| {
                series.contains_key(&SeriesKey {
                    meter_id: m.id.clone(),
                    source,
                    channel: DEFAULT_CHANNEL.into(),
                })
            };
            let source = if has(preferred) || !has(other) {
                preferred
            } else {
                other
            };
            by_source.entry(source).or_default().push(m.id.clone());
        }
        let groups: Vec<(ReadingSource, Vec<String>)> = by_source
            .into_iter()
            .flat_map(|(source, ids)| {
                ids.chunks(READ_GROUP)
                    .map(|g| (source, g.to_vec()))
                    .collect::<Vec<_>>()
            })
            .collect();
        let db = self.db.clone();
        let fetched: Vec<ApiResult<Vec<LeanReading>>> = futures::stream::iter(groups)
            .map(|(source, ids)| {
                let db = db.clone();
                async move { packed_readings(&db, source, &ids, from, to).await }
            })
            .buffer_unordered(READ_CONCURRENCY)
            .collect()
            .await;
        let mut by_meter: HashMap<String, Vec<LeanReading>> = HashMap::new();
        for rows in fetched {
            for r in rows? {
                by_meter.entry(r.0.clone()).or_default().push(r);
            }
        }
        for m in meters {
            // Every 5-minute start inside the extra hours covers 15- and 60-minute series too.
            let starts: Vec<i64> = extra_hours
                .get(&m.id)
                .into_iter()
                .flatten()
                .filter(|h| **h < from || **h >= to)
                .flat_map(|h| (0..12).map(move |k| h + k * 300))
                .collect();
            for chunk in starts.chunks(ID_CHUNK) {
                let rows: Vec<LeanReading> = lean_readings()
                    .filter(interval_reading::Column::MeterId.eq(m.id.clone()))
                    .filter(interval_reading::Column::StartTs.is_in(chunk.iter().copied()))
                    .into_tuple()
                    .all(self.db.conn())
                    .await?;
                by_meter.entry(m.id.clone()).or_default().extend(rows);
            }
        }
        Ok(meters
            .iter()
            .map(|m| {
                let rows = by_meter.remove(&m.id).unwrap_or_default();
                (m.id.clone(), to_columns(m, rows))
            })
            .collect())
    }
}

/// The readings of several meters of one source in `[from, to)`, fetched as
/// one packed text row per meter: the database's per-row cost (large on
/// SQLite) is paid per meter, not per reading. Values are written with 17
/// significant digits, which round-trips every f64 exactly.
async fn packed_readings(
    db: &Db,
    source: ReadingSource,
    ids: &[String],
    from: i64,
    to: i64,
) -> ApiResult<Vec<LeanReading>> {
    let backend = db.conn().get_database_backend();
    let pack = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            // float8 text is the shortest exact form (PostgreSQL 12+).
            "string_agg(start_ts::text || ':' || interval_seconds::text || ':' || kwh::text, ',')"
        }
        _ => {
            "group_concat(start_ts || ':' || interval_seconds || ':' || printf('%.17g', kwh), ',')"
        }
    };
    let ids_sql = bulk::placeholders(backend, 5, ids.len());
    let sql = format!(
        "SELECT meter_id, {pack} FROM interval_readings WHERE channel = {} AND source = {} AND start_ts >= {} AND start_ts < {} AND meter_id IN {ids_sql} GROUP BY meter_id",
        bulk::param(backend, 1),
        bulk::param(backend, 2),
        bulk::param(backend, 3),
        bulk::param(backend, 4),
    );
    let mut values: Vec<Value> = vec![
        DEFAULT_CHANNEL.into(),
        source.as_str().into(),
        from.into(),
        to.into(),
    ];
    values.extend(ids.iter().map(|id| Value::from(id.clone())));
    let rows = db
        .conn()
        .query_all(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    let mut out = Vec::new();
    for row in rows {
        let meter_id: String = row.try_get_by_index(0)?;
        let packed: Option<String> = row.try_get_by_index(1)?;
        for item in packed
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|i| !i.is_empty())
        {
            let mut parts = item.split(':');
            let parsed = (|| {
                let start: i64 = parts.next()?.parse().ok()?;
                let seconds: i32 = parts.next()?.parse().ok()?;
                let kwh: f64 = parts.next()?.trim().parse().ok()?;
                Some((start, seconds, kwh))
            })();
            let (start, seconds, kwh) = parsed
                .ok_or_else(|| ApiError::internal(format!("unreadable packed reading `{item}`")))?;
            out.push((
                meter_id.clone(),
                source.as_str().to_owned(),
                start,
                seconds,
                kwh,
            ));
        }
    }
    Ok(out)
}

/// Only the columns the rules need, on `main`.
fn lean_readings() -> sea_orm::Select<interval_reading::Entity> {
    interval_reading::Entity::find()
        .select_only()
        .columns([
            interval_reading::Column::MeterId,
            interval_reading::Column::Source,
            interval_reading::Column::StartTs,
            interval_reading::Column::IntervalSeconds,
            interval_reading::Column::Kwh,
        ])
        .filter(interval_reading::Column::Channel.eq(DEFAULT_CHANNEL))
}

/// (meter, source, start, interval seconds, kWh).
type LeanReading = (String, String, i64, i32, f64);

/// Meters per query and queries at once in [`IntervalService::columns_for`].
const READ_GROUP: usize = 50;
const READ_CONCURRENCY: usize = 2;

/// A device's own readings first, a utility meter's the utility's.
fn preferred_source(m: &meter::Model) -> ReadingSource {
    if m.kind == MeterKind::Device.as_str() {
        ReadingSource::Device
    } else {
        ReadingSource::Utility
    }
}

/// Picks the meter's preferred source and lays its readings out as columns.
fn to_columns(m: &meter::Model, mut rows: Vec<LeanReading>) -> Columns {
    let preferred = preferred_source(m);
    let has_preferred = rows.iter().any(|r| r.1 == preferred.as_str());
    rows.retain(|r| (r.1 == preferred.as_str()) == has_preferred);
    rows.sort_by_key(|r| r.2);
    rows.dedup_by_key(|r| r.2);
    Columns {
        interval_seconds: rows.first().map(|r| r.3 as u32).unwrap_or(3600),
        starts: rows.iter().map(|r| r.2).collect(),
        values: rows.iter().map(|r| r.4).collect(),
    }
}

struct ResolvedMeters {
    by_id: HashMap<String, meter::Model>,
    by_external: HashMap<String, String>,
}

struct ValidReading {
    key: SeriesKey,
    start: i64,
    interval_seconds: i64,
    kwh: f64,
}

impl ValidReading {
    fn values(self) -> Vec<Value> {
        vec![
            self.key.meter_id.into(),
            self.key.source.as_str().into(),
            self.key.channel.into(),
            self.start.into(),
            (self.interval_seconds as i32).into(),
            self.kwh.into(),
        ]
    }
}

/// Runs the row checks; returns the valid readings and the refused rows.
fn check_rows(
    rows: Vec<(usize, Result<RawReading, RowError>)>,
    partner: &str,
    meters: &ResolvedMeters,
    stored: &HashMap<SeriesKey, interval_series::Model>,
    now: i64,
) -> (Vec<ValidReading>, Vec<UploadRowError>) {
    let mut valid = Vec::with_capacity(rows.len());
    let mut errors = Vec::new();
    let mut seen: HashMap<(SeriesKey, i64), usize> = HashMap::new();
    let mut upload_lengths: HashMap<SeriesKey, i64> = HashMap::new();
    for (row, parsed) in rows {
        let reading = match parsed {
            Ok(r) => r,
            Err(error) => {
                errors.push(UploadRowError {
                    row,
                    meter_id: None,
                    external_id: None,
                    start: None,
                    error,
                });
                continue;
            }
        };
        let refuse = |error: RowError, errors: &mut Vec<UploadRowError>| {
            errors.push(UploadRowError {
                row,
                meter_id: reading.meter_id.clone(),
                external_id: reading.external_id.clone(),
                start: (reading.start != i64::MIN).then_some(reading.start),
                error,
            });
        };
        let meter = match resolve(&reading, partner, meters) {
            Ok(m) => m,
            Err(e) => {
                refuse(e, &mut errors);
                continue;
            }
        };
        let facts = MeterFacts {
            kind: MeterKind::parse(&meter.kind).unwrap_or(MeterKind::Device),
            device_type: meter.device_type.as_deref().and_then(DeviceType::parse),
            capacity_kw: meter.capacity_kw,
        };
        let key = SeriesKey {
            meter_id: meter.id.clone(),
            source: reading.source,
            channel: reading.channel.clone(),
        };
        let known_length = stored
            .get(&key)
            .map(|s| i64::from(s.interval_seconds))
            .or_else(|| upload_lengths.get(&key).copied());
        if let Err(e) = check_reading(&reading, &facts, known_length, now) {
            refuse(e, &mut errors);
            continue;
        }
        if let Some(first) = seen.get(&(key.clone(), reading.start)) {
            refuse(
                RowError {
                    code: ReadingErrorCode::DuplicateInUpload,
                    message: format!("the same meter, source, channel and start as row {first}"),
                },
                &mut errors,
            );
            continue;
        }
        seen.insert((key.clone(), reading.start), row);
        upload_lengths.insert(key.clone(), reading.interval_seconds);
        valid.push(ValidReading {
            key,
            start: reading.start,
            interval_seconds: reading.interval_seconds,
            kwh: reading.kwh,
        });
    }
    (valid, errors)
}

fn resolve<'a>(
    r: &RawReading,
    partner: &str,
    meters: &'a ResolvedMeters,
) -> Result<&'a meter::Model, RowError> {
    let unknown = |what: String| RowError {
        code: ReadingErrorCode::UnknownMeter,
        message: what,
    };
    let meter = match (&r.meter_id, &r.external_id) {
        (Some(id), _) => meters
            .by_id
            .get(id)
            .ok_or_else(|| unknown(format!("no meter `{id}`")))?,
        (None, Some(ext)) => meters
            .by_external
            .get(ext)
            .and_then(|id| meters.by_id.get(id))
            .ok_or_else(|| unknown(format!("no meter with external id `{ext}`")))?,
        (None, None) => {
            return Err(RowError {
                code: ReadingErrorCode::MalformedRow,
                message: "give meterId or externalId".into(),
            })
        }
    };
    if meter.partner_id != partner {
        return Err(RowError {
            code: ReadingErrorCode::ForeignMeter,
            message: format!("meter `{}` belongs to another partner", meter.id),
        });
    }
    if let (Some(_), Some(ext)) = (&r.meter_id, &r.external_id) {
        if &meter.external_id != ext {
            return Err(RowError {
                code: ReadingErrorCode::MalformedRow,
                message: format!(
                    "meterId `{}` and externalId `{ext}` name different meters",
                    meter.id
                ),
            });
        }
    }
    Ok(meter)
}

/// The series summary rows for new readings (merged into stored ones by
/// [`SERIES_UPSERT`]).
fn series_rows(fresh: &[ValidReading], now: DateTime<Utc>) -> Vec<Vec<Value>> {
    let mut by_key: BTreeMap<&SeriesKey, (i64, i64, i64, i64)> = BTreeMap::new();
    for v in fresh {
        let e = by_key
            .entry(&v.key)
            .or_insert((v.interval_seconds, v.start, v.start, 0));
        e.1 = e.1.min(v.start);
        e.2 = e.2.max(v.start);
        e.3 += 1;
    }
    by_key
        .into_iter()
        .map(|(key, (len, first, last, count))| {
            vec![
                key.meter_id.clone().into(),
                key.source.as_str().into(),
                key.channel.clone().into(),
                (len as i32).into(),
                first.into(),
                last.into(),
                count.into(),
                now.into(),
            ]
        })
        .collect()
}

const SERIES_UPSERT: &str = "ON CONFLICT (meter_id, source, channel) DO UPDATE SET \
     first_ts = CASE WHEN excluded.first_ts < interval_series.first_ts THEN excluded.first_ts ELSE interval_series.first_ts END, \
     last_ts = CASE WHEN excluded.last_ts > interval_series.last_ts THEN excluded.last_ts ELSE interval_series.last_ts END, \
     reading_count = interval_series.reading_count + excluded.reading_count, \
     updated_at = excluded.updated_at";

async fn recount_series<C: ConnectionTrait>(conn: &C, touched: &[TouchedRange]) -> ApiResult<()> {
    let backend = conn.get_database_backend();
    for t in touched {
        let sql = format!(
            "UPDATE interval_series SET reading_count = (SELECT COUNT(*) FROM interval_readings r \
             WHERE r.meter_id = interval_series.meter_id AND r.source = interval_series.source \
             AND r.channel = interval_series.channel) WHERE meter_id = {}",
            bulk::param(backend, 1)
        );
        conn.execute(Statement::from_sql_and_values(
            backend,
            sql,
            [t.meter_id.clone().into()],
        ))
        .await?;
    }
    Ok(())
}

async fn insert_upload<C: ConnectionTrait>(conn: &C, u: &interval_upload::Model) -> ApiResult<()> {
    use sea_orm::{ActiveModelTrait, IntoActiveModel};
    u.clone()
        .into_active_model()
        .reset_all()
        .insert(conn)
        .await?;
    Ok(())
}

fn touched_ranges<'a>(readings: impl Iterator<Item = &'a ValidReading>) -> Vec<TouchedRange> {
    let mut by_meter: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for v in readings {
        let end = v.start + v.interval_seconds;
        let e = by_meter.entry(&v.key.meter_id).or_insert((v.start, end));
        e.0 = e.0.min(v.start);
        e.1 = e.1.max(end);
    }
    by_meter
        .into_iter()
        .map(|(meter_id, (first_ts, last_ts))| TouchedRange {
            meter_id: meter_id.to_owned(),
            first_ts,
            last_ts,
        })
        .collect()
}

fn series_query(key: &SeriesKey, from: i64, to: i64) -> sea_orm::Select<interval_reading::Entity> {
    interval_reading::Entity::find()
        .filter(interval_reading::Column::MeterId.eq(key.meter_id.clone()))
        .filter(interval_reading::Column::Source.eq(key.source.as_str()))
        .filter(interval_reading::Column::Channel.eq(key.channel.clone()))
        .filter(interval_reading::Column::StartTs.gte(from))
        .filter(interval_reading::Column::StartTs.lt(to))
}

fn check_range(from: i64, to: i64) -> ApiResult<()> {
    if to <= from {
        return Err(ApiError::validation("to", "must be after `from`"));
    }
    if to - from > MAX_READ_DAYS * 86_400 {
        return Err(ApiError::validation(
            "to",
            format!("read at most {MAX_READ_DAYS} days at a time"),
        ));
    }
    Ok(())
}

/// Expected intervals, present ones and gaps of sorted `starts` over `[from, to)`.
pub fn completeness_of(
    key: SeriesKey,
    interval_seconds: Option<i64>,
    starts: &[i64],
    from: i64,
    to: i64,
) -> Completeness {
    let Some(len) = interval_seconds.filter(|l| *l > 0) else {
        return Completeness {
            meter_id: key.meter_id,
            source: key.source,
            channel: key.channel,
            interval_seconds: None,
            expected: 0,
            present: 0,
            gaps: vec![(from, to)],
            gap_count: 1,
        };
    };
    let first = from + (len - from.rem_euclid(len)) % len;
    let expected = if to > first {
        (to - first + len - 1) / len
    } else {
        0
    };
    let mut gaps = Vec::new();
    let mut gap_count = 0;
    let mut cursor = first;
    for &s in starts.iter().chain(std::iter::once(&to)) {
        let s = if s >= to { to } else { s };
        if s > cursor {
            gap_count += 1;
            if gaps.len() < MAX_LISTED_GAPS {
                gaps.push((cursor, s));
            }
        }
        cursor = cursor.max(s + len);
    }
    Completeness {
        meter_id: key.meter_id,
        source: key.source,
        channel: key.channel,
        interval_seconds: Some(len),
        expected,
        present: starts.len() as i64,
        gaps,
        gap_count,
    }
}

/// Unix seconds to a UTC time, for the API.
pub fn to_time(ts: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(ts, 0).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SeriesKey {
        SeriesKey {
            meter_id: "m".into(),
            source: ReadingSource::Device,
            channel: "main".into(),
        }
    }

    #[test]
    fn completeness_finds_gaps_at_the_edges_and_inside() {
        // Hourly over [0, 6h): hours 1, 2 and 4 present.
        let h = 3600;
        let c = completeness_of(key(), Some(h), &[h, 2 * h, 4 * h], 0, 6 * h);
        assert_eq!((c.expected, c.present), (6, 3));
        assert_eq!(c.gaps, vec![(0, h), (3 * h, 4 * h), (5 * h, 6 * h)]);
        let full = completeness_of(key(), Some(h), &[0, h], 0, 2 * h);
        assert!(full.gaps.is_empty());
        let none = completeness_of(key(), None, &[], 0, h);
        assert_eq!(none.gaps, vec![(0, h)]);
    }
}
