//! Massachusetts ConnectedSolutions: batteries paid on device-measured
//! seasonal performance. Rules: `shared/programs.md`; parameters: README.md.

use gridhub_plugin_sdk::baseline::zero_device_baseline;
use gridhub_plugin_sdk::checks::Checks;
use gridhub_plugin_sdk::{
    money, Baseline, BaselineRequest, Eligibility, EnrollmentRequest, LineItem, Params, PluginInfo,
    RuleError, Rules, Settlement, SettlementRequest,
};

pub struct ConnectedSolutions;

const PROGRAM: &str = "ConnectedSolutions";

/// Meter attribute naming a C&I customer's dispatch option.
pub const CNI_OPTION_ATTRIBUTE: &str = "connectedSolutionsOption";
pub const DAILY_DISPATCH: &str = "DAILY_DISPATCH";

impl Rules for ConnectedSolutions {
    fn info() -> PluginInfo {
        PluginInfo {
            program_code: "MA_CONNECTED_SOLUTIONS".into(),
            plugin_version: env!("CARGO_PKG_VERSION").into(),
            contract_version: gridhub_plugin_sdk::CONTRACT_VERSION.into(),
            description: "ConnectedSolutions: battery eligibility, device-measured performance, seasonal payment".into(),
        }
    }

    fn eligibility(params: &Params, request: &EnrollmentRequest) -> Result<Eligibility, RuleError> {
        let meter = &request.meter;
        let mut checks = Checks::new();
        checks
            .battery(meter, PROGRAM)
            .region(meter, "MA", PROGRAM)
            .utility_in(meter, &params.strings("eligible_utilities")?, PROGRAM)
            .require(
                meter.customer_class.is_some(),
                "CUSTOMER_CLASS_MISSING",
                "the program pays residential and C&I customers differently",
                "set customerClass to RESIDENTIAL or COMMERCIAL",
                Some("customerClass"),
            )
            .require(
                meter.capacity_kw.is_some(),
                "CAPACITY_MISSING",
                "the battery's power rating is needed to size its commitment",
                "set capacityKw",
                Some("capacityKw"),
            );
        if meter.capacity_kw.is_some() {
            checks.commitment(request);
        }
        checks.active(meter);
        Ok(checks.done())
    }

    /// No baseline: performance is the battery's own discharge.
    fn baseline(_params: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        zero_device_baseline(
            request,
            "device-measured: zero baseline, delivered kW is the battery's mean discharge",
            "ConnectedSolutions measures the device; no baseline applies",
        )
    }

    /// Seasonal payment: rate × mean kW over all of the season's events, where
    /// a missed event counts 0 and charging during an event counts negative.
    fn settle(params: &Params, request: &SettlementRequest) -> Result<Settlement, RuleError> {
        let season = request
            .season
            .as_deref()
            .ok_or_else(|| RuleError::InvalidInput("a season is required".into()))?;
        let daily_dispatch = request.meter.customer_class.as_deref() == Some("COMMERCIAL")
            && request.meter.attributes_json.contains(DAILY_DISPATCH);
        let (key, label) = match (season, daily_dispatch) {
            ("summer", true) => ("cni_daily_dispatch_rate_per_kw", "C&I daily dispatch"),
            ("summer", false) => ("summer_rate_per_kw", "summer"),
            ("winter", _) => ("winter_rate_per_kw", "winter"),
            (other, _) => {
                return Err(RuleError::InvalidInput(format!(
                    "ConnectedSolutions has no `{other}` season"
                )))
            }
        };
        let rate = params.decimal(key)?;
        let mut notes = Vec::new();
        let performance = if request.events.is_empty() {
            notes.push("no events in the season: performance 0 kW".into());
            0.0
        } else {
            let mean = request.events.iter().map(|e| e.delivered_kw).sum::<f64>()
                / request.events.len() as f64;
            if mean < 0.0 {
                notes.push(format!(
                    "mean performance {mean:.3} kW is negative: reported as 0"
                ));
            }
            mean.max(0.0)
        };
        let amount = money::amount(rate, performance);
        Ok(Settlement {
            line_items: vec![LineItem {
                code: "SEASONAL_PERFORMANCE".into(),
                description: format!(
                    "{label} seasonal performance over {} events: {performance:.3} kW × ${rate}/kW",
                    request.events.len()
                ),
                quantity: performance,
                unit: "kW".into(),
                rate: rate.to_string(),
                amount: money::format(amount),
                month: None,
                event_id: None,
            }],
            notes,
        })
    }
}

gridhub_plugin_sdk::export_plugin!(ConnectedSolutions);

#[cfg(test)]
mod tests {
    use super::*;
    use gridhub_plugin_sdk::performance::delivered;
    use gridhub_plugin_sdk::testing::{
        baseline_request, battery, codes, date, drop_where, enrollment, event, load, local_time,
        params_from, settlement,
    };
    use gridhub_plugin_sdk::time::zone;
    use gridhub_plugin_sdk::Measure;

    fn params() -> Params {
        params_from(include_str!("../params.json"))
    }

    #[test]
    fn an_eversource_battery_is_eligible() {
        let e = ConnectedSolutions::eligibility(&params(), &enrollment(battery("m1"), Some(5.0)))
            .unwrap();
        assert!(e.eligible, "{:?}", e.reasons);
    }

    #[test]
    fn each_problem_has_a_code_and_a_fix() {
        let mut m = battery("m1");
        m.kind = "UTILITY_METER".into();
        m.device_type = None;
        m.utility = Some("MA_MUNICIPAL".into());
        m.customer_class = None;
        let e = ConnectedSolutions::eligibility(&params(), &enrollment(m, Some(50.0))).unwrap();
        assert!(!e.eligible);
        let codes = codes(&e);
        assert_eq!(
            codes,
            [
                "NOT_A_BATTERY",
                "UTILITY_NOT_ELIGIBLE",
                "CUSTOMER_CLASS_MISSING",
                "COMMITMENT_EXCEEDS_CAPACITY"
            ]
        );
        assert!(e.reasons.iter().all(|r| !r.action.is_empty()));
    }

    #[test]
    fn published_check_5_kw_summer_earns_1125() {
        // 5 kW average over the summer × $225/kW = $1,125.
        let events = (0..30).map(|i| event(&format!("e{i}"), 5.0)).collect();
        let s = ConnectedSolutions::settle(&params(), &settlement(battery("m1"), "summer", events))
            .unwrap();
        assert_eq!(s.line_items[0].amount, "1125.00");
    }

    #[test]
    fn published_check_cni_daily_dispatch_1000_kw_earns_200000() {
        let mut m = battery("m2");
        m.customer_class = Some("COMMERCIAL".into());
        m.attributes_json = format!(r#"{{"{CNI_OPTION_ATTRIBUTE}":"{DAILY_DISPATCH}"}}"#);
        let s = ConnectedSolutions::settle(
            &params(),
            &settlement(m, "summer", vec![event("e1", 1000.0)]),
        )
        .unwrap();
        assert_eq!(s.line_items[0].amount, "200000.00");
    }

    #[test]
    fn missed_events_count_zero_and_negative_is_floored() {
        // Events of 6, 0 (missed) and 3 kW: mean 3 kW × $50 winter = $150.
        let events = vec![event("a", 6.0), event("b", 0.0), event("c", 3.0)];
        let s = ConnectedSolutions::settle(&params(), &settlement(battery("m"), "winter", events))
            .unwrap();
        assert_eq!(s.line_items[0].amount, "150.00");
        let charging = vec![event("a", -2.0)];
        let s =
            ConnectedSolutions::settle(&params(), &settlement(battery("m"), "winter", charging))
                .unwrap();
        assert_eq!(s.line_items[0].amount, "0.00");
        assert!(!s.notes.is_empty());
    }

    #[test]
    fn baseline_is_zero_and_says_so() {
        // Clock hours covered: 3 for an aligned 3-hour event, 4 when it starts mid-hour.
        let hour = 1_780_000_000 - 1_780_000_000 % 3600;
        for (start, hours) in [(hour, 3), (hour + 1800, 4)] {
            let req = gridhub_plugin_sdk::testing::baseline_request(
                battery("m"),
                start,
                start + 3 * 3600,
            );
            let b = ConnectedSolutions::baseline(&params(), &req).unwrap();
            assert_eq!(b.kw, vec![0.0; hours]);
            assert_eq!(b.measure, Measure::DeviceOutput);
            assert!(b.notes[0].contains("no baseline"));
        }
    }

    /// The battery's delivered kW over an event from its own readings.
    fn measured(
        start: i64,
        end: i64,
        readings: &gridhub_plugin_sdk::Series,
    ) -> Result<f64, RuleError> {
        let b =
            ConnectedSolutions::baseline(&params(), &baseline_request(battery("m"), start, end))?;
        delivered(&b, readings, start, end).map(|d| d.kw)
    }

    #[test]
    fn discharge_is_measured_the_same_from_15_minute_and_hourly_data() {
        let tz = zone("America/New_York").unwrap();
        let day = date(2026, 7, 15);
        let (start, end) = (local_time(tz, day, 16, 0), local_time(tz, day, 19, 0));
        for interval in [900, 3600] {
            let readings = load(tz, day, day, interval, |_| 4.5);
            assert!((measured(start, end, &readings).unwrap() - 4.5).abs() < 1e-9);
        }
    }

    #[test]
    fn partial_hours_charging_and_gaps() {
        let tz = zone("America/New_York").unwrap();
        let day = date(2026, 7, 15);
        // 16:30–18:00: 5 kW in the 16:00 hour's second half, then 2 kW at 17:00.
        // Weighted: (5 × 0.5 + 2 × 1) ÷ 1.5 = 3 kW.
        let readings = load(tz, day, day, 900, |t| {
            use gridhub_plugin_sdk::chrono::Timelike;
            if t.hour() == 16 {
                5.0
            } else {
                2.0
            }
        });
        let (start, end) = (local_time(tz, day, 16, 30), local_time(tz, day, 18, 0));
        assert!((measured(start, end, &readings).unwrap() - 3.0).abs() < 1e-9);
        // Charging during the event counts negative.
        let charging = load(tz, day, day, 900, |_| -1.5);
        assert!((measured(start, end, &charging).unwrap() + 1.5).abs() < 1e-9);
        // A missing quarter hour is an error, not a zero.
        let mut gap = readings.clone();
        drop_where(&mut gap, |s| s == local_time(tz, day, 17, 15));
        assert!(matches!(
            measured(start, end, &gap),
            Err(RuleError::InsufficientHistory(_))
        ));
    }

    #[test]
    fn an_event_over_the_fall_dst_change_lasts_its_real_hours() {
        // Nov 1, 2026 00:00–03:00 local is 4 real hours: 4 zero-baseline hours.
        let tz = zone("America/New_York").unwrap();
        let fall = date(2026, 11, 1);
        let (start, end) = (local_time(tz, fall, 0, 0), local_time(tz, fall, 3, 0));
        let b =
            ConnectedSolutions::baseline(&params(), &baseline_request(battery("m"), start, end))
                .unwrap();
        assert_eq!(b.kw.len(), 4);
        let readings = load(tz, fall, fall, 900, |_| 3.0);
        assert!((measured(start, end, &readings).unwrap() - 3.0).abs() < 1e-9);
    }
}
