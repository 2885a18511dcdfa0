//! Con Edison DLRP: Con Edison meters with a network tier, a Customer Baseline
//! Load (high 5 of 10 weekdays) with the weather adjustment, reservation
//! payments per season month scaled by performance, a bonus from the 5th
//! event, and energy per kWh. Rules: `shared/programs.md`; parameters: README.md.

use gridhub_plugin_sdk::baseline::{scale, EventFrame};
use gridhub_plugin_sdk::checks::Checks;
use gridhub_plugin_sdk::chrono::Datelike;
use gridhub_plugin_sdk::days::{require_days, DayType};
use gridhub_plugin_sdk::methods::{high_x_of_y, mean_by_slot, multiplicative_adjustment};
use gridhub_plugin_sdk::performance::performance_factor;
use gridhub_plugin_sdk::profile::HOUR;
use gridhub_plugin_sdk::settlement::{energy_line, monthly_line, period, period_months};
use gridhub_plugin_sdk::time::{local_date, parse_date, season_of, season_start_for};
use gridhub_plugin_sdk::{
    reason, Baseline, BaselineRequest, Eligibility, EnrollmentRequest, Params, PluginInfo,
    PortfolioMember, RuleError, Rules, Settlement, SettlementRequest,
};

pub struct Dlrp;

const PROGRAM: &str = "Con Edison DLRP";

impl Rules for Dlrp {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "CONED_DLRP".into(),
            plugin_version: env!("CARGO_PKG_VERSION").into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description: "Con Edison DLRP: tiered network meters, high 5 of 10 CBL with weather adjustment, reservation + energy".into(),
        }
    }

    fn eligibility(params: &Params, request: &EnrollmentRequest) -> Result<Eligibility, RuleError> {
        let meter = &request.meter;
        let tiers = params.strings("eligible_network_tiers")?;
        let mut checks = Checks::new();
        checks
            .utility_meter(meter, PROGRAM)
            .region(meter, "NY", PROGRAM)
            .utility_in(meter, &["CONED".to_string()], PROGRAM)
            .require(
                meter
                    .network_tier
                    .as_ref()
                    .is_some_and(|t| tiers.contains(t)),
                "NETWORK_TIER_MISSING",
                "DLRP pays by the Con Edison network tier of the meter's network",
                format!("set networkTier to one of {}", tiers.join(", ")),
                Some("networkTier"),
            )
            .commitment(request)
            .active(meter);
        // Interval data by the season start: what exists now plus what will
        // arrive until the season begins.
        let start = parse_date(&request.start_date)?;
        let season = params
            .seasons()?
            .into_iter()
            .next()
            .ok_or_else(|| RuleError::InvalidParameters("DLRP needs its season".into()))?;
        let season_start = season_start_for(start, &season)?;
        let coming = (season_start - start).num_days().max(0);
        let required = params.integer("required_history_days")?;
        let by_season = i64::from(request.interval_history_days) + coming;
        if by_season < required {
            checks.push(reason(
                "INSUFFICIENT_INTERVAL_HISTORY",
                format!(
                    "DLRP needs {required} days of interval data before the season starting {season_start}; the meter will have {by_season}"
                ),
                format!(
                    "provide {} more days of interval data, or start after the season begins",
                    required - by_season
                ),
                None,
            ));
        }
        Ok(checks.done())
    }

    /// Any size within an aggregation; a meter enrolled alone pledges at
    /// least `min_single_meter_pledge_kw`.
    fn portfolio(params: &Params, members: &[PortfolioMember]) -> Result<Eligibility, RuleError> {
        let min = params.number("min_single_meter_pledge_kw")?;
        let mut checks = Checks::new();
        if let [single] = members {
            checks.require(
                single.committed_kw >= min,
                "PLEDGE_TOO_SMALL",
                format!(
                    "a meter enrolled alone pledges at least {min} kW; this one pledges {} kW",
                    single.committed_kw
                ),
                format!("pledge at least {min} kW, or enroll more meters to form an aggregation"),
                Some("committedKw"),
            );
        }
        Ok(checks.done())
    }

    /// CBL: the 10 most recent usable weekdays (30-day lookback, extended to
    /// 60), low-usage days dropped, the 5 highest over the event window
    /// averaged per hour; then the weather adjustment.
    fn baseline(params: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        let frame = EventFrame::new(request, params.timezone()?, HOUR)?;
        let window = if params.boolean("weather_adjustment")? {
            Some(frame.adjustment_window(
                params,
                "weather_adjustment_window_start_hours",
                "weather_adjustment_window_end_hours",
            )?)
        } else {
            None
        };
        let needed = frame.needed_for(window.as_ref());
        let candidates = params.count("cbl_candidate_days")?;
        let selection = frame.like_days(
            DayType::Weekday,
            candidates,
            params.count("cbl_max_lookback_days")?,
            params.holidays()?,
            &needed,
        );
        require_days(selection.days.len(), candidates, "weekday CBL days")?;
        let selected = params.count("cbl_selected_days")?;
        let high = high_x_of_y(
            &frame.profile,
            &selection.days,
            &frame.event_day_slots(),
            selected,
            params.number("cbl_low_usage_threshold")?,
        )?;
        require_days(
            high.days.len(),
            selected,
            "CBL days above the low-usage threshold",
        )?;

        let mut values =
            EventFrame::values(&needed, mean_by_slot(&frame.profile, &high.days, &needed)?);
        let mut notes = Vec::new();
        let short = params.count("cbl_lookback_days")? as i64;
        if let Some(oldest) = selection.days.last() {
            if (frame.event_date - *oldest).num_days() > short {
                notes.push(format!(
                    "lookback extended beyond {short} days to {oldest} to find {candidates} days"
                ));
            }
        }
        if !high.low_usage.is_empty() {
            let days: Vec<String> = high.low_usage.iter().map(|d| d.to_string()).collect();
            notes.push(format!("low-usage days dropped: {}", days.join(", ")));
        }
        if let Some(window) = &window {
            let (actual, cbl) = frame.window_means(window, &values)?;
            let ratio =
                multiplicative_adjustment(actual, cbl, params.number("weather_adjustment_cap")?);
            scale(&mut values, ratio.applied);
            notes.push(format!(
                "weather adjustment: actual {actual:.3} kW ÷ CBL {cbl:.3} kW = {:.4}, applied {:.4}",
                ratio.raw, ratio.applied
            ));
        }
        let method = format!(
            "CBL high {selected} of {candidates} weekdays{}",
            if window.is_some() {
                " with weather adjustment"
            } else {
                ""
            }
        );
        frame.finish(&method, &values, &high.days, notes)
    }

    /// Each season month of the period: reservation = tier rate × pledged kW ×
    /// performance factor; from the month of the 5th event through the season
    /// end the bonus rate on the same kW; energy = rate × delivered kWh.
    fn settle(params: &Params, request: &SettlementRequest) -> Result<Settlement, RuleError> {
        let tz = params.timezone()?;
        let rate = match request.meter.network_tier.as_deref() {
            Some("TIER_1") => params.decimal("reservation_rate_tier1_per_kw_month")?,
            Some("TIER_2") => params.decimal("reservation_rate_tier2_per_kw_month")?,
            other => {
                return Err(RuleError::InvalidInput(format!(
                    "the meter's network tier ({}) has no reservation rate",
                    other.unwrap_or("not set")
                )))
            }
        };
        let seasons = params.seasons()?;
        let (from, to) = period(request)?;
        let mut notes = Vec::new();
        let factor = if request.events.is_empty() {
            notes.push("no events: performance factor 1".into());
            1.0
        } else {
            let f = request
                .events
                .iter()
                .map(|e| performance_factor(e.delivered_kw, request.committed_kw))
                .sum::<f64>()
                / request.events.len() as f64;
            notes.push(format!(
                "performance factor {f:.4} over {} events",
                request.events.len()
            ));
            f
        };
        let kw = request.committed_kw * factor;
        let mut starts: Vec<i64> = request.events.iter().map(|e| e.start).collect();
        starts.sort_unstable();
        let bonus_from = starts.get(4).map(|s| {
            let d = local_date(*s, tz);
            (d.year(), d.month())
        });
        let bonus_rate = params.decimal("fifth_event_bonus_per_kw_month")?;
        let mut line_items = Vec::new();
        for month in period_months(from, to) {
            if season_of(month.first, &seasons)?.is_none()
                && season_of(month.last, &seasons)?.is_none()
            {
                continue;
            }
            line_items.push(monthly_line(
                &month,
                kw,
                "RESERVATION",
                "reservation on pledged kW × performance factor",
                rate,
            ));
            if bonus_from.is_some_and(|b| (month.year, month.month) >= b) {
                line_items.push(monthly_line(
                    &month,
                    kw,
                    "FIFTH_EVENT_BONUS",
                    "bonus from the network's 5th event",
                    bonus_rate,
                ));
            }
        }
        let energy_rate = params.decimal("energy_rate_per_kwh")?;
        for event in &request.events {
            let (line, note) = energy_line(event, event.delivered_kwh, energy_rate, "energy");
            line_items.push(line);
            notes.extend(note);
        }
        Ok(Settlement { line_items, notes })
    }
}

gridhub_plugin_sdk::export_plugin!(Dlrp);

#[cfg(test)]
mod tests;
