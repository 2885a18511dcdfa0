//! Massachusetts Clean Peak Energy Standard: qualified storage earns Clean
//! Peak Energy Certificates on measured net discharge inside the seasonal
//! peak windows, with seasonal, actual-peak-hour, distribution-circuit and
//! resilience multipliers. No baseline. Rules: `shared/programs.md`;
//! parameters: README.md.
//!
//! Settlement reads each `event-performance` as one metered window (the host
//! passes the peak-window hours of the period with their net discharge); the
//! part of a window outside the season's peak window earns nothing.

use std::collections::BTreeMap;

use gridhub_plugin_sdk::baseline::zero_device_baseline;
use gridhub_plugin_sdk::checks::Checks;
use gridhub_plugin_sdk::chrono::{DateTime, Datelike};
use gridhub_plugin_sdk::money::{cents, format, quantity_decimal};
use gridhub_plugin_sdk::rust_decimal::Decimal;
use gridhub_plugin_sdk::settlement::period;
use gridhub_plugin_sdk::time::{at_local, local_date, parse_clock, season_of};
use gridhub_plugin_sdk::{
    attribute, Baseline, BaselineRequest, Eligibility, EnrollmentRequest, EventPerformance,
    LineItem, Params, PluginInfo, RuleError, Rules, Settlement, SettlementRequest,
};

pub struct Cps;

const PROGRAM: &str = "the Clean Peak Energy Standard";
/// Meter attribute: the storage charges only in the program's defined windows.
pub const CHARGING_WINDOWS_ATTRIBUTE: &str = "cpsChargingWindowsOnly";
/// Meter attribute: sited on a qualifying distribution circuit.
pub const CIRCUIT_ATTRIBUTE: &str = "cpsDistributionCircuit";
/// Meter attribute: resilience-qualified storage.
pub const RESILIENCE_ATTRIBUTE: &str = "cpsResilience";

fn flag(meter: &gridhub_plugin_sdk::Meter, key: &str) -> Result<bool, RuleError> {
    Ok(attribute(meter, key)?
        .and_then(|v| v.as_bool())
        .unwrap_or(false))
}

fn overlap(a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.1.min(b.1) - a.0.max(b.0)).max(0)
}

impl Rules for Cps {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "MA_CPS".into(),
            plugin_version: env!("CARGO_PKG_VERSION").into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description:
                "Massachusetts CPS: qualified storage, certificates on peak-window net discharge"
                    .into(),
        }
    }

    fn eligibility(params: &Params, request: &EnrollmentRequest) -> Result<Eligibility, RuleError> {
        let meter = &request.meter;
        let excluded = params.strings("excluded_utilities")?;
        let min_cod = params.date("min_commercial_operation_date")?;
        let ratio = params.number("min_colocated_renewable_ratio")?;
        let mut checks = Checks::new();
        checks
            .battery(meter, PROGRAM)
            .region(meter, "MA", PROGRAM)
            .require(
                meter
                    .utility
                    .as_ref()
                    .is_some_and(|u| !excluded.contains(u)),
                "UTILITY_NOT_ELIGIBLE",
                format!(
                    "storage in municipal light plant territory ({}) is not eligible",
                    meter.utility.as_deref().unwrap_or("utility not set")
                ),
                "set the meter's utility to the investor-owned utility serving the site",
                Some("utility"),
            );
        match meter.commercial_operation_date.as_deref() {
            None => {
                checks.require(
                    false,
                    "COMMERCIAL_OPERATION_DATE_MISSING",
                    "CPS requires the storage's commercial operation date",
                    "set commercialOperationDate",
                    Some("commercialOperationDate"),
                );
            }
            Some(text) => {
                let cod = gridhub_plugin_sdk::time::parse_date(text)?;
                checks.require(
                    cod >= min_cod,
                    "COMMERCIAL_OPERATION_TOO_EARLY",
                    format!("storage operating since {cod}; CPS qualifies storage operating on or after {min_cod}"),
                    "enroll storage that began commercial operation on or after the program date",
                    Some("commercialOperationDate"),
                );
            }
        }
        let renewable = match (meter.colocated_renewable_kw, meter.capacity_kw) {
            (Some(pv), Some(cap)) if cap > 0.0 => pv >= ratio * cap,
            _ => false,
        };
        let needed = meter.capacity_kw.map(|c| c * ratio).unwrap_or_default();
        checks
            .require(
                renewable || flag(meter, CHARGING_WINDOWS_ATTRIBUTE)?,
                "NOT_RENEWABLE_STORAGE",
                "CPS storage must mainly store renewable energy",
                format!(
                    "set colocatedRenewableKw to at least {needed} kW ({ratio} × capacity), or set the attribute {CHARGING_WINDOWS_ATTRIBUTE} to true if it charges only in the defined windows"
                ),
                Some("colocatedRenewableKw"),
            )
            .active(meter);
        Ok(checks.done())
    }

    fn baseline(_params: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        zero_device_baseline(
            request,
            "no baseline: certificates are earned on measured net discharge",
            "CPS has no baseline; the baseline is zero and performance is the storage's net discharge",
        )
    }

    /// Certificates per month: Σ net discharge MWh in the peak window ×
    /// seasonal multiplier × (actual-peak-hour multiplier for the share in the
    /// month's actual peak hour) × circuit × resilience; revenue at the CPEC price.
    fn settle(params: &Params, request: &SettlementRequest) -> Result<Settlement, RuleError> {
        let tz = params.timezone()?;
        let seasons = params.seasons()?;
        let windows: BTreeMap<String, (String, String)> = params.json("peak_windows")?;
        let seasonal: BTreeMap<String, f64> = params.json("seasonal_multipliers")?;
        let peaks: BTreeMap<String, String> = params.json("actual_peak_hours")?;
        let peak_multiplier = params.number("actual_peak_hour_multiplier")?;
        let mut site = 1.0;
        if flag(&request.meter, CIRCUIT_ATTRIBUTE)? {
            site *= params.number("distribution_circuit_multiplier")?;
        }
        if flag(&request.meter, RESILIENCE_ATTRIBUTE)? {
            site *= params.number("resilience_multiplier")?;
        }
        let price = params.decimal("cpec_price_per_mwh")?;
        let (from, to) = period(request)?;

        let mut months: BTreeMap<(i32, u32), Decimal> = BTreeMap::new();
        let mut notes = Vec::new();
        for event in &request.events {
            let date = local_date(event.start, tz);
            if date < from || date > to {
                continue;
            }
            let Some(season) = season_of(date, &seasons)? else {
                notes.push(format!("{}: {date} is in no CPS season", event.event_id));
                continue;
            };
            let (open, close) = windows.get(&season.name).ok_or_else(|| {
                RuleError::InvalidParameters(format!("no peak window for season {}", season.name))
            })?;
            let window = (
                at_local(date, parse_clock(open)?, tz),
                at_local(date, parse_clock(close)?, tz),
            );
            let certificates = event_certificates(
                event,
                window,
                &season.name,
                &seasonal,
                &peaks,
                peak_multiplier,
                site,
                tz,
                &mut notes,
            )?;
            *months.entry((date.year(), date.month())).or_default() += certificates;
        }
        let line_items = months
            .into_iter()
            .map(|((y, m), certificates)| LineItem {
                code: "CLEAN_PEAK_CERTIFICATES".into(),
                description: format!(
                    "{y}-{m:02}: {certificates} Clean Peak Energy Certificates × ${price}"
                ),
                quantity: certificates.to_string().parse().unwrap_or_default(),
                unit: "certificate".into(),
                rate: price.to_string(),
                amount: format(cents(price * certificates)),
                month: Some(format!("{y}-{m:02}")),
                event_id: None,
            })
            .collect();
        Ok(Settlement { line_items, notes })
    }
}

/// Certificates of one metered window, assuming even discharge within it.
#[allow(clippy::too_many_arguments)]
fn event_certificates(
    event: &EventPerformance,
    window: (i64, i64),
    season: &str,
    seasonal: &BTreeMap<String, f64>,
    peaks: &BTreeMap<String, String>,
    peak_multiplier: f64,
    site: f64,
    tz: gridhub_plugin_sdk::chrono_tz::Tz,
    notes: &mut Vec<String>,
) -> Result<Decimal, RuleError> {
    let span = (event.start, event.end);
    let duration = span.1 - span.0;
    if duration <= 0 {
        return Err(RuleError::InvalidInput(format!(
            "{} ends before it starts",
            event.event_id
        )));
    }
    let inside = overlap(span, window);
    if inside == 0 {
        notes.push(format!(
            "{}: outside the {season} peak window, no certificates",
            event.event_id
        ));
        return Ok(Decimal::ZERO);
    }
    let kwh = event.delivered_kwh * inside as f64 / duration as f64;
    if kwh < 0.0 {
        notes.push(format!(
            "{}: net charging in the peak window, no certificates",
            event.event_id
        ));
        return Ok(Decimal::ZERO);
    }
    let date = local_date(event.start, tz);
    let peak_share = match peaks.get(&format!("{}-{:02}", date.year(), date.month())) {
        Some(text) => {
            let hour = DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    RuleError::InvalidParameters(format!(
                        "actual peak hour `{text}` is not RFC 3339"
                    ))
                })?
                .timestamp();
            let inside_window = (span.0.max(window.0), span.1.min(window.1));
            overlap(inside_window, (hour, hour + 3600)) as f64 / inside as f64
        }
        None => 0.0,
    };
    let season_multiplier = *seasonal.get(season).ok_or_else(|| {
        RuleError::InvalidParameters(format!("no seasonal multiplier for {season}"))
    })?;
    let multiplier = season_multiplier * (1.0 + peak_share * (peak_multiplier - 1.0)) * site;
    Ok(quantity_decimal(kwh) / Decimal::from(1000) * quantity_decimal(multiplier))
}

gridhub_plugin_sdk::export_plugin!(Cps);

#[cfg(test)]
mod tests;
