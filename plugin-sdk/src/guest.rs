//! Glue between the generated exports and [`Rules`]: parses parameters once per
//! call, loops over the batch, and installs the panic hook.

use std::sync::Once;

use crate::{
    Baseline, BaselineRequest, Eligibility, EnrollmentRequest, LogLevel, Params, PluginInfo,
    PortfolioMember, RuleError, Rules, Settlement, SettlementRequest,
};

static PANIC_HOOK: Once = Once::new();

/// A Rust panic would otherwise reach the host as a bare `unreachable` trap;
/// this hands the message and location to the host log first.
pub fn install_panic_hook() {
    PANIC_HOOK.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log(LogLevel::Error, &format!("panic: {info}"));
        }));
    });
}

pub fn info<R: Rules>() -> PluginInfo {
    install_panic_hook();
    R::info()
}

pub fn check_eligibility<R: Rules>(
    params: &str,
    requests: &[EnrollmentRequest],
) -> Result<Vec<Eligibility>, RuleError> {
    install_panic_hook();
    let params = Params::parse(params)?;
    requests
        .iter()
        .map(|r| R::eligibility(&params, r))
        .collect()
}

pub fn check_portfolio<R: Rules>(
    params: &str,
    members: &[PortfolioMember],
) -> Result<Eligibility, RuleError> {
    install_panic_hook();
    R::portfolio(&Params::parse(params)?, members)
}

pub fn compute_baselines<R: Rules>(
    params: &str,
    requests: &[BaselineRequest],
) -> Vec<Result<Baseline, RuleError>> {
    install_panic_hook();
    match Params::parse(params) {
        Ok(p) => requests.iter().map(|r| R::baseline(&p, r)).collect(),
        Err(e) => requests.iter().map(|_| Err(e.clone())).collect(),
    }
}

pub fn settle<R: Rules>(
    params: &str,
    requests: &[SettlementRequest],
) -> Vec<Result<Settlement, RuleError>> {
    install_panic_hook();
    match Params::parse(params) {
        Ok(p) => requests.iter().map(|r| R::settle(&p, r)).collect(),
        Err(e) => requests.iter().map(|_| Err(e.clone())).collect(),
    }
}
