//! Eligibility of meters for programs, decided by each program's plugin. One
//! plugin call evaluates a whole batch of meters.

use std::collections::HashMap;

use chrono::{NaiveDate, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::auth::Principal;
use crate::db::Db;
use crate::domain::enrollment::EnrollmentStatus;
use crate::entity::{enrollment, meter, program};
use crate::error::{ApiError, ApiResult};
use crate::rules::{convert, wit};
use crate::services::meters::MeterService;
use crate::services::plugins::{ActivePlugin, PluginService};
use crate::services::programs::ProgramService;

/// The largest batch evaluated in one plugin call.
pub const MAX_METERS_PER_CALL: usize = 1000;

/// A meter's verdict for a program, with the plugin version that decided it.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub meter: meter::Model,
    pub program_id: String,
    pub eligibility: wit::Eligibility,
    pub plugin_id: String,
    pub plugin_version: String,
    pub plugin_sha256: String,
    pub parameter_version_id: String,
}

#[derive(Clone)]
pub struct EligibilityService {
    db: Db,
    meters: MeterService,
    programs: ProgramService,
    plugins: PluginService,
    intervals: super::intervals::IntervalService,
}

impl EligibilityService {
    pub fn new(
        db: Db,
        meters: MeterService,
        programs: ProgramService,
        plugins: PluginService,
        intervals: super::intervals::IntervalService,
    ) -> Self {
        Self {
            db,
            meters,
            programs,
            plugins,
            intervals,
        }
    }

    /// What a plugin is asked for each meter: its commitment and start date
    /// (`terms`, in meter order) and the other programs it takes part in.
    pub async fn requests(
        &self,
        program: &program::Model,
        meters: &[meter::Model],
        terms: &[(Option<f64>, NaiveDate)],
    ) -> ApiResult<Vec<wit::EnrollmentRequest>> {
        let ids: Vec<String> = meters.iter().map(|m| m.id.clone()).collect();
        let mut others = self.participations(&ids).await?;
        let history = self.intervals.history_days(&ids).await?;
        Ok(meters
            .iter()
            .zip(terms)
            .map(|(m, (committed_kw, start))| {
                let mut r = enrollment_request(m, *committed_kw, *start);
                r.interval_history_days = history.get(&m.id).copied().unwrap_or(0);
                r.other_enrollments = others
                    .remove(&m.id)
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|code| *code != program.code)
                    .collect();
                r
            })
            .collect())
    }

    /// Codes of the programs each meter is pending or enrolled in.
    async fn participations(
        &self,
        meter_ids: &[String],
    ) -> ApiResult<HashMap<String, Vec<String>>> {
        let rows: Vec<(String, String)> = enrollment::Entity::find()
            .select_only()
            .column(enrollment::Column::MeterId)
            .column(enrollment::Column::ProgramId)
            .filter(enrollment::Column::MeterId.is_in(meter_ids.iter().cloned()))
            .filter(enrollment::Column::Status.is_in([
                EnrollmentStatus::Pending.as_str(),
                EnrollmentStatus::Enrolled.as_str(),
            ]))
            .into_tuple()
            .all(self.db.conn())
            .await?;
        let programs = self
            .programs
            .by_ids(&rows.iter().map(|(_, p)| p.clone()).collect::<Vec<_>>())
            .await?;
        let mut out: HashMap<String, Vec<String>> = HashMap::new();
        for (meter_id, program_id) in rows {
            if let Some(p) = programs.get(&program_id) {
                out.entry(meter_id).or_default().push(p.code.clone());
            }
        }
        Ok(out)
    }

    /// Evaluates meters (of the principal's partner) for one program.
    pub async fn evaluate(
        &self,
        principal: &Principal,
        program_id: &str,
        meter_ids: &[String],
        committed_kw: Option<f64>,
        start_date: Option<NaiveDate>,
    ) -> ApiResult<Vec<Verdict>> {
        if meter_ids.is_empty() || meter_ids.len() > MAX_METERS_PER_CALL {
            return Err(ApiError::validation(
                "meterIds",
                format!("give 1 to {MAX_METERS_PER_CALL} meter ids"),
            ));
        }
        let tenant = principal.tenant(None)?;
        let meters = self.meters.in_order(&tenant, meter_ids).await?;
        let program = self.programs.get(program_id).await?;
        let start = start_date.unwrap_or_else(|| local_today(&program));
        let terms = vec![(committed_kw, start); meters.len()];
        let requests = self.requests(&program, &meters, &terms).await?;
        self.run(program_id, meters, requests).await
    }

    /// A meter against every program that has an active plugin: which it may
    /// join and what is missing for the others.
    pub async fn for_meter(
        &self,
        principal: &Principal,
        meter_id: &str,
    ) -> ApiResult<Vec<Verdict>> {
        let meter = self.meters.get(principal, meter_id).await?;
        let mut verdicts = Vec::new();
        for program in self.programs.list().await? {
            if program.status != "ACTIVE" {
                continue;
            }
            let requests = self
                .requests(
                    &program,
                    std::slice::from_ref(&meter),
                    &[(None, local_today(&program))],
                )
                .await?;
            match self.run(&program.id, vec![meter.clone()], requests).await {
                Ok(mut v) => verdicts.append(&mut v),
                Err(ApiError::Plugin {
                    code: "PLUGIN_NOT_INSTALLED",
                    ..
                }) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(verdicts)
    }

    /// Portfolio-level rules for a partner's members in a program.
    pub async fn portfolio(
        &self,
        program_id: &str,
        members: &[wit::PortfolioMember],
    ) -> ApiResult<wit::Eligibility> {
        let (active, _, params) = self.prepare(program_id).await?;
        let host = self.plugins.host().clone();
        let members = members.to_vec();
        tokio::task::spawn_blocking(move || host.check_portfolio(&active.plugin, &params, &members))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::from)
    }

    /// The program's active plugin, parameter version in force and its JSON.
    async fn prepare(&self, program_id: &str) -> ApiResult<(ActivePlugin, String, String)> {
        let active = self.plugins.active_for(program_id).await?;
        let program = self.programs.get(program_id).await?;
        let parameters = self.programs.parameters_at(program_id, Utc::now()).await?;
        let params = parameter_object(&program, &parameters)?;
        Ok((active, parameters.id, params))
    }

    /// Runs the program's plugin over prepared requests.
    pub async fn run(
        &self,
        program_id: &str,
        meters: Vec<meter::Model>,
        requests: Vec<wit::EnrollmentRequest>,
    ) -> ApiResult<Vec<Verdict>> {
        let (active, parameter_version_id, params_json) = self.prepare(program_id).await?;
        let host = self.plugins.host().clone();
        let plugin = active.plugin.clone();
        let answers = tokio::task::spawn_blocking(move || {
            host.check_eligibility(&plugin, &params_json, &requests)
        })
        .await
        .map_err(ApiError::internal)??;
        Ok(meters
            .into_iter()
            .zip(answers)
            .map(|(meter, eligibility)| Verdict {
                meter,
                program_id: program_id.to_owned(),
                eligibility,
                plugin_id: active.record_id.clone(),
                plugin_version: active.plugin.info.plugin_version.clone(),
                plugin_sha256: active.plugin.sha256.clone(),
                parameter_version_id: parameter_version_id.clone(),
            })
            .collect())
    }
}

/// Today's date in the program's time zone (where its days are judged).
pub fn local_today(program: &program::Model) -> chrono::NaiveDate {
    local_date(&program.timezone, Utc::now())
}

/// The calendar date of `at` in time zone `tz` (UTC if the zone is unknown).
pub fn local_date(tz: &str, at: chrono::DateTime<Utc>) -> chrono::NaiveDate {
    match tz.parse::<chrono_tz::Tz>() {
        Ok(tz) => at.with_timezone(&tz).date_naive(),
        Err(_) => at.date_naive(),
    }
}

pub fn enrollment_request(
    m: &meter::Model,
    committed_kw: Option<f64>,
    start_date: chrono::NaiveDate,
) -> wit::EnrollmentRequest {
    wit::EnrollmentRequest {
        meter: convert::meter(m),
        committed_kw: committed_kw.or(m.capacity_kw),
        start_date: start_date.to_string(),
        interval_history_days: 0,
        other_enrollments: Vec::new(),
    }
}

/// A parameter version's list as a `{ key: value }` map.
pub fn parameter_map(
    version: &crate::entity::program_parameter_version::Model,
) -> ApiResult<serde_json::Map<String, serde_json::Value>> {
    let list: Vec<crate::domain::program::Parameter> =
        serde_json::from_value(version.parameters.clone())?;
    Ok(list.into_iter().map(|p| (p.key, p.value)).collect())
}

/// A parameter version as the `{ key: value }` object plugins read, with the
/// program's `timezone` and the version's `seasons` added (a parameter of the
/// same name wins).
pub fn parameter_object(
    program: &program::Model,
    version: &crate::entity::program_parameter_version::Model,
) -> ApiResult<String> {
    let mut object = parameter_map(version)?;
    object
        .entry("timezone")
        .or_insert_with(|| serde_json::Value::String(program.timezone.clone()));
    object
        .entry("seasons")
        .or_insert_with(|| version.seasons.clone());
    Ok(serde_json::Value::Object(object).to_string())
}

#[cfg(test)]
mod tests {
    use super::local_date;
    use chrono::{NaiveDate, TimeZone, Utc};

    #[test]
    fn dates_are_judged_in_the_program_zone() {
        let at = Utc.with_ymd_and_hms(2026, 7, 1, 5, 0, 0).unwrap();
        let june_30 = NaiveDate::from_ymd_opt(2026, 6, 30).unwrap();
        assert_eq!(local_date("America/Los_Angeles", at), june_30);
        // 05:00Z is 22:00 PDT on June 30 but 01:00 EDT on July 1.
        let july_1 = june_30.succ_opt().unwrap();
        assert_eq!(local_date("America/New_York", at), july_1);
        assert_eq!(local_date("Mars/Olympus", at), july_1);
    }
}
