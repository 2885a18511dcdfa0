//! The `gridhub` binary as a newcomer runs it: migrate, bootstrap a key, serve
//! with demo data, answer the README's example query, stop cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

const BIN: &str = env!("CARGO_BIN_EXE_gridhub");

fn database_url(dir: &tempfile::TempDir) -> String {
    format!("sqlite://{}/cli.db?mode=rwc", dir.path().display())
}

#[test]
fn migrate_and_bootstrap_an_admin_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(&dir);
    let migrate = Command::new(BIN)
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );

    let key = Command::new(BIN)
        .args([
            "admin",
            "--database-url",
            &url,
            "create-key",
            "--role",
            "admin",
            "--name",
            "ops",
        ])
        .output()
        .unwrap();
    assert!(
        key.status.success(),
        "{}",
        String::from_utf8_lossy(&key.stderr)
    );
    let secret = String::from_utf8(key.stdout).unwrap().trim().to_owned();
    assert!(secret.starts_with("ghk_"), "{secret}");

    let bad = Command::new(BIN)
        .args([
            "admin",
            "--database-url",
            &url,
            "create-key",
            "--role",
            "partner",
            "--name",
            "x",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success(), "a PARTNER key needs a partner");

    let schema = Command::new(BIN).arg("schema").output().unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(schema.stdout).unwrap(), committed);
}

/// Starts `gridhub serve --demo` on a free port; returns the child and its
/// GraphQL URL.
async fn serve_demo(dir: &tempfile::TempDir) -> (std::process::Child, String) {
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            &database_url(dir),
            "--plugin-cache-dir",
            &dir.path().join("cache").display().to_string(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let url = line
        .trim()
        .strip_prefix("gridhub serving on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (child, url)
}

#[tokio::test]
async fn serve_demo_answers_the_readme_query_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve_demo(&dir).await;

    let query = "{ viewer { partner { name } } meters(first: 100) { totalCount nodes { externalId region } } programs { code } }";
    let body: Value = reqwest::Client::new()
        .post(&url)
        .bearer_auth("ghk_demo_acme")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["viewer"]["partner"]["name"], "Acme Storage Co.",
        "{body}"
    );
    assert_eq!(body["data"]["meters"]["totalCount"], 12);
    assert_eq!(body["data"]["programs"].as_array().unwrap().len(), 6);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = tokio::time::timeout(
        Duration::from_secs(20),
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .expect("server stops within 20 s of SIGTERM")
    .unwrap()
    .unwrap();
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");
}

/// Runs `gridhub intervals upload` against `url`; returns (success, stdout, stderr).
fn upload(url: &str, file: &std::path::Path, extra: &[&str]) -> (bool, String, String) {
    let base = url.trim_end_matches("/graphql");
    let out = Command::new(BIN)
        .args(["intervals", "upload"])
        .arg(file)
        .args([
            "--url",
            base,
            "--api-key",
            "ghk_demo_acme",
            "--chunk-size",
            "10",
        ])
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn intervals_upload_sends_a_file_in_chunks_and_a_bad_file_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, url) = serve_demo(&dir).await;

    // Two demo batteries, 24 hourly readings each: 48 rows, 5 chunks of 10.
    let mut csv = String::from("external_id,start,interval_minutes,kwh\n");
    for meter in ["acme-ma-001", "acme-ma-002"] {
        for h in 0..24 {
            csv.push_str(&format!(
                "{meter},2026-07-01T{h:02}:00:00Z,60,{}\n",
                0.5 + f64::from(h) / 10.0
            ));
        }
    }
    let good = dir.path().join("good.csv");
    std::fs::write(&good, &csv).unwrap();
    let (ok, out, err) = upload(&url, &good, &[]);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("48 rows: 48 inserted, 0 corrected, 0 unchanged, 0 rejected"),
        "{out}"
    );
    let (ok, out, _) = upload(&url, &good, &[]);
    assert!(ok);
    assert!(
        out.contains("48 rows: 0 inserted, 0 corrected, 48 unchanged, 0 rejected"),
        "{out}"
    );

    // Line 5 names another partner's meter, line 8 is not a number: the file
    // is checked whole first, so its good lines are not stored either.
    let mut bad = String::from("external_id,start,interval_minutes,kwh\n");
    for h in 0..10 {
        let meter = if h == 3 { "volt-ma-001" } else { "acme-ma-003" };
        let kwh = if h == 6 {
            "abc".to_owned()
        } else {
            "1.0".to_owned()
        };
        bad.push_str(&format!("{meter},2026-07-02T{h:02}:00:00Z,60,{kwh}\n"));
    }
    let bad_file = dir.path().join("bad.csv");
    std::fs::write(&bad_file, &bad).unwrap();
    let (ok, _, err) = upload(&url, &bad_file, &[]);
    assert!(!ok);
    assert!(err.contains("line 5: UNKNOWN_METER"), "{err}");
    assert!(err.contains("line 8: MALFORMED_ROW"), "{err}");
    assert!(err.contains("nothing was stored"), "{err}");
    let query = "{ meters(first: 100, filter: { externalIds: [\"acme-ma-003\"] }) { nodes { intervalSeries { readingCount } } } }";
    let body: Value = reqwest::Client::new()
        .post(&url)
        .bearer_auth("ghk_demo_acme")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["data"]["meters"]["nodes"][0]["intervalSeries"],
        json!([]),
        "{body}"
    );

    // --skip-invalid stores the 8 good lines and still reports the 2 others.
    let (ok, out, err) = upload(&url, &bad_file, &["--skip-invalid"]);
    assert!(!ok, "refused rows make the exit status non-zero");
    assert!(
        out.contains("10 rows: 8 inserted, 0 corrected, 0 unchanged, 2 rejected"),
        "{out}{err}"
    );
    child.kill().ok();
    child.wait().ok();
}
