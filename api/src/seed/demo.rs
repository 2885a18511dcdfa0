//! Demo data for a first look: two partners with fleets across all four regions,
//! and fixed, well-known API keys so the README's example requests work as
//! written. Never use `--demo` on a production database.

use crate::auth::Principal;
use crate::domain::geo::Region;
use crate::domain::meter::{
    CustomerClass, DeviceType, MeterKind, MeterSpec, NetworkTier, ServiceAddress,
};
use crate::domain::Role;
use crate::error::ApiResult;
use crate::services::Services;

pub const ADMIN_KEY: &str = "ghk_demo_admin";
pub const ANALYST_KEY: &str = "ghk_demo_analyst";
pub const ACME_KEY: &str = "ghk_demo_acme";
pub const VOLT_KEY: &str = "ghk_demo_volt";

/// Loads the demo data unless it is already there.
pub async fn load(services: &Services) -> ApiResult<()> {
    if services.api_keys.authenticate(ADMIN_KEY).await.is_ok() {
        tracing::info!("demo data already loaded");
        return Ok(());
    }
    services
        .api_keys
        .install_known(ADMIN_KEY, Role::Admin, None, "demo admin")
        .await?;
    services
        .api_keys
        .install_known(ANALYST_KEY, Role::Analyst, None, "demo analyst")
        .await?;
    for (name, key, fleet) in [
        ("Acme Storage Co.", ACME_KEY, acme_fleet()),
        ("Volt Homes", VOLT_KEY, volt_fleet()),
    ] {
        let partner = services.partners.create_unchecked(name).await?;
        services
            .api_keys
            .install_known(
                key,
                Role::Partner,
                Some(partner.id.clone()),
                &format!("{name} demo key"),
            )
            .await?;
        let acting = Principal {
            key_id: "demo-loader".into(),
            role: Role::Partner,
            partner_id: Some(partner.id.clone()),
        };
        services.meters.upsert(&acting, None, fleet).await?;
    }
    tracing::info!("demo data loaded");
    Ok(())
}

fn battery(
    external_id: String,
    region: Region,
    utility: &str,
    zone: &str,
    kw: f64,
    kwh: f64,
    class: CustomerClass,
) -> MeterSpec {
    MeterSpec {
        external_id,
        kind: MeterKind::Device,
        device_type: Some(DeviceType::Battery),
        region,
        utility: Some(utility.into()),
        load_zone: Some(zone.into()),
        customer_class: Some(class),
        service_address: None,
        capacity_kw: Some(kw),
        energy_kwh: Some(kwh),
        utility_account_number: None,
        utility_service_id: None,
        esi_id: None,
        network_tier: None,
        commercial_operation_date: chrono::NaiveDate::from_ymd_opt(2023, 6, 1).map(Into::into),
        colocated_renewable_kw: Some(kw * 1.5),
        attributes: None,
    }
}

fn utility_meter(
    external_id: String,
    region: Region,
    utility: &str,
    zone: &str,
    kw: f64,
) -> MeterSpec {
    MeterSpec {
        kind: MeterKind::UtilityMeter,
        device_type: None,
        energy_kwh: None,
        colocated_renewable_kw: None,
        commercial_operation_date: None,
        customer_class: Some(CustomerClass::Commercial),
        ..battery(
            external_id,
            region,
            utility,
            zone,
            kw,
            1.0,
            CustomerClass::Commercial,
        )
    }
}

fn acme_fleet() -> Vec<MeterSpec> {
    let mut fleet = Vec::new();
    for i in 1..=6 {
        let mut b = battery(
            format!("acme-ma-{i:03}"),
            Region::Ma,
            "EVERSOURCE",
            "NEMA",
            5.0,
            13.5,
            CustomerClass::Residential,
        );
        b.service_address = Some(ServiceAddress {
            line1: Some(format!("{} Beacon St", 100 + i)),
            line2: None,
            city: Some("Boston".into()),
            state: Some("MA".into()),
            postal_code: Some("02116".into()),
        });
        fleet.push(b);
    }
    for i in 1..=3 {
        let mut m = utility_meter(format!("acme-nyc-{i:03}"), Region::Ny, "CONED", "J", 250.0);
        m.network_tier = Some(if i == 1 {
            NetworkTier::Tier1
        } else {
            NetworkTier::Tier2
        });
        m.utility_account_number = Some(format!("49-1234-5678-{i:04}"));
        fleet.push(m);
    }
    for i in 1..=2 {
        let mut m = utility_meter(
            format!("acme-tx-{i:03}"),
            Region::Tx,
            "ONCOR",
            "LZ_NORTH",
            400.0,
        );
        m.esi_id = Some(format!("104432900001234{i:02}"));
        fleet.push(m);
    }
    fleet.push(utility_meter(
        "acme-ca-001".into(),
        Region::Ca,
        "PGE",
        "DLAP_PGAE",
        150.0,
    ));
    fleet
}

fn volt_fleet() -> Vec<MeterSpec> {
    (1..=4)
        .map(|i| {
            battery(
                format!("volt-ma-{i:03}"),
                Region::Ma,
                "NATIONAL_GRID",
                "SEMA",
                10.0,
                27.0,
                CustomerClass::Residential,
            )
        })
        .chain((1..=2).map(|i| {
            battery(
                format!("volt-ca-{i:03}"),
                Region::Ca,
                "SCE",
                "DLAP_SCE",
                7.6,
                20.0,
                CustomerClass::Residential,
            )
        }))
        .collect()
}
