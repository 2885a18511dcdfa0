//! Event performance end to end: readings uploaded through the API, a past
//! market event recorded, the queue measuring it with the real plugins, late
//! readings making a new version, tenancy.

use std::time::Duration;

use gridhub_tests::{battery, plugins_dir, TestServer};
use serde_json::{json, Value};

use crate::intervals::{meters, UPLOAD};

pub const SCHEDULE: &str =
    "mutation($in: ScheduleEventInput!) { scheduleEvent(input: $in) { id status } }";
pub const PERFORMANCE: &str = "query($e: ID!, $v: Int) { eventPerformance(eventId: $e, version: $v) { version current trigger plugin { version sha256 } threshold summary { meters measured committedKw deliveredKw performanceFactor underPerforming missingData } meters(first: 50) { edges { node { meter { externalId } status committedKw deliveredKw deliveredKwh performanceFactor underPerforming baselineMethod measure baselineDays error hourly { start covered baselineKw actualKw reductionKw } } } } } }";

/// A server whose queue and clock run fast, with the program plugins.
pub async fn server() -> TestServer {
    TestServer::start_with(|c| {
        c.bundled_plugin_dir = Some(plugins_dir());
        c.event_clock = Duration::from_millis(200);
        c.performance_poll = Duration::from_millis(100);
        c.late_data_delay = Duration::ZERO;
    })
    .await
}

pub async fn program_id(s: &TestServer, code: &str) -> String {
    s.ok(
        &s.admin_key,
        "query($c: String!) { program(code: $c) { id } }",
        json!({ "c": code }),
    )
    .await["program"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub async fn enroll(s: &TestServer, key: &str, program: &str, inputs: Value) {
    let out = s
        .ok(key, "mutation($p: ID!, $in: [EnrollmentInput!]!) { enrollMeters(programId: $p, inputs: $in) { enrollments { status } } }", json!({ "p": program, "in": inputs }))
        .await;
    for e in out["enrollMeters"]["enrollments"].as_array().unwrap() {
        assert_eq!(e["status"], "ENROLLED", "{out}");
    }
}

/// Records a market event that is already over; returns its id.
pub async fn past_event(
    s: &TestServer,
    program: &str,
    start: &str,
    end: &str,
    extra: Value,
) -> String {
    let mut input = json!({
        "programId": program,
        "type": "EMERGENCY",
        "notificationAt": start,
        "start": start,
        "end": end,
        "overrideReason": "recorded after the fact",
    });
    if let (Some(i), Some(e)) = (input.as_object_mut(), extra.as_object()) {
        i.extend(e.clone());
    }
    let event = s.ok(&s.admin_key, SCHEDULE, json!({ "in": input })).await;
    assert_eq!(event["scheduleEvent"]["status"], "COMPLETED");
    event["scheduleEvent"]["id"].as_str().unwrap().to_owned()
}

/// Waits until the event's current performance has `version`.
pub async fn performance(s: &TestServer, key: &str, event: &str, version: i64) -> Value {
    for _ in 0..200 {
        let p = s.ok(key, PERFORMANCE, json!({ "e": event })).await["eventPerformance"].clone();
        if p["version"].as_i64() == Some(version) {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("event {event} never reached performance version {version}");
}

/// Uploads readings (atomic); panics on any refused row.
pub async fn upload(s: &TestServer, key: &str, readings: Vec<Value>) {
    for chunk in readings.chunks(20_000) {
        let out = s.ok(key, UPLOAD, json!({ "r": chunk })).await;
        assert_eq!(out["uploadIntervals"]["errorCount"], 0, "{out}");
    }
}

/// 15-minute readings of `meter` over `[from, from + quarters × 15 min)`.
pub fn quarters(
    meter: &str,
    from: &str,
    quarters: i64,
    kwh: impl Fn(i64) -> f64,
    source: &str,
) -> Vec<Value> {
    let t0 = chrono::DateTime::parse_from_rfc3339(from)
        .unwrap()
        .timestamp();
    (0..quarters)
        .map(|q| {
            let start = chrono::DateTime::from_timestamp(t0 + q * 900, 0).unwrap();
            json!({ "meterId": meter, "start": start.to_rfc3339(), "intervalMinutes": 15, "kwh": kwh(q), "source": source })
        })
        .collect()
}

fn by_meter(p: &Value) -> std::collections::BTreeMap<String, Value> {
    p["meters"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["meter"]["externalId"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
                e["node"].clone(),
            )
        })
        .collect()
}

/// The ConnectedSolutions scenario shared by the performance and settlement
/// tests: Acme's batteries "full", "half", "silent" and Volt's "volt-1"
/// enrolled from June 1, 2026; Zeta has none. Wednesday July 15, 2026,
/// 14:00–17:00 EDT (18:00–21:00Z), recorded after the fact: "full" discharges
/// 1 kWh per 15 minutes (4 kW), "half" 0.5 kWh (2 kW), "silent" sends
/// nothing; Volt's battery 1.25 kWh (5 kW).
pub struct CsScenario {
    pub s: TestServer,
    pub cs: String,
    pub acme_id: String,
    pub acme: String,
    pub volt: String,
    pub zeta: String,
    pub ids: Vec<String>,
    pub volt_ids: Vec<String>,
    pub event: String,
}

pub async fn cs_scenario() -> CsScenario {
    let s = server().await;
    let cs = program_id(&s, "MA_CONNECTED_SOLUTIONS").await;
    let (acme_id, acme) = s.partner("Acme").await;
    let (_, volt) = s.partner("Volt").await;
    let (_, zeta) = s.partner("Zeta").await;
    let ids = meters(
        &s,
        &acme,
        vec![battery("full"), battery("half"), battery("silent")],
    )
    .await;
    let volt_ids = meters(&s, &volt, vec![battery("volt-1")]).await;
    let enrollment = |ids: &[String]| {
        json!(ids
            .iter()
            .map(|m| json!({ "meterId": m, "startDate": "2026-06-01" }))
            .collect::<Vec<_>>())
    };
    enroll(&s, &acme, &cs, enrollment(&ids)).await;
    enroll(&s, &volt, &cs, enrollment(&volt_ids)).await;
    for (key, meter, kwh) in [
        (&acme, &ids[0], 1.0),
        (&acme, &ids[1], 0.5),
        (&volt, &volt_ids[0], 1.25),
    ] {
        upload(
            &s,
            key,
            quarters(meter, "2026-07-15T18:00:00Z", 12, |_| kwh, "DEVICE"),
        )
        .await;
    }
    let event = past_event(
        &s,
        &cs,
        "2026-07-15T18:00:00Z",
        "2026-07-15T21:00:00Z",
        json!({}),
    )
    .await;
    CsScenario {
        s,
        cs,
        acme_id,
        acme,
        volt,
        zeta,
        ids,
        volt_ids,
        event,
    }
}

#[tokio::test]
async fn a_battery_event_is_measured_by_the_plugin_and_late_data_makes_a_new_version() {
    let CsScenario {
        s,
        acme,
        volt,
        zeta,
        ids,
        event,
        ..
    } = cs_scenario().await;
    let p = performance(&s, &acme, &event, 1).await;
    assert_eq!(p["trigger"], "EVENT_COMPLETED");
    assert_eq!(p["plugin"]["version"], "1.1.0");
    assert_eq!(p["threshold"], 0.8);
    let rows = by_meter(&p);
    assert_eq!(rows.len(), 3, "Acme sees only its own meters");
    let full = &rows["full"];
    // Zero baseline for a device; 4 kW × 3 h = 12 kWh; 4 ÷ 5 kW committed = 0.8.
    assert_eq!(full["status"], "MEASURED");
    assert_eq!(full["measure"], "DEVICE_OUTPUT");
    assert_eq!(
        (full["deliveredKw"].as_f64(), full["deliveredKwh"].as_f64()),
        (Some(4.0), Some(12.0))
    );
    assert_eq!(full["performanceFactor"], 0.8);
    assert_eq!(full["underPerforming"], false);
    assert_eq!(full["hourly"].as_array().unwrap().len(), 3);
    assert_eq!(
        full["hourly"][0],
        json!({ "start": "2026-07-15T18:00:00+00:00", "covered": 1.0, "baselineKw": 0.0, "actualKw": 4.0, "reductionKw": 4.0 })
    );
    let half = &rows["half"];
    assert_eq!(
        (
            half["deliveredKw"].as_f64(),
            half["performanceFactor"].as_f64()
        ),
        (Some(2.0), Some(0.4))
    );
    assert_eq!(half["underPerforming"], true);
    let silent = &rows["silent"];
    assert_eq!(silent["status"], "MISSING_DATA");
    assert_eq!(silent["deliveredKw"], Value::Null);
    assert_eq!(silent["underPerforming"], true);
    // Acme's totals: 4 + 2 + 0 of 15 kW committed.
    assert_eq!(
        p["summary"],
        json!({ "meters": 3, "measured": 2, "committedKw": 15.0, "deliveredKw": 6.0, "performanceFactor": 0.4, "underPerforming": 2, "missingData": 1 })
    );
    // Volt sees its one meter; Zeta sees no such event.
    let v = performance(&s, &volt, &event, 1).await;
    assert_eq!(v["summary"]["meters"], 1);
    assert_eq!(v["summary"]["deliveredKw"], 5.0);
    let hidden = s.err(Some(&zeta), PERFORMANCE, json!({ "e": event })).await;
    assert_eq!(hidden.code, "NOT_FOUND");
    let admin = performance(&s, &s.admin_key, &event, 1).await;
    assert_eq!(admin["summary"]["meters"], 4);

    // "silent" sends its readings late: a new version, the first one kept.
    upload(
        &s,
        &acme,
        quarters(&ids[2], "2026-07-15T18:00:00Z", 12, |_| 1.25, "DEVICE"),
    )
    .await;
    let p2 = performance(&s, &acme, &event, 2).await;
    assert_eq!(p2["trigger"], "LATE_DATA");
    let rows2 = by_meter(&p2);
    assert_eq!(rows2["silent"]["status"], "MEASURED");
    assert_eq!(rows2["silent"]["deliveredKw"], 5.0);
    assert_eq!(p2["summary"]["deliveredKw"], 11.0);
    let v1 = s
        .ok(&acme, PERFORMANCE, json!({ "e": event, "v": 1 }))
        .await["eventPerformance"]
        .clone();
    assert_eq!(v1["current"], false);
    assert_eq!(v1["summary"]["deliveredKw"], 6.0);
    let versions = s
        .ok(&acme, "query($e: ID!) { eventPerformanceVersions(eventId: $e) { version current } event(id: $e) { performance { version } } }", json!({ "e": event }))
        .await;
    assert_eq!(
        versions["eventPerformanceVersions"],
        json!([{ "version": 2, "current": true }, { "version": 1, "current": false }])
    );
    assert_eq!(versions["event"]["performance"]["version"], 2);

    // Partners cannot recompute on demand; admins can.
    let e = s
        .err(
            Some(&acme),
            "mutation($e: ID!) { computeEventPerformance(eventId: $e) { version } }",
            json!({ "e": event }),
        )
        .await;
    assert_eq!(e.code, "FORBIDDEN");
    let again = s
        .ok(
            &s.admin_key,
            "mutation($e: ID!) { computeEventPerformance(eventId: $e) { version trigger } }",
            json!({ "e": event }),
        )
        .await;
    assert_eq!(
        again["computeEventPerformance"],
        json!({ "version": 3, "trigger": "ON_DEMAND" })
    );
}

#[tokio::test]
async fn a_utility_meter_is_measured_against_its_ten_day_baseline() {
    let s = server().await;
    let dram = program_id(&s, "CAISO_DRAM").await;
    let (_, acme) = s.partner("Acme").await;
    let meter = json!({
        "externalId": "pge-1", "kind": "UTILITY_METER", "region": "CA", "utility": "PGE",
        "loadZone": "DLAP_PGAE", "customerClass": "COMMERCIAL", "capacityKw": 150.0,
        "serviceAddress": { "line1": "1 Market St", "city": "San Francisco", "postalCode": "94105" }
    });
    let mut second = meter.clone();
    second["externalId"] = json!("pge-2");
    let ids = meters(&s, &acme, vec![meter, second]).await;
    let id = ids[0].clone();
    for m in &ids {
        s.authorize_meter(m).await;
    }
    // The portfolio needs 100 kW: pge-2 brings 100 kW and no readings.
    enroll(
        &s,
        &acme,
        &dram,
        json!([
            { "meterId": id, "committedKw": 8.0, "startDate": "2026-06-01" },
            { "meterId": ids[1], "committedKw": 100.0, "startDate": "2026-06-01" },
        ]),
    )
    .await;
    // A flat 10 kW (2.5 kWh per 15 minutes) from June 20 to July 15 (PDT),
    // then 4 kW during the event, Wednesday July 15, 16:00–18:00 PDT.
    let event_start = chrono::DateTime::parse_from_rfc3339("2026-07-15T23:00:00Z")
        .unwrap()
        .timestamp();
    let from = chrono::DateTime::parse_from_rfc3339("2026-06-20T07:00:00Z")
        .unwrap()
        .timestamp();
    let n = (event_start + 2 * 3600 - from) / 900;
    upload(
        &s,
        &acme,
        quarters(
            &id,
            "2026-06-20T07:00:00Z",
            n,
            |q| {
                if from + q * 900 >= event_start {
                    1.0
                } else {
                    2.5
                }
            },
            "UTILITY",
        ),
    )
    .await;
    let event = past_event(
        &s,
        &dram,
        "2026-07-15T23:00:00Z",
        "2026-07-16T01:00:00Z",
        json!({ "energyPrice": "0.25" }),
    )
    .await;
    let p = performance(&s, &acme, &event, 1).await;
    let row = &by_meter(&p)["pge-1"];
    // The 10 most recent non-holiday weekdays before July 15, all at 10 kW:
    // baseline 10 kW, load-point ratio 10 ÷ 10 = 1; reduction 10 − 4 = 6 kW
    // over 2 h = 12 kWh; 6 ÷ 8 kW committed = 0.75.
    assert_eq!(row["status"], "MEASURED", "{row}");
    assert_eq!(row["measure"], "LOAD_REDUCTION");
    assert_eq!(row["deliveredKw"], 6.0);
    assert_eq!(row["deliveredKwh"], 12.0);
    assert_eq!(row["performanceFactor"], 0.75);
    assert_eq!(row["underPerforming"], true);
    assert_eq!(row["baselineDays"].as_array().unwrap().len(), 10);
    assert_eq!(row["hourly"][1]["baselineKw"], 10.0);
    let empty = &by_meter(&p)["pge-2"];
    assert_eq!(empty["status"], "INSUFFICIENT_HISTORY", "{empty}");
    assert!(
        empty["error"].as_str().unwrap().contains("of 5 required"),
        "{empty}"
    );
    assert_eq!(p["summary"]["missingData"], 1);

    // Settlement, January 1 (the "year" season) through July, each meter from
    // its enrollment on June 1. pge-1: June has no event, so demonstrated =
    // contracted: 8 kW × $6 = $48.00; July: min(8, 6) kW × $6 = $36.00; energy
    // 12 kWh × $0.25 = $3.00; total $87.00. In full (8 kW, 16 kWh) July pays
    // $48 + $4, so $13.00 was missed. pge-2: June 100 kW × $6 = $600.00, July
    // min(100, 0) = $0.
    let run = crate::settlement::settled(&s, &acme, &dram, 1).await;
    assert_eq!(
        (run["periodStart"].as_str(), run["periodEnd"].as_str()),
        (Some("2026-01-01"), Some("2026-07-31"))
    );
    let settled = crate::settlement::by_meter(&run);
    let one = &settled["pge-1"];
    assert_eq!(one["amount"], "87.00", "{one}");
    let lines: Vec<(String, String, String)> = one["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["month"].as_str().unwrap().into(),
                l["code"].as_str().unwrap().into(),
                l["amount"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                "2026-06".to_owned(),
                "CAPACITY".to_owned(),
                "48.00".to_owned()
            ),
            ("2026-07".into(), "CAPACITY".into(), "36.00".into()),
            ("2026-07".into(), "ENERGY".into(), "3.00".into()),
        ]
    );
    assert_eq!(one["missed"], "13.00");
    assert_eq!(settled["pge-2"]["amount"], "600.00");
}
