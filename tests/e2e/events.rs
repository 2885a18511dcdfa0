//! Dispatch events: schedule rules, the meters called, tenancy, responses,
//! changes, cancellation and the clock.

use gridhub_tests::{battery, plugins_dir, TestServer};
use serde_json::{json, Value};

pub const SCHEDULE: &str = "mutation($in: ScheduleEventInput!, $k: String) { scheduleEvent(input: $in, idempotencyKey: $k) { id status revision overrideReason energyPrice responses { meters committedKw pending } changes { kind changedBy } } }";
const EVENT: &str = "query($id: ID!) { event(id: $id) { id status revision start end responses { meters committedKw acknowledged optedOut pending } dispatches(first: 50) { edges { node { id committedKw response optOutReason meter { externalId } } } } changes { kind detail } } }";

pub struct Setup {
    pub s: TestServer,
    pub cs: String,
    pub acme: String,
    pub volt: String,
}

/// ConnectedSolutions installed; Acme enrolls two batteries (one idle on July
/// 15, 2027), Volt one; Zeta has none.
async fn setup() -> Setup {
    setup_with(|_| {}).await
}

pub async fn setup_with(configure: impl FnOnce(&mut gridhub_api::config::ServerConfig)) -> Setup {
    let s = TestServer::start_with(|c| {
        c.bundled_plugin_dir = Some(plugins_dir());
        c.event_clock = std::time::Duration::from_millis(200);
        configure(c);
    })
    .await;
    let cs = s
        .ok(
            &s.admin_key,
            "{ program(code: \"MA_CONNECTED_SOLUTIONS\") { id } }",
            json!({}),
        )
        .await["program"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, acme) = s.partner("Acme").await;
    let (_, volt) = s.partner("Volt").await;
    let mut enrollments = Vec::new();
    for (key, ids) in [(&acme, vec!["a1", "a2"]), (&volt, vec!["v1"])] {
        let created = s
            .ok(
                key,
                "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id } }",
                json!({ "in": ids.iter().map(|i| battery(i)).collect::<Vec<_>>() }),
            )
            .await;
        let inputs: Vec<Value> = created["createMeters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| json!({ "meterId": m["id"], "startDate": "2027-06-01" }))
            .collect();
        let enrolled = s
            .ok(key, "mutation($p: ID!, $in: [EnrollmentInput!]!) { enrollMeters(programId: $p, inputs: $in) { enrollments { id status meter { externalId } } } }", json!({ "p": cs, "in": inputs }))
            .await;
        for e in enrolled["enrollMeters"]["enrollments"].as_array().unwrap() {
            assert_eq!(e["status"], "ENROLLED", "{e}");
            enrollments.push((
                e["meter"]["externalId"].as_str().unwrap().to_owned(),
                e["id"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let a2 = &enrollments.iter().find(|(m, _)| m == "a2").unwrap().1;
    s.ok(&acme, "mutation($id: ID!) { setEnrollmentIdle(id: $id, startDate: \"2027-07-15\", endDate: \"2027-07-15\") { id } }", json!({ "id": a2 }))
        .await;
    Setup { s, cs, acme, volt }
}

pub fn summer_event(cs: &str, day: u32) -> Value {
    // 16:00–19:00 EDT.
    json!({
        "programId": cs,
        "type": "EMERGENCY",
        "start": format!("2027-07-{day:02}T20:00:00Z"),
        "end": format!("2027-07-{day:02}T23:00:00Z"),
        "energyPrice": "0.25",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_break_rules_only_with_a_recorded_override() {
    let Setup { s, cs, acme, .. } = setup().await;
    // October is outside both seasons.
    let mut october = summer_event(&cs, 15);
    october["start"] = json!("2027-10-05T20:00:00Z");
    october["end"] = json!("2027-10-05T21:00:00Z");
    let err = s
        .err(Some(&s.admin_key), SCHEDULE, json!({ "in": october }))
        .await;
    assert_eq!(err.code, "SCHEDULE_RULE_VIOLATION");
    let rules: Vec<&str> = err.error["extensions"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["OUTSIDE_SEASON"]);
    // 13:00–17:00 EDT starts before 14:00 and lasts 4 h (at most 3).
    let mut early = summer_event(&cs, 15);
    early["start"] = json!("2027-07-15T17:00:00Z");
    early["end"] = json!("2027-07-15T21:00:00Z");
    let err = s
        .err(Some(&s.admin_key), SCHEDULE, json!({ "in": early.clone() }))
        .await;
    let rules: Vec<&str> = err.error["extensions"]["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["OUTSIDE_EVENT_WINDOW", "TOO_LONG"]);
    assert!(err.message.contains("overrideReason"), "{}", err.message);
    // An explicit override schedules it and is recorded.
    early["overrideReason"] = json!("ISO-NE capacity emergency");
    let ok = s.ok(&s.admin_key, SCHEDULE, json!({ "in": early })).await;
    assert_eq!(
        ok["scheduleEvent"]["overrideReason"],
        "ISO-NE capacity emergency"
    );
    // Bad times are input errors, not rule violations; partners may not schedule.
    let mut backwards = summer_event(&cs, 16);
    backwards["end"] = json!("2027-07-16T19:00:00Z");
    assert_eq!(
        s.err(Some(&s.admin_key), SCHEDULE, json!({ "in": backwards }))
            .await
            .code,
        "VALIDATION"
    );
    assert_eq!(
        s.err(
            Some(&acme),
            SCHEDULE,
            json!({ "in": summer_event(&cs, 16) })
        )
        .await
        .code,
        "FORBIDDEN"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_call_enrolled_meters_and_partners_see_only_their_own() {
    let Setup {
        s, cs, acme, volt, ..
    } = setup().await;
    let (_, zeta) = s.partner("Zeta").await;
    let created = s
        .ok(
            &s.admin_key,
            SCHEDULE,
            json!({ "in": summer_event(&cs, 15), "k": "evt-1" }),
        )
        .await;
    let event = &created["scheduleEvent"];
    let id = event["id"].as_str().unwrap().to_owned();
    assert_eq!(event["status"], "SCHEDULED");
    assert_eq!(event["energyPrice"], "0.25");
    // a1 and v1 are called; a2 is idle that day.
    assert_eq!(event["responses"]["meters"], 2);
    assert_eq!(event["responses"]["committedKw"], 10.0);
    assert_eq!(event["changes"][0]["kind"], "CREATED");
    // The same idempotency key replays the same event.
    let again = s
        .ok(
            &s.admin_key,
            SCHEDULE,
            json!({ "in": summer_event(&cs, 15), "k": "evt-1" }),
        )
        .await;
    assert_eq!(again["scheduleEvent"]["id"], id.as_str());

    let mine = s.ok(&acme, EVENT, json!({ "id": id })).await;
    let meters: Vec<&str> = mine["event"]["dispatches"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["meter"]["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(meters, ["a1"]);
    assert_eq!(mine["event"]["responses"]["meters"], 1);
    let theirs = s.ok(&volt, EVENT, json!({ "id": id })).await;
    assert_eq!(
        theirs["event"]["dispatches"]["edges"][0]["node"]["meter"]["externalId"],
        "v1"
    );
    // A partner with no meters in it does not see the event at all.
    assert_eq!(
        s.err(Some(&zeta), EVENT, json!({ "id": id })).await.code,
        "NOT_FOUND"
    );
    let list = "{ events(first: 10) { edges { node { id } } } dispatches(first: 10) { edges { node { id } } } }";
    let empty = s.ok(&zeta, list, json!({})).await;
    assert_eq!(empty["events"]["edges"].as_array().unwrap().len(), 0);
    assert_eq!(empty["dispatches"]["edges"].as_array().unwrap().len(), 0);
    let acme_list = s.ok(&acme, list, json!({})).await;
    assert_eq!(acme_list["events"]["edges"].as_array().unwrap().len(), 1);
    assert_eq!(
        acme_list["dispatches"]["edges"].as_array().unwrap().len(),
        1
    );
    // Dispatch filters by the event's program, status and time.
    let filtered =
        "query($f: DispatchFilter) { dispatches(filter: $f, first: 10) { edges { node { id } } } }";
    let count = |v: Value| v["dispatches"]["edges"].as_array().unwrap().len();
    let window = json!({ "programIds": [cs], "from": "2027-07-15T00:00:00Z", "to": "2027-07-16T00:00:00Z", "eventStatuses": ["SCHEDULED"] });
    assert_eq!(
        count(s.ok(&acme, filtered, json!({ "f": window })).await),
        1
    );
    let later = json!({ "from": "2027-07-16T00:00:00Z" });
    assert_eq!(count(s.ok(&acme, filtered, json!({ "f": later })).await), 0);
    let cancelled = json!({ "eventStatuses": ["CANCELLED"] });
    assert_eq!(
        count(s.ok(&acme, filtered, json!({ "f": cancelled })).await),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partners_acknowledge_or_opt_out_and_the_operator_sees_who_did() {
    let Setup {
        s, cs, acme, volt, ..
    } = setup().await;
    let id = s
        .ok(
            &s.admin_key,
            SCHEDULE,
            json!({ "in": summer_event(&cs, 15) }),
        )
        .await["scheduleEvent"]["id"]
        .clone();
    let dispatch_of = |data: &Value| {
        data["event"]["dispatches"]["edges"][0]["node"]["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let a1 = dispatch_of(&s.ok(&acme, EVENT, json!({ "id": id })).await);
    let v1 = dispatch_of(&s.ok(&volt, EVENT, json!({ "id": id })).await);
    let ack = "mutation($id: ID!) { acknowledgeDispatch(id: $id) { response respondedAt } }";
    let opt_out = "mutation($id: ID!, $r: String!) { optOutDispatch(id: $id, reason: $r) { response optOutReason } }";
    assert_eq!(
        s.ok(&acme, ack, json!({ "id": a1 })).await["acknowledgeDispatch"]["response"],
        "ACKNOWLEDGED"
    );
    // Another partner's dispatch does not exist for Acme.
    assert_eq!(
        s.err(Some(&acme), ack, json!({ "id": v1 })).await.code,
        "NOT_FOUND"
    );
    assert_eq!(
        s.err(Some(&volt), opt_out, json!({ "id": v1, "r": " " }))
            .await
            .code,
        "VALIDATION"
    );
    let out = s
        .ok(
            &volt,
            opt_out,
            json!({ "id": v1, "r": "battery under maintenance" }),
        )
        .await;
    assert_eq!(
        out["optOutDispatch"]["optOutReason"],
        "battery under maintenance"
    );
    let all = s.ok(&s.admin_key, EVENT, json!({ "id": id })).await;
    let r = &all["event"]["responses"];
    assert_eq!(
        (
            r["meters"].as_u64(),
            r["acknowledged"].as_u64(),
            r["optedOut"].as_u64(),
            r["pending"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(0))
    );

    // Moving the event is a change partners see; a cancelled event takes no answers.
    let moved = s
        .ok(&s.admin_key, "mutation($id: ID!) { updateEvent(id: $id, input: { start: \"2027-07-15T21:00:00Z\", note: \"ISO moved it\" }) { revision start changes { kind } } }", json!({ "id": id }))
        .await;
    assert_eq!(moved["updateEvent"]["revision"], 2);
    assert_eq!(moved["updateEvent"]["changes"][1]["kind"], "UPDATED");
    let cancelled = s
        .ok(&s.admin_key, "mutation($id: ID!) { cancelEvent(id: $id, reason: \"grid recovered\") { status revision } }", json!({ "id": id }))
        .await;
    assert_eq!(cancelled["cancelEvent"]["status"], "CANCELLED");
    assert_eq!(
        s.err(Some(&acme), ack, json!({ "id": a1 })).await.code,
        "CONFLICT"
    );
    assert_eq!(
        s.err(
            Some(&s.admin_key),
            "mutation($id: ID!) { cancelEvent(id: $id) { id } }",
            json!({ "id": id })
        )
        .await
        .code,
        "CONFLICT"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clock_starts_and_completes_events() {
    let Setup { s, cs, .. } = setup().await;
    let now = chrono::Utc::now();
    let input = json!({
        "programId": cs,
        "type": "TEST",
        "start": (now + chrono::Duration::milliseconds(600)).to_rfc3339(),
        "end": (now + chrono::Duration::milliseconds(1200)).to_rfc3339(),
        "overrideReason": "integration test outside the season",
    });
    let id =
        s.ok(&s.admin_key, SCHEDULE, json!({ "in": input })).await["scheduleEvent"]["id"].clone();
    let mut kinds = Vec::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let e = s.ok(&s.admin_key, EVENT, json!({ "id": id })).await;
        kinds = e["event"]["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap().to_owned())
            .collect();
        if kinds.iter().any(|k| k == "MEASURED") {
            break;
        }
    }
    // Completion makes the event's performance due; its run is announced too.
    assert_eq!(kinds, ["CREATED", "STARTED", "COMPLETED", "MEASURED"]);
}
