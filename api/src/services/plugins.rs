//! Installing, activating and serving program rules plugins.
//!
//! Plugin bytes live in the database, so every replica can load them. Each
//! replica keeps the active plugin of every program in memory and re-reads the
//! active set every few seconds ([`PluginService::sync`]), so a version
//! installed through one replica is served by all of them without a restart.
//! Swapping the in-memory entry is atomic: calls already running finish on the
//! version they started with.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect, Set,
};

use crate::auth::Principal;
use crate::db::Db;
use crate::domain::Role;
use crate::entity::{plugin, program};
use crate::error::{ApiError, ApiResult};
use crate::ids;
use crate::rules::{LoadedPlugin, PluginError, RulesHost};

/// The plugin serving a program right now.
#[derive(Clone)]
pub struct ActivePlugin {
    pub record_id: String,
    pub plugin: Arc<LoadedPlugin>,
}

#[derive(Clone)]
pub struct PluginService {
    db: Db,
    host: Arc<RulesHost>,
    active: Arc<RwLock<HashMap<String, ActivePlugin>>>,
}

impl PluginService {
    pub fn new(db: Db, host: Arc<RulesHost>) -> Self {
        Self {
            db,
            host,
            active: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    pub fn host(&self) -> &Arc<RulesHost> {
        &self.host
    }

    /// Validates the bytes in the sandbox, checks the plugin is for this
    /// program, stores it, and (by default) makes it the active version.
    /// Installing the same bytes again is a no-op that returns the record.
    pub async fn install(
        &self,
        principal: &Principal,
        program_id: &str,
        bytes: Vec<u8>,
        activate: bool,
    ) -> ApiResult<plugin::Model> {
        principal.require(&[Role::Analyst, Role::Admin])?;
        let program = program::Entity::find_by_id(program_id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("program", program_id))?;
        let loaded = self.load(bytes.clone()).await?;
        if loaded.info.program_code != program.code {
            return Err(PluginError::Invalid(format!(
                "the plugin implements {}, not {}",
                loaded.info.program_code, program.code
            ))
            .into());
        }
        let txn = self.db.begin_write().await?;
        let same_version = plugin::Entity::find()
            .filter(plugin::Column::ProgramId.eq(program_id))
            .filter(plugin::Column::PluginVersion.eq(loaded.info.plugin_version.clone()))
            .one(&*txn)
            .await?;
        let record = match same_version {
            Some(existing) if existing.sha256 == loaded.sha256 => existing,
            Some(_) => {
                return Err(ApiError::Conflict(format!(
                    "{} version {} is already installed with different content; give the new build a new version",
                    program.code, loaded.info.plugin_version
                )))
            }
            None => {
                plugin::ActiveModel {
                    id: Set(ids::new_id(ids::PLUGIN)),
                    program_id: Set(program_id.to_owned()),
                    plugin_version: Set(loaded.info.plugin_version.clone()),
                    contract_version: Set(loaded.info.contract_version.clone()),
                    description: Set(loaded.info.description.clone()),
                    sha256: Set(loaded.sha256.clone()),
                    size_bytes: Set(bytes.len() as i64),
                    wasm: Set(bytes),
                    active: Set(false),
                    installed_by: Set(Some(principal.key_id.clone())),
                    installed_at: Set(Utc::now()),
                    activated_by: Set(None),
                    activated_at: Set(None),
                }
                .insert(&*txn)
                .await?
            }
        };
        let record = if activate && !record.active {
            activate_in(&txn, &record, &principal.key_id).await?
        } else {
            record
        };
        txn.commit().await?;
        tracing::info!(program = %program.code, version = %record.plugin_version, sha256 = %record.sha256, active = record.active, "plugin installed");
        if record.active {
            self.serve(program_id, &record.id, loaded);
        }
        Ok(record)
    }

    /// Installs the built plugins in `dir` (`*.wasm`) for the programs they
    /// implement, activating each for a program that has no active plugin yet.
    /// Versions already installed are left alone, so restarts are no-ops.
    pub async fn install_bundled(&self, dir: &std::path::Path) -> ApiResult<usize> {
        let system = Principal {
            key_id: "system".into(),
            role: Role::Admin,
            partner_id: None,
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(err) => {
                tracing::warn!(?dir, %err, "no bundled plugins");
                return Ok(0);
            }
        };
        let mut installed = 0;
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        {
            let bytes = std::fs::read(&path).map_err(ApiError::internal)?;
            let loaded = match self.load(bytes.clone()).await {
                Ok(l) => l,
                Err(err) => {
                    tracing::warn!(?path, %err, "skipping a bundled file that is not a usable plugin");
                    continue;
                }
            };
            let Some(program) = program::Entity::find()
                .filter(program::Column::Code.eq(loaded.info.program_code.clone()))
                .one(self.db.conn())
                .await?
            else {
                tracing::warn!(?path, program = %loaded.info.program_code, "bundled plugin for an unknown program");
                continue;
            };
            let has_active = plugin::Entity::find()
                .filter(plugin::Column::ProgramId.eq(program.id.clone()))
                .filter(plugin::Column::Active.eq(true))
                .one(self.db.conn())
                .await?
                .is_some();
            match self.install(&system, &program.id, bytes, !has_active).await {
                Ok(_) => installed += 1,
                // A different build of an installed version: keep what is installed.
                Err(ApiError::Conflict(message)) => {
                    tracing::info!(?path, %message, "bundled plugin skipped")
                }
                Err(err) => return Err(err),
            }
        }
        Ok(installed)
    }

    /// Makes an installed version the active one (also how to roll back).
    pub async fn activate(
        &self,
        principal: &Principal,
        plugin_id: &str,
    ) -> ApiResult<plugin::Model> {
        principal.require(&[Role::Analyst, Role::Admin])?;
        let txn = self.db.begin_write().await?;
        let record = plugin::Entity::find_by_id(plugin_id.to_owned())
            .one(&*txn)
            .await?
            .ok_or_else(|| ApiError::not_found("plugin", plugin_id))?;
        let record = if record.active {
            record
        } else {
            activate_in(&txn, &record, &principal.key_id).await?
        };
        txn.commit().await?;
        let loaded = self.load(record.wasm.clone()).await?;
        self.serve(&record.program_id, &record.id, loaded);
        tracing::info!(program_id = %record.program_id, version = %record.plugin_version, "plugin version activated");
        Ok(record)
    }

    /// Installed versions of programs, newest first, without their bytes.
    pub async fn versions(
        &self,
        program_ids: &[String],
    ) -> ApiResult<HashMap<String, Vec<PluginSummary>>> {
        let rows = plugin::Entity::find()
            .select_only()
            .columns([
                plugin::Column::Id,
                plugin::Column::ProgramId,
                plugin::Column::PluginVersion,
                plugin::Column::ContractVersion,
                plugin::Column::Description,
                plugin::Column::Sha256,
                plugin::Column::SizeBytes,
                plugin::Column::Active,
                plugin::Column::InstalledBy,
                plugin::Column::InstalledAt,
                plugin::Column::ActivatedBy,
                plugin::Column::ActivatedAt,
            ])
            .filter(plugin::Column::ProgramId.is_in(program_ids.iter().cloned()))
            .order_by_desc(plugin::Column::InstalledAt)
            .order_by_desc(plugin::Column::Id)
            .into_model::<PluginSummary>()
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |r| r.program_id.clone()))
    }

    /// The plugin serving `program_id`, loading it on first use.
    pub async fn active_for(&self, program_id: &str) -> ApiResult<ActivePlugin> {
        if let Some(found) = self.read().get(program_id) {
            return Ok(found.clone());
        }
        self.sync().await?;
        self.read()
            .get(program_id)
            .cloned()
            .ok_or_else(|| ApiError::Plugin {
                code: "PLUGIN_NOT_INSTALLED",
                message: format!(
                    "program {program_id} has no active rules plugin; an analyst must install one"
                ),
            })
    }

    /// Brings the in-memory active set in line with the database.
    pub async fn sync(&self) -> ApiResult<usize> {
        let rows: Vec<(String, String)> = plugin::Entity::find()
            .select_only()
            .columns([plugin::Column::ProgramId, plugin::Column::Id])
            .filter(plugin::Column::Active.eq(true))
            .into_tuple()
            .all(self.db.conn())
            .await?;
        let mut changed = 0;
        for (program_id, record_id) in rows {
            let current = self.read().get(&program_id).map(|a| a.record_id.clone());
            if current.as_deref() == Some(record_id.as_str()) {
                continue;
            }
            let Some(record) = plugin::Entity::find_by_id(record_id.clone())
                .one(self.db.conn())
                .await?
            else {
                continue;
            };
            match self.load(record.wasm).await {
                Ok(loaded) => {
                    self.serve(&program_id, &record_id, loaded);
                    changed += 1;
                }
                Err(err) => {
                    tracing::error!(%program_id, %record_id, %err, "active plugin does not load")
                }
            }
        }
        Ok(changed)
    }

    /// Re-reads the active set every `interval` (for multi-replica deployments).
    pub fn spawn_refresh(&self, interval: Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        super::every(interval, "plugin refresh", move || {
            let this = this.clone();
            async move { this.sync().await }
        })
    }

    async fn load(&self, bytes: Vec<u8>) -> ApiResult<Arc<LoadedPlugin>> {
        let host = self.host.clone();
        // Compilation is CPU-bound: keep it off the async workers.
        tokio::task::spawn_blocking(move || host.load(&bytes))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::from)
    }

    fn serve(&self, program_id: &str, record_id: &str, plugin: Arc<LoadedPlugin>) {
        self.active
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                program_id.to_owned(),
                ActivePlugin {
                    record_id: record_id.to_owned(),
                    plugin,
                },
            );
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, ActivePlugin>> {
        self.active.read().unwrap_or_else(|p| p.into_inner())
    }
}

async fn activate_in(
    txn: &crate::db::WriteTxn,
    record: &plugin::Model,
    by: &str,
) -> ApiResult<plugin::Model> {
    plugin::Entity::update_many()
        .col_expr(
            plugin::Column::Active,
            sea_orm::sea_query::Expr::value(false),
        )
        .filter(plugin::Column::ProgramId.eq(record.program_id.clone()))
        .exec(&**txn)
        .await?;
    let mut active: plugin::ActiveModel = record.clone().into();
    active.active = Set(true);
    active.activated_by = Set(Some(by.to_owned()));
    active.activated_at = Set(Some(Utc::now()));
    Ok(active.update(&**txn).await?)
}

/// A plugin version without its bytes.
#[derive(Debug, Clone, FromQueryResult)]
pub struct PluginSummary {
    pub id: String,
    pub program_id: String,
    pub plugin_version: String,
    pub contract_version: String,
    pub description: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub active: bool,
    pub installed_by: Option<String>,
    pub installed_at: chrono::DateTime<Utc>,
    pub activated_by: Option<String>,
    pub activated_at: Option<chrono::DateTime<Utc>>,
}

impl From<plugin::Model> for PluginSummary {
    fn from(m: plugin::Model) -> Self {
        Self {
            id: m.id,
            program_id: m.program_id,
            plugin_version: m.plugin_version,
            contract_version: m.contract_version,
            description: m.description,
            sha256: m.sha256,
            size_bytes: m.size_bytes,
            active: m.active,
            installed_by: m.installed_by,
            installed_at: m.installed_at,
            activated_by: m.activated_by,
            activated_at: m.activated_at,
        }
    }
}
