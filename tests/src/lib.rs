//! Test harness: starts a real gridhub server in-process on a free port with a
//! fresh database, and talks to it over HTTP like any client.
//!
//! The database is a temporary SQLite file, or, when `GRIDHUB_TEST_POSTGRES_URL`
//! is set (e.g. `postgres://postgres@127.0.0.1:55432/postgres`), a new
//! PostgreSQL database created for each server.

pub mod browser;
pub mod connect_customer;
pub mod partner_site;
pub mod webhook_receiver;
pub mod ws_client;

use gridhub_api::config::ServerConfig;
use gridhub_api::domain::Role;
use gridhub_api::server::{self, RunningServer};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{json, Value};

pub const POSTGRES_ENV: &str = "GRIDHUB_TEST_POSTGRES_URL";

pub struct TestServer {
    pub base: String,
    pub admin_key: String,
    pub client: reqwest::Client,
    server: Option<RunningServer>,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
    _cache: tempfile::TempDir,
}

/// A fresh database URL: SQLite in a temporary directory, or a new PostgreSQL database.
pub async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    match std::env::var(POSTGRES_ENV) {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("gridhub_t_{}", uuid::Uuid::now_v7().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to the PostgreSQL test server");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create test database");
            admin.close().await.ok();
            (replace_database(&admin_url, &name), None)
        }
        _ => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}/gridhub.db?mode=rwc", dir.path().display());
            (url, Some(dir))
        }
    }
}

fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..].find('/').map(|i| i + scheme_end);
    let host = match path_start {
        Some(i) => &base[..i],
        None => base,
    };
    match query {
        Some(q) => format!("{host}/{name}?{q}"),
        None => format!("{host}/{name}"),
    }
}

/// Server logs go to the test's captured output (shown for failing tests).
fn init_logging() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,gridhub_api=info".into()),
        )
        .with_test_writer()
        .try_init();
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut ServerConfig)) -> Self {
        let (database_url, dir) = fresh_database().await;
        Self::start_on(database_url, dir, configure).await
    }

    /// Another server (a second replica) on this server's database.
    pub async fn replica(&self, configure: impl FnOnce(&mut ServerConfig)) -> Self {
        Self::start_on(self.database_url.clone(), None, configure).await
    }

    async fn start_on(
        database_url: String,
        dir: Option<tempfile::TempDir>,
        configure: impl FnOnce(&mut ServerConfig),
    ) -> Self {
        init_logging();
        let cache = tempfile::tempdir().expect("temp dir");
        let mut config = ServerConfig {
            database_url: database_url.clone(),
            bind: "127.0.0.1:0".parse().unwrap(),
            plugin_cache_dir: Some(cache.path().to_owned()),
            ..ServerConfig::default()
        };
        configure(&mut config);
        let server = server::start(config).await.expect("server starts");
        // Bootstrap an admin key the way `gridhub admin create-key` does.
        let admin = server
            .services
            .api_keys
            .issue(None, Role::Admin, None, "test admin".into(), None)
            .await
            .expect("admin key");
        Self {
            base: format!("http://{}", server.addr),
            admin_key: admin.secret.expect("fresh key has a secret"),
            client: reqwest::Client::new(),
            server: Some(server),
            database_url,
            _dir: dir,
            _cache: cache,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn shutdown(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    /// POSTs a GraphQL request and returns the whole response body.
    pub async fn gql(&self, key: Option<&str>, query: &str, variables: Value) -> Value {
        let mut req = self
            .client
            .post(self.url("/graphql"))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(key) = key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.expect("request sent");
        resp.json().await.expect("JSON body")
    }

    /// Runs a request that must succeed and returns its `data`.
    pub async fn ok(&self, key: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(Some(key), query, variables).await;
        assert!(
            body.get("errors").is_none(),
            "unexpected errors: {}",
            serde_json::to_string_pretty(&body).unwrap()
        );
        body["data"].clone()
    }

    /// Runs a request that must fail and returns its first error.
    pub async fn err(&self, key: Option<&str>, query: &str, variables: Value) -> GqlError {
        let body = self.gql(key, query, variables).await;
        let error = body["errors"]
            .get(0)
            .unwrap_or_else(|| panic!("expected an error, got {body}"))
            .clone();
        GqlError {
            code: error["extensions"]["code"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            error,
            body,
        }
    }

    /// Creates a partner with a PARTNER key; returns (partner id, key secret).
    pub async fn partner(&self, name: &str) -> (String, String) {
        let data = self
            .ok(
                &self.admin_key,
                "mutation($n: String!) { createPartner(name: $n) { id } }",
                json!({ "n": name }),
            )
            .await;
        let id = data["createPartner"]["id"].as_str().unwrap().to_owned();
        let key = self.key(Role::Partner, Some(&id)).await;
        (id, key)
    }

    /// Issues a key of `role` through the API.
    pub async fn key(&self, role: Role, partner_id: Option<&str>) -> String {
        let data = self
            .ok(
                &self.admin_key,
                "mutation($r: Role!, $p: ID) { createApiKey(role: $r, name: \"test\", partnerId: $p) { secret } }",
                json!({ "r": role.as_str(), "p": partner_id }),
            )
            .await;
        data["createApiKey"]["secret"].as_str().unwrap().to_owned()
    }

    /// SQL statements executed by the server so far (from `/metrics`).
    pub async fn statements(&self) -> u64 {
        let text = self
            .client
            .get(self.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("gridhub_db_statements_total "))
            .and_then(|v| v.trim().parse().ok())
            .expect("statement counter in /metrics")
    }
}

impl TestServer {
    /// Stops the server (its background workers too) but keeps its database,
    /// so a [`TestServer::replica`] can carry on from where it stopped.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown().await;
        }
    }

    /// The running server's services (benchmarks prepare bulk data with them).
    pub fn services(&self) -> &gridhub_api::services::Services {
        &self.server.as_ref().expect("running").services
    }

    /// Marks a meter AUTHORIZED directly in the database, for tests of
    /// program rules and settlement that are not about how the customer
    /// authorized (the Connect flow has its own tests in `e2e/connect.rs`).
    pub async fn authorize_meter(&self, meter_id: &str) {
        use gridhub_api::entity::meter;
        use sea_orm::{sea_query::Expr, ColumnTrait, EntityTrait, QueryFilter};
        let services = &self.server.as_ref().expect("running").services;
        let done = meter::Entity::update_many()
            .col_expr(
                meter::Column::AuthorizationStatus,
                Expr::value("AUTHORIZED"),
            )
            .filter(meter::Column::Id.eq(meter_id))
            .exec(services.db.conn())
            .await
            .expect("authorize meter");
        assert_eq!(done.rows_affected, 1);
    }
}

impl TestServer {
    /// Moves a Connect session's expiry into the past (time passing).
    pub async fn expire_connect_session(&self, id: &str) {
        use gridhub_api::entity::connect_session as session;
        use sea_orm::{EntityTrait, QueryFilter};
        self.set_past(
            session::Entity::update_many()
                .col_expr(
                    session::Column::ExpiresAt,
                    sea_orm::sea_query::Expr::value(
                        chrono::Utc::now() - chrono::Duration::seconds(1),
                    ),
                )
                .filter(sea_orm::ColumnTrait::eq(&session::Column::Id, id)),
        )
        .await;
    }

    /// Moves a utility authorization's expiry into the past (time passing).
    pub async fn expire_authorization(&self, id: &str) {
        use gridhub_api::entity::utility_authorization as authorization;
        use sea_orm::{EntityTrait, QueryFilter};
        self.set_past(
            authorization::Entity::update_many()
                .col_expr(
                    authorization::Column::ExpiresAt,
                    sea_orm::sea_query::Expr::value(
                        chrono::Utc::now() - chrono::Duration::seconds(1),
                    ),
                )
                .filter(sea_orm::ColumnTrait::eq(&authorization::Column::Id, id)),
        )
        .await;
    }

    async fn set_past<E: sea_orm::EntityTrait>(&self, update: sea_orm::UpdateMany<E>) {
        let done = update
            .exec(self.services().db.conn())
            .await
            .expect("update");
        assert_eq!(done.rows_affected, 1);
    }
}

/// Slows the background pollers (event clock, webhook worker, notification
/// relay) to once an hour, for tests that count SQL statements.
pub fn quiet(c: &mut ServerConfig) {
    let hour = std::time::Duration::from_secs(3600);
    c.event_clock = hour;
    c.notification_poll = hour;
    c.webhooks.poll_interval = hour;
    c.performance_poll = hour;
    c.month_end_check = hour;
}

/// The folder `scripts/build-plugins.sh` writes the program plugins to.
pub fn plugins_dir() -> std::path::PathBuf {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../target/plugins").into()
}

/// A plugin built by `scripts/build-plugins.sh`: a program plugin from
/// `target/plugins/`, or a test plugin (`plugin-test-*`) from `target/test-plugins/`.
pub fn plugin_bytes(name: &str) -> Vec<u8> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../target");
    let dir = if name.starts_with("plugin-test-") {
        "test-plugins"
    } else {
        "plugins"
    };
    let path = format!("{root}/{dir}/{name}.wasm");
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!("{path}: {e}. Build the plugins first (scripts/test.sh does it)")
    })
}

pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[derive(Debug)]
pub struct GqlError {
    pub code: String,
    pub message: String,
    pub error: Value,
    pub body: Value,
}

/// A valid battery meter input for Massachusetts.
pub fn battery(external_id: &str) -> Value {
    json!({
        "externalId": external_id,
        "kind": "DEVICE",
        "deviceType": "BATTERY",
        "region": "MA",
        "utility": "EVERSOURCE",
        "loadZone": "NEMA",
        "customerClass": "RESIDENTIAL",
        "capacityKw": 5.0,
        "energyKwh": 13.5,
        "serviceAddress": { "line1": "1 Main St", "city": "Boston", "postalCode": "02110" }
    })
}

/// A valid Con Edison utility meter input.
pub fn coned_meter(external_id: &str) -> Value {
    json!({
        "externalId": external_id,
        "kind": "UTILITY_METER",
        "region": "NY",
        "utility": "CONED",
        "loadZone": "J",
        "customerClass": "COMMERCIAL",
        "capacityKw": 250.0,
        "networkTier": "TIER_2",
        "utilityAccountNumber": "49-1234-5678"
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            super::replace_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            super::replace_database("postgres://u@h/postgres?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
