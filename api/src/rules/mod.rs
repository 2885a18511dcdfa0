//! The rules host: runs market-program plugins (WebAssembly components) in a
//! sandbox. No WASI and no imports but `host.log`; every call has a fuel
//! budget and a memory cap; a trap, a timeout or an out-of-memory becomes a
//! typed error naming the program and plugin version, and nothing else is
//! affected.

mod bindings;
pub mod convert;
mod error;
mod host;

pub use bindings::gridhub::rules::types as wit;
pub use error::PluginError;
pub use host::{LoadedPlugin, RulesHost, RulesLimits};

/// Contract major version this server serves (see `plugin-sdk/wit/rules.wit`).
pub const CONTRACT_MAJOR: u64 = 1;
pub const CONTRACT_PACKAGE: &str = "gridhub:rules";
