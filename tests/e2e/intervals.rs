//! Interval data: row checks, atomic and partial uploads, idempotency and
//! corrections, CSV, roll-ups, completeness, tenancy.

use gridhub_tests::{battery, TestServer};
use serde_json::{json, Value};

const CREATE: &str =
    "mutation($in: [MeterInput!]!) { createMeters(inputs: $in) { id externalId } }";
pub const UPLOAD: &str = "mutation($r: [IntervalReadingInput!]!, $atomic: Boolean! = true, $dry: Boolean! = false) { uploadIntervals(readings: $r, atomic: $atomic, dryRun: $dry) { upload { id status received inserted corrected unchanged rejected firstStart lastStart } errors { row meterId externalId start code message } errorCount } }";
const CSV: &str = "mutation($c: String!, $atomic: Boolean! = true) { uploadIntervalsCsv(csv: $c, atomic: $atomic) { upload { status format inserted unchanged rejected } errors { row code message } errorCount } }";
const READINGS: &str = "query($m: ID!, $f: DateTime!, $t: DateTime!) { intervalReadings(meterId: $m, from: $f, to: $t) { start intervalMinutes kwh kw } }";
const HOURLY: &str = "query($m: ID!, $f: DateTime!, $t: DateTime!) { hourlyReadings(meterId: $m, from: $f, to: $t) { start kwh intervals expectedIntervals complete } }";

/// Creates meters for a partner; returns their ids in order.
pub async fn meters(s: &TestServer, key: &str, inputs: Vec<Value>) -> Vec<String> {
    let created = s.ok(key, CREATE, json!({ "in": inputs })).await;
    created["createMeters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

pub fn reading(meter: &str, start: &str, minutes: i64, kwh: f64) -> Value {
    json!({ "meterId": meter, "start": start, "intervalMinutes": minutes, "kwh": kwh })
}

fn codes(result: &Value) -> Vec<(i64, String)> {
    result["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_i64().unwrap(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn every_bad_row_is_named_and_an_atomic_upload_writes_nothing() {
    let s = TestServer::start().await;
    let (_, acme) = s.partner("Acme").await;
    let (_, volt) = s.partner("Volt").await;
    let mut ev = battery("ev-1");
    ev["deviceType"] = json!("EV_CHARGER");
    ev.as_object_mut().unwrap().remove("energyKwh");
    let ids = meters(&s, &acme, vec![battery("bat-1"), ev]).await;
    let (bat, ev) = (&ids[0], &ids[1]);
    let foreign = &meters(&s, &volt, vec![battery("v-1")]).await[0];

    let rows = json!([
        reading(bat, "2026-07-01T14:00:00Z", 15, 1.0),
        reading("mtr_0190e4a0000070008000000000000000", "2026-07-01T14:00:00Z", 15, 1.0),
        reading(foreign, "2026-07-01T14:00:00Z", 15, 1.0),
        reading(bat, "2026-07-01T14:05:00Z", 15, 1.0),
        reading(bat, "2026-07-01T14:00:00Z", 15, 1.0),
        reading(ev, "2026-07-01T14:00:00Z", 15, -0.5),
        // 5 kW battery: 2 kWh in 15 minutes is 8 kW, over 5 × 1.1.
        reading(bat, "2026-07-01T14:15:00Z", 15, 2.0),
        reading(bat, "2099-07-01T14:00:00Z", 15, 1.0),
        reading(bat, "2026-07-01T15:00:00Z", 30, 1.0),
        { "externalId": "bat-1", "start": "2026-07-01T14:30:00Z", "intervalMinutes": 15, "kwh": 1.25 },
        { "externalId": "nope", "start": "2026-07-01T14:30:00Z", "intervalMinutes": 15, "kwh": 1.0 },
    ]);
    let expected = vec![
        (1, "UNKNOWN_METER".to_owned()),
        (2, "FOREIGN_METER".into()),
        (3, "MISALIGNED_TIMESTAMP".into()),
        (4, "DUPLICATE_IN_UPLOAD".into()),
        (5, "NEGATIVE_VALUE".into()),
        (6, "EXCEEDS_CAPACITY".into()),
        (7, "FUTURE_INTERVAL".into()),
        (8, "INVALID_INTERVAL_LENGTH".into()),
        (10, "UNKNOWN_METER".into()),
    ];

    let atomic = s.ok(&acme, UPLOAD, json!({ "r": rows })).await["uploadIntervals"].clone();
    assert_eq!(atomic["upload"]["status"], "REJECTED");
    assert_eq!(atomic["upload"]["inserted"], 0);
    assert_eq!(atomic["errorCount"], 9);
    assert_eq!(codes(&atomic), expected);
    assert_eq!(atomic["errors"][1]["meterId"], json!(foreign));
    assert!(atomic["errors"][3]["message"]
        .as_str()
        .unwrap()
        .contains("row 0"));
    let window = json!({ "m": bat, "f": "2026-07-01T00:00:00Z", "t": "2026-07-02T00:00:00Z" });
    assert_eq!(
        s.ok(&acme, READINGS, window.clone()).await["intervalReadings"],
        json!([])
    );

    let partial = s
        .ok(&acme, UPLOAD, json!({ "r": rows, "atomic": false }))
        .await["uploadIntervals"]
        .clone();
    assert_eq!(partial["upload"]["status"], "PARTIAL");
    assert_eq!(partial["upload"]["inserted"], 2);
    assert_eq!(partial["upload"]["rejected"], 9);
    assert_eq!(codes(&partial), expected);
    let stored = s.ok(&acme, READINGS, window).await["intervalReadings"].clone();
    assert_eq!(
        stored,
        json!([
            { "start": "2026-07-01T14:00:00+00:00", "intervalMinutes": 15, "kwh": 1.0, "kw": 4.0 },
            { "start": "2026-07-01T14:30:00+00:00", "intervalMinutes": 15, "kwh": 1.25, "kw": 5.0 },
        ])
    );

    // Volt cannot read Acme's meter, nor write to it.
    let e = s
        .err(
            Some(&volt),
            READINGS,
            json!({ "m": bat, "f": "2026-07-01T00:00:00Z", "t": "2026-07-02T00:00:00Z" }),
        )
        .await;
    assert_eq!(e.code, "NOT_FOUND");
    let refused = s
        .ok(
            &volt,
            UPLOAD,
            json!({ "r": [reading(bat, "2026-07-01T16:00:00Z", 15, 1.0)] }),
        )
        .await;
    assert_eq!(
        codes(&refused["uploadIntervals"]),
        vec![(0, "FOREIGN_METER".to_owned())]
    );
    let uploads = s
        .ok(
            &volt,
            "{ intervalUploads(first: 10) { edges { node { status } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        uploads["intervalUploads"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn the_same_upload_twice_is_stored_once_and_a_changed_value_is_a_correction() {
    let s = TestServer::start().await;
    let (_, acme) = s.partner("Acme").await;
    let bat = meters(&s, &acme, vec![battery("bat-1")]).await.remove(0);
    // Two hours of 15-minute readings: 0.125, 0.25, … 1.0 kWh (binary-exact).
    let rows: Vec<Value> = (0..8)
        .map(|i| {
            let start = format!("2026-07-01T{:02}:{:02}:00Z", 14 + i / 4, (i % 4) * 15);
            reading(&bat, &start, 15, 0.125 * f64::from(i + 1))
        })
        .collect();

    let dry = s.ok(&acme, UPLOAD, json!({ "r": rows, "dry": true })).await["uploadIntervals"]
        ["upload"]
        .clone();
    assert_eq!(dry["status"], "VALIDATED");
    assert_eq!(dry["inserted"], 8);
    let first =
        s.ok(&acme, UPLOAD, json!({ "r": rows })).await["uploadIntervals"]["upload"].clone();
    assert_eq!(
        (first["status"].as_str(), first["inserted"].as_i64()),
        (Some("APPLIED"), Some(8)),
        "the dry run wrote nothing"
    );
    assert_eq!(first["firstStart"], "2026-07-01T14:00:00+00:00");
    assert_eq!(first["lastStart"], "2026-07-01T15:45:00+00:00");
    let again =
        s.ok(&acme, UPLOAD, json!({ "r": rows })).await["uploadIntervals"]["upload"].clone();
    assert_eq!(
        (again["inserted"].as_i64(), again["unchanged"].as_i64()),
        (Some(0), Some(8))
    );

    let mut changed = rows.clone();
    changed[5]["kwh"] = json!(0.5);
    let corrected =
        s.ok(&acme, UPLOAD, json!({ "r": changed })).await["uploadIntervals"]["upload"].clone();
    assert_eq!(
        (
            corrected["corrected"].as_i64(),
            corrected["unchanged"].as_i64()
        ),
        (Some(1), Some(7))
    );
    let history = s
        .ok(
            &acme,
            "query($m: ID!) { readingCorrections(meterId: $m, from: \"2026-07-01T00:00:00Z\", to: \"2026-07-02T00:00:00Z\") { start previousKwh kwh uploadId } }",
            json!({ "m": bat }),
        )
        .await["readingCorrections"]
        .clone();
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["start"], "2026-07-01T15:15:00+00:00");
    assert_eq!(
        (
            history[0]["previousKwh"].as_f64(),
            history[0]["kwh"].as_f64()
        ),
        (Some(0.75), Some(0.5))
    );

    // Hour 14: 0.125+0.25+0.375+0.5 = 1.25; hour 15: 0.625+0.5+0.875+1.0 = 3.0.
    let hourly = s
        .ok(
            &acme,
            HOURLY,
            json!({ "m": bat, "f": "2026-07-01T14:00:00Z", "t": "2026-07-01T17:00:00Z" }),
        )
        .await["hourlyReadings"]
        .clone();
    assert_eq!(
        hourly,
        json!([
            { "start": "2026-07-01T14:00:00+00:00", "kwh": 1.25, "intervals": 4, "expectedIntervals": 4, "complete": true },
            { "start": "2026-07-01T15:00:00+00:00", "kwh": 3.0, "intervals": 4, "expectedIntervals": 4, "complete": true },
        ])
    );
    let series = s
        .ok(&acme, "query($m: ID!) { meter(id: $m) { intervalSeries { source channel intervalMinutes readingCount firstStart lastStart } } }", json!({ "m": bat }))
        .await["meter"]["intervalSeries"]
        .clone();
    assert_eq!(
        series,
        json!([{ "source": "DEVICE", "channel": "main", "intervalMinutes": 15, "readingCount": 8, "firstStart": "2026-07-01T14:00:00+00:00", "lastStart": "2026-07-01T15:45:00+00:00" }])
    );
    // Hourly readings into the 15-minute series are refused.
    let mismatch = s
        .ok(
            &acme,
            UPLOAD,
            json!({ "r": [reading(&bat, "2026-07-01T18:00:00Z", 60, 1.0)] }),
        )
        .await;
    assert_eq!(
        codes(&mismatch["uploadIntervals"]),
        vec![(0, "INTERVAL_LENGTH_MISMATCH".to_owned())]
    );
}

#[tokio::test]
async fn csv_uploads_name_file_lines_and_completeness_lists_the_gaps() {
    let s = TestServer::start().await;
    let (_, acme) = s.partner("Acme").await;
    let bat = meters(&s, &acme, vec![battery("bat-1")]).await.remove(0);
    let csv = "external_id,start,interval_minutes,kwh,channel\n\
               bat-1,2026-07-01T00:00:00Z,60,1.5,main\n\
               bat-1,2026-07-01T01:00:00Z,60,oops,main\n\
               \n\
               bat-1,2026-07-01T03:00:00Z,60,2,main\n\
               bat-1,2026-07-01T04:00:00-04:00,60,2,main\n";
    let rejected = s.ok(&acme, CSV, json!({ "c": csv })).await["uploadIntervalsCsv"].clone();
    assert_eq!(rejected["upload"]["status"], "REJECTED");
    assert_eq!(rejected["upload"]["format"], "CSV");
    assert_eq!(codes(&rejected), vec![(3, "MALFORMED_ROW".to_owned())]);
    let stored =
        s.ok(&acme, CSV, json!({ "c": csv, "atomic": false })).await["uploadIntervalsCsv"].clone();
    assert_eq!(stored["upload"]["inserted"], 3);

    let bad_header = s
        .err(Some(&acme), CSV, json!({ "c": "meter,when\n" }))
        .await;
    assert_eq!(bad_header.code, "VALIDATION");

    // Hours 0, 3 and 8 (04:00-04:00) of July 1 are present; 0–12h expected.
    let report = s
        .ok(
            &acme,
            "query($m: [ID!]!) { dataCompleteness(meterIds: $m, from: \"2026-07-01T00:00:00Z\", to: \"2026-07-01T12:00:00Z\") { meterId intervalMinutes expectedIntervals presentIntervals ratio gapCount gaps { from to } } }",
            json!({ "m": [bat] }),
        )
        .await["dataCompleteness"][0]
        .clone();
    assert_eq!(report["intervalMinutes"], 60);
    assert_eq!(
        (
            report["expectedIntervals"].as_i64(),
            report["presentIntervals"].as_i64()
        ),
        (Some(12), Some(3))
    );
    assert_eq!(report["ratio"], 0.25);
    assert_eq!(
        report["gaps"],
        json!([
            { "from": "2026-07-01T01:00:00+00:00", "to": "2026-07-01T03:00:00+00:00" },
            { "from": "2026-07-01T04:00:00+00:00", "to": "2026-07-01T08:00:00+00:00" },
            { "from": "2026-07-01T09:00:00+00:00", "to": "2026-07-01T12:00:00+00:00" },
        ])
    );
}
