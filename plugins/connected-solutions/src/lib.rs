//! Massachusetts ConnectedSolutions: batteries paid on device-measured
//! seasonal performance. Rules: `shared/programs.md`; parameters: README.md.

use gridhub_plugin_sdk::{
    money, reason, verdict, Baseline, BaselineRequest, Eligibility, EnrollmentRequest, LineItem,
    Measure, Params, PluginInfo, RuleError, Rules, Settlement, SettlementRequest,
};

pub struct ConnectedSolutions;

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
        let utilities = params.strings("eligible_utilities")?;
        let mut reasons = Vec::new();
        if meter.kind != "DEVICE" || meter.device_type.as_deref() != Some("BATTERY") {
            reasons.push(reason(
                "NOT_A_BATTERY",
                "ConnectedSolutions pays battery storage measured at the device",
                "enroll a DEVICE meter with deviceType BATTERY",
                Some("deviceType"),
            ));
        }
        if meter.region != "MA" {
            reasons.push(reason(
                "REGION_NOT_ELIGIBLE",
                format!(
                    "the program is for Massachusetts; the meter is in {}",
                    meter.region
                ),
                "enroll only Massachusetts (MA) meters",
                Some("region"),
            ));
        }
        match &meter.utility {
            Some(u) if utilities.contains(u) => {}
            other => reasons.push(reason(
                "UTILITY_NOT_ELIGIBLE",
                format!(
                    "the customer's utility ({}) does not offer ConnectedSolutions",
                    other.as_deref().unwrap_or("not set")
                ),
                format!("set the meter's utility to one of {}", utilities.join(", ")),
                Some("utility"),
            )),
        }
        if meter.customer_class.is_none() {
            reasons.push(reason(
                "CUSTOMER_CLASS_MISSING",
                "the program pays residential and C&I customers differently",
                "set customerClass to RESIDENTIAL or COMMERCIAL",
                Some("customerClass"),
            ));
        }
        match (meter.capacity_kw, request.committed_kw) {
            (None, _) => reasons.push(reason(
                "CAPACITY_MISSING",
                "the battery's power rating is needed to size its commitment",
                "set capacityKw",
                Some("capacityKw"),
            )),
            (Some(cap), Some(committed)) if committed > cap => reasons.push(reason(
                "COMMITMENT_EXCEEDS_CAPACITY",
                format!("committed {committed} kW exceeds the battery's {cap} kW"),
                format!("commit at most {cap} kW"),
                Some("committedKw"),
            )),
            _ => {}
        }
        if meter.status != "ACTIVE" {
            reasons.push(reason(
                "METER_INACTIVE",
                "the meter is deactivated",
                "reactivate the meter",
                Some("status"),
            ));
        }
        Ok(verdict(reasons))
    }

    /// No baseline: performance is the battery's own discharge.
    fn baseline(_params: &Params, request: &BaselineRequest) -> Result<Baseline, RuleError> {
        let event = &request.event;
        if event.end <= event.start {
            return Err(RuleError::InvalidInput(
                "the event ends before it starts".into(),
            ));
        }
        let starts: Vec<i64> = (event.start..event.end).step_by(3600).collect();
        Ok(Baseline {
            method: "device-measured: zero baseline, delivered kW is the battery's mean discharge"
                .into(),
            measure: Measure::DeviceOutput,
            kw: vec![0.0; starts.len()],
            starts,
            interval_seconds: 3600,
            days_used: Vec::new(),
            notes: vec!["ConnectedSolutions measures the device; no baseline applies".into()],
        })
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
            }],
            notes,
        })
    }
}

gridhub_plugin_sdk::export_plugin!(ConnectedSolutions);

#[cfg(test)]
mod tests {
    use super::*;
    use gridhub_plugin_sdk::testing::{battery, enrollment, event, params_from, settlement};

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
        let codes: Vec<&str> = e.reasons.iter().map(|r| r.code.as_str()).collect();
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
        let req = gridhub_plugin_sdk::testing::baseline_request(
            battery("m"),
            1_780_000_000,
            1_780_000_000 + 3 * 3600,
        );
        let b = ConnectedSolutions::baseline(&params(), &req).unwrap();
        assert_eq!(b.kw, vec![0.0; 3]);
        assert_eq!(b.measure, Measure::DeviceOutput);
    }
}
