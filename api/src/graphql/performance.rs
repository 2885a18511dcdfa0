//! Event performance: runs (versions), per-meter results, on-demand computation.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::pagination::{edges, PageInfo};
use crate::entity::{meter_performance, performance_run};
use crate::services::intervals::to_time;
use crate::services::pagination::PageRequest;
use crate::services::performance::measure::{
    hourly, IntervalResult, MeasureKind, MeterPerformanceStatus,
};
use crate::services::performance::{MeterRowFilter, PerformanceTrigger};

/// The plugin build that computed a result.
#[derive(SimpleObject)]
pub struct PluginUsed {
    pub id: ID,
    pub version: String,
    pub sha256: String,
}

/// Totals over the meters you may see (a partner: its own).
#[derive(SimpleObject)]
pub struct PerformanceSummary {
    pub meters: i64,
    pub measured: i64,
    pub committed_kw: f64,
    /// Sum over meters (missing data counts 0).
    pub delivered_kw: f64,
    /// delivered ÷ committed.
    pub performance_factor: f64,
    pub under_performing: i64,
    /// Meters with missing event readings or too little baseline history.
    pub missing_data: i64,
}

pub struct EventPerformance(pub performance_run::Model);

#[Object]
impl EventPerformance {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.clone())
    }
    /// 1 for the first computation; each recomputation adds one.
    async fn version(&self) -> i32 {
        self.0.version
    }
    /// The version in force (the latest).
    async fn current(&self) -> bool {
        self.0.current
    }
    async fn trigger(&self) -> Result<PerformanceTrigger> {
        Ok(PerformanceTrigger::from_db(&self.0.trigger)?)
    }
    async fn computed_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn duration_ms(&self) -> i64 {
        self.0.duration_ms
    }
    async fn plugin(&self) -> PluginUsed {
        PluginUsed {
            id: ID(self.0.plugin_id.clone()),
            version: self.0.plugin_version.clone(),
            sha256: self.0.plugin_sha256.clone(),
        }
    }
    /// The program parameter version in force at the event.
    async fn parameter_version_id(&self) -> ID {
        ID(self.0.parameter_version_id.clone())
    }
    /// Performance factor below which a meter under-performed.
    async fn threshold(&self) -> f64 {
        self.0.threshold
    }
    async fn summary(&self, ctx: &Context<'_>) -> Result<PerformanceSummary> {
        let s = ctx
            .loaders()?
            .performance_summaries
            .load_one(self.0.id.clone())
            .await?
            .unwrap_or_default();
        Ok(PerformanceSummary {
            meters: s.meters,
            measured: s.measured,
            committed_kw: s.committed_kw,
            delivered_kw: s.delivered_kw,
            performance_factor: s.performance_factor(),
            under_performing: s.under_performing,
            missing_data: s.missing_data,
        })
    }
    /// Per-meter results (Relay pagination, by meter result id).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    async fn meters(
        &self,
        ctx: &Context<'_>,
        filter: Option<MeterPerformanceFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<MeterPerformanceConnection> {
        let page = PageRequest::from_relay(after, before, first, last)?;
        let f = filter.unwrap_or_default();
        let result = ctx
            .services()?
            .performance
            .meter_rows(
                ctx.principal()?,
                &self.0,
                &MeterRowFilter {
                    statuses: f.statuses,
                    under_performing: f.under_performing,
                },
                &page,
            )
            .await?;
        let (edges, page_info) = edges(
            result,
            |r| &r.id,
            |cursor, r| MeterPerformanceEdge {
                cursor,
                node: MeterPerformance(r),
            },
        );
        Ok(MeterPerformanceConnection { edges, page_info })
    }
}

#[derive(InputObject, Default)]
pub struct MeterPerformanceFilter {
    pub statuses: Option<Vec<MeterPerformanceStatus>>,
    pub under_performing: Option<bool>,
}

#[derive(SimpleObject)]
pub struct MeterPerformanceEdge {
    pub cursor: String,
    pub node: MeterPerformance,
}

#[derive(SimpleObject)]
pub struct MeterPerformanceConnection {
    pub edges: Vec<MeterPerformanceEdge>,
    pub page_info: PageInfo,
}

/// One baseline interval of the event.
#[derive(SimpleObject)]
pub struct PerformanceInterval {
    pub start: DateTime<Utc>,
    pub minutes: i32,
    /// Share of the interval inside the event.
    pub covered: f64,
    pub baseline_kw: f64,
    pub actual_kw: f64,
    /// baseline − actual (load) or actual − baseline (device); can be negative.
    pub reduction_kw: f64,
}

/// The event's clock hours (weighted means over each hour's covered part).
#[derive(SimpleObject)]
pub struct HourlyReduction {
    pub start: DateTime<Utc>,
    /// Fraction of the hour inside the event.
    pub covered: f64,
    pub baseline_kw: f64,
    pub actual_kw: f64,
    pub reduction_kw: f64,
}

pub struct MeterPerformance(pub meter_performance::Model);

impl MeterPerformance {
    fn stored_intervals(&self) -> Vec<IntervalResult> {
        serde_json::from_value(self.0.intervals.clone()).unwrap_or_default()
    }
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(v.clone()).unwrap_or_default()
}

#[Object]
impl MeterPerformance {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.clone())
    }
    async fn meter_id(&self) -> ID {
        ID(self.0.meter_id.clone())
    }
    async fn meter(&self, ctx: &Context<'_>) -> Result<Option<super::meters::Meter>> {
        Ok(ctx
            .loaders()?
            .meters
            .load_one(self.0.meter_id.clone())
            .await?
            .map(super::meters::Meter))
    }
    async fn dispatch_id(&self) -> ID {
        ID(self.0.dispatch_id.clone())
    }
    async fn status(&self) -> Result<MeterPerformanceStatus> {
        Ok(MeterPerformanceStatus::from_db(&self.0.status)?)
    }
    async fn committed_kw(&self) -> f64 {
        self.0.committed_kw
    }
    /// Mean reduction over the event; null when not measured.
    async fn delivered_kw(&self) -> Option<f64> {
        self.0.delivered_kw
    }
    async fn delivered_kwh(&self) -> Option<f64> {
        self.0.delivered_kwh
    }
    /// min(1, delivered ÷ committed), never below 0.
    async fn performance_factor(&self) -> Option<f64> {
        self.0.performance_factor
    }
    /// Below the threshold, or not measured.
    async fn under_performing(&self) -> bool {
        self.0.under_performing
    }
    async fn baseline_method(&self) -> Option<&str> {
        self.0.baseline_method.as_deref()
    }
    async fn measure(&self) -> Result<Option<MeasureKind>> {
        Ok(self
            .0
            .measure
            .as_deref()
            .map(MeasureKind::from_db)
            .transpose()?)
    }
    /// Days the baseline was built from (local dates).
    async fn baseline_days(&self) -> Vec<String> {
        strings(&self.0.days_used)
    }
    async fn notes(&self) -> Vec<String> {
        strings(&self.0.notes)
    }
    /// Why the meter was not measured.
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }
    /// Baseline, actual and reduction for each baseline interval.
    async fn intervals(&self) -> Vec<PerformanceInterval> {
        self.stored_intervals()
            .into_iter()
            .map(|i| PerformanceInterval {
                start: to_time(i.start),
                minutes: (i.seconds / 60) as i32,
                covered: i.weight,
                baseline_kw: i.baseline_kw,
                actual_kw: i.actual_kw,
                reduction_kw: i.reduction_kw,
            })
            .collect()
    }
    /// The same per clock hour.
    async fn hourly(&self) -> Vec<HourlyReduction> {
        hourly(&self.stored_intervals())
            .into_iter()
            .map(
                |(start, covered, baseline_kw, actual_kw, reduction_kw)| HourlyReduction {
                    start: to_time(start),
                    covered,
                    baseline_kw,
                    actual_kw,
                    reduction_kw,
                },
            )
            .collect()
    }
}

#[derive(Default)]
pub struct PerformanceQuery;

#[Object]
impl PerformanceQuery {
    /// An event's performance: the current version, or the one asked for;
    /// null until computed.
    async fn event_performance(
        &self,
        ctx: &Context<'_>,
        event_id: ID,
        version: Option<i32>,
    ) -> Result<Option<EventPerformance>> {
        let runs = ctx
            .services()?
            .performance
            .runs(ctx.principal()?, &event_id, version)
            .await?;
        Ok(runs.into_iter().next().map(EventPerformance))
    }

    /// Every computation of an event, newest first.
    async fn event_performance_versions(
        &self,
        ctx: &Context<'_>,
        event_id: ID,
    ) -> Result<Vec<EventPerformance>> {
        let runs = ctx
            .services()?
            .performance
            .runs(ctx.principal()?, &event_id, None)
            .await?;
        Ok(runs.into_iter().map(EventPerformance).collect())
    }

    /// A meter's results in the events that called it (current versions),
    /// newest first.
    async fn meter_performances(
        &self,
        ctx: &Context<'_>,
        meter_id: ID,
        #[graphql(default = 50)] limit: i32,
    ) -> Result<Vec<MeterPerformance>> {
        let rows = ctx
            .services()?
            .performance
            .of_meter(ctx.principal()?, &meter_id, limit.clamp(1, 500) as u64)
            .await?;
        Ok(rows.into_iter().map(MeterPerformance).collect())
    }
}

#[derive(Default)]
pub struct PerformanceMutation;

#[Object]
impl PerformanceMutation {
    /// Computes a completed event's performance now, as a new version (ADMIN
    /// or ANALYST), and its preliminary settlement.
    async fn compute_event_performance(
        &self,
        ctx: &Context<'_>,
        event_id: ID,
    ) -> Result<EventPerformance> {
        let run = ctx
            .services()?
            .performance
            .compute_on_demand(ctx.principal()?, &event_id)
            .await?;
        Ok(EventPerformance(run))
    }
}
