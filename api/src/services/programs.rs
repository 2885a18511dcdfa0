//! Market programs and their versioned parameters.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::auth::Principal;
use crate::db::Db;
use crate::domain::program::{
    apply_changes, validate_seasons, Parameter, ParameterChange, ProgramSpec, ProgramStatus, Season,
};
use crate::domain::Role;
use crate::entity::{program, program_parameter_version as version};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::services::idempotency::{self, IdempotencyKey, Start};

#[derive(Clone)]
pub struct ProgramService {
    db: Db,
}

/// A request to publish a new parameter version.
#[derive(Debug, Clone, Default)]
pub struct ParameterUpdate {
    pub changes: Vec<ParameterChange>,
    pub remove: Vec<String>,
    /// Replaces the season list when given.
    pub seasons: Option<Vec<Season>>,
    /// Defaults to now; never before the latest version's.
    pub effective_from: Option<DateTime<Utc>>,
    pub note: Option<String>,
}

impl ProgramService {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The program catalog is visible to every authenticated principal.
    pub async fn list(&self) -> ApiResult<Vec<program::Model>> {
        Ok(program::Entity::find()
            .order_by_asc(program::Column::Code)
            .all(self.db.conn())
            .await?)
    }

    pub async fn get(&self, id: &str) -> ApiResult<program::Model> {
        program::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("program", id))
    }

    pub async fn get_by_code(&self, code: &str) -> ApiResult<program::Model> {
        program::Entity::find()
            .filter(program::Column::Code.eq(code.trim().to_ascii_uppercase()))
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("program", code))
    }

    pub async fn by_ids(&self, ids: &[String]) -> ApiResult<HashMap<String, program::Model>> {
        let rows = program::Entity::find()
            .filter(program::Column::Id.is_in(ids.iter().cloned()))
            .all(self.db.conn())
            .await?;
        Ok(rows.into_iter().map(|p| (p.id.clone(), p)).collect())
    }

    /// All parameter versions of the given programs, oldest first (for DataLoaders).
    pub async fn versions_of(
        &self,
        program_ids: &[String],
    ) -> ApiResult<HashMap<String, Vec<version::Model>>> {
        let rows = version::Entity::find()
            .filter(version::Column::ProgramId.is_in(program_ids.iter().cloned()))
            .order_by_asc(version::Column::ProgramId)
            .order_by_asc(version::Column::Version)
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |r| r.program_id.clone()))
    }

    /// The parameter version in force at `at`.
    pub async fn parameters_at(
        &self,
        program_id: &str,
        at: DateTime<Utc>,
    ) -> ApiResult<version::Model> {
        version::Entity::find()
            .filter(version::Column::ProgramId.eq(program_id))
            .filter(version::Column::EffectiveFrom.lte(at))
            .order_by_desc(version::Column::EffectiveFrom)
            .order_by_desc(version::Column::Version)
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("parameter version in force at", at.to_rfc3339()))
    }

    pub async fn create(
        &self,
        principal: &Principal,
        spec: ProgramSpec,
        idempotency_key: Option<String>,
    ) -> ApiResult<program::Model> {
        principal.require(&[Role::Admin])?;
        let errors = spec.validate();
        if !errors.is_empty() {
            return Err(ApiError::Validation(errors));
        }
        let idem = idempotency_key
            .map(|k| IdempotencyKey::new(principal, k, "createProgram", &spec))
            .transpose()?;
        let txn = match idempotency::start::<String>(&self.db, idem.as_ref()).await? {
            Start::Replay(id) => return self.get(&id).await,
            Start::Fresh(txn) => txn,
        };
        let taken = program::Entity::find()
            .filter(program::Column::Code.eq(spec.code.clone()))
            .one(&*txn)
            .await?;
        if taken.is_some() {
            return Err(ApiError::Conflict(format!(
                "a program with code `{}` already exists",
                spec.code
            )));
        }
        let created = insert_program(&*txn, &spec, Some(&principal.key_id)).await?;
        idempotency::finish(txn, idem.as_ref(), &created.id).await?;
        tracing::info!(program = %created.code, "program created");
        Ok(created)
    }

    /// Publishes a new parameter version. Versions are immutable, so every
    /// settlement can name the exact parameters it used.
    pub async fn update_parameters(
        &self,
        principal: &Principal,
        program_id: &str,
        update: ParameterUpdate,
    ) -> ApiResult<version::Model> {
        principal.require(&[Role::Admin, Role::Analyst])?;
        if update.changes.is_empty() && update.remove.is_empty() && update.seasons.is_none() {
            return Err(ApiError::validation(
                "changes",
                "give at least one parameter change, removal or a new season list",
            ));
        }
        if let Some(seasons) = &update.seasons {
            let errors = validate_seasons(seasons, "seasons");
            if !errors.is_empty() {
                return Err(ApiError::Validation(errors));
            }
        }
        let note = update
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty());
        if note.as_ref().is_some_and(|n| n.len() > 1000) {
            return Err(ApiError::validation(
                "note",
                "must be at most 1000 characters",
            ));
        }

        let txn = self.db.begin_write().await?;
        program::Entity::find_by_id(program_id.to_owned())
            .one(&*txn)
            .await?
            .ok_or_else(|| ApiError::not_found("program", program_id))?;
        let latest = version::Entity::find()
            .filter(version::Column::ProgramId.eq(program_id))
            .order_by_desc(version::Column::Version)
            .one(&*txn)
            .await?
            .ok_or_else(|| ApiError::internal(format!("program {program_id} has no parameters")))?;
        let effective_from = update.effective_from.unwrap_or_else(Utc::now);
        if effective_from < latest.effective_from {
            return Err(ApiError::validation(
                "effectiveFrom",
                format!(
                    "must not be before the latest version's ({}): parameter history only moves forward",
                    latest.effective_from.to_rfc3339()
                ),
            ));
        }
        let current: Vec<Parameter> = serde_json::from_value(latest.parameters.clone())?;
        let next = apply_changes(&current, &update.changes, &update.remove)
            .map_err(ApiError::Validation)?;
        let seasons = match update.seasons {
            Some(s) => serde_json::to_value(s)?,
            None => latest.seasons.clone(),
        };
        let created = version::ActiveModel {
            id: Set(ids::new_id(ids::PARAMETER_VERSION)),
            program_id: Set(program_id.to_owned()),
            version: Set(latest.version + 1),
            effective_from: Set(effective_from),
            parameters: Set(serde_json::to_value(next)?),
            seasons: Set(seasons),
            note: Set(note),
            changed_by: Set(Some(principal.key_id.clone())),
            created_at: Set(Utc::now()),
        }
        .insert(&*txn)
        .await?;
        program::Entity::update_many()
            .col_expr(
                program::Column::UpdatedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(program::Column::Id.eq(program_id))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        tracing::info!(
            program_id,
            version = created.version,
            "program parameters changed"
        );
        Ok(created)
    }

    /// Inserts each seeded program that does not exist yet. Safe to run from
    /// several replicas at once, and never overwrites an operator's changes.
    pub async fn seed(&self, specs: &[ProgramSpec]) -> ApiResult<usize> {
        let mut inserted = 0;
        for spec in specs {
            debug_assert!(spec.validate().is_empty(), "seed {} invalid", spec.code);
            let txn = self.db.begin_write().await?;
            let exists = program::Entity::find()
                .filter(program::Column::Code.eq(spec.code.clone()))
                .one(&*txn)
                .await?
                .is_some();
            if exists {
                continue;
            }
            match insert_program(&*txn, spec, None).await {
                Ok(_) => {
                    txn.commit().await?;
                    inserted += 1;
                }
                // Another replica seeded it between our check and insert.
                Err(ApiError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(inserted)
    }
}

async fn insert_program(
    conn: &impl ConnectionTrait,
    spec: &ProgramSpec,
    by: Option<&str>,
) -> ApiResult<program::Model> {
    let now = Utc::now();
    let created = program::ActiveModel {
        id: Set(ids::new_id(ids::PROGRAM)),
        code: Set(spec.code.clone()),
        name: Set(spec.name.trim().to_owned()),
        description: Set(spec.description.trim().to_owned()),
        region: Set(spec.region.as_str().to_owned()),
        iso: Set(spec.iso().as_str().to_owned()),
        utility: Set(spec.utility.clone()),
        mv_kind: Set(spec.mv_kind.as_str().to_owned()),
        partner_supplied_intervals: Set(spec.partner_supplied_intervals),
        timezone: Set(spec.timezone.clone()),
        status: Set(ProgramStatus::Active.as_str().to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await?;
    version::ActiveModel {
        id: Set(ids::new_id(ids::PARAMETER_VERSION)),
        program_id: Set(created.id.clone()),
        version: Set(1),
        // Version 1 is in force for all history, so any past event can be settled.
        effective_from: Set(DateTime::<Utc>::UNIX_EPOCH),
        parameters: Set(serde_json::to_value(spec.parameters())?),
        seasons: Set(serde_json::to_value(&spec.seasons)?),
        note: Set(Some("initial parameters".into())),
        changed_by: Set(by.map(str::to_owned)),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(created)
}
