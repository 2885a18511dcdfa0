//! Market programs and their parameter history.

use async_graphql::{Context, Json, Object, Result, ID};
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use super::plugins::PluginVersion;
use crate::domain::geo::{Iso, Region};
use crate::domain::program::{
    MvKind, Parameter, ParameterChange, ParameterKind, ProgramSpec, ProgramStatus, Season,
};
use crate::entity::{program, program_parameter_version as version};
use crate::error::ApiError;
use crate::services::programs::ParameterUpdate;

pub struct Program(pub program::Model);

impl Program {
    async fn versions(&self, ctx: &Context<'_>) -> Result<Vec<version::Model>> {
        Ok(ctx
            .loaders()?
            .program_versions
            .load_one(self.0.id.clone())
            .await?
            .unwrap_or_default())
    }

    /// The version in force at `at`: the latest `effectiveFrom` not after it.
    async fn version_at(
        &self,
        ctx: &Context<'_>,
        at: DateTime<Utc>,
    ) -> Result<Option<ParameterVersion>> {
        Ok(self
            .versions(ctx)
            .await?
            .into_iter()
            .filter(|v| v.effective_from <= at)
            .max_by_key(|v| (v.effective_from, v.version))
            .map(ParameterVersion))
    }

    async fn current(&self, ctx: &Context<'_>) -> Result<ParameterVersion> {
        self.version_at(ctx, Utc::now()).await?.ok_or_else(|| {
            ApiError::internal(format!("program {} has no parameters", self.0.id)).into()
        })
    }
}

#[Object]
impl Program {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// Unique code, e.g. `CAISO_DRAM`.
    async fn code(&self) -> &str {
        &self.0.code
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn region(&self) -> Result<Region> {
        Ok(Region::from_db(&self.0.region)?)
    }
    async fn iso(&self) -> Result<Iso> {
        Ok(Iso::from_db(&self.0.iso)?)
    }
    /// Set when the program belongs to one utility.
    async fn utility(&self) -> Option<&str> {
        self.0.utility.as_deref()
    }
    /// Whether performance is measured at the utility meter or on the device.
    async fn mv_kind(&self) -> Result<MvKind> {
        Ok(MvKind::from_db(&self.0.mv_kind)?)
    }
    /// Whether partners upload the interval data.
    async fn partner_supplied_intervals(&self) -> bool {
        self.0.partner_supplied_intervals
    }
    /// IANA time zone in which hours, days and seasons are judged.
    async fn timezone(&self) -> &str {
        &self.0.timezone
    }
    async fn status(&self) -> Result<ProgramStatus> {
        Ok(ProgramStatus::from_db(&self.0.status)?)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
    /// Parameters in force now.
    async fn parameters(&self, ctx: &Context<'_>) -> Result<Vec<ProgramParameter>> {
        self.current(ctx).await?.parameter_list()
    }
    /// Seasons in force now.
    async fn seasons(&self, ctx: &Context<'_>) -> Result<Vec<Season>> {
        self.current(ctx).await?.season_list()
    }
    /// The parameter version in force now.
    async fn parameter_version(&self, ctx: &Context<'_>) -> Result<ParameterVersion> {
        self.current(ctx).await
    }
    /// The parameter version in force at an instant (to reproduce a past settlement).
    async fn parameters_at(
        &self,
        ctx: &Context<'_>,
        at: DateTime<Utc>,
    ) -> Result<ParameterVersion> {
        self.version_at(ctx, at).await?.ok_or_else(|| {
            ApiError::not_found("parameter version in force at", at.to_rfc3339()).into()
        })
    }
    /// Installed rules plugin versions, newest first.
    async fn plugins(&self, ctx: &Context<'_>) -> Result<Vec<PluginVersion>> {
        let versions = ctx
            .loaders()?
            .plugin_versions
            .load_one(self.0.id.clone())
            .await?;
        Ok(versions
            .unwrap_or_default()
            .into_iter()
            .map(PluginVersion)
            .collect())
    }
    /// The plugin version that serves this program now.
    async fn active_plugin(&self, ctx: &Context<'_>) -> Result<Option<PluginVersion>> {
        let versions = ctx
            .loaders()?
            .plugin_versions
            .load_one(self.0.id.clone())
            .await?;
        Ok(versions
            .unwrap_or_default()
            .into_iter()
            .find(|v| v.active)
            .map(PluginVersion))
    }
    /// Every parameter version, oldest first, including scheduled future ones.
    async fn parameter_history(&self, ctx: &Context<'_>) -> Result<Vec<ParameterVersion>> {
        Ok(self
            .versions(ctx)
            .await?
            .into_iter()
            .map(ParameterVersion)
            .collect())
    }
}

/// One immutable version of a program's parameters and seasons.
pub struct ParameterVersion(pub version::Model);

impl ParameterVersion {
    fn parameter_list(&self) -> Result<Vec<ProgramParameter>> {
        let params: Vec<Parameter> =
            serde_json::from_value(self.0.parameters.clone()).map_err(ApiError::from)?;
        Ok(params.into_iter().map(ProgramParameter).collect())
    }

    fn season_list(&self) -> Result<Vec<Season>> {
        Ok(serde_json::from_value(self.0.seasons.clone()).map_err(ApiError::from)?)
    }
}

#[Object(name = "ProgramParameterVersion")]
impl ParameterVersion {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// 1, 2, 3 … per program.
    async fn version(&self) -> i32 {
        self.0.version
    }
    async fn effective_from(&self) -> DateTime<Utc> {
        self.0.effective_from
    }
    async fn parameters(&self) -> Result<Vec<ProgramParameter>> {
        self.parameter_list()
    }
    /// One parameter by key.
    async fn parameter(&self, key: String) -> Result<Option<ProgramParameter>> {
        Ok(self.parameter_list()?.into_iter().find(|p| p.0.key == key))
    }
    async fn seasons(&self) -> Result<Vec<Season>> {
        self.season_list()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
    /// API key id of whoever published this version (none for seeded defaults).
    async fn changed_by(&self) -> Option<ID> {
        self.0.changed_by.clone().map(ID)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct ProgramParameter(pub Parameter);

#[Object]
impl ProgramParameter {
    async fn key(&self) -> &str {
        &self.0.key
    }
    async fn kind(&self) -> ParameterKind {
        self.0.kind
    }
    /// The value; MONEY and DECIMAL values are exact decimals in JSON strings.
    async fn value(&self) -> Json<serde_json::Value> {
        Json(self.0.value.clone())
    }
    async fn unit(&self) -> Option<&str> {
        self.0.unit.as_deref()
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn source(&self) -> Option<&str> {
        self.0.source.as_deref()
    }
    /// The default could not yet be checked against the program documents.
    async fn to_confirm(&self) -> bool {
        self.0.to_confirm
    }
}

#[derive(Default)]
pub struct ProgramQuery;

#[Object]
impl ProgramQuery {
    async fn programs(&self, ctx: &Context<'_>) -> Result<Vec<Program>> {
        ctx.principal()?;
        Ok(ctx
            .services()?
            .programs
            .list()
            .await?
            .into_iter()
            .map(Program)
            .collect())
    }

    /// A program by id or by code.
    async fn program(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        code: Option<String>,
    ) -> Result<Program> {
        ctx.principal()?;
        let programs = &ctx.services()?.programs;
        let found = match (id, code) {
            (Some(id), None) => programs.get(&id).await?,
            (None, Some(code)) => programs.get_by_code(&code).await?,
            _ => {
                return Err(ApiError::validation("id", "give exactly one of `id` or `code`").into())
            }
        };
        Ok(Program(found))
    }
}

#[derive(Default)]
pub struct ProgramMutation;

#[Object]
impl ProgramMutation {
    /// Creates a program (ADMIN).
    async fn create_program(
        &self,
        ctx: &Context<'_>,
        input: ProgramSpec,
        idempotency_key: Option<String>,
    ) -> Result<Program> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        Ok(Program(
            ctx.services()?.programs.create(p, input, key).await?,
        ))
    }

    /// Publishes a new parameter version (ANALYST or ADMIN). Earlier versions
    /// are kept, so past settlements stay reproducible.
    #[allow(clippy::too_many_arguments)]
    async fn update_program_parameters(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        changes: Option<Vec<ParameterChange>>,
        #[graphql(desc = "Keys of parameters to remove")] remove: Option<Vec<String>>,
        #[graphql(desc = "Replaces the season list")] seasons: Option<Vec<Season>>,
        #[graphql(desc = "Defaults to now; never before the latest version's")]
        effective_from: Option<DateTime<Utc>>,
        note: Option<String>,
    ) -> Result<ParameterVersion> {
        let p = ctx.principal()?;
        let update = ParameterUpdate {
            changes: changes.unwrap_or_default(),
            remove: remove.unwrap_or_default(),
            seasons,
            effective_from,
            note,
        };
        let services = ctx.services()?;
        let created = services
            .programs
            .update_parameters(p, &program_id, update)
            .await?;
        services.enrollments.after_program_change(&program_id).await;
        Ok(ParameterVersion(created))
    }
}
