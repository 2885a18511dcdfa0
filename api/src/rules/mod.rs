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

/// Contract this server serves (see `plugin-sdk/wit/rules.wit`).
/// The contract version served (`major.minor`); records gained fields in 1.1,
/// so a plugin must match both.
pub const CONTRACT_VERSION: (u64, u64) = (1, 1);
pub const CONTRACT_PACKAGE: &str = "gridhub:rules";
