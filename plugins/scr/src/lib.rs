//! NYISO SCR: utility meters in load zones A–K, a flat Average Coincident Load
//! baseline per capability period, capacity at the strip price scaled by the
//! performance factor, energy at max(strike, LBMP) with a minimum payment
//! duration. Rules: `shared/programs.md`; parameters: README.md.

use std::collections::BTreeMap;

use gridhub_plugin_sdk::checks::{portfolio_size, Checks};
use gridhub_plugin_sdk::chrono::Months;
use gridhub_plugin_sdk::methods::average_coincident_load;
use gridhub_plugin_sdk::performance::performance_factor;
use gridhub_plugin_sdk::profile::{validate, window_slots, HOUR};
use gridhub_plugin_sdk::series::mean_kw;
use gridhub_plugin_sdk::settlement::{
    energy_line, event_hours, event_price, monthly_lines, MonthlyRate,
};
use gridhub_plugin_sdk::time::{local_date, season_of, season_start_for};
use gridhub_plugin_sdk::{
    Baseline, BaselineRequest, Eligibility, EnrollmentRequest, Measure, Params, PluginInfo,
    PortfolioMember, RuleError, Rules, Settlement, SettlementRequest,
};

pub struct Scr;

const PROGRAM: &str = "NYISO SCR";

/// Meter attribute a partner sets to `false` for a meter without interval metering.
pub const INTERVAL_METER_ATTRIBUTE: &str = "intervalMeter";

impl Rules for Scr {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "NYISO_SCR".into(),
            plugin_version: env!("CARGO_PKG_VERSION").into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description: "NYISO SCR: zone A–K interval meters, Average Coincident Load baseline, strip-price capacity".into(),
        }
    }

    fn eligibility(params: &Params, request: &EnrollmentRequest) -> Result<Eligibility, RuleError> {
        let meter = &request.meter;
        let interval = gridhub_plugin_sdk::attribute(meter, INTERVAL_METER_ATTRIBUTE)?
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        let mut checks = Checks::new();
        checks
            .utility_meter(meter, PROGRAM)
            .region(meter, "NY", PROGRAM)
            .load_zone_in(meter, &params.strings("eligible_load_zones")?, "NYISO")
            .require(
                interval,
                "NOT_AN_INTERVAL_METER",
                "SCR performance is measured on hourly interval data",
                "have the utility install an interval meter, then set the attribute intervalMeter to true",
                Some("attributes"),
            )
            .authorized(meter)
            .commitment(request)
            .active(meter);
        Ok(checks.done())
    }

    fn portfolio(params: &Params, members: &[PortfolioMember]) -> Result<Eligibility, RuleError> {
        Ok(portfolio_size(
            members,
            params.number("min_resource_kw")?,
            None,
            PROGRAM,
        ))
    }

    /// ACL: the mean of the meter's `acl_top_hours` highest hourly loads among
    /// its zone's peak hours of the same capability period one year earlier,
    /// flat over the event.
    fn baseline(params: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        let tz = params.timezone()?;
        validate(&request.readings)?;
        let event = &request.event;
        if event.end <= event.start {
            return Err(RuleError::InvalidInput(
                "the event ends before it starts".into(),
            ));
        }
        let zone = request
            .meter
            .load_zone
            .clone()
            .ok_or_else(|| RuleError::InvalidInput("the meter has no load zone".into()))?;
        let seasons = params.seasons()?;
        let event_date = local_date(event.start, tz);
        let period = season_of(event_date, &seasons)?.ok_or_else(|| {
            RuleError::InvalidParameters(format!("{event_date} is in no capability period"))
        })?;
        let prior_start = season_start_for(event_date, period)? - Months::new(12);
        let in_prior_period = |ts: i64| -> Result<bool, RuleError> {
            let d = local_date(ts, tz);
            Ok(
                season_of(d, &seasons)?.is_some_and(|s| s.name == period.name)
                    && season_start_for(d, period)? == prior_start,
            )
        };

        let all: BTreeMap<String, Vec<String>> = params.json("peak_hours")?;
        let listed = all.get(&zone).ok_or_else(|| {
            RuleError::InvalidParameters(format!("no peak hours for load zone {zone}"))
        })?;
        let mut peaks = Vec::new();
        for text in listed {
            let ts = gridhub_plugin_sdk::chrono::DateTime::parse_from_rfc3339(text)
                .map_err(|_| {
                    RuleError::InvalidParameters(format!("peak hour `{text}` is not RFC 3339"))
                })?
                .timestamp();
            if in_prior_period(ts)? {
                peaks.push(ts);
            }
        }
        let expected = params.count("acl_peak_hour_count")?;
        if peaks.len() != expected {
            return Err(RuleError::InvalidParameters(format!(
                "zone {zone} lists {} peak hours for the {} capability period starting {prior_start}; {expected} expected",
                peaks.len(),
                period.name
            )));
        }
        let mut with_data: Vec<(i64, f64)> = peaks
            .iter()
            .filter_map(|ts| mean_kw(&request.readings, *ts, ts + 3600).map(|kw| (*ts, kw)))
            .collect();
        let top = params.count("acl_top_hours")?;
        let loads: Vec<f64> = with_data.iter().map(|(_, kw)| *kw).collect();
        let acl = average_coincident_load(&loads, top)?;
        with_data.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut days: Vec<String> = with_data[..top]
            .iter()
            .map(|(ts, _)| local_date(*ts, tz).to_string())
            .collect();
        days.sort();
        days.dedup();

        let slots = window_slots(event.start, event.end, tz, HOUR);
        Ok(Baseline {
            method: format!("Average Coincident Load: mean of the top {top} of {expected} zone {zone} peak hours"),
            measure: Measure::LoadReduction,
            starts: slots.iter().map(|s| s.start).collect(),
            interval_seconds: HOUR,
            kw: vec![acl; slots.len()],
            days_used: days,
            notes: vec![format!(
                "ACL {acl:.3} kW from the {} capability period starting {prior_start} ({} of {expected} peak hours had data)",
                period.name,
                loads.len()
            )],
        })
    }

    /// Capacity each month: strip price × committed kW × performance factor
    /// (mean over the period's events and tests, capped at 1); energy per
    /// non-test event: delivered kW × max(hours, minimum) × max(strike, LBMP).
    fn settle(params: &Params, request: &SettlementRequest) -> Result<Settlement, RuleError> {
        let tz = params.timezone()?;
        let strip = params.decimal("strip_price_per_kw_month")?;
        let factor = if request.events.is_empty() {
            None
        } else {
            Some(
                request
                    .events
                    .iter()
                    .map(|e| performance_factor(e.delivered_kw, e.committed_kw))
                    .sum::<f64>()
                    / request.events.len() as f64,
            )
        };
        let (mut line_items, mut notes) = monthly_lines(
            request,
            tz,
            |_, committed| MonthlyRate {
                kw: committed * factor.unwrap_or(1.0),
                note: None,
            },
            "CAPACITY",
            "capacity on committed kW × performance factor",
            strip,
        )?;
        match factor {
            Some(f) => notes.push(format!(
                "performance factor {f:.4} over {} events and tests",
                request.events.len()
            )),
            None => notes.push("no events or tests: performance factor 1".into()),
        }
        let strike = params.decimal("energy_strike_price_per_kwh")?;
        let min_hours = params.number("min_payment_hours")?;
        for event in &request.events {
            if event.event_type == "TEST" {
                notes.push(format!(
                    "event {} is a test: no energy payment",
                    event.event_id
                ));
                continue;
            }
            let price = event_price(event, strike)?.max(strike);
            let hours = event_hours(event).max(min_hours);
            let (line, note) = energy_line(
                event,
                event.delivered_kw * hours,
                price,
                &format!("energy over {hours:.2} paid hours"),
            );
            line_items.push(line);
            notes.extend(note);
        }
        Ok(Settlement { line_items, notes })
    }
}

gridhub_plugin_sdk::export_plugin!(Scr);

#[cfg(test)]
mod tests;
