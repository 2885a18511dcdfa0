//! Seeded programs, parameter versions with history, program administration.

use gridhub_api::domain::Role;
use gridhub_tests::TestServer;
use serde_json::{json, Value};

const PROGRAM: &str = "query($c: String) { program(code: $c) { id code name region iso utility mvKind partnerSuppliedIntervals timezone status seasons { name start end } parameterVersion { version } parameters { key kind value unit description source toConfirm } } }";

fn param<'a>(program: &'a Value, key: &str) -> &'a Value {
    program["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["key"] == key)
        .unwrap_or_else(|| panic!("no parameter {key}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn six_programs_are_seeded_with_their_defaults() {
    let s = TestServer::start().await;
    let (_, key) = s.partner("Acme").await;
    let list = s.ok(&key, "{ programs { code } }", json!({})).await;
    let codes: Vec<&str> = list["programs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "CAISO_DRAM",
            "CONED_DLRP",
            "ERCOT_ERS",
            "MA_CONNECTED_SOLUTIONS",
            "MA_CPS",
            "NYISO_SCR"
        ]
    );

    let cases = [
        (
            "CAISO_DRAM",
            "CA",
            "CAISO",
            "America/Los_Angeles",
            "UTILITY_METER",
            false,
        ),
        (
            "NYISO_SCR",
            "NY",
            "NYISO",
            "America/New_York",
            "UTILITY_METER",
            false,
        ),
        (
            "CONED_DLRP",
            "NY",
            "NYISO",
            "America/New_York",
            "UTILITY_METER",
            false,
        ),
        (
            "ERCOT_ERS",
            "TX",
            "ERCOT",
            "America/Chicago",
            "UTILITY_METER",
            false,
        ),
        (
            "MA_CONNECTED_SOLUTIONS",
            "MA",
            "ISONE",
            "America/New_York",
            "DEVICE",
            true,
        ),
        ("MA_CPS", "MA", "ISONE", "America/New_York", "DEVICE", true),
    ];
    for (code, region, iso, tz, mv, partner_data) in cases {
        let p = s.ok(&key, PROGRAM, json!({ "c": code })).await["program"].clone();
        assert_eq!(
            (
                p["region"].as_str(),
                p["iso"].as_str(),
                p["timezone"].as_str()
            ),
            (Some(region), Some(iso), Some(tz)),
            "{code}"
        );
        assert_eq!(p["mvKind"], mv, "{code}");
        assert_eq!(p["partnerSuppliedIntervals"], partner_data, "{code}");
        assert!(!p["seasons"].as_array().unwrap().is_empty(), "{code}");
        assert_eq!(p["parameterVersion"]["version"], 1);
        assert!(param(&p, "holidays")["value"].as_array().unwrap().len() == 6);
    }

    let dlrp = s.ok(&key, PROGRAM, json!({ "c": "CONED_DLRP" })).await["program"].clone();
    assert_eq!(dlrp["utility"], "CONED");
    assert_eq!(
        param(&dlrp, "reservation_rate_tier1_per_kw_month")["value"],
        "18.00"
    );
    assert_eq!(
        param(&dlrp, "reservation_rate_tier2_per_kw_month")["value"],
        "25.00"
    );
    assert_eq!(
        dlrp["seasons"],
        json!([{ "name": "summer", "start": "05-01", "end": "09-30" }])
    );
    let cs = s
        .ok(&key, PROGRAM, json!({ "c": "MA_CONNECTED_SOLUTIONS" }))
        .await["program"]
        .clone();
    let rate = param(&cs, "summer_rate_per_kw");
    assert_eq!(
        (
            rate["kind"].as_str(),
            rate["value"].as_str(),
            rate["toConfirm"].as_bool()
        ),
        (Some("MONEY"), Some("225.00"), Some(false))
    );
    let cps = s.ok(&key, PROGRAM, json!({ "c": "MA_CPS" })).await["program"].clone();
    assert_eq!(
        param(&cps, "seasonal_multipliers")["toConfirm"],
        true,
        "unchecked defaults are flagged"
    );
    assert!(param(&cps, "seasonal_multipliers")["source"]
        .as_str()
        .unwrap()
        .contains("to confirm"));
    let e = s.err(Some(&key), PROGRAM, json!({ "c": "NOPE" })).await;
    assert_eq!(e.code, "NOT_FOUND");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parameter_changes_are_versioned_and_reproducible() {
    let s = TestServer::start().await;
    let analyst = s.key(Role::Analyst, None).await;
    let p = s.ok(&analyst, PROGRAM, json!({ "c": "CONED_DLRP" })).await["program"].clone();
    let id = p["id"].as_str().unwrap();
    let update = "mutation($id: ID!, $c: [ParameterChangeInput!], $r: [String!], $at: DateTime, $s: [SeasonInput!]) { updateProgramParameters(programId: $id, changes: $c, remove: $r, effectiveFrom: $at, seasons: $s, note: \"2027 tariff\") { version effectiveFrom note changedBy parameter(key: \"reservation_rate_tier1_per_kw_month\") { value toConfirm } } }";

    let v2 = s
        .ok(&analyst, update, json!({ "id": id, "c": [
            { "key": "reservation_rate_tier1_per_kw_month", "value": "19.50" },
            { "key": "ramp_minutes", "value": 30, "kind": "INTEGER", "unit": "min", "description": "Time allowed to reach the pledge" }
        ], "r": ["event_window_end"] }))
        .await["updateProgramParameters"]
        .clone();
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["parameter"]["value"], "19.50");
    assert!(v2["changedBy"].is_string());

    let now = s.ok(&analyst, PROGRAM, json!({ "c": "CONED_DLRP" })).await["program"].clone();
    assert_eq!(now["parameterVersion"]["version"], 2);
    assert_eq!(param(&now, "ramp_minutes")["value"], 30);
    assert!(now["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["key"] != "event_window_end"));

    // The past still reads as it was.
    let history = "query($id: ID!) { program(id: $id) { parameterHistory { version } parametersAt(at: \"2026-01-01T00:00:00Z\") { version parameter(key: \"reservation_rate_tier1_per_kw_month\") { value } } } }";
    let h = s.ok(&analyst, history, json!({ "id": id })).await["program"].clone();
    assert_eq!(
        h["parameterHistory"],
        json!([{ "version": 1 }, { "version": 2 }])
    );
    assert_eq!(h["parametersAt"]["parameter"]["value"], "18.00");

    // A scheduled change does not apply before its time.
    let v3 = s
        .ok(&analyst, update, json!({ "id": id, "c": [{ "key": "energy_rate_per_kwh", "value": "1.25" }], "at": "2099-05-01T04:00:00Z",
            "s": [{ "name": "summer", "start": "05-01", "end": "10-15" }] }))
        .await;
    assert_eq!(v3["updateProgramParameters"]["version"], 3);
    let now = s.ok(&analyst, PROGRAM, json!({ "c": "CONED_DLRP" })).await["program"].clone();
    assert_eq!(now["parameterVersion"]["version"], 2);
    assert_eq!(param(&now, "energy_rate_per_kwh")["value"], "1.00");

    // Bad changes are refused and publish nothing.
    let bad_cases = [
        (
            json!({ "id": id, "c": [{ "key": "energy_rate_per_kwh", "value": 1.5 }], "at": "2099-06-01T00:00:00Z" }),
            "changes[0].value",
        ),
        (
            json!({ "id": id, "c": [{ "key": "brand_new", "value": 1 }], "at": "2099-06-01T00:00:00Z" }),
            "changes[0].kind",
        ),
        (
            json!({ "id": id, "c": [{ "key": "energy_rate_per_kwh", "value": "1.30" }], "at": "2030-01-01T00:00:00Z" }),
            "effectiveFrom",
        ),
        (
            json!({ "id": id, "c": [], "s": [{ "name": "x", "start": "13-01", "end": "01-01" }] }),
            "seasons[0].start",
        ),
        (json!({ "id": id, "c": [] }), "changes"),
    ];
    for (vars, field) in bad_cases {
        let e = s.err(Some(&analyst), update, vars).await;
        assert_eq!(e.code, "VALIDATION");
        assert_eq!(e.error["extensions"]["field"], field, "{}", e.message);
    }
    let h =
        s.ok(&analyst, history, json!({ "id": id })).await["program"]["parameterHistory"].clone();
    assert_eq!(h.as_array().unwrap().len(), 3);
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_programs() {
    let s = TestServer::start().await;
    let create = "mutation($in: CreateProgramInput!) { createProgram(input: $in) { id code iso parameters { key value } seasons { name } } }";
    let input = json!({
        "code": "CAISO_ELRP", "name": "Emergency Load Reduction Program", "region": "CA",
        "mvKind": "UTILITY_METER", "partnerSuppliedIntervals": false, "timezone": "America/Los_Angeles",
        "seasons": [{ "name": "season", "start": "05-01", "end": "10-31" }],
        "parameters": [{ "key": "energy_rate_per_kwh", "kind": "MONEY", "value": "2.00", "description": "Energy payment", "unit": "USD/kWh" }]
    });
    let p = s.ok(&s.admin_key, create, json!({ "in": input })).await["createProgram"].clone();
    assert_eq!(p["iso"], "CAISO");
    assert_eq!(p["parameters"][0]["value"], "2.00");

    let e = s
        .err(Some(&s.admin_key), create, json!({ "in": input }))
        .await;
    assert_eq!(e.code, "CONFLICT");
    let mut bad = input.clone();
    bad["code"] = json!("CAISO_CSRP");
    bad["timezone"] = json!("Mars/Olympus");
    bad["parameters"][0]["value"] = json!(2.0);
    let e = s
        .err(Some(&s.admin_key), create, json!({ "in": bad }))
        .await;
    assert_eq!(e.code, "VALIDATION");
    let fields: Vec<&str> = e.error["extensions"]["fieldErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["timezone", "parameters[0].value"]);

    let analyst = s.key(Role::Analyst, None).await;
    let e = s.err(Some(&analyst), create, json!({ "in": input })).await;
    assert_eq!(e.code, "FORBIDDEN");
    s.shutdown().await;
}
