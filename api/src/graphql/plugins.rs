//! Rules plugins: install, activate (roll back), list versions.

use async_graphql::{Context, Object, Result, ID};
use base64::Engine;
use chrono::{DateTime, Utc};

use super::context::ContextExt;
use crate::error::ApiError;
use crate::services::plugins::PluginSummary;

/// One installed version of a program's rules plugin.
pub struct PluginVersion(pub PluginSummary);

#[Object]
impl PluginVersion {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn program_id(&self) -> ID {
        ID(self.0.program_id.clone())
    }
    /// The plugin's own semantic version.
    async fn version(&self) -> &str {
        &self.0.plugin_version
    }
    /// The contract version it was built against.
    async fn contract_version(&self) -> &str {
        &self.0.contract_version
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// SHA-256 of the uploaded bytes; recorded with every result it computes.
    async fn sha256(&self) -> &str {
        &self.0.sha256
    }
    async fn size_bytes(&self) -> i64 {
        self.0.size_bytes
    }
    /// Whether this version serves the program now.
    async fn active(&self) -> bool {
        self.0.active
    }
    /// API key id of the installer (`system` for bundled plugins).
    async fn installed_by(&self) -> Option<&str> {
        self.0.installed_by.as_deref()
    }
    async fn installed_at(&self) -> DateTime<Utc> {
        self.0.installed_at
    }
    async fn activated_by(&self) -> Option<&str> {
        self.0.activated_by.as_deref()
    }
    async fn activated_at(&self) -> Option<DateTime<Utc>> {
        self.0.activated_at
    }
}

#[derive(Default)]
pub struct PluginMutation;

#[Object]
impl PluginMutation {
    /// Installs a rules plugin for a program (ANALYST or ADMIN): a WebAssembly
    /// component, or a core module built with gridhub-plugin-sdk, base64-encoded.
    /// It is validated in the sandbox (compiles, serves this contract version,
    /// implements this program) and, unless `activate: false`, becomes the
    /// active version at once; calls already running finish on the old one.
    async fn install_plugin(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        wasm_base64: String,
        #[graphql(desc = "Make it the active version (default true)")] activate: Option<bool>,
    ) -> Result<PluginVersion> {
        let p = ctx.principal()?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(wasm_base64.trim())
            .map_err(|_| ApiError::validation("wasmBase64", "is not valid base64"))?;
        let services = ctx.services()?;
        let record = services
            .plugins
            .install(p, &program_id, bytes, activate.unwrap_or(true))
            .await?;
        if record.active {
            services.enrollments.after_program_change(&program_id).await;
        }
        Ok(PluginVersion(record.into()))
    }

    /// Makes an installed version the active one: how to roll back (ANALYST or ADMIN).
    async fn activate_plugin_version(&self, ctx: &Context<'_>, id: ID) -> Result<PluginVersion> {
        let p = ctx.principal()?;
        let services = ctx.services()?;
        let record = services.plugins.activate(p, &id).await?;
        services
            .enrollments
            .after_program_change(&record.program_id)
            .await;
        Ok(PluginVersion(record.into()))
    }
}
