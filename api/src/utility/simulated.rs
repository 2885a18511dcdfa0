//! The built-in simulated utility: every utility of the catalog, with
//! accounts and usage derived deterministically from the account number, so
//! the same account always has the same meters and the same load on every
//! machine. Rules a tester can rely on (also in `docs/connect.md`):
//!
//! - an account number has 8 to 14 digits (spaces and dashes are ignored);
//!   one ending in `0000` does not exist;
//! - the ZIP code must lie in the utility's state (CA 900–961, NY 100–149,
//!   TX 750–799 and 885, MA 010–027);
//! - the last digit sets the number of service points: `last % 3 + 1`;
//! - an account number starting with `9` is commercial, others residential;
//! - the service ids are `{account}-{n}` for n = 1, 2, …;
//! - usage is a 15-minute load shape (morning and evening peaks, summer
//!   afternoon cooling; weekday business hours for commercial accounts),
//!   scaled per account and with ±15 % noise, published up to the last
//!   complete 15-minute interval.

use async_trait::async_trait;
use chrono::{Datelike, TimeZone, Timelike, Utc};

use super::{
    AccountQuery, AuthorizedAccount, LookupError, ServicePoint, SourceError, UtilityAccount,
    UtilityDataSource, UtilityReading,
};
use crate::domain::geo::{self, Region};
use crate::domain::meter::CustomerClass;

const INTERVAL: i64 = 900;
/// Oldest data the utility keeps.
const HISTORY_SECONDS: i64 = 2 * 366 * 86_400;

pub struct SimulatedUtility;

#[async_trait]
impl UtilityDataSource for SimulatedUtility {
    fn name(&self) -> &'static str {
        "simulated"
    }

    fn serves(&self, utility: &str) -> bool {
        geo::find_utility(utility).is_some()
    }

    async fn find_account(&self, q: &AccountQuery) -> Result<UtilityAccount, LookupError> {
        account(q)
    }

    async fn readings(
        &self,
        account: &AuthorizedAccount,
        service_id: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<UtilityReading>, SourceError> {
        let now = Utc::now();
        if account.expires_at <= now {
            return Err(SourceError::AuthorizationEnded(
                "the authorization has expired".into(),
            ));
        }
        let region = home_region(&account.utility);
        let published = now.timestamp().div_euclid(INTERVAL) * INTERVAL;
        let from = from.max(published - HISTORY_SECONDS).div_euclid(INTERVAL) * INTERVAL;
        let to = to.min(published);
        let seed = seed(&account.utility, service_id);
        let commercial = account.account_number.starts_with('9');
        Ok((from..to)
            .step_by(INTERVAL as usize)
            .map(|start| UtilityReading {
                start,
                interval_seconds: INTERVAL,
                kwh: load_kwh(seed, commercial, region, start),
            })
            .collect())
    }

    async fn revoke(&self, account: &AuthorizedAccount) -> Result<(), SourceError> {
        tracing::info!(authorization = %account.authorization_id, "simulated utility: authorization ended");
        Ok(())
    }
}

fn account(q: &AccountQuery) -> Result<UtilityAccount, LookupError> {
    let utility = geo::find_utility(&q.utility).ok_or_else(|| LookupError::NotFound {
        utility: q.utility.clone(),
    })?;
    let number = &q.account_number;
    if !(8..=14).contains(&number.len()) || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(LookupError::InvalidAccountNumber(format!(
            "A {} account number has 8 to 14 digits; it is printed on your bill.",
            utility.name
        )));
    }
    let region = region_of_zip(&q.postal_code)
        .filter(|r| utility.regions.contains(r))
        .ok_or_else(|| LookupError::OutsideServiceArea {
            utility: utility.name.into(),
            postal_code: q.postal_code.clone(),
        })?;
    if number.ends_with("0000") {
        return Err(LookupError::NotFound {
            utility: utility.name.into(),
        });
    }
    let commercial = number.starts_with('9');
    let count = u64::from(number.as_bytes()[number.len() - 1] - b'0') % 3 + 1;
    let service_points = (1..=count)
        .map(|n| {
            let service_id = format!("{number}-{n}");
            let h = seed(utility.code, &service_id);
            let zones = load_zones(utility.code, region);
            ServicePoint {
                address_line1: format!(
                    "{} {} {}",
                    100 + h % 9800,
                    STREETS[(h >> 16) as usize % STREETS.len()],
                    if commercial { "Boulevard" } else { "Street" }
                ),
                city: city(utility.code, region).into(),
                state: region.state_code().into(),
                postal_code: q.postal_code.clone(),
                load_zone: (!zones.is_empty())
                    .then(|| zones[(h >> 32) as usize % zones.len()].to_owned()),
                rate_schedule: if commercial {
                    "General Service Time-of-Use".into()
                } else {
                    "Residential Time-of-Use".into()
                },
                service_id,
            }
        })
        .collect();
    Ok(UtilityAccount {
        utility: utility.code.into(),
        account_number: number.clone(),
        customer_class: if commercial {
            CustomerClass::Commercial
        } else {
            CustomerClass::Residential
        },
        service_points,
    })
}

const STREETS: &[&str] = &[
    "Oak", "Maple", "Cedar", "Elm", "Pine", "Walnut", "Willow", "Birch", "Spruce", "Chestnut",
    "Lake", "Hill", "River", "Park", "Main",
];

/// The state of a US ZIP code, for the states gridhub serves.
pub fn region_of_zip(zip: &str) -> Option<Region> {
    let prefix: u32 = zip.get(..3)?.parse().ok()?;
    match prefix {
        10..=27 => Some(Region::Ma),
        100..=149 => Some(Region::Ny),
        750..=799 | 885 => Some(Region::Tx),
        900..=961 => Some(Region::Ca),
        _ => None,
    }
}

/// The region whose clock shapes the load (a utility serving two regions —
/// National Grid in NY and MA — has one time zone).
fn home_region(utility: &str) -> Region {
    geo::find_utility(utility)
        .and_then(|u| u.regions.first().copied())
        .unwrap_or(Region::Ny)
}

fn load_zones(utility: &str, region: Region) -> &'static [&'static str] {
    match (utility, region) {
        ("PGE", _) => &["DLAP_PGAE"],
        ("SCE", _) => &["DLAP_SCE"],
        ("SDGE", _) => &["DLAP_SDGE"],
        ("CONED", _) => &["J"],
        ("NATIONAL_GRID", Region::Ny) => &["A", "B", "C", "D", "E", "F"],
        ("NATIONAL_GRID", _) => &["WCMA", "NEMA", "SEMA"],
        ("NYSEG", _) => &["C", "E", "F"],
        ("RGE", _) => &["B"],
        ("CENTRAL_HUDSON" | "ORANGE_ROCKLAND", _) => &["G"],
        ("PSEG_LI", _) => &["K"],
        ("ONCOR", _) => &["LZ_NORTH", "LZ_WEST"],
        ("CENTERPOINT", _) => &["LZ_HOUSTON"],
        ("AEP_TEXAS", _) => &["LZ_SOUTH", "LZ_WEST"],
        ("TNMP", _) => &["LZ_NORTH", "LZ_HOUSTON"],
        ("AUSTIN_ENERGY", _) => &["LZ_AEN"],
        ("CPS_ENERGY", _) => &["LZ_CPS"],
        ("UNITIL", _) => &["WCMA"],
        ("CAPE_LIGHT_COMPACT", _) => &["SEMA"],
        ("EVERSOURCE" | "MA_MUNICIPAL", _) => &["NEMA", "SEMA", "WCMA"],
        // LADWP and SMUD are their own balancing areas: no CAISO load zone.
        _ => &[],
    }
}

fn city(utility: &str, region: Region) -> &'static str {
    match (utility, region) {
        ("PGE", _) => "Oakland",
        ("SCE", _) => "Long Beach",
        ("SDGE", _) => "San Diego",
        ("LADWP", _) => "Los Angeles",
        ("SMUD", _) => "Sacramento",
        ("CONED", _) => "New York",
        ("NATIONAL_GRID", Region::Ny) => "Syracuse",
        ("NATIONAL_GRID", _) => "Worcester",
        ("NYSEG", _) => "Ithaca",
        ("RGE", _) => "Rochester",
        ("CENTRAL_HUDSON", _) => "Poughkeepsie",
        ("ORANGE_ROCKLAND", _) => "Nyack",
        ("PSEG_LI", _) => "Hempstead",
        ("ONCOR", _) => "Dallas",
        ("CENTERPOINT", _) => "Houston",
        ("AEP_TEXAS", _) => "Corpus Christi",
        ("TNMP", _) => "Lewisville",
        ("AUSTIN_ENERGY", _) => "Austin",
        ("CPS_ENERGY", _) => "San Antonio",
        ("EVERSOURCE", _) => "Boston",
        ("UNITIL", _) => "Fitchburg",
        ("CAPE_LIGHT_COMPACT", _) => "Barnstable",
        _ => "Braintree",
    }
}

fn timezone(region: Region) -> chrono_tz::Tz {
    match region {
        Region::Ca => chrono_tz::America::Los_Angeles,
        Region::Tx => chrono_tz::America::Chicago,
        Region::Ny | Region::Ma => chrono_tz::America::New_York,
    }
}

/// FNV-1a over the text, finished with splitmix64: stable across builds and
/// platforms (unlike `std`'s hasher).
fn seed(utility: &str, service_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in utility.bytes().chain([0]).chain(service_id.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) from the bits.
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

fn bump(hour: f64, centre: f64, width: f64) -> f64 {
    (-((hour - centre) / width).powi(2)).exp()
}

/// Energy in kWh over the 15 minutes starting at `start`.
fn load_kwh(seed: u64, commercial: bool, region: Region, start: i64) -> f64 {
    let local = timezone(region).from_utc_datetime(
        &chrono::DateTime::from_timestamp(start, 0)
            .unwrap_or_default()
            .naive_utc(),
    );
    let hour = f64::from(local.hour()) + f64::from(local.minute()) / 60.0 + 0.125;
    let weekend = local.weekday().num_days_from_monday() >= 5;
    // 1 in late July, 0 from mid-October to mid-April.
    let summer = (2.0 * std::f64::consts::PI * (f64::from(local.ordinal()) - 205.0) / 365.0)
        .cos()
        .max(0.0);
    let scale = 0.7 + 0.8 * unit(seed);
    let kw = if commercial {
        let open = if weekend {
            0.15
        } else {
            bump(hour, 13.0, 5.0).min(1.0)
        };
        scale * 20.0 * (1.0 + 3.0 * open + 1.5 * summer * bump(hour, 15.0, 4.0))
    } else {
        let morning = if weekend { 0.5 } else { 0.9 } * bump(hour, 7.5, 1.2);
        let midday = if weekend { 0.6 } else { 0.2 } * bump(hour, 13.0, 3.0);
        scale
            * (0.4
                + morning
                + midday
                + 1.6 * bump(hour, 19.0, 2.0)
                + 2.0 * summer * bump(hour, 16.5, 3.0))
    };
    let noise = 1.0 + 0.3 * (unit(mix(seed ^ start as u64)) - 0.5);
    (kw * noise * 0.25 * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(number: &str, zip: &str) -> AccountQuery {
        AccountQuery {
            utility: "PGE".into(),
            account_number: number.into(),
            postal_code: zip.into(),
        }
    }

    #[test]
    fn accounts_follow_the_documented_rules() {
        let a = account(&query("1234567892", "94110")).unwrap();
        assert_eq!(a.service_points.len(), 3, "last digit 2 → 2 % 3 + 1");
        assert_eq!(a.customer_class, CustomerClass::Residential);
        assert_eq!(a.service_points[0].service_id, "1234567892-1");
        assert_eq!(a.service_points[0].load_zone.as_deref(), Some("DLAP_PGAE"));
        assert_eq!(a, account(&query("1234567892", "94110")).unwrap());
        let c = account(&query("9876543210", "94110")).unwrap();
        assert_eq!(c.customer_class, CustomerClass::Commercial);
        assert_eq!(c.service_points.len(), 1);
        assert!(matches!(
            account(&query("1234560000", "94110")),
            Err(LookupError::NotFound { .. })
        ));
        assert!(matches!(
            account(&query("12345", "94110")),
            Err(LookupError::InvalidAccountNumber(_))
        ));
        assert!(matches!(
            account(&query("1234567892", "10001")),
            Err(LookupError::OutsideServiceArea { .. })
        ));
    }

    #[tokio::test]
    async fn usage_is_deterministic_positive_and_shaped() {
        let auth = AuthorizedAccount {
            authorization_id: "auth".into(),
            utility: "CONED".into(),
            account_number: "5550001231".into(),
            expires_at: Utc::now() + chrono::Duration::days(1),
        };
        // A July week, New York time.
        let from = Utc
            .with_ymd_and_hms(2026, 7, 13, 4, 0, 0)
            .unwrap()
            .timestamp();
        let to = from + 7 * 86_400;
        let a = SimulatedUtility
            .readings(&auth, "5550001231-1", from, to)
            .await
            .unwrap();
        let b = SimulatedUtility
            .readings(&auth, "5550001231-1", from, to)
            .await
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 7 * 96);
        assert!(a.iter().all(|r| r.kwh > 0.0 && r.start % 900 == 0));
        let other = SimulatedUtility
            .readings(&auth, "5550001231-2", from, to)
            .await
            .unwrap();
        assert_ne!(a, other, "each service point has its own load");
        // Monday: 18:00–19:00 local uses more than 03:00–04:00.
        let hour = |h: usize| a[h * 4..h * 4 + 4].iter().map(|r| r.kwh).sum::<f64>();
        assert!(
            hour(18) > 2.0 * hour(3),
            "evening {} vs night {}",
            hour(18),
            hour(3)
        );
        let expired = AuthorizedAccount {
            expires_at: Utc::now() - chrono::Duration::seconds(1),
            ..auth
        };
        assert!(matches!(
            SimulatedUtility
                .readings(&expired, "5550001231-1", from, to)
                .await,
            Err(SourceError::AuthorizationEnded(_))
        ));
    }
}
