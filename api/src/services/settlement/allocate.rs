//! Splitting a market's aggregate payment among meters, to the cent.

/// Splits `total_cents` in proportion to `weights` (negative weights count as
/// zero) with the largest-remainder method: every share is rounded down, then
/// the cents left over go one each to the largest fractional remainders,
/// ties to the earlier key. The shares always sum exactly to the total; a
/// negative total (a penalty) is split the same way and negated. With no
/// positive weight, the total is split equally.
pub fn allocate(total_cents: i64, weights: &[(String, f64)]) -> Vec<(String, i64)> {
    if weights.is_empty() {
        return Vec::new();
    }
    let sign = if total_cents < 0 { -1 } else { 1 };
    let total = i128::from(total_cents.unsigned_abs() as i64);
    let mut keyed: Vec<(&String, f64)> = weights
        .iter()
        .map(|(k, w)| (k, if w.is_finite() { w.max(0.0) } else { 0.0 }))
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(b.0));
    let sum: f64 = keyed.iter().map(|(_, w)| w).sum();
    if sum <= 0.0 {
        keyed.iter_mut().for_each(|(_, w)| *w = 1.0);
    }
    // Weights as integers (micro-units) so the split is exact arithmetic.
    let units: Vec<i128> = keyed
        .iter()
        .map(|(_, w)| (w * 1e6).round() as i128)
        .collect();
    let units_sum: i128 = units.iter().sum::<i128>().max(1);
    let mut shares: Vec<(usize, i128, i128)> = units
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let exact = total * u;
            (i, exact / units_sum, exact % units_sum)
        })
        .collect();
    let given: i128 = shares.iter().map(|s| s.1).sum();
    let mut left = total - given;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i].1 += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .map(|(i, cents, _)| (keyed[i].0.clone(), sign * cents as i64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(list: &[(&str, f64)]) -> Vec<(String, f64)> {
        list.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn thirds_sum_exactly_and_the_remainder_goes_first_to_the_earliest() {
        // $100.00 in thirds: 3333.33… each; one cent left for "a".
        let out = allocate(10_000, &w(&[("b", 1.0), ("a", 1.0), ("c", 1.0)]));
        assert_eq!(
            out,
            vec![("a".into(), 3334), ("b".into(), 3333), ("c".into(), 3333)]
        );
    }

    #[test]
    fn proportional_with_largest_remainders() {
        // $10.00 by 6 kWh, 3 kWh, 1 kWh: 600, 300, 100 exactly.
        let out = allocate(1_000, &w(&[("x", 6.0), ("y", 3.0), ("z", 1.0)]));
        assert_eq!(
            out.iter().map(|o| o.1).collect::<Vec<_>>(),
            vec![600, 300, 100]
        );
        // $1.00 by 2, 2, 1: 40, 40, 20.
        let out = allocate(100, &w(&[("x", 2.0), ("y", 2.0), ("z", 1.0)]));
        assert_eq!(
            out.iter().map(|o| o.1).collect::<Vec<_>>(),
            vec![40, 40, 20]
        );
        // $0.10 by 1, 1, 1, 0: 4, 3, 3, 0 (remainders equal → earliest key).
        let out = allocate(10, &w(&[("a", 1.0), ("b", 1.0), ("c", 1.0), ("d", 0.0)]));
        assert_eq!(
            out.iter().map(|o| o.1).collect::<Vec<_>>(),
            vec![4, 3, 3, 0]
        );
    }

    #[test]
    fn penalties_negative_weights_and_no_weights() {
        let out = allocate(-1_001, &w(&[("a", 1.0), ("b", 1.0)]));
        assert_eq!(out, vec![("a".into(), -501), ("b".into(), -500)]);
        let out = allocate(500, &w(&[("a", -3.0), ("b", 1.0)]));
        assert_eq!(out, vec![("a".into(), 0), ("b".into(), 500)]);
        let out = allocate(301, &w(&[("a", 0.0), ("b", 0.0)]));
        assert_eq!(out, vec![("a".into(), 151), ("b".into(), 150)]);
        for total in [0, 1, 7, 99_999, 123_456_789] {
            let weights = w(&[("a", 0.3), ("b", 1.7), ("c", 2.9), ("d", 1e-9)]);
            let sum: i64 = allocate(total, &weights).iter().map(|o| o.1).sum();
            assert_eq!(sum, total);
        }
    }
}
