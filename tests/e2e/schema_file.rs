//! `schema.graphql` at the repository root must equal what the server serves.
//! Regenerate with `cargo run -p gridhub-api -- schema > schema.graphql`.

use gridhub_tests::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_schema_matches_the_served_schema() {
    let s = TestServer::start().await;
    let served = s
        .client
        .get(s.url("/graphql/schema.graphql"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != served && std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(path, &served).unwrap();
    } else {
        assert!(
            committed == served,
            "schema.graphql is out of date: run `cargo run -p gridhub-api -- schema > schema.graphql` (or UPDATE_SCHEMA=1 cargo test) and commit it"
        );
    }
    assert!(served.contains("type Meter"));
    s.shutdown().await;
}
