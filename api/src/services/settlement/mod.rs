//! Settlement: what each meter earns, in exact cents.
//!
//! *Preliminary* settlement runs the program plugin's `settle` on our own
//! measurements, season to date: the period runs from the start of the
//! program season (capability period, term) through the end of the latest
//! settled month, so seasonal factors see every event of the season. It runs
//! after each performance run (its month) and on demand; each run is a new
//! version and the latest is current. Every meter enrolled in the period is
//! settled (capacity is earned by being enrolled), with the events that called
//! it; a second request with every event delivered in full gives what full
//! performance would have earned (missed revenue).
//!
//! *Final* settlement comes from the market's statement: amounts per meter, or
//! one aggregate allocated to meters in proportion to their measured delivery
//! ([`allocate::allocate`]), to the cent.

pub mod allocate;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use sea_orm::{
    sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value,
};
use serde_json::json;

use super::bulk::{self, OnConflict};
use super::intervals::{Columns, IntervalService};
use super::performance::PerformanceService;
use super::plugins::PluginService;
use super::programs::ProgramService;
use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::enrollment::EnrollmentStatus;
use crate::domain::event::{season_containing, EventStatus};
use crate::domain::program::Season;
use crate::domain::{string_enum, Role};
use crate::entity::{
    dispatch, enrollment, event, market_statement, meter, performance_run, program,
    settlement_line, settlement_meter, settlement_run,
};
use crate::error::{ApiError, ApiResult, FieldError};
use crate::ids;
use crate::rules::{convert, wit};

string_enum! {
    pub enum SettlementKind {
        /// From our measurements, right after events.
        Preliminary => "PRELIMINARY",
        /// From the market's statement.
        Final => "FINAL",
    }
}

string_enum! {
    /// How a market statement pays.
    pub enum StatementBasis {
        PerMeter => "PER_METER",
        /// One amount for the portfolio, allocated by measured delivery.
        Aggregate => "AGGREGATE",
    }
}

/// Meters per plugin call.
const BATCH: usize = 500;
/// Plugin notes kept per settled meter.
const MAX_NOTES: usize = 50;

/// Exact cents of a decimal amount (half-even beyond cents).
pub fn to_cents(amount: Decimal) -> ApiResult<i64> {
    let cents = (amount * Decimal::from(100))
        .round_dp_with_strategy(0, RoundingStrategy::MidpointNearestEven);
    i64::try_from(cents.mantissa() / 10i128.pow(cents.scale()))
        .map_err(|_| ApiError::validation("amount", "is too large"))
}

/// Cents as a decimal with two places.
pub fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// A market statement line: one meter's final amount.
#[derive(Debug, Clone)]
pub struct StatementLine {
    pub meter_id: String,
    pub amount: Decimal,
    pub code: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StatementInput {
    pub program_id: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub reference: Option<String>,
    /// Exactly one of `aggregate` and `lines`.
    pub aggregate: Option<Decimal>,
    pub lines: Option<Vec<StatementLine>>,
}

/// One meter of a statement: our preliminary amount for the period and the final.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    pub meter_id: String,
    pub partner_id: String,
    pub preliminary_cents: i64,
    pub final_cents: i64,
}

#[derive(Clone)]
pub struct SettlementService {
    db: Db,
    programs: ProgramService,
    plugins: PluginService,
    intervals: IntervalService,
    performance: PerformanceService,
}

/// What one meter is settled on.
struct MeterTerms {
    meter: meter::Model,
    committed_kw: f64,
    period_start: NaiveDate,
    period_end: NaiveDate,
}

/// A settled meter, ready to store.
struct Settled {
    meter_id: String,
    partner_id: String,
    committed_kw: f64,
    lines: Vec<settlement_line::Model>,
    full_by_month: BTreeMap<String, i64>,
    weight: f64,
    notes: Vec<String>,
    error: Option<String>,
}

impl SettlementService {
    pub fn new(
        db: Db,
        programs: ProgramService,
        plugins: PluginService,
        intervals: IntervalService,
        performance: PerformanceService,
    ) -> Self {
        Self {
            db,
            programs,
            plugins,
            intervals,
            performance,
        }
    }

    /// After a performance run: settle its program through the end of the
    /// event's month (or further, if an earlier run went further).
    pub async fn after_performance(&self, run: performance_run::Model) -> ApiResult<()> {
        let event = event::Entity::find_by_id(run.event_id.clone())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("event", &run.event_id))?;
        let program = self.programs.get(&event.program_id).await?;
        let day = local_date(&program, event.start_at);
        self.settle(&program, month_end(day), "EVENT_PERFORMANCE", "system")
            .await?;
        Ok(())
    }

    /// Month-end settlement: every program with enrolled meters and a plugin
    /// is settled through the end of last month (local) unless its current
    /// run already reaches it. Capacity accrues without events, and metered
    /// programs (CPS) have none; returns how many programs were settled.
    pub async fn settle_closed_months(&self, now: DateTime<Utc>) -> ApiResult<usize> {
        let mut settled = 0;
        for program in self.programs.list().await? {
            let today = local_date(&program, now);
            let through = month_start(today).pred_opt().expect("a day before the 1st");
            let enrolled = enrollment::Entity::find()
                .filter(enrollment::Column::ProgramId.eq(program.id.clone()))
                .filter(enrollment::Column::Status.eq(EnrollmentStatus::Enrolled.as_str()))
                .filter(enrollment::Column::StartDate.lte(through))
                .one(self.db.conn())
                .await?
                .is_some();
            if !enrolled || self.plugins.active_for(&program.id).await.is_err() {
                continue;
            }
            let parameters = self
                .programs
                .parameters_at(&program.id, local_noon(&program, through))
                .await?;
            let seasons: Vec<Season> = serde_json::from_value(parameters.seasons.clone())?;
            let period_start = match season_containing(&seasons, through) {
                Some((_, start, _)) => start,
                // Off season nothing accrues.
                None if !seasons.is_empty() => continue,
                None => month_start(through),
            };
            let reached = self
                .current_run(&program.id, SettlementKind::Preliminary, period_start)
                .await?
                .and_then(|r| NaiveDate::from_str(&r.period_end).ok())
                .is_some_and(|end| end >= through);
            if !reached {
                self.settle(&program, through, "MONTH_END", "system")
                    .await?;
                settled += 1;
            }
        }
        Ok(settled)
    }

    /// Runs [`Self::settle_closed_months`] every `interval` (a replica that
    /// loses the race to another writes nothing: run versions are unique).
    pub fn spawn_month_end(&self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        super::every(interval, "month-end settlement", move || {
            let this = this.clone();
            async move { this.settle_closed_months(Utc::now()).await }
        })
    }

    /// Settles a program through `through` on demand (ADMIN).
    pub async fn settle_on_demand(
        &self,
        principal: &Principal,
        program_id: &str,
        through: NaiveDate,
    ) -> ApiResult<settlement_run::Model> {
        principal.require(&[Role::Admin])?;
        let program = self.programs.get(program_id).await?;
        self.settle(&program, through, "ON_DEMAND", &principal.key_id)
            .await
    }

    /// A new preliminary run for the season containing `through`.
    pub async fn settle(
        &self,
        program: &program::Model,
        through: NaiveDate,
        trigger: &str,
        by: &str,
    ) -> ApiResult<settlement_run::Model> {
        let at = local_noon(program, through);
        let parameters = self.programs.parameters_at(&program.id, at).await?;
        let seasons: Vec<Season> = serde_json::from_value(parameters.seasons.clone())?;
        let (season, period_start, season_end) = match season_containing(&seasons, through) {
            Some((name, start, end)) => (Some(name), start, end),
            None => (None, month_start(through), month_end(through)),
        };
        let current = self
            .current_run(&program.id, SettlementKind::Preliminary, period_start)
            .await?;
        let through = current
            .as_ref()
            .and_then(|c| NaiveDate::from_str(&c.period_end).ok())
            .map_or(through, |prev| prev.max(through));
        let period_end = season_end.min(through);
        let settled = self
            .compute(
                program,
                &parameters,
                Window::season(season.clone(), period_start, period_end),
                None,
            )
            .await?;
        let active = self.plugins.active_for(&program.id).await?;
        let run = settlement_run::Model {
            id: ids::new_id("stl"),
            program_id: program.id.clone(),
            kind: SettlementKind::Preliminary.as_str().into(),
            period_start: period_start.to_string(),
            period_end: period_end.to_string(),
            season,
            version: 0,
            current: true,
            trigger: trigger.into(),
            statement_id: None,
            plugin_id: Some(active.record_id.clone()),
            plugin_version: Some(active.plugin.info.plugin_version.clone()),
            plugin_sha256: Some(active.plugin.sha256.clone()),
            parameter_version_id: Some(parameters.id.clone()),
            meter_count: settled.len() as i32,
            total_cents: settled
                .iter()
                .flat_map(|s| &s.lines)
                .map(|l| l.amount_cents)
                .sum(),
            created_by: by.into(),
            created_at: Utc::now(),
        };
        let run = self.store(run, settled, None).await?;
        tracing::info!(program = %program.code, period = %format!("{period_start}..{period_end}"), version = run.version, meters = run.meter_count, total_cents = run.total_cents, "preliminary settlement");
        Ok(run)
    }

    /// Settles every meter enrolled in `[period_start, period_end]` without
    /// storing anything (also used for projections).
    async fn compute(
        &self,
        program: &program::Model,
        parameters: &crate::entity::program_parameter_version::Model,
        window: Window,
        only: Option<&std::collections::HashSet<String>>,
    ) -> ApiResult<Vec<Settled>> {
        let Window {
            season,
            events_from,
            period_start,
            period_end,
            with_full,
        } = window;
        let active = self.plugins.active_for(&program.id).await?;
        let params_json = super::eligibility::parameter_object(program, parameters)?;
        let params = super::eligibility::parameter_map(parameters)?;
        let metered = params
            .get("settlement_basis")
            .and_then(|v| v.as_str())
            .is_some_and(|b| b == "METERED_HOURS");
        let mut terms = self.terms(program, period_start, period_end).await?;
        if let Some(only) = only {
            terms.retain(|t| only.contains(&t.meter.id));
        }
        let events = self
            .event_performances(program, &params, events_from, period_end, &terms)
            .await?;
        let mut settled = Vec::with_capacity(terms.len());
        for batch in terms.chunks(BATCH) {
            let hours = if metered {
                self.metered_hours(program, batch).await?
            } else {
                HashMap::new()
            };
            let requests: Vec<(wit::SettlementRequest, f64)> = batch
                .iter()
                .map(|t| {
                    let mine: Vec<wit::EventPerformance> = if metered {
                        hours.get(&t.meter.id).cloned().unwrap_or_default()
                    } else {
                        events.get(&t.meter.id).cloned().unwrap_or_default()
                    };
                    let weight = mine.iter().map(|e| e.delivered_kwh.max(0.0)).sum();
                    (
                        wit::SettlementRequest {
                            meter: convert::meter(&t.meter),
                            period_start: t.period_start.to_string(),
                            period_end: t.period_end.to_string(),
                            season: season.clone(),
                            committed_kw: t.committed_kw,
                            events: mine,
                        },
                        weight,
                    )
                })
                .collect();
            let actual: Vec<wit::SettlementRequest> =
                requests.iter().map(|(r, _)| r.clone()).collect();
            let full: Vec<wit::SettlementRequest> = if with_full && !metered {
                actual.iter().map(full_performance).collect()
            } else {
                Vec::new()
            };
            let host = self.plugins.host().clone();
            let plugin = active.plugin.clone();
            let params_json = params_json.clone();
            let (answers, full_answers) = tokio::task::spawn_blocking(move || {
                let a = host.settle(&plugin, &params_json, &actual)?;
                let f = if full.is_empty() {
                    Vec::new()
                } else {
                    host.settle(&plugin, &params_json, &full)?
                };
                Ok::<_, crate::rules::PluginError>((a, f))
            })
            .await
            .map_err(ApiError::internal)??;
            let tz = program
                .timezone
                .parse::<chrono_tz::Tz>()
                .unwrap_or(chrono_tz::UTC);
            for (i, ((request, weight), answer)) in requests.into_iter().zip(answers).enumerate() {
                let t = &batch[i];
                let month_of_event: HashMap<&str, String> = request
                    .events
                    .iter()
                    .map(|e| (e.event_id.as_str(), month_label_ts(e.start, tz)))
                    .collect();
                let fallback = month_label(t.period_end);
                let mut s = Settled {
                    meter_id: t.meter.id.clone(),
                    partner_id: t.meter.partner_id.clone(),
                    committed_kw: t.committed_kw,
                    lines: Vec::new(),
                    full_by_month: BTreeMap::new(),
                    weight,
                    notes: Vec::new(),
                    error: None,
                };
                match answer {
                    Ok(mut settlement) => {
                        // Metered programs note every hour; keep the first ones.
                        if settlement.notes.len() > MAX_NOTES {
                            let more = settlement.notes.len() - MAX_NOTES;
                            settlement.notes.truncate(MAX_NOTES);
                            settlement.notes.push(format!("… and {more} more notes"));
                        }
                        s.notes = settlement.notes;
                        for item in settlement.line_items {
                            let month = line_month(&item, &month_of_event, &fallback);
                            s.lines.push(settlement_line::Model {
                                id: ids::new_id("sln"),
                                run_id: String::new(),
                                meter_id: t.meter.id.clone(),
                                partner_id: t.meter.partner_id.clone(),
                                month,
                                event_id: item.event_id.clone(),
                                code: item.code,
                                description: item.description,
                                quantity: item.quantity,
                                unit: item.unit,
                                rate: item.rate,
                                amount_cents: to_cents(
                                    Decimal::from_str(&item.amount).map_err(ApiError::internal)?,
                                )?,
                            });
                        }
                    }
                    Err(e) => s.error = Some(e.to_string()),
                }
                if let Some(Ok(full)) = full_answers.get(i) {
                    for item in &full.line_items {
                        let month = line_month(item, &month_of_event, &fallback);
                        let cents =
                            to_cents(Decimal::from_str(&item.amount).map_err(ApiError::internal)?)?;
                        *s.full_by_month.entry(month).or_default() += cents;
                    }
                }
                settled.push(s);
            }
        }
        Ok(settled)
    }

    /// Meters enrolled in the program during the period, with the part of the
    /// period they were enrolled and their commitment.
    async fn terms(
        &self,
        program: &program::Model,
        period_start: NaiveDate,
        period_end: NaiveDate,
    ) -> ApiResult<Vec<MeterTerms>> {
        let enrollments = enrollment::Entity::find()
            .filter(enrollment::Column::ProgramId.eq(program.id.clone()))
            .filter(enrollment::Column::Status.eq(EnrollmentStatus::Enrolled.as_str()))
            .filter(enrollment::Column::StartDate.lte(period_end))
            .filter(
                enrollment::Column::EndDate
                    .is_null()
                    .or(enrollment::Column::EndDate.gte(period_start)),
            )
            .order_by_asc(enrollment::Column::MeterId)
            .all(self.db.conn())
            .await?;
        let ids: Vec<String> = enrollments.iter().map(|e| e.meter_id.clone()).collect();
        let mut meters = super::meters::any_by_ids(&self.db, &ids).await?;
        Ok(enrollments
            .into_iter()
            .filter_map(|e| {
                let m = meters.remove(&e.meter_id)?;
                Some(MeterTerms {
                    committed_kw: e.committed_kw.or(m.capacity_kw).unwrap_or(0.0),
                    period_start: period_start.max(e.start_date),
                    period_end: e.end_date.map_or(period_end, |end| end.min(period_end)),
                    meter: m,
                })
            })
            .filter(|t| t.period_start <= t.period_end)
            .collect())
    }

    /// The period's completed events of the program (and, where the program
    /// counts failed tests over a window, the earlier tests), as each meter's
    /// event performances from the current performance runs. A meter without a
    /// measurement in an event delivered nothing.
    async fn event_performances(
        &self,
        program: &program::Model,
        params: &serde_json::Map<String, serde_json::Value>,
        period_start: NaiveDate,
        period_end: NaiveDate,
        terms: &[MeterTerms],
    ) -> ApiResult<HashMap<String, Vec<wit::EventPerformance>>> {
        let from = local_midnight(program, period_start);
        let to = local_midnight(program, period_end.succ_opt().unwrap_or(period_end));
        let test_window = params
            .get("failed_test_window_days")
            .and_then(|v| v.as_i64())
            .map(|days| to - chrono::Duration::days(days));
        let mut events = event::Entity::find()
            .filter(event::Column::ProgramId.eq(program.id.clone()))
            .filter(event::Column::Status.eq(EventStatus::Completed.as_str()))
            .filter(event::Column::StartAt.gte(test_window.map_or(from, |w| w.min(from))))
            .filter(event::Column::StartAt.lt(to))
            .order_by_asc(event::Column::StartAt)
            .all(self.db.conn())
            .await?;
        // Before the period only tests count.
        events.retain(|e| e.start_at >= from || e.event_type == "TEST");
        if events.is_empty() {
            return Ok(HashMap::new());
        }
        let event_ids: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
        let results = self.performance.current_results(&event_ids).await?;
        let settled: std::collections::HashSet<&str> =
            terms.iter().map(|t| t.meter.id.as_str()).collect();
        let mut dispatches: Vec<dispatch::Model> = Vec::new();
        for chunk in event_ids.chunks(200) {
            dispatches.extend(
                dispatch::Entity::find()
                    .filter(dispatch::Column::EventId.is_in(chunk.iter().cloned()))
                    .all(self.db.conn())
                    .await?,
            );
        }
        let by_id: HashMap<&str, &event::Model> =
            events.iter().map(|e| (e.id.as_str(), e)).collect();
        let mut out: HashMap<String, Vec<wit::EventPerformance>> = HashMap::new();
        for d in dispatches
            .iter()
            .filter(|d| settled.contains(d.meter_id.as_str()))
        {
            let Some(e) = by_id.get(d.event_id.as_str()) else {
                continue;
            };
            let result = results.get(&(d.event_id.clone(), d.meter_id.clone()));
            out.entry(d.meter_id.clone())
                .or_default()
                .push(wit::EventPerformance {
                    event_id: e.id.clone(),
                    start: e.start_at.timestamp(),
                    end: e.end_at.timestamp(),
                    event_type: e.event_type.clone(),
                    committed_kw: d.committed_kw,
                    delivered_kw: result.and_then(|r| r.delivered_kw).unwrap_or(0.0),
                    delivered_kwh: result.and_then(|r| r.delivered_kwh).unwrap_or(0.0),
                    energy_price: e.energy_price.clone(),
                });
        }
        for list in out.values_mut() {
            list.sort_by_key(|e| e.start);
        }
        Ok(out)
    }

    /// Metered programs (CPS): every hour of the meter's period with readings
    /// becomes one window of measured net discharge.
    async fn metered_hours(
        &self,
        program: &program::Model,
        batch: &[MeterTerms],
    ) -> ApiResult<HashMap<String, Vec<wit::EventPerformance>>> {
        let mut out = HashMap::new();
        for t in batch {
            let from = local_midnight(program, t.period_start).timestamp();
            let to = local_midnight(program, t.period_end.succ_opt().unwrap_or(t.period_end))
                .timestamp();
            let columns = self
                .intervals
                .columns_for(&[&t.meter], from, to, &HashMap::new())
                .await?;
            let c = columns.get(&t.meter.id).cloned().unwrap_or_default();
            out.insert(t.meter.id.clone(), hourly_windows(&c, t.committed_kw));
        }
        Ok(out)
    }

    async fn current_run(
        &self,
        program_id: &str,
        kind: SettlementKind,
        period_start: NaiveDate,
    ) -> ApiResult<Option<settlement_run::Model>> {
        Ok(settlement_run::Entity::find()
            .filter(settlement_run::Column::ProgramId.eq(program_id))
            .filter(settlement_run::Column::Kind.eq(kind.as_str()))
            .filter(settlement_run::Column::PeriodStart.eq(period_start.to_string()))
            .filter(settlement_run::Column::Current.eq(true))
            .one(self.db.conn())
            .await?)
    }

    /// Writes a run (next version, current) with its meters and lines, and
    /// the market statement it comes from, in one transaction.
    async fn store(
        &self,
        mut run: settlement_run::Model,
        settled: Vec<Settled>,
        statement: Option<&market_statement::Model>,
    ) -> ApiResult<settlement_run::Model> {
        let txn = self.db.begin_write().await?;
        if let Some(statement) = statement {
            use sea_orm::{ActiveModelTrait, IntoActiveModel};
            statement
                .clone()
                .into_active_model()
                .reset_all()
                .insert(&*txn)
                .await?;
        }
        let latest: Option<i32> = settlement_run::Entity::find()
            .select_only()
            .column_as(settlement_run::Column::Version.max(), "v")
            .filter(settlement_run::Column::ProgramId.eq(run.program_id.clone()))
            .filter(settlement_run::Column::Kind.eq(run.kind.clone()))
            .filter(settlement_run::Column::PeriodStart.eq(run.period_start.clone()))
            .into_tuple::<Option<i32>>()
            .one(&*txn)
            .await?
            .flatten();
        settlement_run::Entity::update_many()
            .col_expr(settlement_run::Column::Current, Expr::value(false))
            .filter(settlement_run::Column::ProgramId.eq(run.program_id.clone()))
            .filter(settlement_run::Column::Kind.eq(run.kind.clone()))
            .filter(settlement_run::Column::PeriodStart.eq(run.period_start.clone()))
            .exec(&*txn)
            .await?;
        run.version = latest.unwrap_or(0) + 1;
        {
            use sea_orm::{ActiveModelTrait, IntoActiveModel};
            run.clone()
                .into_active_model()
                .reset_all()
                .insert(&*txn)
                .await?;
        }
        let mut meter_rows = Vec::with_capacity(settled.len());
        let mut line_rows = Vec::new();
        for s in settled {
            let amount: i64 = s.lines.iter().map(|l| l.amount_cents).sum();
            let full = (!s.full_by_month.is_empty()).then(|| s.full_by_month.values().sum::<i64>());
            meter_rows.push(vec![
                ids::new_id("smt").into(),
                run.id.clone().into(),
                s.meter_id.clone().into(),
                s.partner_id.clone().into(),
                s.committed_kw.into(),
                amount.into(),
                full.into(),
                Value::Json(Some(Box::new(json!(s.full_by_month)))),
                s.weight.into(),
                Value::Json(Some(Box::new(json!(s.notes)))),
                s.error.into(),
            ]);
            for l in s.lines {
                line_rows.push(vec![
                    l.id.into(),
                    run.id.clone().into(),
                    l.meter_id.into(),
                    l.partner_id.into(),
                    l.month.into(),
                    l.event_id.into(),
                    l.code.into(),
                    l.description.into(),
                    l.quantity.into(),
                    l.unit.into(),
                    l.rate.into(),
                    l.amount_cents.into(),
                ]);
            }
        }
        bulk::insert(
            &*txn,
            "settlement_meters",
            &[
                "id",
                "run_id",
                "meter_id",
                "partner_id",
                "committed_kw",
                "amount_cents",
                "full_performance_cents",
                "full_by_month",
                "weight",
                "notes",
                "error",
            ],
            meter_rows,
            OnConflict::Fail,
        )
        .await?;
        bulk::insert(
            &*txn,
            "settlement_lines",
            &[
                "id",
                "run_id",
                "meter_id",
                "partner_id",
                "month",
                "event_id",
                "code",
                "description",
                "quantity",
                "unit",
                "rate",
                "amount_cents",
            ],
            line_rows,
            OnConflict::Fail,
        )
        .await?;
        txn.commit().await?;
        Ok(run)
    }

    /// Imports a market statement as the FINAL settlement of its period
    /// (ADMIN): per-meter amounts as given, or an aggregate allocated to the
    /// meters of the period in proportion to their measured delivery.
    pub async fn import_statement(
        &self,
        principal: &Principal,
        input: StatementInput,
    ) -> ApiResult<(market_statement::Model, settlement_run::Model)> {
        principal.require(&[Role::Admin])?;
        let program = self.programs.get(&input.program_id).await?;
        if input.period_end < input.period_start {
            return Err(ApiError::validation(
                "periodEnd",
                "must not be before periodStart",
            ));
        }
        let month = month_label(input.period_end);
        let (basis, aggregate_cents, allocations) = match (&input.aggregate, &input.lines) {
            (Some(total), None) => {
                let cents = to_cents(*total)?;
                let weights = self
                    .weights(&program, input.period_start, input.period_end)
                    .await?;
                if weights.is_empty() {
                    return Err(ApiError::Conflict(format!(
                        "no meter of {} was settled in {}..{}; settle the period before importing an aggregate",
                        program.code, input.period_start, input.period_end
                    )));
                }
                let keyed: Vec<(String, f64)> =
                    weights.iter().map(|(m, (_, w))| (m.clone(), *w)).collect();
                let shares = allocate::allocate(cents, &keyed);
                let lines: Vec<(String, String, i64, String, String)> = shares
                    .into_iter()
                    .map(|(m, c)| {
                        let (partner, w) = weights[&m].clone();
                        (
                            m,
                            partner,
                            c,
                            "MARKET_ALLOCATION".to_owned(),
                            format!("share of the market's ${} for {}..{} by measured delivery (weight {w:.3})", from_cents(cents), input.period_start, input.period_end),
                        )
                    })
                    .collect();
                (StatementBasis::Aggregate, Some(cents), lines)
            }
            (None, Some(lines)) if !lines.is_empty() => {
                let ids: Vec<String> = lines.iter().map(|l| l.meter_id.clone()).collect();
                let meters = self.meter_partners(&ids).await?;
                let mut errors = Vec::new();
                let mut out = Vec::new();
                for (row, l) in lines.iter().enumerate() {
                    match meters.get(&l.meter_id) {
                        None => errors.push(
                            FieldError::new(
                                format!("lines[{row}].meterId"),
                                format!("no meter `{}`", l.meter_id),
                            )
                            .in_row(row),
                        ),
                        Some(partner) => out.push((
                            l.meter_id.clone(),
                            partner.clone(),
                            to_cents(l.amount)?,
                            l.code.clone().unwrap_or_else(|| "MARKET_SETTLEMENT".into()),
                            l.description.clone().unwrap_or_else(|| {
                                format!(
                                    "market statement {}..{}",
                                    input.period_start, input.period_end
                                )
                            }),
                        )),
                    }
                }
                if !errors.is_empty() {
                    return Err(ApiError::Validation(errors));
                }
                (StatementBasis::PerMeter, None, out)
            }
            _ => {
                return Err(ApiError::validation(
                    "aggregateAmount",
                    "give either aggregateAmount or a non-empty list of lines",
                ))
            }
        };
        let statement = market_statement::Model {
            id: ids::new_id("mst"),
            program_id: program.id.clone(),
            period_start: input.period_start.to_string(),
            period_end: input.period_end.to_string(),
            basis: basis.as_str().into(),
            aggregate_cents,
            reference: input.reference.clone(),
            imported_by: principal.key_id.clone(),
            imported_at: Utc::now(),
        };
        let mut by_meter: BTreeMap<String, Settled> = BTreeMap::new();
        for (meter_id, partner_id, cents, code, description) in allocations {
            let s = by_meter.entry(meter_id.clone()).or_insert_with(|| Settled {
                meter_id: meter_id.clone(),
                partner_id: partner_id.clone(),
                committed_kw: 0.0,
                lines: Vec::new(),
                full_by_month: BTreeMap::new(),
                weight: 0.0,
                notes: Vec::new(),
                error: None,
            });
            s.lines.push(settlement_line::Model {
                id: ids::new_id("sln"),
                run_id: String::new(),
                meter_id,
                partner_id,
                month: month.clone(),
                event_id: None,
                code,
                description,
                quantity: 1.0,
                unit: "statement".into(),
                rate: from_cents(cents).to_string(),
                amount_cents: cents,
            });
        }
        let settled: Vec<Settled> = by_meter.into_values().collect();
        let run = settlement_run::Model {
            id: ids::new_id("stl"),
            program_id: program.id.clone(),
            kind: SettlementKind::Final.as_str().into(),
            period_start: input.period_start.to_string(),
            period_end: input.period_end.to_string(),
            season: None,
            version: 0,
            current: true,
            trigger: "MARKET_STATEMENT".into(),
            statement_id: Some(statement.id.clone()),
            plugin_id: None,
            plugin_version: None,
            plugin_sha256: None,
            parameter_version_id: None,
            meter_count: settled.len() as i32,
            total_cents: settled
                .iter()
                .flat_map(|s| &s.lines)
                .map(|l| l.amount_cents)
                .sum(),
            created_by: principal.key_id.clone(),
            created_at: Utc::now(),
        };
        let run = self.store(run, settled, Some(&statement)).await?;
        tracing::info!(program = %program.code, statement = %statement.id, basis = %basis, total_cents = run.total_cents, "market statement imported");
        Ok((statement, run))
    }

    /// Meters settled in the period's current preliminary runs, with their
    /// partner and delivered kWh in events inside the period.
    async fn weights(
        &self,
        program: &program::Model,
        from: NaiveDate,
        to: NaiveDate,
    ) -> ApiResult<BTreeMap<String, (String, f64)>> {
        let runs = settlement_run::Entity::find()
            .filter(settlement_run::Column::ProgramId.eq(program.id.clone()))
            .filter(settlement_run::Column::Kind.eq(SettlementKind::Preliminary.as_str()))
            .filter(settlement_run::Column::Current.eq(true))
            .filter(settlement_run::Column::PeriodStart.lte(to.to_string()))
            .filter(settlement_run::Column::PeriodEnd.gte(from.to_string()))
            .all(self.db.conn())
            .await?;
        let run_ids: Vec<String> = runs.iter().map(|r| r.id.clone()).collect();
        let meters: Vec<settlement_meter::Model> = settlement_meter::Entity::find()
            .filter(settlement_meter::Column::RunId.is_in(run_ids))
            .all(self.db.conn())
            .await?;
        let mut out: BTreeMap<String, (String, f64)> = meters
            .into_iter()
            .map(|m| (m.meter_id, (m.partner_id, 0.0)))
            .collect();
        let start = local_midnight(program, from);
        let end = local_midnight(program, to.succ_opt().unwrap_or(to));
        let events: Vec<String> = event::Entity::find()
            .select_only()
            .column(event::Column::Id)
            .filter(event::Column::ProgramId.eq(program.id.clone()))
            .filter(event::Column::Status.eq(EventStatus::Completed.as_str()))
            .filter(event::Column::StartAt.gte(start))
            .filter(event::Column::StartAt.lt(end))
            .into_tuple()
            .all(self.db.conn())
            .await?;
        for ((_, meter_id), r) in self.performance.current_results(&events).await? {
            if let Some(entry) = out.get_mut(&meter_id) {
                entry.1 += r.delivered_kwh.unwrap_or(0.0).max(0.0);
            }
        }
        Ok(out)
    }

    async fn meter_partners(&self, ids: &[String]) -> ApiResult<HashMap<String, String>> {
        let mut out = HashMap::new();
        for chunk in ids.chunks(500) {
            let rows: Vec<(String, String)> = meter::Entity::find()
                .select_only()
                .column(meter::Column::Id)
                .column(meter::Column::PartnerId)
                .filter(meter::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(self.db.conn())
                .await?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// What each of a partner's enrolled meters is projected to earn in
    /// `month` and its calendar quarter: the plugin settles the whole month
    /// (and quarter) on the commitment, with the season's events so far.
    pub async fn project(
        &self,
        partner_id: &str,
        month: NaiveDate,
        meter_ids: Option<&[String]>,
    ) -> ApiResult<Vec<Projection>> {
        let month_start = month_start(month);
        let (q_start, q_end) = crate::services::revenue::quarter_of(month_start);
        let enrolled: Vec<(String, String)> = {
            let mut q = enrollment::Entity::find()
                .select_only()
                .column(enrollment::Column::ProgramId)
                .column(enrollment::Column::MeterId)
                .filter(enrollment::Column::PartnerId.eq(partner_id))
                .filter(enrollment::Column::Status.eq(EnrollmentStatus::Enrolled.as_str()));
            if let Some(ids) = meter_ids {
                q = q.filter(enrollment::Column::MeterId.is_in(ids.iter().cloned()));
            }
            q.into_tuple().all(self.db.conn()).await?
        };
        let mut by_program: BTreeMap<String, std::collections::HashSet<String>> = BTreeMap::new();
        for (program_id, meter_id) in enrolled {
            by_program.entry(program_id).or_default().insert(meter_id);
        }
        let mut out: BTreeMap<(String, String), Projection> = BTreeMap::new();
        for (program_id, meters) in by_program {
            let program = self.programs.get(&program_id).await?;
            if self.plugins.active_for(&program.id).await.is_err() {
                continue;
            }
            let parameters = self
                .programs
                .parameters_at(&program.id, local_noon(&program, month_start))
                .await?;
            let seasons: Vec<Season> = serde_json::from_value(parameters.seasons.clone())?;
            for (period_start, period_end, quarter) in [
                (month_start, month_end(month_start), false),
                (q_start, q_end, true),
            ] {
                let season = season_containing(&seasons, period_start);
                let events_from = season
                    .as_ref()
                    .map_or(period_start, |(_, s, _)| (*s).min(period_start));
                let settled = self
                    .compute(
                        &program,
                        &parameters,
                        Window {
                            season: season.map(|(name, _, _)| name),
                            events_from,
                            period_start,
                            period_end,
                            with_full: false,
                        },
                        Some(&meters),
                    )
                    .await?;
                let months = months_between(&period_start.to_string(), &period_end.to_string());
                for s in settled {
                    let cents: i64 = s
                        .lines
                        .iter()
                        .filter(|l| months.contains(&l.month))
                        .map(|l| l.amount_cents)
                        .sum();
                    let p = out
                        .entry((s.meter_id.clone(), program.id.clone()))
                        .or_insert(Projection {
                            meter_id: s.meter_id.clone(),
                            partner_id: s.partner_id.clone(),
                            program_id: program.id.clone(),
                            month_cents: 0,
                            quarter_cents: 0,
                        });
                    if quarter {
                        p.quarter_cents = cents;
                    } else {
                        p.month_cents = cents;
                    }
                }
            }
        }
        Ok(out.into_values().collect())
    }

    /// Runs of a program, newest first (any kind, current or not).
    pub async fn runs(
        &self,
        principal: &Principal,
        program_id: &str,
        kind: Option<SettlementKind>,
        current_only: bool,
    ) -> ApiResult<Vec<settlement_run::Model>> {
        principal.require(&[Role::Partner, Role::Admin, Role::Analyst])?;
        let mut q =
            settlement_run::Entity::find().filter(settlement_run::Column::ProgramId.eq(program_id));
        if let Some(k) = kind {
            q = q.filter(settlement_run::Column::Kind.eq(k.as_str()));
        }
        if current_only {
            q = q.filter(settlement_run::Column::Current.eq(true));
        }
        Ok(q.order_by_desc(settlement_run::Column::CreatedAt)
            .limit(200)
            .all(self.db.conn())
            .await?)
    }

    /// One page of a run's meters the tenant may see (by row id).
    pub async fn run_meters_page(
        &self,
        tenant: &Tenant,
        run_id: &str,
        page: &super::pagination::PageRequest,
    ) -> ApiResult<super::pagination::Page<settlement_meter::Model>> {
        let mut q =
            settlement_meter::Entity::find().filter(settlement_meter::Column::RunId.eq(run_id));
        if let Tenant::Partner(p) = tenant {
            q = q.filter(settlement_meter::Column::PartnerId.eq(p.clone()));
        }
        let rows = super::pagination::keyset(q, page, settlement_meter::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(super::pagination::Page::from_fetched(page, rows))
    }

    /// Totals of runs over the tenant's meters, in cents.
    pub async fn totals(
        &self,
        tenant: &Tenant,
        run_ids: &[String],
    ) -> ApiResult<HashMap<String, i64>> {
        let mut q = settlement_meter::Entity::find()
            .select_only()
            .column(settlement_meter::Column::RunId)
            .column(settlement_meter::Column::AmountCents)
            .filter(settlement_meter::Column::RunId.is_in(run_ids.iter().cloned()));
        if let Tenant::Partner(p) = tenant {
            q = q.filter(settlement_meter::Column::PartnerId.eq(p.clone()));
        }
        let mut out: HashMap<String, i64> = run_ids.iter().map(|r| (r.clone(), 0)).collect();
        for (run, cents) in q.into_tuple::<(String, i64)>().all(self.db.conn()).await? {
            *out.entry(run).or_default() += cents;
        }
        Ok(out)
    }

    /// A run by id (partners see runs of any program; amounts are scoped).
    pub async fn run(&self, principal: &Principal, id: &str) -> ApiResult<settlement_run::Model> {
        principal.require(&[Role::Partner, Role::Admin, Role::Analyst])?;
        settlement_run::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("settlement run", id))
    }

    /// A run's meters the tenant may see.
    pub async fn run_meters(
        &self,
        tenant: &Tenant,
        run_id: &str,
    ) -> ApiResult<Vec<settlement_meter::Model>> {
        let mut q =
            settlement_meter::Entity::find().filter(settlement_meter::Column::RunId.eq(run_id));
        if let Tenant::Partner(p) = tenant {
            q = q.filter(settlement_meter::Column::PartnerId.eq(p.clone()));
        }
        Ok(q.order_by_asc(settlement_meter::Column::MeterId)
            .all(self.db.conn())
            .await?)
    }

    /// Line items of many (run, meter) pairs, keyed `run_id/meter_id`.
    pub async fn lines_of(
        &self,
        keys: &[String],
    ) -> ApiResult<HashMap<String, Vec<settlement_line::Model>>> {
        let runs: Vec<String> = keys
            .iter()
            .filter_map(|k| k.split_once('/').map(|(r, _)| r.to_owned()))
            .collect();
        let wanted: std::collections::HashSet<&String> = keys.iter().collect();
        let mut out: HashMap<String, Vec<settlement_line::Model>> = HashMap::new();
        for chunk in runs.chunks(200) {
            for l in settlement_line::Entity::find()
                .filter(settlement_line::Column::RunId.is_in(chunk.iter().cloned()))
                .order_by_asc(settlement_line::Column::Id)
                .all(self.db.conn())
                .await?
            {
                let key = format!("{}/{}", l.run_id, l.meter_id);
                if wanted.contains(&key) {
                    out.entry(key).or_default().push(l);
                }
            }
        }
        Ok(out)
    }

    /// Preliminary vs final per meter for a FINAL run (the tenant's meters).
    pub async fn comparison(
        &self,
        tenant: &Tenant,
        final_run: &settlement_run::Model,
    ) -> ApiResult<Vec<Comparison>> {
        let months = months_between(&final_run.period_start, &final_run.period_end);
        let finals = self.run_meters(tenant, &final_run.id).await?;
        let prelim_runs: Vec<String> = settlement_run::Entity::find()
            .select_only()
            .column(settlement_run::Column::Id)
            .filter(settlement_run::Column::ProgramId.eq(final_run.program_id.clone()))
            .filter(settlement_run::Column::Kind.eq(SettlementKind::Preliminary.as_str()))
            .filter(settlement_run::Column::Current.eq(true))
            .into_tuple()
            .all(self.db.conn())
            .await?;
        let mut q = settlement_line::Entity::find()
            .filter(settlement_line::Column::RunId.is_in(prelim_runs))
            .filter(settlement_line::Column::Month.is_in(months));
        if let Tenant::Partner(p) = tenant {
            q = q.filter(settlement_line::Column::PartnerId.eq(p.clone()));
        }
        let mut preliminary: BTreeMap<String, (String, i64)> = BTreeMap::new();
        for l in q.all(self.db.conn()).await? {
            let e = preliminary.entry(l.meter_id).or_insert((l.partner_id, 0));
            e.1 += l.amount_cents;
        }
        let mut out: BTreeMap<String, Comparison> = BTreeMap::new();
        for f in finals {
            out.insert(
                f.meter_id.clone(),
                Comparison {
                    meter_id: f.meter_id,
                    partner_id: f.partner_id,
                    preliminary_cents: 0,
                    final_cents: f.amount_cents,
                },
            );
        }
        for (meter_id, (partner_id, cents)) in preliminary {
            out.entry(meter_id.clone())
                .or_insert(Comparison {
                    meter_id,
                    partner_id,
                    preliminary_cents: 0,
                    final_cents: 0,
                })
                .preliminary_cents = cents;
        }
        Ok(out.into_values().collect())
    }
}

/// What a computation settles: the meters' period, and from when events count.
struct Window {
    /// The program season the period lies in, told to the plugin.
    season: Option<String>,
    events_from: NaiveDate,
    period_start: NaiveDate,
    period_end: NaiveDate,
    /// Also settle every event as delivered in full.
    with_full: bool,
}

impl Window {
    fn season(season: Option<String>, period_start: NaiveDate, period_end: NaiveDate) -> Window {
        Window {
            season,
            events_from: period_start,
            period_start,
            period_end,
            with_full: true,
        }
    }
}

/// A meter's projected earnings in a month and its quarter.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    pub meter_id: String,
    pub partner_id: String,
    pub program_id: String,
    pub month_cents: i64,
    pub quarter_cents: i64,
}

/// Every event delivered in full: what the meter could have earned.
fn full_performance(r: &wit::SettlementRequest) -> wit::SettlementRequest {
    let mut full = r.clone();
    for e in &mut full.events {
        e.delivered_kw = e.committed_kw;
        e.delivered_kwh = e.committed_kw * (e.end - e.start) as f64 / 3600.0;
    }
    full
}

/// Hourly windows of measured net energy (discharge positive) from readings.
fn hourly_windows(c: &Columns, committed_kw: f64) -> Vec<wit::EventPerformance> {
    let mut hours: BTreeMap<i64, f64> = BTreeMap::new();
    for (start, kwh) in c.starts.iter().zip(&c.values) {
        *hours.entry(start - start.rem_euclid(3600)).or_default() += kwh;
    }
    hours
        .into_iter()
        .map(|(start, kwh)| wit::EventPerformance {
            event_id: format!("hour-{start}"),
            start,
            end: start + 3600,
            event_type: "METERED".into(),
            committed_kw,
            delivered_kw: kwh,
            delivered_kwh: kwh,
            energy_price: None,
        })
        .collect()
}

fn line_month(
    item: &wit::LineItem,
    event_months: &HashMap<&str, String>,
    fallback: &str,
) -> String {
    item.month
        .clone()
        .or_else(|| {
            item.event_id
                .as_deref()
                .and_then(|e| event_months.get(e).cloned())
        })
        .unwrap_or_else(|| fallback.to_owned())
}

fn tz_of(program: &program::Model) -> chrono_tz::Tz {
    program.timezone.parse().unwrap_or(chrono_tz::UTC)
}

fn local_date(program: &program::Model, at: DateTime<Utc>) -> NaiveDate {
    super::eligibility::local_date(&program.timezone, at)
}

/// The instant a local day starts.
pub fn local_midnight(program: &program::Model, day: NaiveDate) -> DateTime<Utc> {
    let naive = day.and_hms_opt(0, 0, 0).expect("midnight exists");
    tz_of(program)
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive))
}

fn local_noon(program: &program::Model, day: NaiveDate) -> DateTime<Utc> {
    local_midnight(program, day) + chrono::Duration::hours(12)
}

pub fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("day 1 exists")
}

pub fn month_end(d: NaiveDate) -> NaiveDate {
    let next = if d.month() == 12 {
        NaiveDate::from_ymd_opt(d.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(d.year(), d.month() + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).expect("valid month")
}

pub fn month_label(d: NaiveDate) -> String {
    format!("{}-{:02}", d.year(), d.month())
}

fn month_label_ts(ts: i64, tz: chrono_tz::Tz) -> String {
    let d = DateTime::from_timestamp(ts, 0)
        .unwrap_or_default()
        .with_timezone(&tz)
        .date_naive();
    month_label(d)
}

/// `YYYY-MM` labels of the months `[from, to]` touch.
pub fn months_between(from: &str, to: &str) -> Vec<String> {
    let (Ok(mut d), Ok(to)) = (NaiveDate::from_str(from), NaiveDate::from_str(to)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    d = month_start(d);
    while d <= to {
        out.push(month_label(d));
        d = month_end(d).succ_opt().expect("next month");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_are_exact_and_half_even() {
        assert_eq!(
            to_cents(Decimal::from_str("1125.00").unwrap()).unwrap(),
            112_500
        );
        assert_eq!(to_cents(Decimal::from_str("0.125").unwrap()).unwrap(), 12);
        assert_eq!(to_cents(Decimal::from_str("0.135").unwrap()).unwrap(), 14);
        assert_eq!(to_cents(Decimal::from_str("-3.5").unwrap()).unwrap(), -350);
        assert_eq!(from_cents(112_501).to_string(), "1125.01");
    }

    #[test]
    fn months_of_a_period() {
        assert_eq!(
            months_between("2026-06-15", "2026-08-01"),
            ["2026-06", "2026-07", "2026-08"]
        );
        assert_eq!(
            month_end(NaiveDate::from_ymd_opt(2028, 2, 3).unwrap()).day(),
            29
        );
    }
}
