//! Misbehaves on purpose, as told by the program parameter `behavior`:
//! `ok`, `loop`, `memory`, `panic` or `malformed`. Its version comes from the
//! parameter-free `HOSTILE_VERSION` build variable so tests can install two
//! versions.

#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use gridhub_plugin_sdk::bindings::exports::gridhub::rules::program::Guest;
use gridhub_plugin_sdk::{
    Baseline, BaselineRequest, Eligibility, EnrollmentRequest, Params, PluginInfo, PortfolioMember,
    RuleError, Settlement, SettlementRequest,
};

struct Hostile;

fn behavior(params: &str) -> String {
    Params::parse(params)
        .ok()
        .and_then(|p| p.text("behavior").ok().map(str::to_owned))
        .unwrap_or_else(|| "ok".into())
}

impl Guest for Hostile {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "TEST_HOSTILE".into(),
            plugin_version: option_env!("HOSTILE_VERSION").unwrap_or("0.1.0").into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description: "misbehaves on request".into(),
        }
    }

    fn check_eligibility(
        params: String,
        requests: Vec<EnrollmentRequest>,
    ) -> Result<Vec<Eligibility>, RuleError> {
        // This plugin bypasses the SDK's glue, so it installs the hook itself.
        gridhub_plugin_sdk::install_panic_hook();
        match behavior(&params).as_str() {
            "loop" => {
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!(
                "hostile plugin panicked on purpose for meter {}",
                requests.len()
            ),
            "malformed" => Ok(Vec::new()),
            _ => Ok(requests
                .iter()
                .map(|_| Eligibility {
                    eligible: true,
                    reasons: Vec::new(),
                })
                .collect()),
        }
    }

    fn check_portfolio(
        _params: String,
        _members: Vec<PortfolioMember>,
    ) -> Result<Eligibility, RuleError> {
        Ok(Eligibility {
            eligible: true,
            reasons: Vec::new(),
        })
    }

    fn compute_baselines(
        _params: String,
        requests: Vec<BaselineRequest>,
    ) -> Vec<Result<Baseline, RuleError>> {
        requests
            .iter()
            .map(|_| Err(RuleError::Unsupported("no".into())))
            .collect()
    }

    fn settle(
        _params: String,
        requests: Vec<SettlementRequest>,
    ) -> Vec<Result<Settlement, RuleError>> {
        requests
            .iter()
            .map(|_| Err(RuleError::Unsupported("no".into())))
            .collect()
    }
}

#[cfg(target_arch = "wasm32")]
gridhub_plugin_sdk::bindings::export!(Hostile with_types_in gridhub_plugin_sdk::bindings);
