//! The gridhub plugin SDK: market-program rules written in Rust, compiled to a
//! sandboxed WebAssembly component, and unit-tested natively with `cargo test`.
//!
//! A plugin implements [`Rules`] and registers it with [`export_plugin!`]:
//!
//! ```ignore
//! struct MyProgram;
//! impl gridhub_plugin_sdk::Rules for MyProgram { /* … */ }
//! gridhub_plugin_sdk::export_plugin!(MyProgram);
//! ```
//!
//! The WIT contract (`wit/rules.wit`) is the single source of truth for the host
//! and the guest; its types are re-exported here so plugins never touch the
//! generated bindings.

pub mod baseline;
pub mod checks;
pub mod days;
pub mod methods;
pub mod money;
pub mod params;
pub mod performance;
pub mod profile;
pub mod series;
pub mod settlement;
pub mod testing;
pub mod time;

#[doc(hidden)]
pub mod guest;

/// Generated from `wit/rules.wit`.
pub mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
        pub_export_macro: true,
        default_bindings_module: "gridhub_plugin_sdk::bindings",
        export_macro_name: "export",
        additional_derives: [PartialEq],
    });
}

pub use bindings::gridhub::rules::types::{
    Baseline, BaselineRequest, Eligibility, EnrollmentRequest, EventPerformance, EventWindow,
    LineItem, LogLevel, Measure, Meter, PluginInfo, PortfolioMember, Reason, RuleError, Series,
    Settlement, SettlementRequest,
};
pub use guest::install_panic_hook;
pub use params::Params;
/// Re-exported so plugins use the SDK's versions.
pub use {chrono, chrono_tz, rust_decimal, serde_json};

/// The contract version this SDK builds against (the WIT package version).
pub const CONTRACT_VERSION: &str = "1.1.0";

/// A program's rules. Each duty gets the program's parameters; everything a
/// plugin does not implement answers `RuleError::Unsupported`.
pub trait Rules {
    fn info() -> PluginInfo;

    /// Whether one meter may enroll, with reasons and fixing actions if not.
    fn eligibility(params: &Params, request: &EnrollmentRequest) -> Result<Eligibility, RuleError>;

    /// Portfolio-level rules (e.g. aggregated kW). Eligible by default.
    fn portfolio(_params: &Params, _members: &[PortfolioMember]) -> Result<Eligibility, RuleError> {
        Ok(eligible())
    }

    fn baseline(_params: &Params, _request: &BaselineRequest) -> Result<Baseline, RuleError> {
        Err(RuleError::Unsupported(
            "this plugin computes no baseline".into(),
        ))
    }

    fn settle(_params: &Params, _request: &SettlementRequest) -> Result<Settlement, RuleError> {
        Err(RuleError::Unsupported(
            "this plugin computes no settlement".into(),
        ))
    }
}

/// A partner attribute of the meter (`attributes-json`), if set.
pub fn attribute(meter: &Meter, key: &str) -> Result<Option<serde_json::Value>, RuleError> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(&meter.attributes_json).map_err(|e| {
            RuleError::InvalidInput(format!(
                "meter {} attributes are not a JSON object: {e}",
                meter.id
            ))
        })?;
    Ok(map.get(key).cloned())
}

/// An eligible verdict.
pub fn eligible() -> Eligibility {
    Eligibility {
        eligible: true,
        reasons: Vec::new(),
    }
}

/// A verdict from a list of reasons: eligible when there are none.
pub fn verdict(reasons: Vec<Reason>) -> Eligibility {
    Eligibility {
        eligible: reasons.is_empty(),
        reasons,
    }
}

/// A reason a meter is not eligible.
pub fn reason(
    code: &str,
    message: impl Into<String>,
    action: impl Into<String>,
    field: Option<&str>,
) -> Reason {
    Reason {
        code: code.into(),
        message: message.into(),
        action: action.into(),
        field: field.map(Into::into),
    }
}

/// Logs through the host (tagged there with program and plugin version); on a
/// native build, to standard error.
pub fn log(level: LogLevel, message: &str) {
    #[cfg(target_arch = "wasm32")]
    bindings::gridhub::rules::host::log(level, message);
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("[{level:?}] {message}");
}

/// Registers a [`Rules`] implementation as the plugin's exports.
#[macro_export]
macro_rules! export_plugin {
    ($rules:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct GridhubPluginExports;

            impl $crate::bindings::exports::gridhub::rules::program::Guest for GridhubPluginExports {
                fn info() -> $crate::PluginInfo {
                    $crate::guest::info::<$rules>()
                }
                fn check_eligibility(
                    params: String,
                    requests: Vec<$crate::EnrollmentRequest>,
                ) -> Result<Vec<$crate::Eligibility>, $crate::RuleError> {
                    $crate::guest::check_eligibility::<$rules>(&params, &requests)
                }
                fn check_portfolio(
                    params: String,
                    members: Vec<$crate::PortfolioMember>,
                ) -> Result<$crate::Eligibility, $crate::RuleError> {
                    $crate::guest::check_portfolio::<$rules>(&params, &members)
                }
                fn compute_baselines(
                    params: String,
                    requests: Vec<$crate::BaselineRequest>,
                ) -> Vec<Result<$crate::Baseline, $crate::RuleError>> {
                    $crate::guest::compute_baselines::<$rules>(&params, &requests)
                }
                fn settle(
                    params: String,
                    requests: Vec<$crate::SettlementRequest>,
                ) -> Vec<Result<$crate::Settlement, $crate::RuleError>> {
                    $crate::guest::settle::<$rules>(&params, &requests)
                }
            }

            $crate::bindings::export!(GridhubPluginExports with_types_in $crate::bindings);
        };
    };
}
