//! Interval data: uploads (list or CSV), reads, roll-ups, completeness and
//! corrections.

use async_graphql::{Context, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::pagination::{edges, PageInfo};
use crate::domain::interval::{
    csv, ReadingErrorCode, ReadingInput, ReadingSource, DEFAULT_CHANNEL,
};
use crate::entity::{interval_correction, interval_series, interval_upload};
use crate::error::ApiError;
use crate::services::intervals::{
    to_time, SeriesKey, UploadFormat, UploadMode, UploadOutcome, UploadRowError, UploadStatus,
};
use crate::services::pagination::PageRequest;

pub struct IntervalUpload(pub interval_upload::Model);

#[Object]
impl IntervalUpload {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn partner_id(&self) -> ID {
        ID(self.0.partner_id.clone())
    }
    async fn format(&self) -> Result<UploadFormat> {
        Ok(UploadFormat::from_db(&self.0.format)?)
    }
    async fn status(&self) -> Result<UploadStatus> {
        Ok(UploadStatus::from_db(&self.0.status)?)
    }
    /// Rows in the upload.
    async fn received(&self) -> i64 {
        self.0.received
    }
    /// New readings stored.
    async fn inserted(&self) -> i64 {
        self.0.inserted
    }
    /// Stored readings whose value changed (the old value is kept, see `readingCorrections`).
    async fn corrected(&self) -> i64 {
        self.0.corrected
    }
    /// Readings identical to what was stored: nothing written.
    async fn unchanged(&self) -> i64 {
        self.0.unchanged
    }
    /// Rows refused by validation.
    async fn rejected(&self) -> i64 {
        self.0.rejected
    }
    /// Earliest and latest interval start among the valid rows.
    async fn first_start(&self) -> Option<DateTime<Utc>> {
        self.0.first_ts.map(to_time)
    }
    async fn last_start(&self) -> Option<DateTime<Utc>> {
        self.0.last_ts.map(to_time)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A refused row.
#[derive(SimpleObject)]
pub struct ReadingError {
    /// Index in `readings` (0-based) or line of the CSV file (1-based, header = 1).
    pub row: i32,
    pub meter_id: Option<ID>,
    pub external_id: Option<String>,
    pub start: Option<DateTime<Utc>>,
    pub code: ReadingErrorCode,
    pub message: String,
}

impl From<UploadRowError> for ReadingError {
    fn from(e: UploadRowError) -> Self {
        ReadingError {
            row: e.row as i32,
            meter_id: e.meter_id.map(ID),
            external_id: e.external_id,
            start: e.start.map(to_time),
            code: e.error.code,
            message: e.error.message,
        }
    }
}

#[derive(SimpleObject)]
pub struct IntervalUploadResult {
    pub upload: IntervalUpload,
    /// The first 1,000 refused rows in row order; `errorCount` counts all.
    pub errors: Vec<ReadingError>,
    pub error_count: i32,
}

impl From<UploadOutcome> for IntervalUploadResult {
    fn from(o: UploadOutcome) -> Self {
        IntervalUploadResult {
            upload: IntervalUpload(o.upload),
            errors: o.errors.into_iter().map(ReadingError::from).collect(),
            error_count: o.error_count as i32,
        }
    }
}

#[derive(SimpleObject)]
pub struct IntervalReading {
    pub start: DateTime<Utc>,
    pub interval_minutes: i32,
    pub kwh: f64,
    /// Mean power over the interval.
    pub kw: f64,
}

#[derive(SimpleObject)]
pub struct HourlyReading {
    pub start: DateTime<Utc>,
    /// Sum of the hour's intervals.
    pub kwh: f64,
    pub intervals: i32,
    pub expected_intervals: i32,
    /// Every interval of the hour is present.
    pub complete: bool,
}

#[derive(SimpleObject)]
pub struct Gap {
    pub from: DateTime<Utc>,
    /// Exclusive.
    pub to: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct DataCompleteness {
    pub meter_id: ID,
    pub source: ReadingSource,
    pub channel: String,
    /// The series' interval length; null when the meter has no such series.
    pub interval_minutes: Option<i32>,
    pub expected_intervals: i64,
    pub present_intervals: i64,
    /// present ÷ expected (0 when nothing is expected).
    pub ratio: f64,
    /// The first 100 gaps; `gapCount` counts all.
    pub gaps: Vec<Gap>,
    pub gap_count: i32,
}

pub struct IntervalSeries(pub interval_series::Model);

#[Object]
impl IntervalSeries {
    async fn source(&self) -> Result<ReadingSource> {
        Ok(ReadingSource::from_db(&self.0.source)?)
    }
    async fn channel(&self) -> &str {
        &self.0.channel
    }
    async fn interval_minutes(&self) -> i32 {
        self.0.interval_seconds / 60
    }
    async fn first_start(&self) -> DateTime<Utc> {
        to_time(self.0.first_ts)
    }
    async fn last_start(&self) -> DateTime<Utc> {
        to_time(self.0.last_ts)
    }
    async fn reading_count(&self) -> i64 {
        self.0.reading_count
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct ReadingCorrection(pub interval_correction::Model);

#[Object]
impl ReadingCorrection {
    async fn meter_id(&self) -> ID {
        ID(self.0.meter_id.clone())
    }
    async fn source(&self) -> Result<ReadingSource> {
        Ok(ReadingSource::from_db(&self.0.source)?)
    }
    async fn channel(&self) -> &str {
        &self.0.channel
    }
    async fn start(&self) -> DateTime<Utc> {
        to_time(self.0.start_ts)
    }
    async fn previous_kwh(&self) -> f64 {
        self.0.previous_kwh
    }
    async fn kwh(&self) -> f64 {
        self.0.kwh
    }
    /// The upload that made the correction.
    async fn upload_id(&self) -> ID {
        ID(self.0.upload_id.clone())
    }
    async fn corrected_at(&self) -> DateTime<Utc> {
        self.0.corrected_at
    }
}

#[derive(SimpleObject)]
pub struct IntervalUploadEdge {
    pub cursor: String,
    pub node: IntervalUpload,
}

#[derive(SimpleObject)]
pub struct IntervalUploadConnection {
    pub edges: Vec<IntervalUploadEdge>,
    pub page_info: PageInfo,
}

fn series_key(meter_id: ID, source: Option<ReadingSource>, channel: Option<String>) -> SeriesKey {
    SeriesKey {
        meter_id: meter_id.0,
        source: source.unwrap_or(ReadingSource::Device),
        channel: channel.unwrap_or_else(|| DEFAULT_CHANNEL.into()),
    }
}

#[derive(Default)]
pub struct IntervalQuery;

#[Object]
impl IntervalQuery {
    /// Readings of one meter's series in `[from, to)` (at most 400 days),
    /// oldest first. Source defaults to `DEVICE`, channel to `main`.
    async fn interval_readings(
        &self,
        ctx: &Context<'_>,
        meter_id: ID,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        source: Option<ReadingSource>,
        channel: Option<String>,
    ) -> Result<Vec<IntervalReading>> {
        let key = series_key(meter_id, source, channel);
        let rows = ctx
            .services()?
            .intervals
            .readings(ctx.principal()?, &key, from.timestamp(), to.timestamp())
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| IntervalReading {
                start: to_time(r.start_ts),
                interval_minutes: r.interval_seconds / 60,
                kwh: r.kwh,
                kw: r.kwh * 3600.0 / f64::from(r.interval_seconds.max(1)),
            })
            .collect())
    }

    /// Hourly sums of one meter's series in `[from, to)`.
    async fn hourly_readings(
        &self,
        ctx: &Context<'_>,
        meter_id: ID,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        source: Option<ReadingSource>,
        channel: Option<String>,
    ) -> Result<Vec<HourlyReading>> {
        let key = series_key(meter_id, source, channel);
        let rows = ctx
            .services()?
            .intervals
            .hourly(ctx.principal()?, &key, from.timestamp(), to.timestamp())
            .await?;
        Ok(rows
            .into_iter()
            .map(|h| HourlyReading {
                start: to_time(h.start),
                kwh: h.kwh,
                intervals: h.intervals as i32,
                expected_intervals: h.expected_intervals as i32,
                complete: h.intervals >= h.expected_intervals,
            })
            .collect())
    }

    /// Expected and present intervals and the gaps, per meter (at most 100).
    async fn data_completeness(
        &self,
        ctx: &Context<'_>,
        meter_ids: Vec<ID>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        source: Option<ReadingSource>,
        channel: Option<String>,
    ) -> Result<Vec<DataCompleteness>> {
        let ids: Vec<String> = meter_ids.into_iter().map(|i| i.0).collect();
        let rows = ctx
            .services()?
            .intervals
            .completeness(
                ctx.principal()?,
                &ids,
                source.unwrap_or(ReadingSource::Device),
                channel.as_deref().unwrap_or(DEFAULT_CHANNEL),
                from.timestamp(),
                to.timestamp(),
            )
            .await?;
        Ok(rows
            .into_iter()
            .map(|c| DataCompleteness {
                meter_id: ID(c.meter_id),
                source: c.source,
                channel: c.channel,
                interval_minutes: c.interval_seconds.map(|s| (s / 60) as i32),
                expected_intervals: c.expected,
                present_intervals: c.present,
                ratio: if c.expected > 0 {
                    c.present as f64 / c.expected as f64
                } else {
                    0.0
                },
                gaps: c
                    .gaps
                    .into_iter()
                    .map(|(f, t)| Gap {
                        from: to_time(f),
                        to: to_time(t),
                    })
                    .collect(),
                gap_count: c.gap_count as i32,
            })
            .collect())
    }

    /// Corrected readings of a meter whose intervals start in `[from, to)`,
    /// newest first (at most 1,000).
    async fn reading_corrections(
        &self,
        ctx: &Context<'_>,
        meter_id: ID,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<ReadingCorrection>> {
        let rows = ctx
            .services()?
            .intervals
            .corrections(
                ctx.principal()?,
                &meter_id,
                from.timestamp(),
                to.timestamp(),
            )
            .await?;
        Ok(rows.into_iter().map(ReadingCorrection).collect())
    }

    /// Uploads, newest first (Relay pagination).
    async fn interval_uploads(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<IntervalUploadConnection> {
        let page = PageRequest::from_relay(after, before, first, last)?;
        let result = ctx
            .services()?
            .intervals
            .uploads(
                ctx.principal()?,
                partner_id.as_ref().map(|p| p.as_str()),
                &page,
            )
            .await?;
        let (edges, page_info) = edges(
            result,
            |u| &u.id,
            |cursor, u| IntervalUploadEdge {
                cursor,
                node: IntervalUpload(u),
            },
        );
        Ok(IntervalUploadConnection { edges, page_info })
    }
}

#[derive(Default)]
pub struct IntervalMutation;

#[Object]
impl IntervalMutation {
    /// Stores readings for many meters (at most 50,000 per call). Same reading
    /// twice is stored once; a changed value is a correction. With `atomic`
    /// (the default) one invalid row rejects the whole upload; otherwise the
    /// valid rows are stored and the invalid ones listed. `dryRun` checks and
    /// counts (inserted/corrected/unchanged as they would be) without writing.
    async fn upload_intervals(
        &self,
        ctx: &Context<'_>,
        readings: Vec<ReadingInput>,
        #[graphql(default = true)] atomic: bool,
        #[graphql(default = false)] dry_run: bool,
        partner_id: Option<ID>,
    ) -> Result<IntervalUploadResult> {
        let rows = readings
            .into_iter()
            .enumerate()
            .map(|(i, r)| (i, Ok(r.into())))
            .collect();
        let outcome = ctx
            .services()?
            .intervals
            .upload(
                ctx.principal()?,
                partner_id.as_ref().map(|p| p.as_str()),
                rows,
                UploadFormat::Graphql,
                UploadMode { atomic, dry_run },
            )
            .await?;
        Ok(outcome.into())
    }

    /// The same from a CSV file: a header row naming `meter_id` or
    /// `external_id`, `start`, `interval_minutes`, `kwh` and optionally
    /// `channel`, `source` (see docs/intervals.md). Errors name file lines.
    async fn upload_intervals_csv(
        &self,
        ctx: &Context<'_>,
        csv: String,
        #[graphql(default = true)] atomic: bool,
        #[graphql(default = false)] dry_run: bool,
        partner_id: Option<ID>,
    ) -> Result<IntervalUploadResult> {
        let rows = csv::parse(&csv).map_err(|m| ApiError::validation("csv", m))?;
        let outcome = ctx
            .services()?
            .intervals
            .upload(
                ctx.principal()?,
                partner_id.as_ref().map(|p| p.as_str()),
                rows,
                UploadFormat::Csv,
                UploadMode { atomic, dry_run },
            )
            .await?;
        Ok(outcome.into())
    }
}
