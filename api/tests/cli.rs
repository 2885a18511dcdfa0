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

#[tokio::test]
async fn serve_demo_answers_the_readme_query_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "serve",
            "--demo",
            "--bind",
            "127.0.0.1:0",
            "--database-url",
            &database_url(&dir),
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
