//! ERCOT ERS: ESI-ID meters in ERCOT load zones, a middle 8-of-10 like-day
//! baseline on 15-minute data with the additive event-day adjustment, and
//! capacity at the clearing price over the contracted time-period hours scaled
//! by the event performance factor. Rules: `shared/programs.md`; parameters: README.md.

use std::collections::BTreeMap;

use gridhub_plugin_sdk::baseline::{shift, skipped_note, EventFrame};
use gridhub_plugin_sdk::checks::{portfolio_kw, Checks};
use gridhub_plugin_sdk::chrono::{Duration, NaiveDate};
use gridhub_plugin_sdk::days::{day_type, require_days, DayType};
use gridhub_plugin_sdk::methods::{additive_adjustment, middle_by_slot};
use gridhub_plugin_sdk::money::{cents, format, quantity_decimal};
use gridhub_plugin_sdk::performance::threshold_factor;
use gridhub_plugin_sdk::profile::QUARTER_HOUR;
use gridhub_plugin_sdk::rust_decimal::Decimal;
use gridhub_plugin_sdk::serde_json;
use gridhub_plugin_sdk::settlement::period;
use gridhub_plugin_sdk::time::{local_date, parse_clock};
use gridhub_plugin_sdk::{
    attribute, Baseline, BaselineRequest, Eligibility, EnrollmentRequest, LineItem, Params,
    PluginInfo, PortfolioMember, RuleError, Rules, Settlement, SettlementRequest,
};

pub struct Ers;

const PROGRAM: &str = "ERCOT ERS";
/// Meter attribute: `ERS-10` or `ERS-30`.
pub const SERVICE_TYPE_ATTRIBUTE: &str = "ersServiceType";
/// Meter attribute: the time periods offered, e.g. `["TP3", "TP4"]` (default: all).
pub const TIME_PERIODS_ATTRIBUTE: &str = "ersTimePeriods";

#[derive(Debug, Clone, serde::Deserialize)]
struct TimePeriod {
    /// `WEEKDAY` or `WEEKEND_HOLIDAY`.
    days: String,
    start: String,
    end: String,
}

impl TimePeriod {
    /// Wall-clock minutes per day (a period ending before it starts wraps midnight).
    fn minutes(&self) -> Result<i64, RuleError> {
        let (s, e) = (
            i64::from(parse_clock(&self.start)?),
            i64::from(parse_clock(&self.end)?),
        );
        Ok(if e > s { e - s } else { 86_400 - s + e } / 60)
    }

    fn applies(&self, day: DayType) -> Result<bool, RuleError> {
        match self.days.as_str() {
            "WEEKDAY" => Ok(day == DayType::Weekday),
            "WEEKEND_HOLIDAY" => Ok(day == DayType::WeekendOrHoliday),
            other => Err(RuleError::InvalidParameters(format!(
                "time period days `{other}` is not WEEKDAY or WEEKEND_HOLIDAY"
            ))),
        }
    }
}

fn offered_periods(
    params: &Params,
    meter: &gridhub_plugin_sdk::Meter,
) -> Result<Vec<String>, RuleError> {
    let all: BTreeMap<String, TimePeriod> = params.json("time_periods")?;
    match attribute(meter, TIME_PERIODS_ATTRIBUTE)? {
        None => Ok(all.into_keys().collect()),
        Some(v) => serde_json::from_value(v).map_err(|_| {
            RuleError::InvalidInput(format!(
                "attribute {TIME_PERIODS_ATTRIBUTE} must list time period names"
            ))
        }),
    }
}

impl Rules for Ers {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "ERCOT_ERS".into(),
            plugin_version: env!("CARGO_PKG_VERSION").into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description:
                "ERCOT ERS: ESI-ID meters, middle 8-of-10 15-minute baseline, time-period capacity"
                    .into(),
        }
    }

    fn eligibility(params: &Params, request: &EnrollmentRequest) -> Result<Eligibility, RuleError> {
        let meter = &request.meter;
        let service_types = params.strings("service_types")?;
        let all: BTreeMap<String, TimePeriod> = params.json("time_periods")?;
        let service = attribute(meter, SERVICE_TYPE_ATTRIBUTE)?;
        let service_ok = match &service {
            None => true,
            Some(v) => v
                .as_str()
                .is_some_and(|s| service_types.iter().any(|t| t == s)),
        };
        let unknown: Vec<String> = offered_periods(params, meter)?
            .into_iter()
            .filter(|p| !all.contains_key(p))
            .collect();
        let mut checks = Checks::new();
        checks
            .utility_meter(meter, PROGRAM)
            .region(meter, "TX", PROGRAM)
            .require(
                meter.esi_id.is_some(),
                "ESI_ID_MISSING",
                "ERCOT supplies the meter's 15-minute data by its ESI ID",
                "set the meter's esiId",
                Some("esiId"),
            )
            .load_zone_in(meter, &params.strings("eligible_load_zones")?, "ERCOT")
            .require(
                service_ok,
                "SERVICE_TYPE_NOT_OFFERED",
                format!(
                    "service type {} is not offered",
                    service.map(|v| v.to_string()).unwrap_or_default()
                ),
                format!(
                    "set the attribute {SERVICE_TYPE_ATTRIBUTE} to one of {}",
                    service_types.join(", ")
                ),
                Some("attributes"),
            )
            .require(
                unknown.is_empty(),
                "TIME_PERIOD_NOT_OFFERED",
                format!("time periods {} are not offered", unknown.join(", ")),
                format!(
                    "list only {} in the attribute {TIME_PERIODS_ATTRIBUTE}",
                    all.keys().cloned().collect::<Vec<_>>().join(", ")
                ),
                Some("attributes"),
            )
            .commitment(request)
            .active(meter);
        Ok(checks.done())
    }

    /// Offers are whole kW: the portfolio's total, rounded down, at least the minimum.
    fn portfolio(params: &Params, members: &[PortfolioMember]) -> Result<Eligibility, RuleError> {
        let min = params.number("min_offer_kw")?;
        let offer = portfolio_kw(members).floor();
        let mut checks = Checks::new();
        checks.require(
            offer >= min,
            "PORTFOLIO_TOO_SMALL",
            format!(
                "ERS offers are at least {min} kW in whole kW; this portfolio offers {offer} kW"
            ),
            format!("enroll at least {} kW more", min - offer),
            None,
        );
        Ok(checks.done())
    }

    /// The 10 most recent like days; per 15-minute interval the highest and
    /// lowest dropped and the middle 8 averaged; plus the additive adjustment
    /// over the hour ending one hour before deployment.
    fn baseline(params: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        let holidays = params.holidays()?;
        let frame = EventFrame::new(request, params.timezone()?, QUARTER_HOUR)?;
        let window = if params.boolean("event_day_adjustment")? {
            Some(frame.adjustment_window(
                params,
                "adjustment_window_start_hours",
                "adjustment_window_end_hours",
            )?)
        } else {
            None
        };
        let needed = frame.needed_for(window.as_ref());
        let count = params.count("baseline_like_days")?;
        let day_type = day_type(frame.event_date, &holidays);
        let lookback = params.count("baseline_lookback_days")?;
        let selection = frame.like_days(day_type, count, lookback, holidays, &needed);
        let label = match day_type {
            DayType::Weekday => "weekday like days",
            DayType::WeekendOrHoliday => "weekend/holiday like days",
        };
        require_days(selection.days.len(), count, label)?;
        let trim = params.count("baseline_trim")?;
        let mut values = EventFrame::values(
            &needed,
            middle_by_slot(&frame.profile, &selection.days, &needed, trim)?,
        );
        let mut notes: Vec<String> = skipped_note(&selection).into_iter().collect();
        if let Some(window) = &window {
            let (actual, base) = frame.window_means(window, &values)?;
            let offset = additive_adjustment(actual, base);
            shift(&mut values, offset);
            notes.insert(0, format!(
                "event-day adjustment: actual {actual:.3} kW − baseline {base:.3} kW = {offset:+.3} kW"
            ));
        }
        let kept = count - 2 * trim;
        frame.finish(
            &format!("middle {kept} of {count} like days, 15-minute"),
            &values,
            &selection.days,
            notes,
        )
    }

    /// Capacity = clearing price × offered MW × hours of the contracted time
    /// periods in the term × event performance factor (mean of the term's
    /// events; 0 after too many failed tests in the window).
    fn settle(params: &Params, request: &SettlementRequest) -> Result<Settlement, RuleError> {
        let tz = params.timezone()?;
        let holidays = params.holidays()?;
        let (from, to) = period(request)?;
        let all: BTreeMap<String, TimePeriod> = params.json("time_periods")?;
        let periods = offered_periods(params, &request.meter)?;
        let mut minutes = 0i64;
        let mut day = from;
        while day <= to {
            let kind = day_type(day, &holidays);
            for name in &periods {
                let tp = all.get(name).ok_or_else(|| {
                    RuleError::InvalidInput(format!("time period {name} is not offered"))
                })?;
                if tp.applies(kind)? {
                    minutes += tp.minutes()?;
                }
            }
            day += Duration::days(1);
        }

        let threshold = params.number("performance_threshold")?;
        let in_term = |d: NaiveDate| d >= from && d <= to;
        let factors: Vec<f64> = request
            .events
            .iter()
            .filter(|e| in_term(local_date(e.start, tz)))
            .map(|e| threshold_factor(e.delivered_kw, e.committed_kw, threshold))
            .collect();
        let mut notes = Vec::new();
        let mut factor = if factors.is_empty() {
            notes.push("no events in the term: performance factor 1".into());
            1.0
        } else {
            let f = factors.iter().sum::<f64>() / factors.len() as f64;
            notes.push(format!(
                "event performance factor {f:.4} over {} events",
                factors.len()
            ));
            f
        };
        let window_start = to - Duration::days(params.integer("failed_test_window_days")?);
        let failed = request
            .events
            .iter()
            .filter(|e| e.event_type == "TEST")
            .filter(|e| {
                let d = local_date(e.start, tz);
                d > window_start && d <= to
            })
            .filter(|e| threshold_factor(e.delivered_kw, e.committed_kw, threshold) < 1.0)
            .count();
        let max_failed = params.count("max_failed_tests")?;
        if failed >= max_failed {
            notes.push(format!(
                "{failed} failed tests in the window: factor 0 for the term"
            ));
            factor = 0.0;
        }

        let price = params.decimal("clearing_price_per_mw_hour")?;
        let hours = Decimal::from(minutes) / Decimal::from(60);
        let mw = quantity_decimal(request.committed_kw * factor) / Decimal::from(1000);
        let mw_hours = mw * hours;
        let line = LineItem {
            code: "CAPACITY".into(),
            description: format!(
                "{from}..{to}: {:.3} MW × {hours} h of {} × factor {factor:.4} × ${price}/MW-h",
                request.committed_kw / 1000.0,
                periods.join("+")
            ),
            quantity: mw_hours.to_string().parse().unwrap_or_default(),
            unit: "MW-h".into(),
            rate: price.to_string(),
            amount: format(cents(price * mw_hours)),
            month: None,
            event_id: None,
        };
        Ok(Settlement {
            line_items: vec![line],
            notes,
        })
    }
}

gridhub_plugin_sdk::export_plugin!(Ers);

#[cfg(test)]
mod tests;
