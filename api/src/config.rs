//! Server configuration, filled from command-line flags and the environment.

use std::net::SocketAddr;

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
}

pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            database_url: DEFAULT_DATABASE_URL.into(),
            bind: DEFAULT_BIND.parse().expect("valid default address"),
            demo: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}
