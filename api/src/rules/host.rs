//! The wasmtime engine, plugin preparation (validation, compilation with an
//! on-disk cache keyed by content hash, pre-instantiation) and sandboxed calls.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, Trap};

use super::bindings::{gridhub::rules::types as wit, Plugin, PluginPre};
use super::{PluginError, CONTRACT_PACKAGE, CONTRACT_VERSION};

/// Per-call budgets.
#[derive(Debug, Clone)]
pub struct RulesLimits {
    /// Fuel per call (about one unit per wasm instruction).
    pub fuel_per_call: u64,
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
    /// Log output kept per call; the rest is dropped with a notice.
    pub log_bytes_per_call: usize,
    /// Largest plugin accepted.
    pub max_plugin_bytes: usize,
}

impl Default for RulesLimits {
    fn default() -> Self {
        Self {
            fuel_per_call: 2_000_000_000,
            memory_bytes: 64 << 20,
            log_bytes_per_call: 16 << 10,
            max_plugin_bytes: 4 << 20,
        }
    }
}

/// Per-call state: the plugin's name for logs, limits, the last panic message.
pub struct HostState {
    label: String,
    limiter: MemoryLimiter,
    log_budget: usize,
    last_panic: Option<String>,
}

struct MemoryLimiter {
    max_bytes: usize,
    exceeded: bool,
}

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exceeded = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

impl super::bindings::gridhub::rules::types::Host for HostState {}

impl super::bindings::gridhub::rules::host::Host for HostState {
    fn log(&mut self, level: wit::LogLevel, message: String) {
        if level == wit::LogLevel::Error && message.starts_with("panic:") {
            self.last_panic = Some(message.chars().take(2000).collect());
        }
        if self.log_budget == 0 {
            return;
        }
        let mut text: String = message.chars().take(self.log_budget).collect();
        self.log_budget -= text.len();
        if self.log_budget == 0 {
            text.push_str(" … [plugin log limit reached; further output dropped]");
        }
        let plugin = self.label.as_str();
        match level {
            wit::LogLevel::Trace => tracing::trace!(plugin, "{text}"),
            wit::LogLevel::Debug => tracing::debug!(plugin, "{text}"),
            wit::LogLevel::Info => tracing::info!(plugin, "{text}"),
            wit::LogLevel::Warn => tracing::warn!(plugin, "{text}"),
            wit::LogLevel::Error => tracing::error!(plugin, "{text}"),
        }
    }
}

/// A validated, compiled, pre-instantiated plugin.
pub struct LoadedPlugin {
    pub info: wit::PluginInfo,
    pub sha256: String,
    /// `PROGRAM_CODE@version`, used in logs and errors.
    pub label: String,
    pre: PluginPre<HostState>,
}

pub struct RulesHost {
    engine: Engine,
    linker: Linker<HostState>,
    limits: RulesLimits,
    cache_dir: Option<PathBuf>,
    loaded: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::Invalid(message.into())
}

impl RulesHost {
    pub fn new(limits: RulesLimits, cache_dir: Option<PathBuf>) -> Result<Self, PluginError> {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(200)
            .total_core_instances(2000)
            .total_memories(400)
            .total_tables(400)
            .max_memory_size(limits.memory_bytes)
            .max_core_instances_per_component(50)
            .max_memories_per_component(10)
            .max_tables_per_component(10);
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .consume_fuel(true)
            .cranelift_nan_canonicalization(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).map_err(|e| invalid(format!("engine: {e:#}")))?;
        let mut linker = Linker::new(&engine);
        Plugin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(
            &mut linker,
            |s| s,
        )
        .map_err(|e| invalid(format!("linker: {e:#}")))?;
        if let Some(dir) = &cache_dir {
            if let Err(err) = std::fs::create_dir_all(dir) {
                tracing::warn!(?dir, %err, "plugin cache directory unavailable; compiling in memory only");
            }
        }
        Ok(Self {
            engine,
            linker,
            limits,
            cache_dir,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    pub fn limits(&self) -> &RulesLimits {
        &self.limits
    }

    /// Validates and loads plugin bytes: a component, or a core module built
    /// with the SDK (encoded into a component here). Same bytes, same result:
    /// loads are cached by SHA-256.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<LoadedPlugin>, PluginError> {
        if bytes.len() > self.limits.max_plugin_bytes {
            return Err(invalid(format!(
                "plugin is {} bytes; the limit is {}",
                bytes.len(),
                self.limits.max_plugin_bytes
            )));
        }
        let sha = sha256_hex(bytes);
        if let Some(found) = self
            .loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&sha)
        {
            return Ok(found.clone());
        }
        let component_bytes = to_component(bytes)?;
        let component = self.compile(&component_bytes, &sha)?;
        check_contract(&self.engine, &component)?;
        let instance_pre = self.linker.instantiate_pre(&component).map_err(|e| {
            invalid(format!(
                "the plugin needs imports this host does not give: {e:#}"
            ))
        })?;
        let pre = PluginPre::new(instance_pre).map_err(|e| {
            invalid(format!(
                "the plugin does not export the gridhub:rules contract: {e:#}"
            ))
        })?;
        let mut plugin = LoadedPlugin {
            info: wit::PluginInfo {
                program_code: String::new(),
                plugin_version: String::new(),
                contract_version: String::new(),
                description: String::new(),
            },
            label: format!("plugin sha256:{}", &sha[..12]),
            sha256: sha.clone(),
            pre,
        };
        let info = self.call(&plugin, |p, store| {
            p.gridhub_rules_program().call_info(store)
        })?;
        if info.program_code.trim().is_empty() || info.plugin_version.trim().is_empty() {
            return Err(invalid(
                "the plugin's info() gives no program code or version",
            ));
        }
        plugin.label = format!("{}@{}", info.program_code, info.plugin_version);
        plugin.info = info;
        let plugin = Arc::new(plugin);
        self.loaded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(sha, plugin.clone());
        Ok(plugin)
    }

    fn compile(&self, component_bytes: &[u8], sha: &str) -> Result<Component, PluginError> {
        let cached = self.cache_dir.as_ref().map(|dir| {
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            self.engine
                .precompile_compatibility_hash()
                .hash(&mut hasher);
            dir.join(format!("{sha}-{:016x}.cwasm", hasher.finish()))
        });
        if let Some(path) = &cached {
            if path.exists() {
                // SAFETY: only this host writes files in its cache directory,
                // named by content hash and engine compatibility hash.
                match unsafe { Component::deserialize_file(&self.engine, path) } {
                    Ok(c) => return Ok(c),
                    Err(err) => tracing::warn!(?path, %err, "ignoring unreadable compiled plugin"),
                }
            }
        }
        let compiled = self
            .engine
            .precompile_component(component_bytes)
            .map_err(|e| invalid(format!("the plugin does not compile: {e:#}")))?;
        if let Some(path) = &cached {
            let tmp = path.with_extension("tmp");
            if std::fs::write(&tmp, &compiled)
                .and_then(|_| std::fs::rename(&tmp, path))
                .is_err()
            {
                tracing::warn!(?path, "could not cache the compiled plugin");
            }
        }
        // SAFETY: the bytes were just produced by this engine.
        unsafe { Component::deserialize(&self.engine, &compiled) }
            .map_err(|e| invalid(format!("the plugin does not load: {e:#}")))
    }

    /// Runs one call in a fresh, limited store.
    pub fn call<T>(
        &self,
        plugin: &LoadedPlugin,
        f: impl FnOnce(&Plugin, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, PluginError> {
        let mut store = Store::new(
            &self.engine,
            HostState {
                label: plugin.label.clone(),
                limiter: MemoryLimiter {
                    max_bytes: self.limits.memory_bytes,
                    exceeded: false,
                },
                log_budget: self.limits.log_bytes_per_call,
                last_panic: None,
            },
        );
        store.limiter(|s| &mut s.limiter);
        store
            .set_fuel(self.limits.fuel_per_call)
            .map_err(|e| invalid(format!("fuel: {e:#}")))?;
        let result = plugin
            .pre
            .instantiate(&mut store)
            .and_then(|instance| f(&instance, &mut store));
        result.map_err(|err| {
            let state = store.data();
            let label = plugin.label.clone();
            if state.limiter.exceeded {
                PluginError::OutOfMemory {
                    plugin: label,
                    limit_bytes: self.limits.memory_bytes,
                }
            } else if err.downcast_ref::<Trap>() == Some(&Trap::OutOfFuel) {
                PluginError::Timeout {
                    plugin: label,
                    fuel: self.limits.fuel_per_call,
                }
            } else {
                PluginError::Trap {
                    plugin: label,
                    message: state
                        .last_panic
                        .clone()
                        .unwrap_or_else(|| format!("{err:#}")),
                }
            }
        })
    }

    pub fn check_eligibility(
        &self,
        plugin: &LoadedPlugin,
        params: &str,
        requests: &[wit::EnrollmentRequest],
    ) -> Result<Vec<wit::Eligibility>, PluginError> {
        let answers = self
            .call(plugin, |p, store| {
                p.gridhub_rules_program()
                    .call_check_eligibility(store, params, requests)
            })?
            .map_err(|e| rule_error(plugin, e))?;
        if answers.len() != requests.len() {
            return Err(PluginError::Malformed {
                plugin: plugin.label.clone(),
                message: format!("{} answers for {} meters", answers.len(), requests.len()),
            });
        }
        Ok(answers)
    }

    pub fn check_portfolio(
        &self,
        plugin: &LoadedPlugin,
        params: &str,
        members: &[wit::PortfolioMember],
    ) -> Result<wit::Eligibility, PluginError> {
        self.call(plugin, |p, store| {
            p.gridhub_rules_program()
                .call_check_portfolio(store, params, members)
        })?
        .map_err(|e| rule_error(plugin, e))
    }
}

impl RulesHost {
    /// Baselines for many meters in one call; one result per request.
    pub fn compute_baselines(
        &self,
        plugin: &LoadedPlugin,
        params: &str,
        requests: &[wit::BaselineRequest],
    ) -> Result<Vec<Result<wit::Baseline, PluginError>>, PluginError> {
        let answers = self.call(plugin, |p, store| {
            p.gridhub_rules_program()
                .call_compute_baselines(store, params, requests)
        })?;
        if answers.len() != requests.len() {
            return Err(PluginError::Malformed {
                plugin: plugin.label.clone(),
                message: format!("{} baselines for {} meters", answers.len(), requests.len()),
            });
        }
        Ok(answers
            .into_iter()
            .map(|a| a.map_err(|e| rule_error(plugin, e)))
            .collect())
    }

    /// Settlements for many meters in one call; one result per request.
    pub fn settle(
        &self,
        plugin: &LoadedPlugin,
        params: &str,
        requests: &[wit::SettlementRequest],
    ) -> Result<Vec<Result<wit::Settlement, PluginError>>, PluginError> {
        let answers = self.call(plugin, |p, store| {
            p.gridhub_rules_program()
                .call_settle(store, params, requests)
        })?;
        if answers.len() != requests.len() {
            return Err(PluginError::Malformed {
                plugin: plugin.label.clone(),
                message: format!(
                    "{} settlements for {} meters",
                    answers.len(),
                    requests.len()
                ),
            });
        }
        answers
            .into_iter()
            .map(|a| match a {
                Ok(s) => check_amounts(plugin, s).map(Ok),
                Err(e) => Ok(Err(rule_error(plugin, e))),
            })
            .collect()
    }
}

/// Money must come back as exact decimals; anything else is malformed output.
fn check_amounts(
    plugin: &LoadedPlugin,
    s: wit::Settlement,
) -> Result<wit::Settlement, PluginError> {
    for item in &s.line_items {
        for (what, text) in [("amount", &item.amount), ("rate", &item.rate)] {
            if text.parse::<rust_decimal::Decimal>().is_err() {
                return Err(PluginError::Malformed {
                    plugin: plugin.label.clone(),
                    message: format!("line item {} has {what} `{text}`, not a decimal", item.code),
                });
            }
        }
    }
    Ok(s)
}

pub fn rule_error(plugin: &LoadedPlugin, err: wit::RuleError) -> PluginError {
    let (kind, message) = match err {
        wit::RuleError::InsufficientHistory(m) => ("insufficient history", m),
        wit::RuleError::InvalidInput(m) => ("invalid input", m),
        wit::RuleError::InvalidParameters(m) => ("invalid parameters", m),
        wit::RuleError::Unsupported(m) => ("unsupported", m),
    };
    PluginError::Rule {
        plugin: plugin.label.clone(),
        kind,
        message,
    }
}

/// Core modules built with the SDK carry their WIT in a custom section;
/// encode them into a component. Components pass through.
fn to_component(bytes: &[u8]) -> Result<Vec<u8>, PluginError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(invalid("not a WebAssembly file"));
    }
    let is_core_module = bytes[4..8] == [1, 0, 0, 0];
    if !is_core_module {
        return Ok(bytes.to_vec());
    }
    wit_component::ComponentEncoder::default()
        .module(bytes)
        .and_then(|e| e.validate(true).encode())
        .map_err(|e| {
            invalid(format!(
                "the module is not a gridhub plugin (build it with gridhub-plugin-sdk): {e:#}"
            ))
        })
}

/// The plugin must export `gridhub:rules/program` of a contract major version
/// this host serves, and import nothing outside `gridhub:rules`.
fn check_contract(engine: &Engine, component: &Component) -> Result<(), PluginError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if !name.starts_with(&format!("{CONTRACT_PACKAGE}/")) {
            return Err(invalid(format!(
                "the plugin imports `{name}`; plugins get no I/O beyond gridhub:rules/host"
            )));
        }
    }
    let prefix = format!("{CONTRACT_PACKAGE}/program@");
    let export = ty
        .exports(engine)
        .map(|(name, _)| name.to_owned())
        .find(|name| name.starts_with(&prefix))
        .ok_or_else(|| invalid("the plugin does not export gridhub:rules/program; build it with gridhub-plugin-sdk"))?;
    let version = &export[prefix.len()..];
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    let (major, minor) = (parts.next().flatten(), parts.next().flatten());
    let (want_major, want_minor) = CONTRACT_VERSION;
    if (major, minor) != (Some(want_major), Some(want_minor)) {
        return Err(invalid(format!(
            "the plugin was built against contract {version}; this server serves {want_major}.{want_minor}.x: rebuild it with the current gridhub-plugin-sdk"
        )));
    }
    Ok(())
}
