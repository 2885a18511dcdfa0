//! The six program plugins, installed at start from the built .wasm files,
//! decide eligibility through the API: a suitable and an unsuitable meter per
//! program, with reason codes.

use serde_json::{json, Value};

use gridhub_tests::{battery, coned_meter, plugins_dir, TestServer};

const PROGRAMS: &str = "{ programs { id code activePlugin { version sha256 active } } }";
const CREATE: &str = "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id } }";
const ELIGIBILITY: &str = "query($p: ID!, $m: [ID!]!, $d: Date) { eligibility(programId: $p, meterIds: $m, startDate: $d) { eligible reasons { code action field } pluginVersion } }";

struct Case {
    program: &'static str,
    suitable: Value,
    /// The suitable meter needs the customer's utility-data authorization.
    authorize: bool,
    unsuitable: Value,
    codes: &'static [&'static str],
}

fn utility_meter(id: &str, region: &str, utility: &str, extra: Value) -> Value {
    let mut m = json!({
        "externalId": id,
        "kind": "UTILITY_METER",
        "region": region,
        "utility": utility,
        "customerClass": "COMMERCIAL",
        "capacityKw": 200.0,
    });
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    m
}

fn with(mut meter: Value, extra: Value) -> Value {
    meter
        .as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    meter
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            program: "CAISO_DRAM",
            suitable: utility_meter("dram-ok", "CA", "PGE", json!({})),
            authorize: true,
            unsuitable: utility_meter("dram-bad", "CA", "LADWP", json!({})),
            codes: &["UTILITY_NOT_ELIGIBLE", "AUTHORIZATION_REQUIRED"],
        },
        Case {
            program: "NYISO_SCR",
            suitable: coned_meter("scr-ok"),
            authorize: true,
            unsuitable: utility_meter(
                "scr-bad",
                "NY",
                "NYSEG",
                json!({ "attributes": { "intervalMeter": false } }),
            ),
            codes: &[
                "LOAD_ZONE_NOT_ELIGIBLE",
                "NOT_AN_INTERVAL_METER",
                "AUTHORIZATION_REQUIRED",
            ],
        },
        Case {
            program: "CONED_DLRP",
            suitable: coned_meter("dlrp-ok"),
            authorize: false,
            unsuitable: utility_meter("dlrp-bad", "NY", "CONED", json!({ "loadZone": "J" })),
            codes: &["NETWORK_TIER_MISSING"],
        },
        Case {
            program: "ERCOT_ERS",
            suitable: utility_meter(
                "ers-ok",
                "TX",
                "ONCOR",
                json!({ "loadZone": "LZ_NORTH", "esiId": "10443720000000001" }),
            ),
            authorize: false,
            unsuitable: utility_meter("ers-bad", "TX", "ONCOR", json!({ "loadZone": "LZ_NORTH" })),
            codes: &["ESI_ID_MISSING"],
        },
        Case {
            program: "MA_CONNECTED_SOLUTIONS",
            suitable: battery("cs-ok"),
            authorize: false,
            unsuitable: with(battery("cs-bad"), json!({ "utility": "MA_MUNICIPAL" })),
            codes: &["UTILITY_NOT_ELIGIBLE"],
        },
        Case {
            program: "MA_CPS",
            suitable: with(
                battery("cps-ok"),
                json!({ "commercialOperationDate": "2021-05-01", "colocatedRenewableKw": 5.0 }),
            ),
            authorize: false,
            unsuitable: with(
                battery("cps-bad"),
                json!({ "commercialOperationDate": "2018-06-30" }),
            ),
            codes: &["COMMERCIAL_OPERATION_TOO_EARLY", "NOT_RENEWABLE_STORAGE"],
        },
    ]
}

#[tokio::test]
async fn every_program_decides_eligibility_through_its_installed_plugin() {
    let server = TestServer::start_with(|c| c.bundled_plugin_dir = Some(plugins_dir())).await;
    let programs = server.ok(&server.admin_key, PROGRAMS, json!({})).await;
    let programs = programs["programs"].as_array().unwrap().clone();
    assert_eq!(programs.len(), 6);
    for p in &programs {
        let plugin = &p["activePlugin"];
        assert_eq!(plugin["active"], true, "{}: {plugin}", p["code"]);
        assert_eq!(plugin["version"], "1.1.0", "{}", p["code"]);
        assert_eq!(plugin["sha256"].as_str().unwrap().len(), 64);
    }
    let id_of = |code: &str| {
        programs.iter().find(|p| p["code"] == code).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };

    let (_, partner) = server.partner("Volt").await;
    for case in cases() {
        let created = server
            .ok(
                &partner,
                CREATE,
                json!({ "in": [case.suitable, case.unsuitable] }),
            )
            .await;
        let good = created["createMeters"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let bad = created["createMeters"][1]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        if case.authorize {
            server.authorize_meter(&good).await;
        }
        let answer = server
            .ok(
                &partner,
                ELIGIBILITY,
                json!({ "p": id_of(case.program), "m": [good, bad], "d": "2027-01-15" }),
            )
            .await;
        let results = answer["eligibility"].as_array().unwrap();
        assert_eq!(
            results[0]["eligible"], true,
            "{}: {}",
            case.program, results[0]
        );
        assert_eq!(results[0]["pluginVersion"], "1.1.0");
        assert_eq!(results[1]["eligible"], false, "{}", case.program);
        let codes: Vec<&str> = results[1]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, case.codes, "{}", case.program);
        assert!(results[1]["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| !r["action"].as_str().unwrap().is_empty()));
    }
}

#[tokio::test]
async fn dlrp_needs_30_days_of_data_by_the_season_and_dram_refuses_dual_participation() {
    let server = TestServer::start_with(|c| c.bundled_plugin_dir = Some(plugins_dir())).await;
    let (_, partner) = server.partner("Volt").await;
    let programs = server.ok(&partner, PROGRAMS, json!({})).await;
    let id_of = |code: &str| {
        programs["programs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["code"] == code)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let created = server
        .ok(&partner, CREATE, json!({ "in": [coned_meter("c1")] }))
        .await;
    let meter = created["createMeters"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Starting in season with no interval data yet: not eligible, and why.
    let answer = server
        .ok(
            &partner,
            ELIGIBILITY,
            json!({ "p": id_of("CONED_DLRP"), "m": [meter], "d": "2027-06-01" }),
        )
        .await;
    let reason = &answer["eligibility"][0]["reasons"][0];
    assert_eq!(reason["code"], "INSUFFICIENT_INTERVAL_HISTORY");
    assert!(
        reason["action"].as_str().unwrap().contains("30 more days"),
        "{reason}"
    );

    // A meter in a program DRAM may not be combined with is refused, naming it.
    // The seeded conflicts (BIP, CBP, ELRP) have no plugin here, so an admin
    // declares DLRP conflicting and the meter joins DLRP first.
    let dram = id_of("CAISO_DRAM");
    let change = "mutation($p: ID!, $c: [ParameterChangeInput!]!) { updateProgramParameters(programId: $p, changes: $c) { version } }";
    let changed = server
        .gql(
            Some(&server.admin_key),
            change,
            json!({ "p": dram, "c": [{ "key": "conflicting_programs", "value": ["CONED_DLRP"] }] }),
        )
        .await;
    assert!(changed.get("errors").is_none(), "{changed}");
    let enroll = "mutation($p: ID!, $in: [EnrollmentInput!]!) { enrollMeters(programId: $p, inputs: $in) { enrollments { status } } }";
    let enrolled = server
        .ok(&partner, enroll, json!({ "p": id_of("CONED_DLRP"), "in": [{ "meterId": meter, "startDate": "2027-01-15" }] }))
        .await;
    assert_eq!(
        enrolled["enrollMeters"]["enrollments"][0]["status"],
        "ENROLLED"
    );
    server.authorize_meter(&meter).await;
    let answer = server
        .ok(
            &partner,
            ELIGIBILITY,
            json!({ "p": dram, "m": [meter], "d": "2027-01-15" }),
        )
        .await;
    let codes: Vec<&str> = answer["eligibility"][0]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"DUAL_PARTICIPATION"), "{codes:?}");
}
