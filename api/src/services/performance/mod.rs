//! Event performance: for every meter an event called, the program plugin's
//! baseline over the event, the actual readings, the reduction per interval,
//! delivered kW and kWh, the performance factor; per event the totals and the
//! meters that under-performed or lacked data.
//!
//! A computation is a *run*: runs are versioned per event and never changed,
//! the latest is current, and each records the plugin (version and content
//! hash) and the parameter version that produced it. Runs start when an event
//! completes, when late readings arrive for a computed event (both through the
//! durable [`jobs`] queue) and on demand.
//!
//! Meters are processed in batches: the batch's readings are read in one
//! query, its baselines computed in one plugin call on a blocking thread while
//! the next batch is read, and all rows written in bulk in one transaction.

pub mod jobs;
pub mod measure;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sea_orm::{
    sea_query::Expr, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Value,
};
use serde_json::json;

use self::measure::{measure, MeterPerformanceStatus, Outcome};
use super::bulk::{self, OnConflict};
use super::intervals::{Columns, IntervalService};
use super::pagination::{Page, PageRequest};
use super::plugins::PluginService;
use super::programs::ProgramService;
use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::event::EventStatus;
use crate::domain::{string_enum, Role};
use crate::entity::{dispatch, event, meter, meter_performance, performance_run, program};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::rules::{convert, wit, PluginError};

string_enum! {
    /// Why a performance run happened.
    pub enum PerformanceTrigger {
        EventCompleted => "EVENT_COMPLETED",
        /// Readings arrived or changed after an earlier run.
        LateData => "LATE_DATA",
        OnDemand => "ON_DEMAND",
    }
}

/// Factor below which a meter under-performs when the program has no
/// `performance_threshold` parameter.
pub const DEFAULT_THRESHOLD: f64 = 0.8;
/// Days of readings before the event day given to plugins when the program
/// names no lookback parameter.
pub const DEFAULT_LOOKBACK_DAYS: i64 = 45;
/// Parameters that name a baseline lookback, in days.
const LOOKBACK_PARAMETERS: [&str; 3] = [
    "baseline_lookback_days",
    "cbl_max_lookback_days",
    "cbl_lookback_days",
];

#[derive(Debug, Clone)]
pub struct PerformanceConfig {
    /// Meters per plugin call.
    pub batch_meters: usize,
}

impl Default for PerformanceConfig {
    fn default() -> Self {
        Self { batch_meters: 500 }
    }
}

/// What runs after each stored run of the queue or on demand (the
/// preliminary settlement); set once when the services are wired.
pub type AfterRun = Arc<
    dyn Fn(performance_run::Model) -> futures::future::BoxFuture<'static, ApiResult<()>>
        + Send
        + Sync,
>;

#[derive(Clone)]
pub struct PerformanceService {
    db: Db,
    programs: ProgramService,
    plugins: PluginService,
    intervals: IntervalService,
    config: PerformanceConfig,
    after_run: Arc<std::sync::OnceLock<AfterRun>>,
}

/// Totals over the meters a principal may see.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub meters: i64,
    pub measured: i64,
    pub committed_kw: f64,
    pub delivered_kw: f64,
    pub under_performing: i64,
    pub missing_data: i64,
}

impl Summary {
    /// Delivered ÷ committed over the meters (0 without commitment).
    pub fn performance_factor(&self) -> f64 {
        if self.committed_kw > 0.0 {
            (self.delivered_kw / self.committed_kw).max(0.0)
        } else {
            0.0
        }
    }
}

/// Filters of a run's meter rows.
#[derive(Debug, Clone, Default)]
pub struct MeterRowFilter {
    pub statuses: Option<Vec<MeterPerformanceStatus>>,
    pub under_performing: Option<bool>,
}

impl PerformanceService {
    pub fn new(
        db: Db,
        programs: ProgramService,
        plugins: PluginService,
        intervals: IntervalService,
        config: PerformanceConfig,
    ) -> Self {
        Self {
            db,
            programs,
            plugins,
            intervals,
            config,
            after_run: Arc::new(std::sync::OnceLock::new()),
        }
    }

    pub fn set_after_run(&self, hook: AfterRun) {
        let _ = self.after_run.set(hook);
    }

    /// Computes a run, then the step that follows it (settlement). A failing
    /// follow-up is logged; the run stands.
    pub async fn run_and_follow(
        &self,
        event_id: &str,
        trigger: PerformanceTrigger,
        requested_by: &str,
    ) -> ApiResult<performance_run::Model> {
        let run = self.compute(event_id, trigger, requested_by).await?;
        if let Some(hook) = self.after_run.get() {
            if let Err(e) = hook(run.clone()).await {
                tracing::warn!(event = %event_id, error = %e, "the step after performance failed");
            }
        }
        Ok(run)
    }

    /// Computes a completed event's performance now (ADMIN or ANALYST).
    pub async fn compute_on_demand(
        &self,
        principal: &Principal,
        event_id: &str,
    ) -> ApiResult<performance_run::Model> {
        principal.require(&[Role::Admin, Role::Analyst])?;
        self.run_and_follow(event_id, PerformanceTrigger::OnDemand, &principal.key_id)
            .await
    }

    /// Computes and stores a new run for a completed event.
    pub async fn compute(
        &self,
        event_id: &str,
        trigger: PerformanceTrigger,
        requested_by: &str,
    ) -> ApiResult<performance_run::Model> {
        let started = Instant::now();
        let event = event::Entity::find_by_id(event_id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("event", event_id))?;
        if event.status != EventStatus::Completed.as_str() {
            return Err(ApiError::Conflict(format!(
                "event {event_id} is {}; performance is measured once it has completed",
                event.status
            )));
        }
        let program = self.programs.get(&event.program_id).await?;
        let active = self.plugins.active_for(&program.id).await?;
        let parameters = self
            .programs
            .parameters_at(&program.id, event.start_at)
            .await?;
        let params_json = super::eligibility::parameter_object(&program, &parameters)?;
        let params = super::eligibility::parameter_map(&parameters)?;
        let threshold = params
            .get("performance_threshold")
            .and_then(|v| v.as_f64())
            .unwrap_or(DEFAULT_THRESHOLD);
        let lookback_days = LOOKBACK_PARAMETERS
            .iter()
            .filter_map(|k| params.get(*k).and_then(|v| v.as_i64()))
            .max()
            .unwrap_or(DEFAULT_LOOKBACK_DAYS);

        let dispatches = dispatch::Entity::find()
            .filter(dispatch::Column::EventId.eq(event_id))
            .order_by_asc(dispatch::Column::MeterId)
            .all(self.db.conn())
            .await?;
        let meter_ids: Vec<String> = dispatches.iter().map(|d| d.meter_id.clone()).collect();
        let meters = super::meters::any_by_ids(&self.db, &meter_ids).await?;
        // One day more than the lookback, for local days that start before
        // the UTC day and for adjustment windows on the event day.
        let start = event.start_at.timestamp();
        let end = event.end_at.timestamp();
        let from = start - (lookback_days + 2) * 86_400;
        let event_days = self.event_days(&meter_ids, &program, from, &event).await?;
        let peak_hours = peak_hours(&params);

        let window = wit::EventWindow {
            event_id: event.id.clone(),
            start,
            end,
            energy_price: event.energy_price.clone(),
        };
        let shared = Arc::new(BatchContext {
            host: self.plugins.host().clone(),
            plugin: active.plugin.clone(),
            params: params_json,
            window,
            threshold,
        });
        let batches: Vec<Vec<dispatch::Model>> = dispatches
            .chunks(self.config.batch_meters.max(1))
            .map(|c| c.to_vec())
            .collect();
        let meters = Arc::new(meters);
        let event_days = Arc::new(event_days);
        let peak_hours = Arc::new(peak_hours);
        let outcomes: Vec<Vec<(String, Outcome)>> = futures::stream::iter(batches)
            .map(|batch| {
                let shared = shared.clone();
                let meters = meters.clone();
                let event_days = event_days.clone();
                let peak_hours = peak_hours.clone();
                let intervals = self.intervals.clone();
                async move {
                    let batch_meters: Vec<&meter::Model> = batch
                        .iter()
                        .filter_map(|d| meters.get(&d.meter_id))
                        .collect();
                    let extra: HashMap<String, Vec<i64>> = batch_meters
                        .iter()
                        .filter_map(|m| {
                            let zone = m.load_zone.as_ref()?;
                            Some((m.id.clone(), peak_hours.get(zone)?.clone()))
                        })
                        .collect();
                    let read_started = Instant::now();
                    let readings = intervals
                        .columns_for(&batch_meters, from, end, &extra)
                        .await?;
                    let read_ms = read_started.elapsed().as_millis();
                    let work: Vec<MeterWork> = batch
                        .iter()
                        .filter_map(|d| {
                            let m = meters.get(&d.meter_id)?;
                            Some(MeterWork {
                                meter: convert::meter(m),
                                committed_kw: d.committed_kw,
                                readings: readings.get(&m.id).cloned().unwrap_or_default(),
                                event_days: event_days.get(&m.id).cloned().unwrap_or_default(),
                            })
                        })
                        .collect();
                    let ids: Vec<String> = work.iter().map(|w| w.meter.id.clone()).collect();
                    let rules_started = Instant::now();
                    let results = tokio::task::spawn_blocking(move || shared.run(work))
                        .await
                        .map_err(ApiError::internal)??;
                    tracing::debug!(
                        meters = ids.len(),
                        read_ms,
                        rules_ms = rules_started.elapsed().as_millis(),
                        "performance batch"
                    );
                    Ok::<_, ApiError>(ids.into_iter().zip(results).collect())
                }
            })
            .buffered(2)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<ApiResult<_>>()?;
        let outcomes: HashMap<String, Outcome> = outcomes.into_iter().flatten().collect();

        let run = self
            .store(
                &event,
                &program,
                &dispatches,
                outcomes,
                RunFacts {
                    trigger,
                    plugin_id: active.record_id.clone(),
                    plugin_version: active.plugin.info.plugin_version.clone(),
                    plugin_sha256: active.plugin.sha256.clone(),
                    parameter_version_id: parameters.id.clone(),
                    threshold,
                    requested_by: requested_by.to_owned(),
                    started,
                },
            )
            .await?;
        tracing::info!(
            event = %event.id,
            program = %program.code,
            version = run.version,
            meters = run.meter_count,
            delivered_kw = run.delivered_kw,
            ms = run.duration_ms,
            "event performance computed"
        );
        Ok(run)
    }

    /// Local dates of the other events (any program) that called each meter
    /// in `[from, event start)`: never like days for a baseline.
    async fn event_days(
        &self,
        meter_ids: &[String],
        program: &program::Model,
        from: i64,
        event: &event::Model,
    ) -> ApiResult<HashMap<String, Vec<String>>> {
        let from = DateTime::from_timestamp(from, 0).unwrap_or_default();
        let earlier: HashMap<String, DateTime<Utc>> = event::Entity::find()
            .select_only()
            .column(event::Column::Id)
            .column(event::Column::StartAt)
            .filter(event::Column::StartAt.gte(from))
            .filter(event::Column::StartAt.lt(event.start_at))
            .filter(event::Column::Status.ne(EventStatus::Cancelled.as_str()))
            .into_tuple::<(String, DateTime<Utc>)>()
            .all(self.db.conn())
            .await?
            .into_iter()
            .collect();
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        if earlier.is_empty() {
            return Ok(out);
        }
        let event_ids: Vec<String> = earlier.keys().cloned().collect();
        for chunk in meter_ids.chunks(500) {
            let rows: Vec<(String, String)> = dispatch::Entity::find()
                .select_only()
                .column(dispatch::Column::MeterId)
                .column(dispatch::Column::EventId)
                .filter(dispatch::Column::MeterId.is_in(chunk.iter().cloned()))
                .filter(dispatch::Column::EventId.is_in(event_ids.iter().cloned()))
                .into_tuple()
                .all(self.db.conn())
                .await?;
            for (meter_id, event_id) in rows {
                if let Some(at) = earlier.get(&event_id) {
                    let day = super::eligibility::local_date(&program.timezone, *at).to_string();
                    let days = out.entry(meter_id).or_default();
                    if !days.contains(&day) {
                        days.push(day);
                    }
                }
            }
        }
        Ok(out)
    }

    async fn store(
        &self,
        event: &event::Model,
        program: &program::Model,
        dispatches: &[dispatch::Model],
        mut outcomes: HashMap<String, Outcome>,
        facts: RunFacts,
    ) -> ApiResult<performance_run::Model> {
        let run_id = ids::new_id("prf");
        let mut rows = Vec::with_capacity(dispatches.len());
        let mut summary = Summary::default();
        for d in dispatches {
            let outcome = outcomes.remove(&d.meter_id).unwrap_or_else(|| {
                Outcome::not_measured(
                    MeterPerformanceStatus::Failed,
                    "the meter no longer exists".into(),
                )
            });
            summary.add(d.committed_kw, &outcome);
            rows.push(vec![
                ids::new_id("mpf").into(),
                run_id.clone().into(),
                event.id.clone().into(),
                d.meter_id.clone().into(),
                d.partner_id.clone().into(),
                d.id.clone().into(),
                outcome.status.as_str().into(),
                d.committed_kw.into(),
                outcome.delivered_kw.into(),
                outcome.delivered_kwh.into(),
                outcome.performance_factor.into(),
                outcome.under_performing.into(),
                outcome.baseline_method.clone().into(),
                outcome.measure.map(|m| m.as_str().to_owned()).into(),
                Value::Json(Some(Box::new(json!(outcome.days_used)))),
                Value::Json(Some(Box::new(json!(outcome.notes)))),
                Value::Json(Some(Box::new(serde_json::to_value(&outcome.intervals)?))),
                outcome.error.clone().into(),
            ]);
        }
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        let latest: Option<i32> = performance_run::Entity::find()
            .select_only()
            .column_as(performance_run::Column::Version.max(), "v")
            .filter(performance_run::Column::EventId.eq(event.id.clone()))
            .into_tuple::<Option<i32>>()
            .one(&*txn)
            .await?
            .flatten();
        performance_run::Entity::update_many()
            .col_expr(performance_run::Column::Current, Expr::value(false))
            .filter(performance_run::Column::EventId.eq(event.id.clone()))
            .exec(&*txn)
            .await?;
        let run = performance_run::Model {
            id: run_id,
            event_id: event.id.clone(),
            program_id: program.id.clone(),
            version: latest.unwrap_or(0) + 1,
            current: true,
            trigger: facts.trigger.as_str().into(),
            plugin_id: facts.plugin_id,
            plugin_version: facts.plugin_version,
            plugin_sha256: facts.plugin_sha256,
            parameter_version_id: facts.parameter_version_id,
            threshold: facts.threshold,
            meter_count: summary.meters as i32,
            committed_kw: summary.committed_kw,
            delivered_kw: summary.delivered_kw,
            under_performing_count: summary.under_performing as i32,
            missing_data_count: summary.missing_data as i32,
            requested_by: facts.requested_by,
            duration_ms: 0,
            created_at: now,
        };
        let mut run = run;
        run.duration_ms = facts.started.elapsed().as_millis() as i64;
        {
            use sea_orm::{ActiveModelTrait, IntoActiveModel};
            run.clone()
                .into_active_model()
                .reset_all()
                .insert(&*txn)
                .await?;
        }
        // Partners hear of it (subscriptions and webhooks) with this commit.
        super::events::record_change(
            &*txn,
            event,
            program,
            crate::domain::event::EventChangeKind::Measured,
            json!({ "performanceVersion": run.version, "trigger": run.trigger, "runId": run.id }),
            &Principal {
                key_id: run.requested_by.clone(),
                role: Role::Admin,
                partner_id: None,
            },
        )
        .await?;
        bulk::insert(
            &*txn,
            "meter_performances",
            &[
                "id",
                "run_id",
                "event_id",
                "meter_id",
                "partner_id",
                "dispatch_id",
                "status",
                "committed_kw",
                "delivered_kw",
                "delivered_kwh",
                "performance_factor",
                "under_performing",
                "baseline_method",
                "measure",
                "days_used",
                "notes",
                "intervals",
                "error",
            ],
            rows,
            OnConflict::Fail,
        )
        .await?;
        txn.commit().await?;
        Ok(run)
    }

    /// The event is visible to the principal (partners: it called their meters).
    async fn check_event(&self, principal: &Principal, event_id: &str) -> ApiResult<Tenant> {
        principal.require(&[Role::Partner, Role::Admin, Role::Analyst])?;
        let tenant = match principal.role {
            Role::Analyst => Tenant::All,
            _ => principal.tenant(None)?,
        };
        let exists = event::Entity::find_by_id(event_id.to_owned())
            .one(self.db.conn())
            .await?
            .is_some();
        let visible = exists
            && match &tenant {
                Tenant::All => true,
                Tenant::Partner(p) => {
                    dispatch::Entity::find()
                        .filter(dispatch::Column::EventId.eq(event_id))
                        .filter(dispatch::Column::PartnerId.eq(p.clone()))
                        .count(self.db.conn())
                        .await?
                        > 0
                }
            };
        if visible {
            Ok(tenant)
        } else {
            Err(ApiError::not_found("event", event_id))
        }
    }

    /// An event's runs, newest first; `version` picks one.
    pub async fn runs(
        &self,
        principal: &Principal,
        event_id: &str,
        version: Option<i32>,
    ) -> ApiResult<Vec<performance_run::Model>> {
        self.check_event(principal, event_id).await?;
        let mut query =
            performance_run::Entity::find().filter(performance_run::Column::EventId.eq(event_id));
        if let Some(v) = version {
            query = query.filter(performance_run::Column::Version.eq(v));
        }
        Ok(query
            .order_by_desc(performance_run::Column::Version)
            .all(self.db.conn())
            .await?)
    }

    /// The current run of each event (for a loader; visibility is the caller's).
    pub async fn current_runs(
        &self,
        event_ids: &[String],
    ) -> ApiResult<HashMap<String, performance_run::Model>> {
        Ok(performance_run::Entity::find()
            .filter(performance_run::Column::EventId.is_in(event_ids.iter().cloned()))
            .filter(performance_run::Column::Current.eq(true))
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|r| (r.event_id.clone(), r))
            .collect())
    }

    /// Totals of runs over the meters the tenant may see.
    pub async fn summaries(
        &self,
        tenant: &Tenant,
        run_ids: &[String],
    ) -> ApiResult<HashMap<String, Summary>> {
        let mut query = meter_performance::Entity::find()
            .select_only()
            .column(meter_performance::Column::RunId)
            .column(meter_performance::Column::Status)
            .column(meter_performance::Column::CommittedKw)
            .column(meter_performance::Column::DeliveredKw)
            .column(meter_performance::Column::UnderPerforming)
            .filter(meter_performance::Column::RunId.is_in(run_ids.iter().cloned()));
        if let Tenant::Partner(p) = tenant {
            query = query.filter(meter_performance::Column::PartnerId.eq(p.clone()));
        }
        let rows: Vec<(String, String, f64, Option<f64>, bool)> =
            query.into_tuple().all(self.db.conn()).await?;
        let mut out: HashMap<String, Summary> = HashMap::new();
        for (run, status, committed, delivered, under) in rows {
            let s = out.entry(run).or_default();
            s.meters += 1;
            s.committed_kw += committed;
            s.delivered_kw += delivered.unwrap_or(0.0);
            if status == MeterPerformanceStatus::Measured.as_str() {
                s.measured += 1;
            } else if is_missing(&status) {
                s.missing_data += 1;
            }
            if under {
                s.under_performing += 1;
            }
        }
        Ok(out)
    }

    /// A run's meter rows the principal may see, by meter id (Relay).
    pub async fn meter_rows(
        &self,
        principal: &Principal,
        run: &performance_run::Model,
        filter: &MeterRowFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<meter_performance::Model>> {
        let tenant = self.check_event(principal, &run.event_id).await?;
        let mut query = meter_performance::Entity::find()
            .filter(meter_performance::Column::RunId.eq(run.id.clone()));
        if let Tenant::Partner(p) = &tenant {
            query = query.filter(meter_performance::Column::PartnerId.eq(p.clone()));
        }
        if let Some(statuses) = &filter.statuses {
            query = query.filter(
                meter_performance::Column::Status.is_in(statuses.iter().map(|s| s.as_str())),
            );
        }
        if let Some(under) = filter.under_performing {
            query = query.filter(meter_performance::Column::UnderPerforming.eq(under));
        }
        let query = super::pagination::keyset(query, page, meter_performance::Column::Id);
        Ok(Page::from_fetched(page, query.all(self.db.conn()).await?))
    }

    /// A meter's results in the current runs of the events that called it,
    /// newest event first.
    pub async fn of_meter(
        &self,
        principal: &Principal,
        meter_id: &str,
        limit: u64,
    ) -> ApiResult<Vec<meter_performance::Model>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let mut query = meter_performance::Entity::find()
            .filter(meter_performance::Column::MeterId.eq(meter_id));
        if let Tenant::Partner(p) = principal.tenant(None)? {
            query = query.filter(meter_performance::Column::PartnerId.eq(p));
        }
        let current: HashSet<String> = performance_run::Entity::find()
            .select_only()
            .column(performance_run::Column::Id)
            .filter(performance_run::Column::Current.eq(true))
            .filter(
                performance_run::Column::EventId.in_subquery(
                    sea_orm::sea_query::Query::select()
                        .column(meter_performance::Column::EventId)
                        .from(meter_performance::Entity)
                        .and_where(Expr::col(meter_performance::Column::MeterId).eq(meter_id))
                        .to_owned(),
                ),
            )
            .into_tuple::<String>()
            .all(self.db.conn())
            .await?
            .into_iter()
            .collect();
        let rows = query
            .filter(meter_performance::Column::RunId.is_in(current))
            .order_by_desc(meter_performance::Column::EventId)
            .limit(limit)
            .all(self.db.conn())
            .await?;
        Ok(rows)
    }

    /// Current-run results of many meters in many events (for settlement).
    pub async fn current_results(
        &self,
        event_ids: &[String],
    ) -> ApiResult<BTreeMap<(String, String), meter_performance::Model>> {
        let runs = self.current_runs(event_ids).await?;
        let mut out = BTreeMap::new();
        let run_ids: Vec<String> = runs.values().map(|r| r.id.clone()).collect();
        for chunk in run_ids.chunks(200) {
            for row in meter_performance::Entity::find()
                .filter(meter_performance::Column::RunId.is_in(chunk.iter().cloned()))
                .all(self.db.conn())
                .await?
            {
                out.insert((row.event_id.clone(), row.meter_id.clone()), row);
            }
        }
        Ok(out)
    }
}

fn is_missing(status: &str) -> bool {
    status == MeterPerformanceStatus::MissingData.as_str()
        || status == MeterPerformanceStatus::InsufficientHistory.as_str()
}

impl Summary {
    fn add(&mut self, committed_kw: f64, o: &Outcome) {
        self.meters += 1;
        self.committed_kw += committed_kw;
        self.delivered_kw += o.delivered_or_zero();
        match o.status {
            MeterPerformanceStatus::Measured => self.measured += 1,
            MeterPerformanceStatus::MissingData | MeterPerformanceStatus::InsufficientHistory => {
                self.missing_data += 1
            }
            MeterPerformanceStatus::Failed => {}
        }
        if o.under_performing {
            self.under_performing += 1;
        }
    }
}

struct RunFacts {
    trigger: PerformanceTrigger,
    plugin_id: String,
    plugin_version: String,
    plugin_sha256: String,
    parameter_version_id: String,
    threshold: f64,
    requested_by: String,
    started: Instant,
}

/// What one meter of a batch needs.
struct MeterWork {
    meter: wit::Meter,
    committed_kw: f64,
    readings: Columns,
    event_days: Vec<String>,
}

/// What every batch of a run shares.
struct BatchContext {
    host: Arc<crate::rules::RulesHost>,
    plugin: Arc<crate::rules::LoadedPlugin>,
    params: String,
    window: wit::EventWindow,
    threshold: f64,
}

impl BatchContext {
    /// Baselines for the batch in one plugin call (meter by meter if the
    /// call as a whole fails, so one meter cannot sink the others), then
    /// the measurement of each meter.
    fn run(&self, work: Vec<MeterWork>) -> ApiResult<Vec<Outcome>> {
        let requests: Vec<wit::BaselineRequest> = work.iter().map(|w| self.request(w)).collect();
        let baselines = match self
            .host
            .compute_baselines(&self.plugin, &self.params, &requests)
        {
            Ok(b) => b,
            Err(batch_error) => {
                tracing::warn!(error = %batch_error, "baseline batch failed; retrying meter by meter");
                requests
                    .iter()
                    .map(|r| {
                        self.host
                            .compute_baselines(&self.plugin, &self.params, std::slice::from_ref(r))
                            .and_then(|mut one| {
                                one.pop().ok_or_else(|| PluginError::Malformed {
                                    plugin: self.plugin.label.clone(),
                                    message: "no baseline returned".into(),
                                })
                            })
                            .and_then(|r| r)
                    })
                    .collect()
            }
        };
        Ok(work
            .iter()
            .zip(baselines)
            .map(|(w, baseline)| match baseline {
                Ok(b) => measure(
                    &b,
                    &w.readings,
                    self.window.start,
                    self.window.end,
                    w.committed_kw,
                    self.threshold,
                ),
                Err(e) => {
                    let status = if e.code() == "INSUFFICIENT_HISTORY" {
                        MeterPerformanceStatus::InsufficientHistory
                    } else {
                        MeterPerformanceStatus::Failed
                    };
                    Outcome {
                        under_performing: true,
                        ..Outcome::not_measured(status, e.to_string())
                    }
                }
            })
            .collect())
    }

    fn request(&self, w: &MeterWork) -> wit::BaselineRequest {
        wit::BaselineRequest {
            meter: w.meter.clone(),
            event: self.window.clone(),
            readings: wit::Series {
                interval_seconds: w.readings.interval_seconds,
                starts: w.readings.starts.clone(),
                values: w.readings.values.clone(),
            },
            event_days: w.event_days.clone(),
        }
    }
}

/// Hour beginnings a program's baseline needs outside the lookback window,
/// by load zone (SCR: `peak_hours`, RFC 3339 per zone).
fn peak_hours(params: &serde_json::Map<String, serde_json::Value>) -> HashMap<String, Vec<i64>> {
    let Some(serde_json::Value::Object(zones)) = params.get("peak_hours") else {
        return HashMap::new();
    };
    zones
        .iter()
        .map(|(zone, hours)| {
            let list = hours
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|h| h.as_str())
                .filter_map(|h| DateTime::parse_from_rfc3339(h).ok())
                .map(|h| h.timestamp())
                .collect();
            (zone.clone(), list)
        })
        .collect()
}
