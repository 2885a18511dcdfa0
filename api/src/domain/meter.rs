//! Meter specifications: what a partner sends to create, update or sync a meter,
//! normalized and validated before anything is written.

use async_graphql::{InputObject, Json, MaybeUndefined};
use chrono::NaiveDate;
use serde::Serialize;

use super::date::Date;
use super::geo::{self, Iso, Region};
use super::string_enum;
use crate::error::FieldError;

string_enum! {
    pub enum MeterKind {
        /// A utility revenue meter (interval data comes from the utility or the market).
        UtilityMeter => "UTILITY_METER",
        /// A device behind the meter, such as a battery, that reports its own interval data.
        Device => "DEVICE",
    }
}

string_enum! {
    pub enum DeviceType {
        Battery => "BATTERY",
        SolarInverter => "SOLAR_INVERTER",
        EvCharger => "EV_CHARGER",
        Thermostat => "THERMOSTAT",
        Other => "OTHER",
    }
}

string_enum! {
    pub enum CustomerClass {
        Residential => "RESIDENTIAL",
        /// Commercial and industrial (C&I).
        Commercial => "COMMERCIAL",
    }
}

string_enum! {
    /// Whether the customer has authorized sharing of their utility data.
    pub enum AuthorizationStatus {
        /// No utility data authorization on file (partner-created meters).
        NotAuthorized => "NOT_AUTHORIZED",
        Pending => "PENDING",
        Authorized => "AUTHORIZED",
        Revoked => "REVOKED",
        Expired => "EXPIRED",
    }
}

string_enum! {
    pub enum MeterStatus {
        Active => "ACTIVE",
        /// Deactivated by the partner; kept for history, left out of new enrollments.
        Inactive => "INACTIVE",
    }
}

string_enum! {
    /// Con Edison network tier, which sets the DLRP reservation rate.
    pub enum NetworkTier {
        Tier1 => "TIER_1",
        Tier2 => "TIER_2",
    }
}

/// Largest batch accepted by the create and upsert mutations.
pub const MAX_BATCH: usize = 1000;
const MAX_ATTRIBUTES_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Default, PartialEq, InputObject, Serialize)]
#[graphql(name = "ServiceAddressInput")]
#[serde(rename_all = "camelCase")]
pub struct ServiceAddress {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    /// Two-letter state code; must match the meter's region.
    pub state: Option<String>,
    /// US ZIP code, `12345` or `12345-6789`.
    pub postal_code: Option<String>,
}

/// Everything that describes a meter. The same type creates a meter, is the
/// full record of an inventory sync (upsert by `externalId`), and is what an
/// update patch is applied to before validation.
#[derive(Debug, Clone, PartialEq, InputObject, Serialize)]
#[graphql(name = "MeterInput")]
#[serde(rename_all = "camelCase")]
pub struct MeterSpec {
    /// The partner's own identifier, unique per partner (1–128 characters).
    pub external_id: String,
    pub kind: MeterKind,
    /// Required for devices, absent for utility meters.
    pub device_type: Option<DeviceType>,
    pub region: Region,
    /// Utility code (see the `utilities` query); required for utility meters.
    pub utility: Option<String>,
    /// Load zone of the region's ISO (NYISO `A`–`K`, ERCOT `LZ_…`, CAISO `DLAP_…`/`SLAP_…`, ISO-NE).
    pub load_zone: Option<String>,
    pub customer_class: Option<CustomerClass>,
    pub service_address: Option<ServiceAddress>,
    /// Maximum power in kW (for a battery, its inverter rating).
    pub capacity_kw: Option<f64>,
    /// Usable energy in kWh; batteries only.
    pub energy_kwh: Option<f64>,
    pub utility_account_number: Option<String>,
    /// Utility service point / meter number.
    pub utility_service_id: Option<String>,
    /// ERCOT ESI ID (17 or 22 digits); Texas only.
    pub esi_id: Option<String>,
    /// Con Edison network tier; Con Edison meters only.
    pub network_tier: Option<NetworkTier>,
    pub commercial_operation_date: Option<Date>,
    /// Nameplate kW of renewable generation co-located with a storage device.
    pub colocated_renewable_kw: Option<f64>,
    /// Free-form partner attributes: a JSON object of at most 8 KiB.
    pub attributes: Option<Json<serde_json::Value>>,
}

/// Filters for listing meters; all given filters must match.
#[derive(Debug, Clone, Default, InputObject)]
pub struct MeterFilter {
    pub regions: Option<Vec<Region>>,
    pub kinds: Option<Vec<MeterKind>>,
    pub statuses: Option<Vec<MeterStatus>>,
    pub authorization_statuses: Option<Vec<AuthorizationStatus>>,
    pub utilities: Option<Vec<String>>,
    /// At most 1000 external ids.
    pub external_ids: Option<Vec<String>>,
    /// Meters created or changed at or after this instant (inventory sync).
    pub updated_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// A partial update: absent fields are kept, `null` clears a field.
#[derive(Debug, Clone, Default, InputObject)]
#[graphql(name = "MeterUpdateInput")]
pub struct MeterPatch {
    pub external_id: Option<String>,
    pub kind: Option<MeterKind>,
    pub device_type: MaybeUndefined<DeviceType>,
    pub region: Option<Region>,
    pub utility: MaybeUndefined<String>,
    pub load_zone: MaybeUndefined<String>,
    pub customer_class: MaybeUndefined<CustomerClass>,
    pub service_address: MaybeUndefined<ServiceAddress>,
    pub capacity_kw: MaybeUndefined<f64>,
    pub energy_kwh: MaybeUndefined<f64>,
    pub utility_account_number: MaybeUndefined<String>,
    pub utility_service_id: MaybeUndefined<String>,
    pub esi_id: MaybeUndefined<String>,
    pub network_tier: MaybeUndefined<NetworkTier>,
    pub commercial_operation_date: MaybeUndefined<Date>,
    pub colocated_renewable_kw: MaybeUndefined<f64>,
    pub attributes: MaybeUndefined<Json<serde_json::Value>>,
}

fn patch<T>(target: &mut Option<T>, change: MaybeUndefined<T>) {
    match change {
        MaybeUndefined::Undefined => {}
        MaybeUndefined::Null => *target = None,
        MaybeUndefined::Value(v) => *target = Some(v),
    }
}

impl MeterPatch {
    pub fn apply(self, spec: &mut MeterSpec) {
        if let Some(v) = self.external_id {
            spec.external_id = v;
        }
        if let Some(v) = self.kind {
            spec.kind = v;
        }
        if let Some(v) = self.region {
            spec.region = v;
        }
        patch(&mut spec.device_type, self.device_type);
        patch(&mut spec.utility, self.utility);
        patch(&mut spec.load_zone, self.load_zone);
        patch(&mut spec.customer_class, self.customer_class);
        patch(&mut spec.service_address, self.service_address);
        patch(&mut spec.capacity_kw, self.capacity_kw);
        patch(&mut spec.energy_kwh, self.energy_kwh);
        patch(
            &mut spec.utility_account_number,
            self.utility_account_number,
        );
        patch(&mut spec.utility_service_id, self.utility_service_id);
        patch(&mut spec.esi_id, self.esi_id);
        patch(&mut spec.network_tier, self.network_tier);
        patch(
            &mut spec.commercial_operation_date,
            self.commercial_operation_date,
        );
        patch(
            &mut spec.colocated_renewable_kw,
            self.colocated_renewable_kw,
        );
        patch(&mut spec.attributes, self.attributes);
    }
}

fn clean(value: &mut Option<String>) {
    if let Some(v) = value {
        let trimmed = v.trim();
        if trimmed.is_empty() {
            *value = None;
        } else if trimmed.len() != v.len() {
            *v = trimmed.to_owned();
        }
    }
}

fn clean_upper(value: &mut Option<String>) {
    clean(value);
    if let Some(v) = value {
        v.make_ascii_uppercase();
    }
}

impl MeterSpec {
    /// The ISO follows from the region.
    pub fn iso(&self) -> Iso {
        self.region.iso()
    }

    /// Trims text, drops empty strings, upper-cases codes, so that the same meter
    /// written two ways compares equal (which makes inventory sync idempotent).
    pub fn normalize(&mut self) {
        self.external_id = self.external_id.trim().to_owned();
        clean_upper(&mut self.utility);
        clean_upper(&mut self.load_zone);
        clean(&mut self.utility_account_number);
        clean(&mut self.utility_service_id);
        clean(&mut self.esi_id);
        if let Some(address) = &mut self.service_address {
            clean(&mut address.line1);
            clean(&mut address.line2);
            clean(&mut address.city);
            clean_upper(&mut address.state);
            clean(&mut address.postal_code);
            if *address == ServiceAddress::default() {
                self.service_address = None;
            } else if address.state.is_none() {
                address.state = Some(self.region.state_code().to_owned());
            }
        }
        if let Some(Json(serde_json::Value::Object(map))) = &self.attributes {
            if map.is_empty() {
                self.attributes = None;
            }
        }
    }

    /// Every problem with this spec; `path` prefixes field names (`inputs[3].`).
    pub fn validate(&self, path: &str) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, message: String| {
            errors.push(FieldError::new(format!("{path}{field}"), message));
        };

        let ext = &self.external_id;
        if ext.is_empty() || ext.chars().count() > 128 {
            err("externalId", "must be 1 to 128 characters".into());
        } else if ext.chars().any(char::is_control) {
            err("externalId", "must not contain control characters".into());
        }

        match (self.kind, self.device_type) {
            (MeterKind::Device, None) => err("deviceType", "is required for a DEVICE meter".into()),
            (MeterKind::UtilityMeter, Some(_)) => err(
                "deviceType",
                "must be empty for a UTILITY_METER; use kind DEVICE for devices".into(),
            ),
            _ => {}
        }

        match &self.utility {
            Some(code) => match geo::find_utility(code) {
                None => err(
                    "utility",
                    format!("unknown utility `{code}`; see the `utilities` query for codes"),
                ),
                Some(u) if !u.regions.contains(&self.region) => err(
                    "utility",
                    format!("`{code}` does not serve region {}", self.region),
                ),
                Some(_) => {}
            },
            None if self.kind == MeterKind::UtilityMeter => {
                err("utility", "is required for a UTILITY_METER".into())
            }
            None => {}
        }

        if let Some(zone) = &self.load_zone {
            if !geo::is_load_zone(self.iso(), zone) {
                err(
                    "loadZone",
                    format!(
                        "`{zone}` is not a {} load zone (expected one of {})",
                        self.iso(),
                        geo::load_zones(self.iso()).join(", ")
                    ),
                );
            }
        }

        for (field, value, max) in [
            ("capacityKw", self.capacity_kw, 100_000.0),
            ("energyKwh", self.energy_kwh, 1_000_000.0),
        ] {
            if let Some(v) = value {
                if !v.is_finite() || v <= 0.0 || v > max {
                    err(
                        field,
                        format!("must be greater than 0 and at most {max} (got {v})"),
                    );
                }
            }
        }
        let is_battery =
            self.kind == MeterKind::Device && self.device_type == Some(DeviceType::Battery);
        if self.energy_kwh.is_some() && !is_battery {
            err("energyKwh", "applies to BATTERY devices only".into());
        }
        if let Some(v) = self.colocated_renewable_kw {
            if !v.is_finite() || !(0.0..=100_000.0).contains(&v) {
                err(
                    "colocatedRenewableKw",
                    format!("must be between 0 and 100000 (got {v})"),
                );
            }
        }

        if let Some(esi) = &self.esi_id {
            if self.region != Region::Tx {
                err("esiId", "applies to Texas (TX) meters only".into());
            } else if !(esi.len() == 17 || esi.len() == 22)
                || !esi.bytes().all(|b| b.is_ascii_digit())
            {
                err("esiId", format!("must be 17 or 22 digits (got `{esi}`)"));
            }
        }
        if self.network_tier.is_some() && self.utility.as_deref() != Some("CONED") {
            err(
                "networkTier",
                "applies to Con Edison (CONED) meters only".into(),
            );
        }
        if let Some(Date(date)) = self.commercial_operation_date {
            let earliest = NaiveDate::from_ymd_opt(1980, 1, 1).expect("valid date");
            if date < earliest {
                err(
                    "commercialOperationDate",
                    format!("must be on or after {earliest} (got {date})"),
                );
            }
        }
        for (field, value) in [
            ("utilityAccountNumber", &self.utility_account_number),
            ("utilityServiceId", &self.utility_service_id),
        ] {
            if value.as_ref().is_some_and(|v| v.chars().count() > 64) {
                err(field, "must be at most 64 characters".into());
            }
        }

        if let Some(address) = &self.service_address {
            if let Some(state) = &address.state {
                if state != self.region.state_code() {
                    err(
                        "serviceAddress.state",
                        format!("`{state}` does not match region {}", self.region),
                    );
                }
            }
            if let Some(zip) = &address.postal_code {
                let b = zip.as_bytes();
                let ok = (b.len() == 5 || (b.len() == 10 && b[5] == b'-'))
                    && b.iter()
                        .enumerate()
                        .all(|(i, c)| i == 5 || c.is_ascii_digit());
                if !ok {
                    err(
                        "serviceAddress.postalCode",
                        format!("must be a US ZIP code like 02110 or 02110-1234 (got `{zip}`)"),
                    );
                }
            }
            for (field, value) in [
                ("serviceAddress.line1", &address.line1),
                ("serviceAddress.line2", &address.line2),
                ("serviceAddress.city", &address.city),
            ] {
                if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
                    err(field, "must be at most 200 characters".into());
                }
            }
        }

        if let Some(Json(attributes)) = &self.attributes {
            if !attributes.is_object() {
                err("attributes", "must be a JSON object".into());
            } else if attributes.to_string().len() > MAX_ATTRIBUTES_BYTES {
                err(
                    "attributes",
                    format!("must be at most {MAX_ATTRIBUTES_BYTES} bytes of JSON"),
                );
            }
        }
        errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn battery(external_id: &str) -> MeterSpec {
        MeterSpec {
            external_id: external_id.into(),
            kind: MeterKind::Device,
            device_type: Some(DeviceType::Battery),
            region: Region::Ma,
            utility: Some("eversource ".into()),
            load_zone: Some("sema".into()),
            customer_class: Some(CustomerClass::Residential),
            service_address: None,
            capacity_kw: Some(5.0),
            energy_kwh: Some(13.5),
            utility_account_number: None,
            utility_service_id: None,
            esi_id: None,
            network_tier: None,
            commercial_operation_date: None,
            colocated_renewable_kw: Some(7.6),
            attributes: None,
        }
    }

    #[test]
    fn normalized_battery_is_valid() {
        let mut spec = battery(" b-1 ");
        spec.normalize();
        assert_eq!(spec.external_id, "b-1");
        assert_eq!(spec.utility.as_deref(), Some("EVERSOURCE"));
        assert!(spec.validate("").is_empty(), "{:?}", spec.validate(""));
    }

    #[test]
    fn each_rule_names_its_field() {
        let mut spec = battery("b-2");
        spec.kind = MeterKind::UtilityMeter;
        spec.utility = Some("PGE".into());
        spec.capacity_kw = Some(-1.0);
        spec.esi_id = Some("123".into());
        spec.network_tier = Some(NetworkTier::Tier1);
        spec.normalize();
        let fields: Vec<String> = spec
            .validate("inputs[2].")
            .into_iter()
            .map(|e| e.field)
            .collect();
        for expected in [
            "inputs[2].deviceType",
            "inputs[2].utility",
            "inputs[2].capacityKw",
            "inputs[2].energyKwh",
            "inputs[2].esiId",
            "inputs[2].networkTier",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "missing {expected} in {fields:?}"
            );
        }
    }

    #[test]
    fn patch_sets_clears_and_keeps() {
        let mut spec = battery("b-3");
        MeterPatch {
            capacity_kw: MaybeUndefined::Value(6.0),
            load_zone: MaybeUndefined::Null,
            ..Default::default()
        }
        .apply(&mut spec);
        assert_eq!(spec.capacity_kw, Some(6.0));
        assert_eq!(spec.load_zone, None);
        assert_eq!(spec.energy_kwh, Some(13.5));
    }
}
