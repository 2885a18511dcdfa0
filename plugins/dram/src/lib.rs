//! CAISO DRAM: utility meters in the three IOU territories, a 10-in-10
//! baseline (4-in-4 on weekends and holidays) with a load-point adjustment,
//! monthly capacity on demonstrated kW and energy at the event price.
//! Rules: `shared/programs.md`; parameters: README.md.

use gridhub_plugin_sdk::baseline::{scale, skipped_note, EventFrame};
use gridhub_plugin_sdk::checks::{portfolio_size, Checks};
use gridhub_plugin_sdk::days::{day_type, require_days, DayType};
use gridhub_plugin_sdk::methods::{mean_by_slot, multiplicative_adjustment};
use gridhub_plugin_sdk::profile::HOUR;
use gridhub_plugin_sdk::settlement::{energy_line, event_price, monthly_lines, MonthlyRate};
use gridhub_plugin_sdk::{
    Baseline, BaselineRequest, Eligibility, EnrollmentRequest, Params, PluginInfo, PortfolioMember,
    RuleError, Rules, Settlement, SettlementRequest,
};

pub struct Dram;

const PROGRAM: &str = "CAISO DRAM";

impl Rules for Dram {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "CAISO_DRAM".into(),
            plugin_version: env!("CARGO_PKG_VERSION").into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description: "CAISO DRAM: IOU utility meters, 10-in-10 baseline with load-point adjustment, capacity on demonstrated kW".into(),
        }
    }

    fn eligibility(params: &Params, request: &EnrollmentRequest) -> Result<Eligibility, RuleError> {
        let meter = &request.meter;
        let max_kw = params.number("max_resource_kw")?;
        let mut checks = Checks::new();
        checks
            .utility_meter(meter, PROGRAM)
            .region(meter, "CA", PROGRAM)
            .utility_in(meter, &params.strings("eligible_utilities")?, PROGRAM)
            .authorized(meter)
            .no_conflicts(request, &params.strings("conflicting_programs")?)
            .commitment(request)
            .require(
                request.committed_kw.unwrap_or(0.0) <= max_kw,
                "COMMITMENT_EXCEEDS_RESOURCE_LIMIT",
                format!("a DRAM resource is at most {max_kw} kW"),
                format!("commit at most {max_kw} kW"),
                Some("committedKw"),
            )
            .active(meter);
        Ok(checks.done())
    }

    fn portfolio(params: &Params, members: &[PortfolioMember]) -> Result<Eligibility, RuleError> {
        Ok(portfolio_size(
            members,
            params.number("min_portfolio_kw")?,
            Some(params.number("max_resource_kw")?),
            PROGRAM,
        ))
    }

    /// 10-in-10 (weekday) or 4-in-4 (weekend/holiday) like days, hourly mean,
    /// times the load-point adjustment over start−4h..start−1h.
    fn baseline(params: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        let holidays = params.holidays()?;
        let frame = EventFrame::new(request, params.timezone()?, HOUR)?;
        let window = frame.adjustment_window(
            params,
            "adjustment_window_start_hours",
            "adjustment_window_end_hours",
        )?;
        let needed = frame.needed_for(Some(&window));
        let day_type = day_type(frame.event_date, &holidays);
        let (count, required, label) = match day_type {
            DayType::Weekday => (
                params.count("baseline_weekday_days")?,
                params.count("baseline_min_days")?,
                "weekday like days",
            ),
            DayType::WeekendOrHoliday => {
                let n = params.count("baseline_weekend_days")?;
                (n, n, "weekend/holiday like days")
            }
        };
        let lookback = params.count("baseline_lookback_days")?;
        let selection = frame.like_days(day_type, count, lookback, holidays, &needed);
        require_days(selection.days.len(), required, label)?;

        let mut values = EventFrame::values(
            &needed,
            mean_by_slot(&frame.profile, &selection.days, &needed)?,
        );
        let cap = if request.meter.customer_class.as_deref() == Some("RESIDENTIAL") {
            params.number("adjustment_cap_residential")?
        } else {
            params.number("adjustment_cap")?
        };
        let (actual, unadjusted) = frame.window_means(&window, &values)?;
        let ratio = multiplicative_adjustment(actual, unadjusted, cap);
        scale(&mut values, ratio.applied);

        let method = match day_type {
            DayType::Weekday => format!(
                "{}-in-{count} weekday baseline with load-point adjustment",
                selection.days.len()
            ),
            DayType::WeekendOrHoliday => {
                format!("{count}-in-{count} weekend/holiday baseline with load-point adjustment")
            }
        };
        let mut notes = vec![format!(
            "load-point adjustment: actual {actual:.3} kW ÷ baseline {unadjusted:.3} kW = {:.4}, applied {:.4} (cap ±{cap})",
            ratio.raw, ratio.applied
        )];
        notes.extend(skipped_note(&selection));
        frame.finish(&method, &values, &selection.days, notes)
    }

    /// Monthly capacity at the contract price on min(contracted, demonstrated)
    /// kW, demonstrated being the mean delivered kW of the month's events; and
    /// energy at each event's price (or the default price).
    fn settle(params: &Params, request: &SettlementRequest) -> Result<Settlement, RuleError> {
        let price = params.decimal("contract_price_per_kw_month")?;
        let tz = params.timezone()?;
        let (mut line_items, mut notes) = monthly_lines(
            request,
            tz,
            |month_events, committed| {
                if month_events.is_empty() {
                    return MonthlyRate {
                        kw: committed,
                        note: Some(
                            "no events this month: demonstrated capacity taken as contracted"
                                .into(),
                        ),
                    };
                }
                let demonstrated = month_events.iter().map(|e| e.delivered_kw).sum::<f64>()
                    / month_events.len() as f64;
                MonthlyRate {
                    kw: committed.min(demonstrated.max(0.0)),
                    note: None,
                }
            },
            "CAPACITY",
            "capacity on min(contracted, demonstrated) kW",
            price,
        )?;
        let default_price = params.decimal("default_energy_price_per_kwh")?;
        for event in &request.events {
            let price = event_price(event, default_price)?;
            let (line, note) = energy_line(event, event.delivered_kwh, price, "energy");
            line_items.push(line);
            notes.extend(note);
        }
        Ok(Settlement { line_items, notes })
    }
}

gridhub_plugin_sdk::export_plugin!(Dram);

#[cfg(test)]
mod tests;
