//! From platform records to contract types.

use super::wit;
use crate::domain::enrollment::Reason;
use crate::entity::meter;

pub fn meter(m: &meter::Model) -> wit::Meter {
    wit::Meter {
        id: m.id.clone(),
        kind: m.kind.clone(),
        device_type: m.device_type.clone(),
        region: m.region.clone(),
        iso: m.iso.clone(),
        utility: m.utility.clone(),
        load_zone: m.load_zone.clone(),
        customer_class: m.customer_class.clone(),
        capacity_kw: m.capacity_kw,
        energy_kwh: m.energy_kwh,
        authorization_status: m.authorization_status.clone(),
        status: m.status.clone(),
        network_tier: m.network_tier.clone(),
        commercial_operation_date: m.commercial_operation_date.map(|d| d.to_string()),
        colocated_renewable_kw: m.colocated_renewable_kw,
        esi_id: m.esi_id.clone(),
        attributes_json: m.attributes.to_string(),
    }
}

pub fn reasons(list: &[wit::Reason]) -> Vec<Reason> {
    list.iter()
        .map(|r| Reason {
            code: r.code.clone(),
            message: r.message.clone(),
            action: r.action.clone(),
            field: r.field.clone(),
        })
        .collect()
}
