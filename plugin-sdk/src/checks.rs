//! Eligibility checks the programs share, each giving a stable reason code, a
//! message and the action that fixes it.

use crate::{reason, verdict, Eligibility, EnrollmentRequest, Meter, PortfolioMember, Reason};

/// Collects the reasons a meter is not eligible.
#[derive(Debug, Default)]
pub struct Checks {
    reasons: Vec<Reason>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a reason unless `ok`.
    pub fn require(
        &mut self,
        ok: bool,
        code: &str,
        message: impl Into<String>,
        action: impl Into<String>,
        field: Option<&str>,
    ) -> &mut Self {
        if !ok {
            self.reasons.push(reason(code, message, action, field));
        }
        self
    }

    pub fn push(&mut self, r: Reason) -> &mut Self {
        self.reasons.push(r);
        self
    }

    pub fn active(&mut self, meter: &Meter) -> &mut Self {
        self.require(
            meter.status == "ACTIVE",
            "METER_INACTIVE",
            "the meter is deactivated",
            "reactivate the meter",
            Some("status"),
        )
    }

    pub fn region(&mut self, meter: &Meter, region: &str, program: &str) -> &mut Self {
        self.require(
            meter.region == region,
            "REGION_NOT_ELIGIBLE",
            format!(
                "{program} is for region {region}; the meter is in {}",
                meter.region
            ),
            format!("enroll only {region} meters"),
            Some("region"),
        )
    }

    pub fn utility_meter(&mut self, meter: &Meter, program: &str) -> &mut Self {
        self.require(
            meter.kind == "UTILITY_METER",
            "NOT_A_UTILITY_METER",
            format!("{program} measures load at the utility revenue meter"),
            "enroll the customer's UTILITY_METER",
            Some("kind"),
        )
    }

    pub fn battery(&mut self, meter: &Meter, program: &str) -> &mut Self {
        self.require(
            meter.kind == "DEVICE" && meter.device_type.as_deref() == Some("BATTERY"),
            "NOT_A_BATTERY",
            format!("{program} pays battery storage measured at the device"),
            "enroll a DEVICE meter with deviceType BATTERY",
            Some("deviceType"),
        )
    }

    /// Customer authorization of utility data sharing.
    pub fn authorized(&mut self, meter: &Meter) -> &mut Self {
        self.require(
            meter.authorization_status == "AUTHORIZED",
            "AUTHORIZATION_REQUIRED",
            format!(
                "the customer has not authorized sharing of utility data (status {})",
                meter.authorization_status
            ),
            "send the customer through the Connect flow to authorize utility data sharing",
            Some("authorizationStatus"),
        )
    }

    pub fn utility_in(&mut self, meter: &Meter, utilities: &[String], program: &str) -> &mut Self {
        let ok = meter
            .utility
            .as_ref()
            .is_some_and(|u| utilities.contains(u));
        self.require(
            ok,
            "UTILITY_NOT_ELIGIBLE",
            format!(
                "the customer's utility ({}) does not offer {program}",
                meter.utility.as_deref().unwrap_or("not set")
            ),
            format!("set the meter's utility to one of {}", utilities.join(", ")),
            Some("utility"),
        )
    }

    pub fn load_zone_in(&mut self, meter: &Meter, zones: &[String], market: &str) -> &mut Self {
        let ok = meter.load_zone.as_ref().is_some_and(|z| zones.contains(z));
        self.require(
            ok,
            "LOAD_ZONE_NOT_ELIGIBLE",
            format!(
                "the meter's load zone ({}) is not a {market} load zone",
                meter.load_zone.as_deref().unwrap_or("not set")
            ),
            format!("set loadZone to one of {}", zones.join(", ")),
            Some("loadZone"),
        )
    }

    /// The meter is not already in a program it may not be combined with.
    pub fn no_conflicts(
        &mut self,
        request: &EnrollmentRequest,
        conflicting: &[String],
    ) -> &mut Self {
        for other in request
            .other_enrollments
            .iter()
            .filter(|o| conflicting.contains(o))
        {
            self.push(reason(
                "DUAL_PARTICIPATION",
                format!("the meter is already enrolled in {other}, which cannot be combined with this program"),
                format!("unenroll the meter from {other} first"),
                None,
            ));
        }
        self
    }

    /// A positive commitment no larger than the meter's capacity.
    pub fn commitment(&mut self, request: &EnrollmentRequest) -> &mut Self {
        match (request.committed_kw, request.meter.capacity_kw) {
            (None, None) => self.require(
                false,
                "CAPACITY_MISSING",
                "the kW to commit is unknown",
                "set the meter's capacityKw or give committedKw",
                Some("capacityKw"),
            ),
            (Some(c), _) if c <= 0.0 => self.require(
                false,
                "COMMITMENT_NOT_POSITIVE",
                format!("committed {c} kW is not a reduction"),
                "commit a positive number of kW",
                Some("committedKw"),
            ),
            (Some(c), Some(cap)) if c > cap => self.require(
                false,
                "COMMITMENT_EXCEEDS_CAPACITY",
                format!("committed {c} kW exceeds the meter's {cap} kW"),
                format!("commit at most {cap} kW"),
                Some("committedKw"),
            ),
            _ => self,
        }
    }

    pub fn reasons(&self) -> &[Reason] {
        &self.reasons
    }

    pub fn done(self) -> Eligibility {
        verdict(self.reasons)
    }
}

/// Total committed kW of a portfolio.
pub fn portfolio_kw(members: &[PortfolioMember]) -> f64 {
    members.iter().map(|m| m.committed_kw).sum()
}

/// Aggregated size within `[min_kw, max_kw]` (no upper bound when `None`).
pub fn portfolio_size(
    members: &[PortfolioMember],
    min_kw: f64,
    max_kw: Option<f64>,
    program: &str,
) -> Eligibility {
    let total = portfolio_kw(members);
    let mut checks = Checks::new();
    checks.require(
        total >= min_kw,
        "PORTFOLIO_TOO_SMALL",
        format!(
            "{program} needs at least {min_kw} kW per resource; the portfolio commits {total} kW"
        ),
        format!("enroll at least {} kW more", min_kw - total),
        None,
    );
    if let Some(max) = max_kw {
        checks.require(
            total <= max,
            "PORTFOLIO_TOO_LARGE",
            format!(
                "{program} allows at most {max} kW per resource; the portfolio commits {total} kW"
            ),
            "split the meters into several resources or commit fewer kW",
            None,
        );
    }
    checks.done()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{battery, codes, enrollment, utility_meter};

    #[test]
    fn each_check_names_code_field_and_fix() {
        let mut m = utility_meter("m", "NY", "NYISO", "CONED");
        m.authorization_status = "NOT_AUTHORIZED".into();
        m.status = "INACTIVE".into();
        let mut r = enrollment(m, Some(300.0));
        r.other_enrollments = vec!["NYISO_SCR".into(), "MA_CPS".into()];
        let mut c = Checks::new();
        c.region(&r.meter, "CA", "X")
            .battery(&r.meter, "X")
            .authorized(&r.meter)
            .utility_in(&r.meter, &["PGE".into()], "X")
            .load_zone_in(&r.meter, &["J".into()], "NYISO")
            .no_conflicts(&r, &["NYISO_SCR".into()])
            .commitment(&r)
            .active(&r.meter);
        let e = c.done();
        assert_eq!(
            codes(&e),
            [
                "REGION_NOT_ELIGIBLE",
                "NOT_A_BATTERY",
                "AUTHORIZATION_REQUIRED",
                "UTILITY_NOT_ELIGIBLE",
                "LOAD_ZONE_NOT_ELIGIBLE",
                "DUAL_PARTICIPATION",
                "COMMITMENT_EXCEEDS_CAPACITY",
                "METER_INACTIVE"
            ]
        );
        assert!(e.reasons.iter().all(|r| !r.action.is_empty()));
        let mut ok = Checks::new();
        ok.battery(&battery("b"), "X")
            .commitment(&enrollment(battery("b"), Some(5.0)));
        assert!(ok.done().eligible);
    }

    #[test]
    fn portfolio_bounds() {
        let m = |kw| PortfolioMember {
            meter_id: "m".into(),
            committed_kw: kw,
        };
        assert!(portfolio_size(&[m(60.0), m(40.0)], 100.0, Some(10_000.0), "X").eligible);
        assert_eq!(
            codes(&portfolio_size(&[m(60.0)], 100.0, None, "X")),
            ["PORTFOLIO_TOO_SMALL"]
        );
        assert_eq!(
            codes(&portfolio_size(&[m(20_000.0)], 100.0, Some(10_000.0), "X")),
            ["PORTFOLIO_TOO_LARGE"]
        );
    }
}
