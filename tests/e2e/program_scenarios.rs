//! One scenario per program (the others are in `performance.rs` and
//! `settlement.rs`): synthetic readings uploaded through the API, a past
//! market event, the real plugin's baseline and settlement — every expected
//! number worked out by hand in the comments.

use gridhub_tests::{battery, coned_meter, TestServer};
use serde_json::{json, Value};

use crate::intervals::meters;
use crate::performance::{enroll, past_event, performance, program_id, server, upload};
use crate::settlement::{by_meter, settled};

/// Readings of `meter` every `minutes` from `from` until `to` (RFC 3339),
/// with `kwh(start)` each.
fn series(
    meter: &str,
    from: &str,
    to: &str,
    minutes: i64,
    source: &str,
    kwh: impl Fn(i64) -> f64,
) -> Vec<Value> {
    let (a, b) = (ts(from), ts(to));
    (0..)
        .map(|i| a + i * minutes * 60)
        .take_while(|t| *t < b)
        .map(|t| {
            json!({
                "meterId": meter,
                "start": chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc3339(),
                "intervalMinutes": minutes,
                "kwh": kwh(t),
                "source": source,
            })
        })
        .collect()
}

fn ts(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

fn row<'a>(p: &'a Value, external_id: &str) -> &'a Value {
    p["meters"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["node"])
        .find(|n| n["meter"]["externalId"] == external_id)
        .unwrap()
}

fn lines(settled: &Value) -> Vec<(String, String, String)> {
    settled["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["month"].as_str().unwrap().to_owned(),
                l["code"].as_str().unwrap().to_owned(),
                l["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn line(month: &str, code: &str, amount: &str) -> (String, String, String) {
    (month.into(), code.into(), amount.into())
}

async fn authorized(s: &TestServer, key: &str, input: Value) -> String {
    let id = meters(s, key, vec![input]).await.remove(0);
    s.authorize_meter(&id).await;
    id
}

#[tokio::test]
async fn coned_dlrp_high_five_of_ten_and_reservation_payments() {
    let s = server().await;
    let dlrp = program_id(&s, "CONED_DLRP").await;
    let (_, acme) = s.partner("Acme").await;
    let id = authorized(&s, &acme, coned_meter("dlrp-1")).await;
    // 100 kW (25 kWh a quarter hour) from June 1, 2026 (EDT); 60 kW during
    // the event, Wednesday July 15, 14:00–18:00 EDT (18:00–22:00Z). The 45
    // days of data are the 30 DLRP wants before an in-season start.
    let (event_start, event_end) = (ts("2026-07-15T18:00:00Z"), ts("2026-07-15T22:00:00Z"));
    upload(
        &s,
        &acme,
        series(
            &id,
            "2026-06-01T04:00:00Z",
            "2026-07-15T22:00:00Z",
            15,
            "UTILITY",
            |t| {
                if (event_start..event_end).contains(&t) {
                    15.0
                } else {
                    25.0
                }
            },
        ),
    )
    .await;
    enroll(
        &s,
        &acme,
        &dlrp,
        json!([{ "meterId": id, "committedKw": 50.0, "startDate": "2026-06-01" }]),
    )
    .await;
    let event = past_event(
        &s,
        &dlrp,
        "2026-07-15T18:00:00Z",
        "2026-07-15T22:00:00Z",
        json!({}),
    )
    .await;

    // High 5 of 10 weekdays, all 100 kW: CBL 100 kW; the weather ratio over
    // 10:00–12:00 is 100 ÷ 100 = 1. Reduction 40 kW × 4 h = 160 kWh; 40 ÷ 50 = 0.8.
    let p = performance(&s, &acme, &event, 1).await;
    let r = row(&p, "dlrp-1");
    assert_eq!(r["status"], "MEASURED", "{r}");
    assert_eq!(r["baselineDays"].as_array().unwrap().len(), 5);
    assert_eq!(r["hourly"][0]["baselineKw"], 100.0);
    assert_eq!(
        (r["deliveredKw"].as_f64(), r["deliveredKwh"].as_f64()),
        (Some(40.0), Some(160.0))
    );
    assert_eq!(r["performanceFactor"], 0.8);

    // Season May 1 – Sep 30, enrolled from June 1, settled through July:
    // Tier 2 reservation $25 × 50 kW × 0.8 = $1,000.00 in June and in July;
    // energy 160 kWh × $1 = $160.00. In full: $1,250 × 2 + $200 = $2,700.
    let run = settled(&s, &acme, &dlrp, 1).await;
    let m = &by_meter(&run)["dlrp-1"];
    assert_eq!(
        lines(m),
        vec![
            line("2026-06", "RESERVATION", "1000.00"),
            line("2026-07", "RESERVATION", "1000.00"),
            line("2026-07", "ENERGY", "160.00"),
        ]
    );
    assert_eq!(
        (m["amount"].as_str(), m["missed"].as_str()),
        (Some("2160.00"), Some("540.00"))
    );
}

#[tokio::test]
async fn nyiso_scr_average_coincident_load_from_last_summers_peaks() {
    let s = server().await;
    let scr = program_id(&s, "NYISO_SCR").await;
    let (_, acme) = s.partner("Acme").await;
    let id = authorized(&s, &acme, coned_meter("scr-1")).await;
    // Zone J's 40 peak hours of summer 2025: 18:00Z and 19:00Z on July 1–20, 2025.
    let peaks: Vec<i64> = (0..20)
        .flat_map(|d| {
            let day = ts("2025-07-01T18:00:00Z") + d * 86_400;
            [day, day + 3600]
        })
        .collect();
    let peak_texts: Vec<String> = peaks
        .iter()
        .map(|t| {
            chrono::DateTime::from_timestamp(*t, 0)
                .unwrap()
                .to_rfc3339()
        })
        .collect();
    let changed = s
        .gql(
            Some(&s.admin_key),
            "mutation($p: ID!, $c: [ParameterChangeInput!]!) { updateProgramParameters(programId: $p, changes: $c, effectiveFrom: \"2025-01-01T00:00:00Z\") { version } }",
            json!({ "p": scr, "c": [{ "key": "peak_hours", "value": { "J": peak_texts } }] }),
        )
        .await;
    assert!(changed.get("errors").is_none(), "{changed}");
    // The meter's load in those hours: 100, 101, … 139 kW (hourly readings);
    // during the event, Wednesday July 15, 2026, 14:00–18:00 EDT: 49.5 kW.
    let mut readings: Vec<Value> = peaks
        .iter()
        .enumerate()
        .map(|(k, t)| json!({ "meterId": id, "start": chrono::DateTime::from_timestamp(*t, 0).unwrap().to_rfc3339(), "intervalMinutes": 60, "kwh": 100.0 + k as f64, "source": "UTILITY" }))
        .collect();
    readings.extend(series(
        &id,
        "2026-07-15T18:00:00Z",
        "2026-07-15T22:00:00Z",
        60,
        "UTILITY",
        |_| 49.5,
    ));
    upload(&s, &acme, readings).await;
    enroll(
        &s,
        &acme,
        &scr,
        json!([{ "meterId": id, "committedKw": 100.0, "startDate": "2026-06-01" }]),
    )
    .await;
    let event = past_event(
        &s,
        &scr,
        "2026-07-15T18:00:00Z",
        "2026-07-15T22:00:00Z",
        json!({}),
    )
    .await;

    // ACL = mean of the 20 highest (120 … 139) = 129.5 kW, flat; reduction
    // 129.5 − 49.5 = 80 kW; 80 ÷ 100 = 0.8.
    let p = performance(&s, &acme, &event, 1).await;
    let r = row(&p, "scr-1");
    assert_eq!(r["status"], "MEASURED", "{r}");
    assert_eq!(r["hourly"][0]["baselineKw"], 129.5);
    assert_eq!(
        (r["deliveredKw"].as_f64(), r["deliveredKwh"].as_f64()),
        (Some(80.0), Some(320.0))
    );
    assert_eq!(r["performanceFactor"], 0.8);

    // Summer capability period from June 1 through July: $3 × 100 kW × 0.8 =
    // $240.00 a month; energy 80 kW × max(4 h, 4 h minimum) × $0.50 = $160.00.
    let run = settled(&s, &acme, &scr, 1).await;
    assert_eq!(run["season"], "summer");
    let m = &by_meter(&run)["scr-1"];
    assert_eq!(
        lines(m),
        vec![
            line("2026-06", "CAPACITY", "240.00"),
            line("2026-07", "CAPACITY", "240.00"),
            line("2026-07", "ENERGY", "160.00"),
        ]
    );
    assert_eq!(m["amount"], "640.00");
}

#[tokio::test]
async fn ercot_ers_middle_eight_of_ten_and_time_period_hours() {
    let s = server().await;
    let ers = program_id(&s, "ERCOT_ERS").await;
    let (_, acme) = s.partner("Acme").await;
    let meter = json!({
        "externalId": "ers-1", "kind": "UTILITY_METER", "region": "TX", "utility": "ONCOR",
        "loadZone": "LZ_NORTH", "customerClass": "COMMERCIAL", "capacityKw": 400.0,
        "esiId": "10443290000123401", "attributes": { "ersTimePeriods": ["TP4"] }
    });
    let id = meters(&s, &acme, vec![meter]).await.remove(0);
    // 200 kW (50 kWh a quarter hour) from June 15 (CDT); 100 kW during the
    // event, Wednesday July 15, 16:00–18:00 CDT (21:00–23:00Z).
    let (event_start, event_end) = (ts("2026-07-15T21:00:00Z"), ts("2026-07-15T23:00:00Z"));
    upload(
        &s,
        &acme,
        series(
            &id,
            "2026-06-15T05:00:00Z",
            "2026-07-15T23:00:00Z",
            15,
            "UTILITY",
            |t| {
                if (event_start..event_end).contains(&t) {
                    25.0
                } else {
                    50.0
                }
            },
        ),
    )
    .await;
    enroll(
        &s,
        &acme,
        &ers,
        json!([{ "meterId": id, "committedKw": 100.0, "startDate": "2026-06-01" }]),
    )
    .await;
    let event = past_event(
        &s,
        &ers,
        "2026-07-15T21:00:00Z",
        "2026-07-15T23:00:00Z",
        json!({}),
    )
    .await;

    // Middle 8 of 10 weekdays, all 200 kW: 200 kW per quarter hour; the
    // adjustment over 14:00–15:00 adds 200 − 200 = 0. Reduction 100 kW, the
    // whole obligation: factor 1 (≥ 95%).
    let p = performance(&s, &acme, &event, 1).await;
    let r = row(&p, "ers-1");
    assert_eq!(r["status"], "MEASURED", "{r}");
    assert_eq!(r["baselineDays"].as_array().unwrap().len(), 10);
    assert_eq!(r["hourly"][0]["baselineKw"], 200.0);
    assert_eq!(
        (r["deliveredKw"].as_f64(), r["deliveredKwh"].as_f64()),
        (Some(100.0), Some(200.0))
    );

    // Term Jun–Sep, June 1 through July 31: TP4 is 4 weekday hours; June has
    // 22 weekdays and July 23 (July 4 is a Saturday): 45 × 4 = 180 h.
    // $5/MW-h × 0.1 MW × 180 h × 1 = $90.00.
    let run = settled(&s, &acme, &ers, 1).await;
    let m = &by_meter(&run)["ers-1"];
    assert_eq!(lines(m), vec![line("2026-07", "CAPACITY", "90.00")], "{m}");
    assert_eq!(m["missed"], "0.00");
}

#[tokio::test]
async fn massachusetts_cps_certificates_from_metered_peak_window_discharge() {
    let s = server().await;
    let cps = program_id(&s, "MA_CPS").await;
    let (_, acme) = s.partner("Acme").await;
    let mut input = battery("cps-1");
    input["commercialOperationDate"] = json!("2024-05-01");
    input["colocatedRenewableKw"] = json!(4.0);
    let id = meters(&s, &acme, vec![input]).await.remove(0);
    enroll(
        &s,
        &acme,
        &cps,
        json!([{ "meterId": id, "startDate": "2026-06-01" }]),
    )
    .await;
    // July 15: charging 1 kWh a quarter hour 02:00–04:00 EDT, discharging 1 kWh
    // a quarter hour 15:00–19:00 EDT (the summer peak window), idle otherwise.
    let (charge, discharge) = (
        (ts("2026-07-15T06:00:00Z"), ts("2026-07-15T08:00:00Z")),
        (ts("2026-07-15T19:00:00Z"), ts("2026-07-15T23:00:00Z")),
    );
    upload(
        &s,
        &acme,
        series(
            &id,
            "2026-07-15T04:00:00Z",
            "2026-07-16T04:00:00Z",
            15,
            "DEVICE",
            |t| {
                if (charge.0..charge.1).contains(&t) {
                    -1.0
                } else if (discharge.0..discharge.1).contains(&t) {
                    1.0
                } else {
                    0.0
                }
            },
        ),
    )
    .await;
    // No events: CPS settles on metered hours, here on demand.
    let run = s
        .ok(&s.admin_key, "mutation($p: ID!) { settlePeriod(programId: $p, through: \"2026-07-31\") { version } }", json!({ "p": cps }))
        .await;
    assert_eq!(run["settlePeriod"]["version"], 1);
    // 16 kWh in the window = 0.016 MWh × 4 (summer) = 0.064 certificates ×
    // $45 = $2.88; the charging hours are outside the window and earn nothing.
    let run = settled(&s, &acme, &cps, 1).await;
    assert_eq!(
        (run["periodStart"].as_str(), run["season"].as_str()),
        (Some("2026-06-01"), Some("summer"))
    );
    let m = &by_meter(&run)["cps-1"];
    assert_eq!(
        lines(m),
        vec![line("2026-07", "CLEAN_PEAK_CERTIFICATES", "2.88")],
        "{m}"
    );
    assert_eq!(m["amount"], "2.88");
}
