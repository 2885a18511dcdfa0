use crate::error::ApiError;

/// What can go wrong running a plugin. Every variant names the plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    /// The bytes are not a usable plugin (not wasm, wrong contract, wrong program…).
    #[error("invalid plugin: {0}")]
    Invalid(String),
    #[error("plugin {plugin} trapped: {message}")]
    Trap { plugin: String, message: String },
    #[error("plugin {plugin} ran out of its CPU budget ({fuel} fuel units)")]
    Timeout { plugin: String, fuel: u64 },
    #[error("plugin {plugin} exceeded its memory limit of {limit_bytes} bytes")]
    OutOfMemory { plugin: String, limit_bytes: usize },
    /// The plugin returned something the contract forbids (wrong count, bad decimal…).
    #[error("plugin {plugin} returned malformed data: {message}")]
    Malformed { plugin: String, message: String },
    /// The plugin answered with a rule error (e.g. insufficient history).
    #[error("plugin {plugin}: {kind}: {message}")]
    Rule {
        plugin: String,
        kind: &'static str,
        message: String,
    },
}

impl PluginError {
    pub fn code(&self) -> &'static str {
        match self {
            PluginError::Invalid(_) => "PLUGIN_INVALID",
            PluginError::Trap { .. } => "PLUGIN_TRAP",
            PluginError::Timeout { .. } => "PLUGIN_TIMEOUT",
            PluginError::OutOfMemory { .. } => "PLUGIN_OUT_OF_MEMORY",
            PluginError::Malformed { .. } => "PLUGIN_MALFORMED_OUTPUT",
            PluginError::Rule { kind, .. } => match *kind {
                "insufficient history" => "INSUFFICIENT_HISTORY",
                "invalid parameters" => "PLUGIN_INVALID_PARAMETERS",
                "unsupported" => "PLUGIN_UNSUPPORTED",
                _ => "PLUGIN_RULE_ERROR",
            },
        }
    }
}

impl From<PluginError> for ApiError {
    fn from(err: PluginError) -> Self {
        ApiError::Plugin {
            code: err.code(),
            message: err.to_string(),
        }
    }
}
