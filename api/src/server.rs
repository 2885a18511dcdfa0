//! Starting and stopping a server: used by `gridhub serve` and by the tests.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::ServerConfig;
use crate::db::Db;
use crate::error::ApiError;
use crate::graphql;
use crate::http::{self, AppState};
use crate::rules::RulesHost;
use crate::seed;
use crate::services::Services;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error("seeding data: {0}")]
    Seed(#[from] ApiError),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Connects, migrates, and seeds the program catalog (and demo data if asked).
pub async fn prepare(config: &ServerConfig) -> Result<Services, StartError> {
    let db = Db::connect(&config.database_url).await?;
    db.migrate().await?;
    let rules = RulesHost::new(config.rules_limits.clone(), config.plugin_cache_dir.clone())
        .map_err(ApiError::from)?;
    let services = Services::new(db, Arc::new(rules), config);
    let seeded = services
        .programs
        .seed(&seed::programs::default_programs())
        .await?;
    if seeded > 0 {
        tracing::info!(seeded, "seeded market programs");
    }
    if let Some(dir) = &config.bundled_plugin_dir {
        services.plugins.install_bundled(dir).await?;
    }
    services.plugins.sync().await?;
    if config.demo {
        seed::demo::load(&services).await?;
    }
    Ok(services)
}

/// A server running in the background.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub services: Services,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    background: Vec<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting connections, lets in-flight requests finish, and waits.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        for task in &self.background {
            task.abort();
        }
        match self.task.await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => tracing::error!(%err, "server stopped with an error"),
            Err(err) => tracing::error!(%err, "server task failed"),
        }
    }
}

pub async fn start(mut config: ServerConfig) -> Result<RunningServer, StartError> {
    // Bound first, so links can name the actual port (`--bind 127.0.0.1:0`).
    let listener = TcpListener::bind(config.bind)
        .await
        .map_err(|source| StartError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| StartError::Bind {
        addr: config.bind,
        source,
    })?;
    config.bind = addr;
    let services = prepare(&config).await?;
    let background = vec![
        services.plugins.spawn_refresh(config.plugin_refresh),
        services.events.spawn_clock(config.event_clock),
        services.webhooks.spawn_worker(),
        services.notifications.spawn_relay(config.notification_poll),
        services.performance.spawn_worker(config.performance_poll),
        services.settlement.spawn_month_end(config.month_end_check),
        services
            .connect
            .spawn_sweeper(config.connect.sweep_interval),
        services.utility_sync.spawn_worker(),
    ];
    let state = AppState {
        schema: graphql::build_schema(Some(services.clone())),
        services: services.clone(),
        metrics: Arc::new(http::Metrics::default()),
        ws_init_timeout: config.ws_init_timeout,
        public_https: config.public_url().starts_with("https://"),
        trust_forwarded: config.trust_forwarded_for,
    };
    let app = http::router(state, config.max_body_bytes);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            let _ = rx.await;
        })
        .await
    });
    tracing::info!(%addr, "gridhub listening; GraphQL at /graphql");
    Ok(RunningServer {
        addr,
        services,
        shutdown: tx,
        task,
        background,
    })
}
