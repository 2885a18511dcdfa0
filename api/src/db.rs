//! Database connection: SQLite (embedded default) or PostgreSQL, migrations, and
//! write transactions.
//!
//! SQLite allows one writer at a time and fails a deferred transaction that tries
//! to upgrade from read to write while another writer is active (`SQLITE_BUSY`,
//! with no waiting). One SQLite file is only ever served by one process, so on
//! SQLite we serialize write transactions through an in-process mutex; on
//! PostgreSQL, transactions run concurrently and replicas share the database.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use gridhub_migrations::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait,
};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Where the embedded database lives when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/gridhub.db?mode=rwc";

#[derive(Clone)]
pub struct Db {
    conn: DatabaseConnection,
    write_lock: Option<Arc<Mutex<()>>>,
    statements: Arc<AtomicU64>,
}

impl Db {
    /// Connects, creating the SQLite file (and its directory) when needed.
    pub async fn connect(url: &str) -> Result<Self, DbErr> {
        let is_sqlite = url.starts_with("sqlite:");
        if is_sqlite {
            ensure_sqlite_dir(url);
        }
        let mut opts = ConnectOptions::new(url.to_owned());
        opts.sqlx_logging(false)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(30));
        if is_sqlite {
            opts.max_connections(8).min_connections(1);
            opts.map_sqlx_sqlite_opts(|o| {
                o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        } else {
            opts.max_connections(20).min_connections(1);
        }
        let mut conn = Database::connect(opts).await?;
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        conn.set_metric_callback(move |_info| {
            counter.fetch_add(1, Ordering::Relaxed);
        });
        Ok(Self {
            write_lock: is_sqlite.then(|| Arc::new(Mutex::new(()))),
            conn,
            statements,
        })
    }

    pub fn conn(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Total SQL statements executed through this connection pool (exported on
    /// `/metrics`; tests use it to prove that nested fields are batched).
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.conn, None).await
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.conn.ping().await
    }

    /// Begins a transaction that will write. Every multi-row change goes through
    /// one of these so that a failure leaves nothing half-written.
    pub async fn begin_write(&self) -> Result<WriteTxn, DbErr> {
        let guard = match &self.write_lock {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        };
        let txn = self.conn.begin().await?;
        Ok(WriteTxn { txn, _guard: guard })
    }
}

/// A write transaction; dropped without [`WriteTxn::commit`] it rolls back.
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _guard: Option<OwnedMutexGuard<()>>,
}

impl WriteTxn {
    pub async fn commit(self) -> Result<(), DbErr> {
        self.txn.commit().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;
    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

fn ensure_sqlite_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        if !parent.as_os_str().is_empty() {
            if let Err(err) = std::fs::create_dir_all(parent) {
                tracing::warn!(?parent, %err, "could not create the database directory");
            }
        }
    }
}
