//! Schema migrations for gridhub, written with sea-orm-migration's portable schema
//! builder so the same migrations run on SQLite (embedded default) and PostgreSQL.
//!
//! Rules for new migrations: never edit one that has shipped; add a new module and
//! list it last in [`Migrator::migrations`].

pub use sea_orm_migration::prelude::*;

mod columns;
mod m20261123_000001_foundation;
mod m20261123_000002_plugins_enrollments;
mod m20261123_000003_dispatch;
mod m20261123_000004_webhooks;
mod m20261123_000005_intervals;
mod m20261123_000006_performance;
mod m20261123_000007_settlement;
mod m20261123_000008_connect;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_foundation::Migration),
            Box::new(m20261123_000002_plugins_enrollments::Migration),
            Box::new(m20261123_000003_dispatch::Migration),
            Box::new(m20261123_000004_webhooks::Migration),
            Box::new(m20261123_000005_intervals::Migration),
            Box::new(m20261123_000006_performance::Migration),
            Box::new(m20261123_000007_settlement::Migration),
            Box::new(m20261123_000008_connect::Migration),
        ]
    }
}
