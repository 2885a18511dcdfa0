//! The seeded market programs with the parameter defaults of the public program
//! documents (see `shared/programs.md`). Values that could not be checked against
//! the documents are flagged `to_confirm` and shown as such in the API.

use async_graphql::Json;
use serde_json::{json, Value};

use crate::domain::geo::{load_zones, Iso, Region};
use crate::domain::program::{MvKind, ParameterInput, ParameterKind, ProgramSpec, Season};

use ParameterKind::{Boolean, Integer, Json as JsonKind, Money, Number, String as Text};

struct Params {
    source: &'static str,
    list: Vec<ParameterInput>,
}

impl Params {
    fn new(source: &'static str) -> Self {
        Self {
            source,
            list: Vec::new(),
        }
    }

    fn add(
        mut self,
        key: &str,
        kind: ParameterKind,
        value: Value,
        unit: Option<&str>,
        description: &str,
    ) -> Self {
        self.list.push(ParameterInput {
            key: key.into(),
            kind,
            value: Json(value),
            unit: unit.map(Into::into),
            description: description.into(),
            source: Some(self.source.into()),
            to_confirm: false,
        });
        self
    }

    /// Adds a parameter whose default is still to be confirmed.
    fn unconfirmed(
        mut self,
        key: &str,
        kind: ParameterKind,
        value: Value,
        unit: Option<&str>,
        description: &str,
    ) -> Self {
        self = self.add(key, kind, value, unit, description);
        let last = self.list.last_mut().expect("just added");
        last.to_confirm = true;
        last.source = Some(format!("{} (default to confirm)", self.source));
        self
    }

    fn holidays(self) -> Self {
        self.add(
            "holidays",
            JsonKind,
            json!([
                "NEW_YEARS_DAY",
                "MEMORIAL_DAY",
                "INDEPENDENCE_DAY",
                "LABOR_DAY",
                "THANKSGIVING_DAY",
                "CHRISTMAS_DAY"
            ]),
            None,
            "NERC holidays excluded from like days; a holiday on Sunday is observed on Monday",
        )
    }
}

fn season(name: &str, start: &str, end: &str) -> Season {
    Season {
        name: name.into(),
        start: start.into(),
        end: end.into(),
    }
}

#[allow(clippy::too_many_arguments)]
fn program(
    code: &str,
    name: &str,
    description: &str,
    region: Region,
    utility: Option<&str>,
    mv_kind: MvKind,
    partner_supplied_intervals: bool,
    timezone: &str,
    seasons: Vec<Season>,
    params: Params,
) -> ProgramSpec {
    ProgramSpec {
        code: code.into(),
        name: name.into(),
        description: description.into(),
        region,
        utility: utility.map(Into::into),
        mv_kind,
        partner_supplied_intervals,
        timezone: timezone.into(),
        seasons,
        parameters: params.list,
    }
}

pub fn default_programs() -> Vec<ProgramSpec> {
    vec![dram(), scr(), dlrp(), ers(), connected_solutions(), cps()]
}

fn dram() -> ProgramSpec {
    let params = Params::new("CAISO DRAM program rules")
        .add(
            "eligible_utilities",
            JsonKind,
            json!(["PGE", "SCE", "SDGE"]),
            None,
            "Utilities whose customers may participate",
        )
        .add(
            "min_portfolio_kw",
            Number,
            json!(100),
            Some("kW"),
            "Minimum aggregated enrolled capacity per resource",
        )
        .add(
            "max_resource_kw",
            Number,
            json!(10000),
            Some("kW"),
            "Maximum aggregated capacity per resource",
        )
        .add(
            "max_hours_per_day",
            Integer,
            json!(4),
            Some("h"),
            "Hours per day the resource must be available",
        )
        .unconfirmed(
            "conflicting_programs",
            JsonKind,
            json!(["CA_BIP", "CA_CBP", "CA_ELRP"]),
            None,
            "Programs a meter may not be enrolled in at the same time (other CAISO-market DR)",
        )
        .add(
            "adjustment_window_start_hours",
            Integer,
            json!(4),
            Some("h"),
            "Load-point adjustment window starts this long before the event",
        )
        .add(
            "adjustment_window_end_hours",
            Integer,
            json!(1),
            Some("h"),
            "Load-point adjustment window ends this long before the event",
        )
        .add(
            "baseline_lookback_days",
            Integer,
            json!(45),
            Some("days"),
            "Lookback window for like days",
        )
        .add(
            "baseline_weekday_days",
            Integer,
            json!(10),
            Some("days"),
            "Weekday like days averaged (10-in-10)",
        )
        .add(
            "baseline_min_days",
            Integer,
            json!(5),
            Some("days"),
            "Fewest like days that still make a baseline",
        )
        .add(
            "baseline_weekend_days",
            Integer,
            json!(4),
            Some("days"),
            "Weekend/holiday like days averaged (4-in-4)",
        )
        .add(
            "adjustment_cap",
            Number,
            json!(0.2),
            Some("ratio"),
            "Load-point adjustment clamp ±, non-residential",
        )
        .add(
            "adjustment_cap_residential",
            Number,
            json!(0.4),
            Some("ratio"),
            "Load-point adjustment clamp ±, residential",
        )
        .unconfirmed(
            "contract_price_per_kw_month",
            Money,
            json!("6.00"),
            Some("USD/kW-month"),
            "Capacity contract price",
        )
        .unconfirmed(
            "default_energy_price_per_kwh",
            Money,
            json!("0.10"),
            Some("USD/kWh"),
            "Energy price when the event gives none",
        )
        .holidays();
    program(
        "CAISO_DRAM",
        "CAISO Demand Response Auction Mechanism",
        "Utility-meter demand response sold into CAISO through the IOUs' DRAM contracts; 10-in-10 baseline with load-point adjustment.",
        Region::Ca,
        None,
        MvKind::UtilityMeter,
        false,
        "America/Los_Angeles",
        vec![season("year", "01-01", "12-31")],
        params,
    )
}

fn scr() -> ProgramSpec {
    let params = Params::new("NYISO SCR program rules")
        .add("eligible_load_zones", JsonKind, json!(load_zones(Iso::Nyiso)), None, "NYISO load zones that may participate")
        .add("min_resource_kw", Number, json!(100), Some("kW"), "Minimum size of a resource")
        .add("acl_top_hours", Integer, json!(20), Some("h"), "Highest loads averaged for the Average Coincident Load")
        .add("acl_peak_hour_count", Integer, json!(40), Some("h"), "Zone peak hours of the prior-year capability period considered")
        .unconfirmed("peak_hours", JsonKind, json!({}), None, "Per load zone: the 40 hour-beginning timestamps (UTC, RFC 3339) of the prior-year capability period peaks")
        .unconfirmed("strip_price_per_kw_month", Money, json!("3.00"), Some("USD/kW-month"), "Capacity strip price")
        .add("energy_strike_price_per_kwh", Money, json!("0.50"), Some("USD/kWh"), "Minimum energy payment price")
        .add("min_payment_hours", Integer, json!(4), Some("h"), "Minimum energy payment duration per event")
        .holidays();
    program(
        "NYISO_SCR",
        "NYISO Special Case Resources",
        "Installed-capacity demand response in New York; flat Average Coincident Load baseline per capability period.",
        Region::Ny,
        None,
        MvKind::UtilityMeter,
        false,
        "America/New_York",
        vec![season("summer", "05-01", "10-31"), season("winter", "11-01", "04-30")],
        params,
    )
}

fn dlrp() -> ProgramSpec {
    let params = Params::new("Con Edison DLRP program rules")
        .add(
            "eligible_network_tiers",
            JsonKind,
            json!(["TIER_1", "TIER_2"]),
            None,
            "Con Edison network tiers that may participate",
        )
        .add(
            "weather_adjustment_window_start_hours",
            Integer,
            json!(4),
            Some("h"),
            "Weather adjustment window starts this long before the event",
        )
        .add(
            "weather_adjustment_window_end_hours",
            Integer,
            json!(2),
            Some("h"),
            "Weather adjustment window ends this long before the event",
        )
        .add(
            "required_history_days",
            Integer,
            json!(30),
            Some("days"),
            "Interval data needed before the season starts",
        )
        .add(
            "min_single_meter_pledge_kw",
            Number,
            json!(50),
            Some("kW"),
            "Minimum pledge for a meter enrolled alone (any size within an aggregation)",
        )
        .add(
            "cbl_lookback_days",
            Integer,
            json!(30),
            Some("days"),
            "Initial lookback for CBL days",
        )
        .add(
            "cbl_max_lookback_days",
            Integer,
            json!(60),
            Some("days"),
            "Lookback extended up to this to find enough days",
        )
        .add(
            "cbl_candidate_days",
            Integer,
            json!(10),
            Some("days"),
            "Like days considered",
        )
        .add(
            "cbl_selected_days",
            Integer,
            json!(5),
            Some("days"),
            "Highest-load days averaged (high 5 of 10)",
        )
        .add(
            "cbl_low_usage_threshold",
            Number,
            json!(0.25),
            Some("ratio"),
            "Days below this share of the mean event-window load are dropped",
        )
        .add(
            "weather_adjustment",
            Boolean,
            json!(true),
            None,
            "Apply the day-of weather adjustment",
        )
        .add(
            "weather_adjustment_cap",
            Number,
            json!(0.2),
            Some("ratio"),
            "Weather adjustment clamp ±",
        )
        .add(
            "notice_hours",
            Integer,
            json!(2),
            Some("h"),
            "Notice given before an event",
        )
        .add(
            "event_window_start",
            Text,
            json!("06:00"),
            Some("local time"),
            "Earliest event start",
        )
        .add(
            "event_window_end",
            Text,
            json!("24:00"),
            Some("local time"),
            "Latest event end",
        )
        .add(
            "reservation_rate_tier1_per_kw_month",
            Money,
            json!("18.00"),
            Some("USD/kW-month"),
            "Reservation payment rate, Tier 1 networks",
        )
        .add(
            "reservation_rate_tier2_per_kw_month",
            Money,
            json!("25.00"),
            Some("USD/kW-month"),
            "Reservation payment rate, Tier 2 networks",
        )
        .add(
            "fifth_event_bonus_per_kw_month",
            Money,
            json!("5.00"),
            Some("USD/kW-month"),
            "Added from the month of a network's 5th event through September",
        )
        .add(
            "energy_rate_per_kwh",
            Money,
            json!("1.00"),
            Some("USD/kWh"),
            "Energy payment rate",
        )
        .holidays();
    program(
        "CONED_DLRP",
        "Con Edison Distribution Load Relief Program",
        "Con Edison network relief; Customer Baseline Load (high 5 of 10) with optional weather adjustment.",
        Region::Ny,
        Some("CONED"),
        MvKind::UtilityMeter,
        false,
        "America/New_York",
        vec![season("summer", "05-01", "09-30")],
        params,
    )
}

fn ers() -> ProgramSpec {
    let params = Params::new("ERCOT ERS program rules")
        .add(
            "min_offer_kw",
            Number,
            json!(100),
            Some("kW"),
            "Minimum portfolio offer, in whole kW",
        )
        .add(
            "interval_minutes",
            Integer,
            json!(15),
            Some("min"),
            "Interval length of ERCOT-supplied meter data",
        )
        .add(
            "service_types",
            JsonKind,
            json!(["ERS-10", "ERS-30"]),
            None,
            "Service types offered",
        )
        .add(
            "eligible_load_zones",
            JsonKind,
            json!(load_zones(Iso::Ercot)),
            None,
            "ERCOT load zones that may participate",
        )
        .unconfirmed(
            "time_periods",
            JsonKind,
            json!({
                "TP1": {"days": "WEEKDAY", "start": "05:00", "end": "08:00"},
                "TP2": {"days": "WEEKDAY", "start": "08:00", "end": "13:00"},
                "TP3": {"days": "WEEKDAY", "start": "13:00", "end": "16:00"},
                "TP4": {"days": "WEEKDAY", "start": "16:00", "end": "20:00"},
                "TP5": {"days": "WEEKDAY", "start": "20:00", "end": "22:00"},
                "TP6": {"days": "WEEKDAY", "start": "22:00", "end": "05:00"},
                "TP7": {"days": "WEEKEND_HOLIDAY", "start": "05:00", "end": "22:00"},
                "TP8": {"days": "WEEKEND_HOLIDAY", "start": "22:00", "end": "05:00"}
            }),
            Some("local time"),
            "Time periods of each Standard Contract Term: day type and local hours",
        )
        .unconfirmed(
            "baseline_lookback_days",
            Integer,
            json!(90),
            Some("days"),
            "How far back like days are searched (the rules set no bound)",
        )
        .add(
            "adjustment_window_start_hours",
            Integer,
            json!(2),
            Some("h"),
            "Event-day adjustment window starts this long before deployment",
        )
        .add(
            "adjustment_window_end_hours",
            Integer,
            json!(1),
            Some("h"),
            "Event-day adjustment window ends this long before deployment",
        )
        .add(
            "baseline_like_days",
            Integer,
            json!(10),
            Some("days"),
            "Like days considered",
        )
        .add(
            "baseline_trim",
            Integer,
            json!(1),
            Some("days"),
            "Highest and lowest values dropped per interval (middle 8 of 10)",
        )
        .add(
            "event_day_adjustment",
            Boolean,
            json!(true),
            None,
            "Apply the additive event-day adjustment",
        )
        .unconfirmed(
            "clearing_price_per_mw_hour",
            Money,
            json!("5.00"),
            Some("USD/MW-hour"),
            "Capacity clearing price",
        )
        .add(
            "performance_threshold",
            Number,
            json!(0.95),
            Some("ratio"),
            "Delivered share of obligation that counts as full performance",
        )
        .add(
            "max_failed_tests",
            Integer,
            json!(3),
            None,
            "Failed tests in the window that zero the term's factor",
        )
        .add(
            "failed_test_window_days",
            Integer,
            json!(365),
            Some("days"),
            "Window for counting failed tests",
        )
        .holidays();
    program(
        "ERCOT_ERS",
        "ERCOT Emergency Response Service",
        "Emergency load reduction in ERCOT; middle 8-of-10 like-day baseline on 15-minute data.",
        Region::Tx,
        None,
        MvKind::UtilityMeter,
        false,
        "America/Chicago",
        vec![
            season("dec_mar", "12-01", "03-31"),
            season("apr_may", "04-01", "05-31"),
            season("jun_sep", "06-01", "09-30"),
            season("oct_nov", "10-01", "11-30"),
        ],
        params,
    )
}

fn connected_solutions() -> ProgramSpec {
    let params = Params::new("Massachusetts ConnectedSolutions program rules")
        .add(
            "eligible_utilities",
            JsonKind,
            json!([
                "NATIONAL_GRID",
                "EVERSOURCE",
                "UNITIL",
                "CAPE_LIGHT_COMPACT"
            ]),
            None,
            "Utilities whose customers may participate",
        )
        .add(
            "summer_rate_per_kw",
            Money,
            json!("225.00"),
            Some("USD/kW-season"),
            "Summer payment per kW of seasonal performance",
        )
        .add(
            "winter_rate_per_kw",
            Money,
            json!("50.00"),
            Some("USD/kW-season"),
            "Winter payment per kW of seasonal performance",
        )
        .add(
            "cni_daily_dispatch_rate_per_kw",
            Money,
            json!("200.00"),
            Some("USD/kW-season"),
            "C&I daily dispatch payment per kW",
        )
        .add(
            "summer_max_events",
            Integer,
            json!(60),
            None,
            "Most summer events",
        )
        .add(
            "summer_event_window_start",
            Text,
            json!("14:00"),
            Some("local time"),
            "Summer events start no earlier",
        )
        .add(
            "summer_event_window_end",
            Text,
            json!("19:00"),
            Some("local time"),
            "Summer events end no later",
        )
        .add(
            "summer_max_event_hours",
            Integer,
            json!(3),
            Some("h"),
            "Longest summer event",
        )
        .add(
            "winter_max_events",
            Integer,
            json!(5),
            None,
            "Most winter events",
        )
        .holidays();
    program(
        "MA_CONNECTED_SOLUTIONS",
        "Massachusetts ConnectedSolutions",
        "Battery dispatch for Massachusetts utilities, paid on device-measured seasonal performance.",
        Region::Ma,
        None,
        MvKind::Device,
        true,
        "America/New_York",
        vec![season("summer", "06-01", "09-30"), season("winter", "12-01", "03-31")],
        params,
    )
}

fn cps() -> ProgramSpec {
    let params = Params::new("Massachusetts Clean Peak Energy Standard rules")
        .add("min_commercial_operation_date", Text, json!("2019-01-01"), None, "Storage must start commercial operation on or after this date")
        .add("min_colocated_renewable_ratio", Number, json!(0.75), Some("ratio"), "Co-located renewable nameplate ÷ storage nameplate")
        .add("excluded_utilities", JsonKind, json!(["MA_MUNICIPAL"]), None, "Municipal light plant territories are not eligible")
        .unconfirmed("peak_windows", JsonKind, json!({"winter": ["16:00", "20:00"], "spring": ["17:00", "21:00"], "summer": ["15:00", "19:00"], "fall": ["16:00", "20:00"]}), Some("local time"), "Seasonal peak windows")
        .unconfirmed("seasonal_multipliers", JsonKind, json!({"winter": 4, "spring": 1, "summer": 4, "fall": 1}), None, "Certificate multiplier per season")
        .unconfirmed("actual_peak_hour_multiplier", Number, json!(25), None, "Multiplier for the month's actual system peak hour")
        .unconfirmed("actual_peak_hours", JsonKind, json!({}), None, "Per month (`YYYY-MM`): the actual system peak hour's beginning (UTC, RFC 3339)")
        .unconfirmed("distribution_circuit_multiplier", Number, json!(2), None, "Multiplier for storage on a qualifying distribution circuit")
        .unconfirmed("resilience_multiplier", Number, json!(1.5), None, "Multiplier for resilience-qualified storage")
        .unconfirmed("cpec_price_per_mwh", Money, json!("45.00"), Some("USD/certificate"), "Clean Peak Energy Certificate price")
        .add("settlement_basis", Text, json!("METERED_HOURS"), None, "Settled on every metered hour of net discharge, not on events")
        .holidays();
    program(
        "MA_CPS",
        "Massachusetts Clean Peak Energy Standard",
        "Certificates for storage discharge in seasonal peak windows; no baseline.",
        Region::Ma,
        None,
        MvKind::Device,
        true,
        "America/New_York",
        vec![
            season("winter", "12-01", "02-29"),
            season("spring", "03-01", "05-31"),
            season("summer", "06-01", "08-31"),
            season("fall", "09-01", "11-30"),
        ],
        params,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_programs_are_valid_and_distinct() {
        let programs = default_programs();
        assert_eq!(programs.len(), 6);
        for p in &programs {
            assert!(p.validate().is_empty(), "{}: {:?}", p.code, p.validate());
        }
        let mut codes: Vec<_> = programs.iter().map(|p| p.code.clone()).collect();
        codes.dedup();
        assert_eq!(codes.len(), 6);
    }

    #[test]
    fn published_rates_are_seeded() {
        let cs = connected_solutions();
        let rate = cs
            .parameters
            .iter()
            .find(|p| p.key == "summer_rate_per_kw")
            .unwrap();
        assert_eq!(rate.value.0, json!("225.00"));
        assert!(!rate.to_confirm);
    }
}
