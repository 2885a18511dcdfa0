//! Server configuration, filled from command-line flags and the environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::rules::RulesLimits;

use crate::db::DEFAULT_DATABASE_URL;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `sqlite://…` (embedded default) or `postgres://…`.
    pub database_url: String,
    pub bind: SocketAddr,
    /// Load demo partners, keys and meters at start.
    pub demo: bool,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Budgets for plugin calls.
    pub rules_limits: RulesLimits,
    /// Where compiled plugins are cached (by content hash); `None`: memory only.
    pub plugin_cache_dir: Option<PathBuf>,
    /// Built plugins (`*.wasm`) installed at start for programs that lack them.
    pub bundled_plugin_dir: Option<PathBuf>,
    /// How often a replica re-reads the active plugin versions.
    pub plugin_refresh: Duration,
    /// How often events are started and completed by the clock.
    pub event_clock: Duration,
    /// How often a replica reads new notifications for its subscribers.
    pub notification_poll: Duration,
    /// How long a WebSocket client has to send `connection_init`.
    pub ws_init_timeout: Duration,
    /// Webhook retry policy.
    pub webhooks: crate::services::webhooks::WebhookConfig,
    /// How often a replica looks for due performance computations.
    pub performance_poll: Duration,
    /// How long after late readings an event's performance is recomputed (a
    /// burst of uploads becomes one recomputation).
    pub late_data_delay: Duration,
    pub performance: crate::services::performance::PerformanceConfig,
    /// How often a replica checks whether a closed month needs settling.
    pub month_end_check: Duration,
    /// The address customers reach this server at, for Connect links
    /// (`https://connect.example.com`); defaults to `http://{bind}`.
    pub public_url: Option<String>,
    /// The server sits behind a proxy that sets `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    pub connect: crate::services::connect::ConnectConfig,
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
/// Room for a base64-encoded plugin of up to `RulesLimits::max_plugin_bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            bind: DEFAULT_BIND.parse().expect("valid default address"),
            demo: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            rules_limits: RulesLimits::default(),
            plugin_cache_dir: Some(PathBuf::from("./data/plugin-cache")),
            bundled_plugin_dir: None,
            plugin_refresh: Duration::from_secs(2),
            event_clock: Duration::from_secs(1),
            notification_poll: Duration::from_millis(250),
            ws_init_timeout: Duration::from_secs(10),
            webhooks: Default::default(),
            performance_poll: Duration::from_secs(1),
            late_data_delay: Duration::from_secs(60),
            performance: Default::default(),
            month_end_check: Duration::from_secs(3600),
            public_url: None,
            trust_forwarded_for: false,
            connect: Default::default(),
        }
    }
}

impl ServerConfig {
    /// The base URL of Connect links.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.bind))
    }
}
