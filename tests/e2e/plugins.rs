//! Rules plugins through the API: install, validate, sandbox, upgrade, roll back.

use gridhub_api::domain::Role;
use gridhub_tests::{base64, battery, plugin_bytes, TestServer};
use serde_json::{json, Value};
use sha2::Digest;

const INSTALL: &str = "mutation($p: ID!, $w: String!, $a: Boolean) { installPlugin(programId: $p, wasmBase64: $w, activate: $a) { id version contractVersion sha256 active installedBy } }";
const ELIGIBILITY: &str = "query($p: ID!, $m: [ID!]!, $kw: Float) { eligibility(programId: $p, meterIds: $m, committedKw: $kw) { eligible pluginVersion pluginSha256 meter { externalId } reasons { code message action field } } }";

async fn program_id(s: &TestServer, key: &str, code: &str) -> String {
    let data = s
        .ok(
            key,
            "query($c: String) { program(code: $c) { id } }",
            json!({ "c": code }),
        )
        .await;
    data["program"]["id"].as_str().unwrap().to_owned()
}

async fn meter(s: &TestServer, key: &str, input: Value) -> String {
    let data = s
        .ok(
            key,
            "mutation($in: MeterInput!) { createMeter(input: $in) { id } }",
            json!({ "in": input }),
        )
        .await;
    data["createMeter"]["id"].as_str().unwrap().to_owned()
}

/// A program for the misbehaving plugin, whose `behavior` parameter steers it.
async fn hostile_program(s: &TestServer) -> String {
    let input = json!({
        "code": "TEST_HOSTILE", "name": "Hostile", "region": "MA", "mvKind": "DEVICE",
        "partnerSuppliedIntervals": true, "timezone": "America/New_York", "seasons": [],
        "parameters": [{ "key": "behavior", "kind": "STRING", "value": "ok", "description": "what the test plugin does" }]
    });
    let data = s
        .ok(
            &s.admin_key,
            "mutation($in: CreateProgramInput!) { createProgram(input: $in) { id } }",
            json!({ "in": input }),
        )
        .await;
    data["createProgram"]["id"].as_str().unwrap().to_owned()
}

async fn set_behavior(s: &TestServer, program: &str, behavior: &str) {
    s.ok(
        &s.admin_key,
        "mutation($p: ID!, $v: JSON!) { updateProgramParameters(programId: $p, changes: [{ key: \"behavior\", value: $v }]) { version } }",
        json!({ "p": program, "v": behavior }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connected_solutions_decides_eligibility_with_reasons() {
    let s = TestServer::start().await;
    let analyst = s.key(Role::Analyst, None).await;
    let (_, partner) = s.partner("Acme").await;
    let cs = program_id(&s, &partner, "MA_CONNECTED_SOLUTIONS").await;
    let bytes = plugin_bytes("plugin-connected-solutions");

    // Without a plugin the program cannot answer.
    let good = meter(&s, &partner, battery("good")).await;
    let e = s
        .err(Some(&partner), ELIGIBILITY, json!({ "p": cs, "m": [good] }))
        .await;
    assert_eq!(e.code, "PLUGIN_NOT_INSTALLED");

    // Partners cannot install plugins; analysts can.
    let e = s
        .err(
            Some(&partner),
            INSTALL,
            json!({ "p": cs, "w": base64(&bytes) }),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");
    let installed = s
        .ok(&analyst, INSTALL, json!({ "p": cs, "w": base64(&bytes) }))
        .await["installPlugin"]
        .clone();
    assert_eq!(installed["version"], "1.1.0");
    assert_eq!(installed["contractVersion"], "1.1.0");
    assert_eq!(installed["active"], true);
    assert_eq!(
        installed["sha256"],
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    // The same bytes again: the same record.
    let again = s
        .ok(&analyst, INSTALL, json!({ "p": cs, "w": base64(&bytes) }))
        .await["installPlugin"]
        .clone();
    assert_eq!(again["id"], installed["id"]);
    // A plugin for another program is refused.
    let cps = program_id(&s, &partner, "MA_CPS").await;
    let e = s
        .err(
            Some(&analyst),
            INSTALL,
            json!({ "p": cps, "w": base64(&bytes) }),
        )
        .await;
    assert_eq!(e.code, "PLUGIN_INVALID");
    assert!(
        e.message
            .contains("implements MA_CONNECTED_SOLUTIONS, not MA_CPS"),
        "{}",
        e.message
    );

    let mut municipal = battery("municipal");
    municipal["utility"] = json!("MA_MUNICIPAL");
    let municipal = meter(&s, &partner, municipal).await;
    let mut nyc = gridhub_tests::coned_meter("nyc");
    nyc["capacityKw"] = json!(100);
    let nyc = meter(&s, &partner, nyc).await;

    let answers = s
        .ok(
            &partner,
            ELIGIBILITY,
            json!({ "p": cs, "m": [good, municipal, nyc] }),
        )
        .await["eligibility"]
        .clone();
    assert_eq!(answers[0]["eligible"], true, "{answers}");
    assert_eq!(answers[0]["pluginVersion"], "1.1.0");
    assert_eq!(answers[1]["eligible"], false);
    assert_eq!(answers[1]["reasons"][0]["code"], "UTILITY_NOT_ELIGIBLE");
    assert_eq!(answers[1]["reasons"][0]["field"], "utility");
    assert!(answers[1]["reasons"][0]["action"]
        .as_str()
        .unwrap()
        .contains("EVERSOURCE"));
    let codes: Vec<&str> = answers[2]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "NOT_A_BATTERY",
            "REGION_NOT_ELIGIBLE",
            "UTILITY_NOT_ELIGIBLE"
        ]
    );

    // Committing more than the battery can give is caught.
    let over = s
        .ok(
            &partner,
            ELIGIBILITY,
            json!({ "p": cs, "m": [good], "kw": 9.0 }),
        )
        .await;
    assert_eq!(
        over["eligibility"][0]["reasons"][0]["code"],
        "COMMITMENT_EXCEEDS_CAPACITY"
    );

    // Parameters come from the program record: drop EVERSOURCE and the good meter is out.
    s.ok(&analyst, "mutation($p: ID!) { updateProgramParameters(programId: $p, changes: [{ key: \"eligible_utilities\", value: [\"NATIONAL_GRID\"] }]) { version } }", json!({ "p": cs })).await;
    let now = s
        .ok(&partner, ELIGIBILITY, json!({ "p": cs, "m": [good] }))
        .await;
    assert_eq!(now["eligibility"][0]["eligible"], false);

    // Another partner's meter is not found, not judged.
    let (_, other) = s.partner("Volt").await;
    let e = s
        .err(Some(&other), ELIGIBILITY, json!({ "p": cs, "m": [good] }))
        .await;
    assert_eq!(e.code, "NOT_FOUND");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_plugins_get_typed_errors_and_the_server_keeps_serving() {
    let s = TestServer::start_with(|c| {
        c.rules_limits.fuel_per_call = 50_000_000;
        c.rules_limits.memory_bytes = 32 << 20;
    })
    .await;
    let (_, partner) = s.partner("Acme").await;
    let hostile = hostile_program(&s).await;
    let installed = s
        .ok(
            &s.admin_key,
            INSTALL,
            json!({ "p": hostile, "w": base64(&plugin_bytes("plugin-test-hostile")) }),
        )
        .await;
    assert_eq!(installed["installPlugin"]["version"], "0.1.0");
    let m = meter(&s, &partner, battery("b")).await;
    let ok = s
        .ok(&partner, ELIGIBILITY, json!({ "p": hostile, "m": [m] }))
        .await;
    assert_eq!(ok["eligibility"][0]["eligible"], true);

    for (behavior, code, needle) in [
        ("loop", "PLUGIN_TIMEOUT", "CPU budget"),
        ("memory", "PLUGIN_OUT_OF_MEMORY", "memory limit"),
        ("panic", "PLUGIN_TRAP", "panicked on purpose"),
        (
            "malformed",
            "PLUGIN_MALFORMED_OUTPUT",
            "0 answers for 1 meters",
        ),
    ] {
        set_behavior(&s, &hostile, behavior).await;
        let e = s
            .err(
                Some(&partner),
                ELIGIBILITY,
                json!({ "p": hostile, "m": [m] }),
            )
            .await;
        assert_eq!(e.code, code, "{behavior}: {}", e.message);
        assert!(e.message.contains(needle), "{behavior}: {}", e.message);
        assert!(
            e.message.contains("TEST_HOSTILE@0.1.0"),
            "errors name program and version: {}",
            e.message
        );
        let health = s.client.get(s.url("/health")).send().await.unwrap();
        assert!(health.status().is_success());
    }
    // The panic message carries its source location.
    set_behavior(&s, &hostile, "panic").await;
    let e = s
        .err(
            Some(&partner),
            ELIGIBILITY,
            json!({ "p": hostile, "m": [m] }),
        )
        .await;
    assert!(e.message.contains("src/lib.rs"), "{}", e.message);
    set_behavior(&s, &hostile, "ok").await;
    let ok = s
        .ok(&partner, ELIGIBILITY, json!({ "p": hostile, "m": [m] }))
        .await;
    assert_eq!(
        ok["eligibility"][0]["eligible"], true,
        "the same plugin serves again"
    );

    // Uploads that are not usable plugins.
    let mut oversized = b"\0asm\x01\0\0\0".to_vec();
    oversized.resize(5 << 20, 0);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            base64(&plugin_bytes("plugin-test-wrong-contract")),
            "PLUGIN_INVALID",
            "contract 2.0.0",
        ),
        (
            base64(b"definitely not wasm"),
            "PLUGIN_INVALID",
            "not a WebAssembly file",
        ),
        (
            base64(b"\0asm\x01\0\0\0"),
            "PLUGIN_INVALID",
            "does not export gridhub:rules/program",
        ),
        (base64(&oversized), "PLUGIN_INVALID", "limit"),
        ("%%%".into(), "VALIDATION", "base64"),
    ];
    for (payload, code, needle) in cases {
        let e = s
            .err(
                Some(&s.admin_key),
                INSTALL,
                json!({ "p": hostile, "w": payload }),
            )
            .await;
        assert_eq!(e.code, code, "{needle}: {}", e.message);
        assert!(e.message.contains(needle), "{needle}: {}", e.message);
    }
    let versions = s
        .ok(
            &s.admin_key,
            "query($id: ID!) { program(id: $id) { plugins { version } } }",
            json!({ "id": hostile }),
        )
        .await;
    assert_eq!(
        versions["program"]["plugins"].as_array().unwrap().len(),
        1,
        "nothing was stored"
    );
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_under_load_then_roll_back() {
    let s = TestServer::start().await;
    let (_, partner) = s.partner("Acme").await;
    let hostile = hostile_program(&s).await;
    let v1 = s
        .ok(
            &s.admin_key,
            INSTALL,
            json!({ "p": hostile, "w": base64(&plugin_bytes("plugin-test-hostile")) }),
        )
        .await["installPlugin"]
        .clone();
    let m = meter(&s, &partner, battery("b")).await;

    // Requests run continuously while v2 is installed; none may fail.
    let load = {
        let client = s.client.clone();
        let url = s.url("/graphql");
        let key = partner.clone();
        let vars = json!({ "p": hostile, "m": [m] });
        tokio::spawn(async move {
            let mut versions: Vec<String> = Vec::new();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while versions.iter().filter(|v| *v == "0.2.0").count() < 5
                && std::time::Instant::now() < deadline
            {
                let body: Value = client
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({ "query": ELIGIBILITY, "variables": vars }))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert!(
                    body.get("errors").is_none(),
                    "a request failed during the upgrade: {body}"
                );
                versions.push(
                    body["data"]["eligibility"][0]["pluginVersion"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                );
            }
            versions
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let v2 = s
        .ok(
            &s.admin_key,
            INSTALL,
            json!({ "p": hostile, "w": base64(&plugin_bytes("plugin-test-hostile-v2")) }),
        )
        .await["installPlugin"]
        .clone();
    assert_eq!(v2["version"], "0.2.0");
    let seen = load.await.unwrap();
    assert!(seen.iter().all(|v| v == "0.1.0" || v == "0.2.0"));
    assert_eq!(seen.last().unwrap(), "0.2.0", "{seen:?}");

    let listing = s.ok(&partner, "query($id: ID!) { program(id: $id) { activePlugin { version } plugins { version active } } }", json!({ "id": hostile })).await;
    assert_eq!(listing["program"]["activePlugin"]["version"], "0.2.0");
    assert_eq!(
        listing["program"]["plugins"],
        json!([{ "version": "0.2.0", "active": true }, { "version": "0.1.0", "active": false }])
    );

    // Roll back to v1.
    let e = s
        .err(
            Some(&partner),
            "mutation($id: ID!) { activatePluginVersion(id: $id) { version } }",
            json!({ "id": v1["id"] }),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");
    let back = s
        .ok(
            &s.admin_key,
            "mutation($id: ID!) { activatePluginVersion(id: $id) { version active activatedBy } }",
            json!({ "id": v1["id"] }),
        )
        .await;
    assert_eq!(back["activatePluginVersion"]["active"], true);
    let now = s
        .ok(&partner, ELIGIBILITY, json!({ "p": hostile, "m": [m] }))
        .await;
    assert_eq!(now["eligibility"][0]["pluginVersion"], "0.1.0");
    s.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_replica_picks_up_a_new_version_without_restart() {
    let fast = |c: &mut gridhub_api::config::ServerConfig| {
        c.plugin_refresh = std::time::Duration::from_millis(200)
    };
    let a = TestServer::start_with(fast).await;
    let b = a.replica(fast).await;
    let (_, partner) = a.partner("Acme").await;
    let hostile = hostile_program(&a).await;
    a.ok(
        &a.admin_key,
        INSTALL,
        json!({ "p": hostile, "w": base64(&plugin_bytes("plugin-test-hostile")) }),
    )
    .await;
    let m = meter(&a, &partner, battery("b")).await;
    let first = b
        .ok(&partner, ELIGIBILITY, json!({ "p": hostile, "m": [m] }))
        .await;
    assert_eq!(first["eligibility"][0]["pluginVersion"], "0.1.0");

    a.ok(
        &a.admin_key,
        INSTALL,
        json!({ "p": hostile, "w": base64(&plugin_bytes("plugin-test-hostile-v2")) }),
    )
    .await;
    let mut version = String::new();
    for _ in 0..50 {
        let data = b
            .ok(&partner, ELIGIBILITY, json!({ "p": hostile, "m": [m] }))
            .await;
        version = data["eligibility"][0]["pluginVersion"]
            .as_str()
            .unwrap()
            .to_owned();
        if version == "0.2.0" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        version, "0.2.0",
        "replica B serves the version installed through A"
    );
    b.shutdown().await;
    a.shutdown().await;
}
