//! Settlement building blocks: monthly capacity lines prorated by the days of
//! the month the period covers, per-event energy lines, event prices. Amounts
//! are exact decimals rounded half-even to cents per line item.

use std::str::FromStr;

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use crate::money::{cents, format, quantity_decimal};
use crate::time::{local_date, months, parse_date};
use crate::{EventPerformance, LineItem, RuleError, SettlementRequest};

/// The kW a month is paid on, with an optional explanation.
#[derive(Debug, Clone, PartialEq)]
pub struct MonthlyRate {
    pub kw: f64,
    pub note: Option<String>,
}

/// A settled month: which days of it the period covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Month {
    pub year: i32,
    pub month: u32,
    pub covered_days: u32,
    pub days: u32,
    /// First and last day of the month inside the period.
    pub first: NaiveDate,
    pub last: NaiveDate,
}

impl Month {
    pub fn label(&self) -> String {
        format!("{}-{:02}", self.year, self.month)
    }

    /// Share of the month covered, exactly.
    pub fn fraction(&self) -> Decimal {
        Decimal::from(self.covered_days) / Decimal::from(self.days)
    }

    pub fn contains(&self, date: NaiveDate) -> bool {
        date.year() == self.year && date.month() == self.month
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid");
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    }
    .expect("valid");
    (next - first).num_days() as u32
}

/// The settled period as dates, checked.
pub fn period(request: &SettlementRequest) -> Result<(NaiveDate, NaiveDate), RuleError> {
    let (from, to) = (
        parse_date(&request.period_start)?,
        parse_date(&request.period_end)?,
    );
    if to < from {
        return Err(RuleError::InvalidInput(format!(
            "the period ends ({to}) before it starts ({from})"
        )));
    }
    Ok((from, to))
}

/// Months of `[from, to]` with the days of each that the period covers.
pub fn period_months(from: NaiveDate, to: NaiveDate) -> Vec<Month> {
    months(from, to)
        .into_iter()
        .map(|(year, month)| {
            let days = days_in_month(year, month);
            let first = NaiveDate::from_ymd_opt(year, month, 1).expect("valid");
            let last = NaiveDate::from_ymd_opt(year, month, days).expect("valid");
            let (first, last) = (from.max(first), to.min(last));
            Month {
                year,
                month,
                covered_days: (last - first).num_days() as u32 + 1,
                days,
                first,
                last,
            }
        })
        .collect()
}

/// The events that started (local time) in `month`.
pub fn events_in<'a>(
    events: &'a [EventPerformance],
    month: &Month,
    tz: Tz,
) -> Vec<&'a EventPerformance> {
    events
        .iter()
        .filter(|e| month.contains(local_date(e.start, tz)))
        .collect()
}

/// `rate × kW × covered share of the month`, one line item per month of the
/// period; `kw_for` decides each month's kW from the month's events and the
/// committed kW.
pub fn monthly_lines(
    request: &SettlementRequest,
    tz: Tz,
    kw_for: impl Fn(&[&EventPerformance], f64) -> MonthlyRate,
    code: &str,
    label: &str,
    rate: Decimal,
) -> Result<(Vec<LineItem>, Vec<String>), RuleError> {
    let (from, to) = period(request)?;
    let mut lines = Vec::new();
    let mut notes = Vec::new();
    for month in period_months(from, to) {
        let events = events_in(&request.events, &month, tz);
        let paid = kw_for(&events, request.committed_kw);
        if let Some(note) = paid.note {
            notes.push(format!("{}: {note}", month.label()));
        }
        lines.push(monthly_line(&month, paid.kw, code, label, rate));
    }
    Ok((lines, notes))
}

/// One month's line: `rate × kW × covered share`.
pub fn monthly_line(month: &Month, kw: f64, code: &str, label: &str, rate: Decimal) -> LineItem {
    let kw_months = quantity_decimal(kw) * month.fraction();
    let share = if month.covered_days == month.days {
        String::new()
    } else {
        format!(" × {}/{} days", month.covered_days, month.days)
    };
    LineItem {
        code: code.into(),
        description: format!(
            "{} {label}: {kw:.3} kW × ${rate}/kW-month{share}",
            month.label()
        ),
        quantity: decimal_to_f64(kw_months),
        unit: "kW-month".into(),
        rate: rate.to_string(),
        amount: format(cents(rate * kw_months)),
        month: Some(month.label()),
        event_id: None,
    }
}

/// The price an event pays per kWh: its own, or the program default.
pub fn event_price(event: &EventPerformance, default: Decimal) -> Result<Decimal, RuleError> {
    match &event.energy_price {
        Some(p) => Decimal::from_str(p).map_err(|_| {
            RuleError::InvalidInput(format!(
                "event {} energy price `{p}` is not a decimal",
                event.event_id
            ))
        }),
        None => Ok(default),
    }
}

/// An energy line for one event: `price × kWh`, negative energy paid as zero.
pub fn energy_line(
    event: &EventPerformance,
    kwh: f64,
    price: Decimal,
    what: &str,
) -> (LineItem, Option<String>) {
    let paid = kwh.max(0.0);
    let note = (kwh < 0.0).then(|| {
        format!(
            "event {}: {kwh:.3} kWh is a net increase; energy paid as 0",
            event.event_id
        )
    });
    let line = LineItem {
        code: "ENERGY".into(),
        description: format!(
            "event {} {what}: {paid:.3} kWh × ${price}/kWh",
            event.event_id
        ),
        quantity: paid,
        unit: "kWh".into(),
        rate: price.to_string(),
        amount: format(cents(price * quantity_decimal(paid))),
        month: None,
        event_id: Some(event.event_id.clone()),
    };
    (line, note)
}

/// Event hours, `(end − start) ÷ 3600`.
pub fn event_hours(event: &EventPerformance) -> f64 {
    (event.end - event.start) as f64 / 3600.0
}

fn decimal_to_f64(d: Decimal) -> f64 {
    d.to_string().parse().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{battery, event, settlement};

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn months_are_prorated_by_covered_days() {
        let m = period_months(d(2026, 6, 16), d(2026, 8, 31));
        assert_eq!(m.len(), 3);
        assert_eq!((m[0].covered_days, m[0].days), (15, 30));
        assert_eq!((m[2].covered_days, m[2].days), (31, 31));
        // 100 kW × $6 × 15/30 = $300.00
        let line = monthly_line(&m[0], 100.0, "CAPACITY", "capacity", Decimal::new(600, 2));
        assert_eq!(line.amount, "300.00");
        assert_eq!(line.quantity, 50.0);
        // 7 kW × $6.00 × 10/31 = 13.548387… → $13.55
        let march = &period_months(d(2027, 3, 1), d(2027, 3, 10))[0];
        assert_eq!(
            monthly_line(march, 7.0, "C", "c", Decimal::new(600, 2)).amount,
            "13.55"
        );
    }

    #[test]
    fn monthly_lines_group_events_by_local_month() {
        let mut req = settlement(battery("m"), "summer", vec![event("a", 4.0)]);
        req.period_start = "2026-05-01".into();
        req.period_end = "2026-06-30".into();
        let tz = crate::time::zone("America/New_York").unwrap();
        // The test event starts 2026-05-28 (local); May pays its delivered kW, June the committed.
        let (lines, notes) = monthly_lines(
            &req,
            tz,
            |events, committed| MonthlyRate {
                kw: events.first().map_or(committed, |e| e.delivered_kw),
                note: events.is_empty().then(|| "no events".into()),
            },
            "CAPACITY",
            "capacity",
            Decimal::new(1000, 2),
        )
        .unwrap();
        assert_eq!(lines[0].amount, "40.00");
        assert_eq!(lines[1].amount, "50.00");
        assert_eq!(notes, ["2026-06: no events"]);
    }

    #[test]
    fn energy_prices_and_negative_energy() {
        let mut e = event("a", 2.0);
        assert_eq!(event_price(&e, Decimal::ONE).unwrap(), Decimal::ONE);
        e.energy_price = Some("0.25".into());
        let (line, note) = energy_line(&e, 10.0, event_price(&e, Decimal::ONE).unwrap(), "energy");
        assert_eq!((line.amount.as_str(), note), ("2.50", None));
        let (line, note) = energy_line(&e, -3.0, Decimal::ONE, "energy");
        assert_eq!(line.amount, "0.00");
        assert!(note.is_some());
        e.energy_price = Some("cheap".into());
        assert!(event_price(&e, Decimal::ONE).is_err());
    }
}
