//! Settlement and revenue end to end: the preliminary settlement that follows
//! each performance run, a market's aggregate allocated to the cent, revenue
//! reports with fees and CSV, projected payments, tenancy.

use std::collections::BTreeMap;
use std::time::Duration;

use gridhub_tests::TestServer;
use serde_json::{json, Value};

use crate::intervals::meters;
use crate::performance::{cs_scenario, enroll, performance, program_id, CsScenario};

const RUNS: &str = "query($p: ID!, $k: SettlementKind) { settlementRuns(programId: $p, kind: $k) { id kind version periodStart periodEnd season trigger total plugin { version } meters(first: 100) { edges { node { meter { externalId } committedKw amount fullPerformanceAmount missed deliveredKwh error lines { month code amount eventId } } } } } }";
const REVENUE: &str = "query($g: [RevenueDimension!], $f: RevenueFilterInput) { revenue(groupBy: $g, filter: $f, first: 100) { totalCount edges { node { programCode month meterId externalId preliminary final amount platformFee partnerNet missed } } } }";

/// Waits for the program's current preliminary run of `version`, as `key` sees it.
pub async fn settled(s: &TestServer, key: &str, program: &str, version: i64) -> Value {
    for _ in 0..200 {
        let runs = s
            .ok(key, RUNS, json!({ "p": program, "k": "PRELIMINARY" }))
            .await["settlementRuns"]
            .clone();
        if let Some(run) = runs
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["version"].as_i64() == Some(version))
        {
            return run.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no preliminary settlement version {version} of {program}");
}

/// Settled meters of a run by external id.
pub fn by_meter(run: &Value) -> BTreeMap<String, Value> {
    run["meters"]["edges"]
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

fn amounts(run: &Value) -> BTreeMap<String, String> {
    by_meter(run)
        .into_iter()
        .map(|(k, v)| (k, v["amount"].as_str().unwrap().to_owned()))
        .collect()
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test]
async fn connected_solutions_pays_seasonal_performance_and_a_market_aggregate_splits_to_the_cent() {
    let CsScenario {
        s,
        cs,
        acme_id,
        acme,
        volt,
        zeta,
        ids,
        volt_ids,
        event,
    } = cs_scenario().await;
    performance(&s, &acme, &event, 1).await;

    // Summer: $225/kW × the mean kW over the season's events (one here).
    // 4 kW → $900.00, 2 kW → $450.00, nothing → $0.00; Volt's 5 kW → $1,125.00
    // (the program's published example). Full performance is 5 kW each: $1,125.
    let run = settled(&s, &acme, &cs, 1).await;
    assert_eq!(
        (run["periodStart"].as_str(), run["periodEnd"].as_str()),
        (Some("2026-06-01"), Some("2026-07-31"))
    );
    assert_eq!(run["season"], "summer");
    assert_eq!(run["trigger"], "EVENT_PERFORMANCE");
    assert_eq!(run["plugin"]["version"], "1.1.0");
    assert_eq!(
        amounts(&run),
        map(&[("full", "900.00"), ("half", "450.00"), ("silent", "0.00")])
    );
    assert_eq!(
        run["total"], "1350.00",
        "Acme's total counts only Acme's meters"
    );
    let full = &by_meter(&run)["full"];
    assert_eq!(
        full["lines"],
        json!([{ "month": "2026-07", "code": "SEASONAL_PERFORMANCE", "amount": "900.00", "eventId": null }])
    );
    assert_eq!(
        (
            full["fullPerformanceAmount"].as_str(),
            full["missed"].as_str()
        ),
        (Some("1125.00"), Some("225.00"))
    );
    assert_eq!(full["deliveredKwh"], 12.0);
    let volt_run = settled(&s, &volt, &cs, 1).await;
    assert_eq!(amounts(&volt_run), map(&[("volt-1", "1125.00")]));
    let zeta_run = settled(&s, &zeta, &cs, 1).await;
    assert_eq!(zeta_run["total"], "0.00");
    assert!(by_meter(&zeta_run).is_empty());

    // Revenue with a 20% platform fee and half to customers.
    s.ok(&s.admin_key, "mutation($p: ID!) { setRevenueTerms(partnerId: $p, platformFeePercent: \"20\", customerSharePercent: \"50\") { platformFeePercent } }", json!({ "p": acme_id })).await;
    let revenue = s
        .ok(
            &acme,
            REVENUE,
            json!({ "g": ["PROGRAM", "MONTH", "METER"] }),
        )
        .await["revenue"]
        .clone();
    assert_eq!(revenue["totalCount"], 3);
    let row = revenue["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .find(|n| n["externalId"] == "full")
        .unwrap();
    assert_eq!(
        row,
        json!({ "programCode": "MA_CONNECTED_SOLUTIONS", "month": "2026-07", "meterId": ids[0], "externalId": "full", "preliminary": "900.00", "final": null, "amount": "900.00", "platformFee": "180.00", "partnerNet": "720.00", "missed": "225.00" })
    );
    let by_program = s.ok(&acme, REVENUE, json!({ "g": ["PROGRAM"] })).await["revenue"]["edges"][0]
        ["node"]
        .clone();
    assert_eq!(
        (
            by_program["amount"].as_str(),
            by_program["partnerNet"].as_str()
        ),
        (Some("1350.00"), Some("1080.00"))
    );
    let csv = s
        .ok(
            &acme,
            "query { revenueCsv(groupBy: [PROGRAM, METER]) }",
            json!({}),
        )
        .await["revenueCsv"]
        .as_str()
        .unwrap()
        .to_owned();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "partner_id,program_code,month,meter_id,external_id,preliminary_usd,final_usd,amount_usd,platform_fee_usd,partner_net_usd,missed_usd");
    assert_eq!(lines.len(), 4);
    assert!(
        lines.contains(
            &format!(
                "{acme_id},MA_CONNECTED_SOLUTIONS,,{},full,900.00,,900.00,180.00,720.00,225.00",
                ids[0]
            )
            .as_str()
        ),
        "{csv}"
    );
    let zeta_revenue = s.ok(&zeta, REVENUE, json!({})).await;
    assert_eq!(zeta_revenue["revenue"]["totalCount"], 0);

    // The market pays $1,000.00 for the summer in aggregate. By delivered kWh
    // (12, 6, 0 and Volt's 15 of 33): 363.636…, 181.818…, 0, 454.545…; rounded
    // down 363.63 + 181.81 + 0 + 454.54 = 999.98, the two cents left go to the
    // largest remainders (.818 half, .636 full): 363.64, 181.82, 0, 454.54.
    let import = "mutation($in: MarketStatementInput!) { importMarketStatement(input: $in) { basis aggregateAmount settlement { kind total meters(first: 10) { edges { node { meterId amount lines { code month } } } } } comparison { meterId preliminary final difference } } }";
    let statement_input = json!({ "in": { "programId": cs, "periodStart": "2026-06-01", "periodEnd": "2026-09-30", "aggregateAmount": "1000.00", "reference": "ISO-NE 2026-S" } });
    let refused = s.err(Some(&acme), import, statement_input.clone()).await;
    assert_eq!(refused.code, "FORBIDDEN");
    let statement =
        s.ok(&s.admin_key, import, statement_input).await["importMarketStatement"].clone();
    assert_eq!(statement["basis"], "AGGREGATE");
    assert_eq!(
        statement["settlement"]["total"], "1000.00",
        "the shares sum to the aggregate"
    );
    let shares: BTreeMap<String, String> = statement["settlement"]["meters"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["node"]["meterId"].as_str().unwrap().to_owned(),
                e["node"]["amount"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(shares[&ids[0]], "363.64");
    assert_eq!(shares[&ids[1]], "181.82");
    assert_eq!(shares[&ids[2]], "0.00");
    assert_eq!(shares[&volt_ids[0]], "454.54");

    // Acme sees its own meters: preliminary vs final.
    let comparison = s
        .ok(
            &acme,
            "query($p: ID!) { settlementRuns(programId: $p, kind: FINAL) { total } }",
            json!({ "p": cs }),
        )
        .await;
    assert_eq!(comparison["settlementRuns"][0]["total"], "545.46");
    let revenue = s.ok(&acme, REVENUE, json!({ "g": ["METER"] })).await["revenue"]["edges"].clone();
    let full_row = revenue
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .find(|n| n["externalId"] == "full")
        .unwrap();
    assert_eq!(
        (
            full_row["preliminary"].as_str(),
            full_row["final"].as_str(),
            full_row["amount"].as_str(),
            full_row["platformFee"].as_str()
        ),
        (
            Some("900.00"),
            Some("363.64"),
            Some("363.64"),
            Some("72.73")
        )
    );
    let diff = s
        .ok(&s.admin_key, import, json!({ "in": { "programId": cs, "periodStart": "2026-06-01", "periodEnd": "2026-09-30", "lines": [{ "meterId": ids[0], "amount": "880.10" }] } }))
        .await["importMarketStatement"]["comparison"]
        .clone();
    let full_cmp = diff
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["meterId"] == json!(ids[0]))
        .unwrap();
    assert_eq!(
        full_cmp,
        &json!({ "meterId": ids[0], "preliminary": "900.00", "final": "880.10", "difference": "-19.90" })
    );

    // Projected for July and its quarter: the season's performance so far.
    let projected = s
        .ok(&acme, "query { projectedPayments(month: \"2026-07\") { meterId monthAmount quarterAmount customerMonthPayment } }", json!({}))
        .await["projectedPayments"]
        .clone();
    let p = projected
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["meterId"] == json!(ids[0]))
        .unwrap();
    // $900 seasonal (July's settlement); customer: 900 × 0.8 × 0.5 = $360.
    assert_eq!(
        (
            p["monthAmount"].as_str(),
            p["customerMonthPayment"].as_str()
        ),
        (Some("900.00"), Some("360.00"))
    );
    // The quarter (Jul–Sep) holds the same seasonal amount, filed at its end.
    assert_eq!(p["quarterAmount"], "900.00");
    let foreign = s
        .err(
            Some(&acme),
            "query($p: ID!) { projectedPayments(month: \"2026-07\", partnerId: $p) { meterId } }",
            json!({ "p": "ptr_0190e4a0000070008000000000000000" }),
        )
        .await;
    assert_eq!(foreign.code, "FORBIDDEN");

    // The market's CSV: per meter, then an aggregate; a bad file is refused whole.
    let csv_import = "mutation($p: ID!, $c: String!) { importMarketStatementCsv(programId: $p, periodStart: \"2026-06-01\", periodEnd: \"2026-09-30\", csv: $c) { basis settlement { version total } } }";
    let per_meter = s
        .ok(&s.admin_key, csv_import, json!({ "p": cs, "c": format!("meter_id,amount,code\n{},870.00,ISO_NE_FCM\n{},12.5,\n", ids[0], volt_ids[0]) }))
        .await["importMarketStatementCsv"]
        .clone();
    assert_eq!(
        per_meter,
        json!({ "basis": "PER_METER", "settlement": { "version": 3, "total": "882.50" } })
    );
    let bad = s
        .err(
            Some(&s.admin_key),
            csv_import,
            json!({ "p": cs, "c": "meter_id,amount\nmtr_0190e4a0000070008000000000000000,1.00\n" }),
        )
        .await;
    assert_eq!(bad.code, "VALIDATION");
    let aggregate = s
        .ok(
            &s.admin_key,
            csv_import,
            json!({ "p": cs, "c": "aggregate_amount\n1000.00\n" }),
        )
        .await["importMarketStatementCsv"]
        .clone();
    assert_eq!(
        aggregate,
        json!({ "basis": "AGGREGATE", "settlement": { "version": 4, "total": "1000.00" } })
    );
}

#[tokio::test]
async fn closed_months_are_settled_without_events() {
    let s = TestServer::start_with(|c| {
        c.bundled_plugin_dir = Some(gridhub_tests::plugins_dir());
        c.month_end_check = Duration::from_millis(200);
    })
    .await;
    let dram = program_id(&s, "CAISO_DRAM").await;
    let (_, acme) = s.partner("Acme").await;
    let meter = json!({
        "externalId": "pge-1", "kind": "UTILITY_METER", "region": "CA", "utility": "PGE",
        "loadZone": "DLAP_PGAE", "customerClass": "COMMERCIAL", "capacityKw": 150.0
    });
    let id = meters(&s, &acme, vec![meter]).await.remove(0);
    s.authorize_meter(&id).await;
    enroll(
        &s,
        &acme,
        &dram,
        json!([{ "meterId": id, "committedKw": 100.0, "startDate": "2026-06-01" }]),
    )
    .await;
    // DRAM's season is the year: every closed month since June pays capacity on
    // the contracted 100 kW (no events: demonstrated = contracted), $600 each.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::America::Los_Angeles)
        .date_naive();
    use chrono::Datelike;
    let closed_months = (today.year() - 2026) * 12 + today.month0() as i32 - 5;
    let run = settled(&s, &acme, &dram, 1).await;
    assert_eq!(run["trigger"], "MONTH_END");
    let lines = by_meter(&run)["pge-1"]["lines"].as_array().unwrap().clone();
    assert_eq!(lines.len() as i32, closed_months, "{run}");
    assert!(
        lines
            .iter()
            .all(|l| l["code"] == "CAPACITY" && l["amount"] == "600.00"),
        "{run}"
    );
    assert_eq!(lines[0]["month"], "2026-06");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let runs = s
        .ok(
            &acme,
            "query($p: ID!) { settlementRuns(programId: $p, currentOnly: false) { version } }",
            json!({ "p": dram }),
        )
        .await;
    assert_eq!(
        runs["settlementRuns"].as_array().unwrap().len(),
        1,
        "a settled month is not settled again"
    );
}
