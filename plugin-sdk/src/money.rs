//! Exact money: decimals rounded half-even to cents at line-item level.

use rust_decimal::{Decimal, RoundingStrategy};

/// Rounds half to even at two decimals (banker's rounding).
pub fn cents(amount: Decimal) -> Decimal {
    amount.round_dp_with_strategy(2, RoundingStrategy::MidpointNearestEven)
}

/// `rate × quantity`, where the quantity is a measured value (kW, kWh). The
/// quantity is taken to 6 decimals exactly before multiplying, so the result
/// does not depend on float formatting.
pub fn amount(rate: Decimal, quantity: f64) -> Decimal {
    cents(rate * quantity_decimal(quantity))
}

pub fn quantity_decimal(quantity: f64) -> Decimal {
    Decimal::from_f64_retain(quantity)
        .unwrap_or_default()
        .round_dp_with_strategy(6, RoundingStrategy::MidpointNearestEven)
}

/// Formats an amount with exactly two decimals (`"1125.00"`).
pub fn format(amount: Decimal) -> String {
    let mut a = cents(amount);
    a.rescale(2);
    a.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn half_even() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(cents(d("0.125")), d("0.12"));
        assert_eq!(cents(d("0.135")), d("0.14"));
        assert_eq!(format(d("1125")), "1125.00");
        assert_eq!(format(amount(d("225.00"), 5.0)), "1125.00");
        // 0.1 is not exact in binary; the 6-decimal step makes it so.
        assert_eq!(format(amount(d("3.00"), 0.1)), "0.30");
    }
}
