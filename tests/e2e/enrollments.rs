//! Enrollments decided by the ConnectedSolutions plugin, end to end.

use gridhub_api::domain::Role;
use gridhub_tests::{base64, battery, coned_meter, plugin_bytes, TestServer};
use serde_json::{json, Value};

const ENROLL: &str = "mutation($p: ID!, $in: [EnrollmentInput!]!, $k: String) { enrollMeters(programId: $p, inputs: $in, idempotencyKey: $k) { portfolioEligible enrollments { id status committedKw pluginSha256 meter { externalId } program { code } reasons { code action field } } } }";

async fn setup() -> (TestServer, String, String, String) {
    let s = TestServer::start().await;
    let analyst = s.key(Role::Analyst, None).await;
    let (_, partner) = s.partner("Acme").await;
    let cs = s
        .ok(
            &partner,
            "{ program(code: \"MA_CONNECTED_SOLUTIONS\") { id } }",
            json!({}),
        )
        .await["program"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.ok(
        &analyst,
        "mutation($p: ID!, $w: String!) { installPlugin(programId: $p, wasmBase64: $w) { id } }",
        json!({ "p": cs, "w": base64(&plugin_bytes("plugin-connected-solutions")) }),
    )
    .await;
    (s, analyst, partner, cs)
}

async fn create(s: &TestServer, key: &str, input: Value) -> String {
    s.ok(
        key,
        "mutation($in: MeterInput!) { createMeter(input: $in) { id } }",
        json!({ "in": input }),
    )
    .await["createMeter"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn enrollment(s: &TestServer, key: &str, id: &Value) -> Value {
    s.ok(
        key,
        "query($id: ID!) { enrollment(id: $id) { status reasons { code } history { status note changedBy pluginSha256 } idlePeriods { startDate endDate reason } } }",
        json!({ "id": id }),
    )
    .await["enrollment"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn enroll_fix_reevaluate_idle_and_unenroll() {
    let (s, analyst, partner, cs) = setup().await;
    let good = create(&s, &partner, battery("good")).await;
    let mut municipal = battery("municipal");
    municipal["utility"] = json!("MA_MUNICIPAL");
    let municipal = create(&s, &partner, municipal).await;
    let nyc = create(&s, &partner, coned_meter("nyc")).await;

    let inputs = json!([{ "meterId": good, "committedKw": 4.5 }, { "meterId": municipal }, { "meterId": nyc }]);
    let result = s
        .ok(
            &partner,
            ENROLL,
            json!({ "p": cs, "in": inputs, "k": "enroll-1" }),
        )
        .await["enrollMeters"]
        .clone();
    assert_eq!(result["portfolioEligible"], true);
    let e = &result["enrollments"];
    assert_eq!(
        (e[0]["status"].as_str(), e[0]["committedKw"].as_f64()),
        (Some("ENROLLED"), Some(4.5))
    );
    assert_eq!(e[0]["program"]["code"], "MA_CONNECTED_SOLUTIONS");
    assert_eq!(e[0]["pluginSha256"].as_str().unwrap().len(), 64);
    assert_eq!(e[1]["status"], "INELIGIBLE");
    assert_eq!(e[1]["reasons"][0]["code"], "UTILITY_NOT_ELIGIBLE");
    assert_eq!(e[2]["status"], "INELIGIBLE");
    // The idempotency key replays the first result.
    let again = s
        .ok(
            &partner,
            ENROLL,
            json!({ "p": cs, "in": inputs, "k": "enroll-1" }),
        )
        .await["enrollMeters"]
        .clone();
    assert_eq!(again["enrollments"][0]["id"], e[0]["id"]);
    assert_eq!(
        enrollment(&s, &partner, &e[0]["id"]).await["history"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Listing and nesting.
    let list = s
        .ok(&partner, "{ enrollments(filter: { statuses: [ENROLLED] }) { edges { node { meter { externalId enrollments { status } } } } } }", json!({}))
        .await;
    let edges = list["enrollments"]["edges"].as_array().unwrap();
    assert_eq!(edges.len(), 1);
    assert_eq!(edges[0]["node"]["meter"]["externalId"], "good");

    // What is missing, per program with rules installed.
    let options = s
        .ok(&partner, "query($m: ID!) { programEligibility(meterId: $m) { eligible program { code } reasons { code action } } }", json!({ "m": municipal }))
        .await["programEligibility"]
        .clone();
    assert_eq!(
        options.as_array().unwrap().len(),
        1,
        "only programs with a plugin answer: {options}"
    );
    assert_eq!(options[0]["program"]["code"], "MA_CONNECTED_SOLUTIONS");
    assert_eq!(options[0]["eligible"], false);

    // Fixing the meter re-evaluates its enrollment.
    s.ok(
        &partner,
        "mutation($id: ID!) { updateMeter(id: $id, input: { utility: \"NATIONAL_GRID\" }) { id } }",
        json!({ "id": municipal }),
    )
    .await;
    let fixed = enrollment(&s, &partner, &e[1]["id"]).await;
    assert_eq!(fixed["status"], "ENROLLED", "{fixed}");
    let notes: Vec<&str> = fixed["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["status"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["INELIGIBLE", "PENDING", "ENROLLED"]);
    assert_eq!(fixed["history"][1]["changedBy"], "system");

    // A parameter change re-evaluates the program: National Grid leaves the program.
    s.ok(&analyst, "mutation($p: ID!) { updateProgramParameters(programId: $p, changes: [{ key: \"eligible_utilities\", value: [\"EVERSOURCE\"] }]) { version } }", json!({ "p": cs })).await;
    let dropped = enrollment(&s, &partner, &e[1]["id"]).await;
    assert_eq!(dropped["status"], "INELIGIBLE");
    assert_eq!(dropped["reasons"][0]["code"], "UTILITY_NOT_ELIGIBLE");
    assert_eq!(
        enrollment(&s, &partner, &e[0]["id"]).await["status"],
        "ENROLLED",
        "Eversource stays"
    );

    // Idle periods, only for participating meters.
    let idle = "mutation($id: ID!, $s: Date!, $e: Date!) { setEnrollmentIdle(id: $id, startDate: $s, endDate: $e, reason: \"maintenance\") { startDate endDate } }";
    s.ok(
        &partner,
        idle,
        json!({ "id": e[0]["id"], "s": "2026-07-01", "e": "2026-07-03" }),
    )
    .await;
    let err = s
        .err(
            Some(&partner),
            idle,
            json!({ "id": e[0]["id"], "s": "2026-07-05", "e": "2026-07-01" }),
        )
        .await;
    assert_eq!(err.code, "VALIDATION");
    let err = s
        .err(
            Some(&partner),
            idle,
            json!({ "id": e[2]["id"], "s": "2026-07-01", "e": "2026-07-02" }),
        )
        .await;
    assert_eq!(err.code, "CONFLICT");
    let with_idle = enrollment(&s, &partner, &e[0]["id"]).await;
    assert_eq!(
        with_idle["idlePeriods"],
        json!([{ "startDate": "2026-07-01", "endDate": "2026-07-03", "reason": "maintenance" }])
    );

    // Disenrollment.
    let gone = s
        .ok(&partner, "mutation($id: ID!) { unenroll(id: $id, reason: \"customer moved\") { status endDate } }", json!({ "id": e[0]["id"] }))
        .await;
    assert_eq!(gone["unenroll"]["status"], "UNENROLLED");
    let h = enrollment(&s, &partner, &e[0]["id"]).await["history"].clone();
    assert_eq!(
        h.as_array().unwrap().last().unwrap()["note"],
        "customer moved"
    );

    // Another partner sees and touches nothing.
    let (_, other) = s.partner("Volt").await;
    let err = s
        .err(
            Some(&other),
            "query($id: ID!) { enrollment(id: $id) { id } }",
            json!({ "id": e[1]["id"] }),
        )
        .await;
    assert_eq!(err.code, "NOT_FOUND");
    let err = s
        .err(
            Some(&other),
            ENROLL,
            json!({ "p": cs, "in": [{ "meterId": good }] }),
        )
        .await;
    assert_eq!(err.code, "NOT_FOUND");
    let err = s
        .err(
            Some(&other),
            "mutation($id: ID!) { unenroll(id: $id) { id } }",
            json!({ "id": e[1]["id"] }),
        )
        .await;
    assert_eq!(err.code, "NOT_FOUND");
    let none = s
        .ok(
            &other,
            "{ enrollments { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(none["enrollments"]["edges"], json!([]));

    // Bad input writes nothing.
    let err = s
        .err(
            Some(&partner),
            ENROLL,
            json!({ "p": cs, "in": [{ "meterId": good, "committedKw": -1 }, { "meterId": good }] }),
        )
        .await;
    assert_eq!(err.code, "VALIDATION");
    let fields: Vec<&str> = err.error["extensions"]["fieldErrors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["inputs[0].committedKw", "inputs[1].meterId"]);
    s.shutdown().await;
}
