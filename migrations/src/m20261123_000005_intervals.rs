//! Interval data: readings (the largest table), the per-series summary the
//! upload path and eligibility read, the history of corrected readings, and a
//! record of every upload.
//!
//! Readings are keyed `(meter_id, source, channel, start_ts)` with the start as
//! unix seconds: the key is the (meter, ts) index every read uses, and on SQLite
//! the table is `WITHOUT ROWID` so rows are stored in key order. On PostgreSQL
//! the same key serves; `docs/intervals.md` describes partitioning by time for
//! very large installations.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend};

use crate::columns::{big, id, text, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum IntervalSeries {
    Table,
    MeterId,
    Source,
    Channel,
    IntervalSeconds,
    FirstTs,
    LastTs,
    ReadingCount,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IntervalCorrections {
    Table,
    Id,
    MeterId,
    Source,
    Channel,
    StartTs,
    PreviousKwh,
    Kwh,
    UploadId,
    CorrectedAt,
}

#[derive(DeriveIden)]
enum IntervalUploads {
    Table,
    Id,
    PartnerId,
    CreatedBy,
    Format,
    Status,
    Received,
    Inserted,
    Corrected,
    Unchanged,
    Rejected,
    FirstTs,
    LastTs,
    CreatedAt,
}

const READINGS_SQLITE: &str = "CREATE TABLE interval_readings (
    meter_id TEXT NOT NULL,
    source TEXT NOT NULL,
    channel TEXT NOT NULL,
    start_ts INTEGER NOT NULL,
    interval_seconds INTEGER NOT NULL,
    kwh REAL NOT NULL,
    PRIMARY KEY (meter_id, source, channel, start_ts)
) WITHOUT ROWID";

const READINGS_POSTGRES: &str = "CREATE TABLE interval_readings (
    meter_id TEXT NOT NULL,
    source TEXT NOT NULL,
    channel TEXT NOT NULL,
    start_ts BIGINT NOT NULL,
    interval_seconds INTEGER NOT NULL,
    kwh DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (meter_id, source, channel, start_ts)
)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let sql = match db.get_database_backend() {
            DatabaseBackend::Sqlite => READINGS_SQLITE,
            _ => READINGS_POSTGRES,
        };
        db.execute_unprepared(sql).await?;

        manager
            .create_table(
                Table::create()
                    .table(IntervalSeries::Table)
                    .col(text(IntervalSeries::MeterId))
                    .col(text(IntervalSeries::Source))
                    .col(text(IntervalSeries::Channel))
                    .col(
                        ColumnDef::new(IntervalSeries::IntervalSeconds)
                            .integer()
                            .not_null(),
                    )
                    .col(big(IntervalSeries::FirstTs))
                    .col(big(IntervalSeries::LastTs))
                    .col(big(IntervalSeries::ReadingCount))
                    .col(ts(IntervalSeries::UpdatedAt))
                    .primary_key(
                        Index::create()
                            .col(IntervalSeries::MeterId)
                            .col(IntervalSeries::Source)
                            .col(IntervalSeries::Channel),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IntervalCorrections::Table)
                    .col(id(IntervalCorrections::Id))
                    .col(text(IntervalCorrections::MeterId))
                    .col(text(IntervalCorrections::Source))
                    .col(text(IntervalCorrections::Channel))
                    .col(big(IntervalCorrections::StartTs))
                    .col(
                        ColumnDef::new(IntervalCorrections::PreviousKwh)
                            .double()
                            .not_null(),
                    )
                    .col(ColumnDef::new(IntervalCorrections::Kwh).double().not_null())
                    .col(text(IntervalCorrections::UploadId))
                    .col(ts(IntervalCorrections::CorrectedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_interval_corrections_reading")
                    .table(IntervalCorrections::Table)
                    .col(IntervalCorrections::MeterId)
                    .col(IntervalCorrections::StartTs)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IntervalUploads::Table)
                    .col(id(IntervalUploads::Id))
                    .col(text(IntervalUploads::PartnerId))
                    .col(text(IntervalUploads::CreatedBy))
                    .col(text(IntervalUploads::Format))
                    .col(text(IntervalUploads::Status))
                    .col(big(IntervalUploads::Received))
                    .col(big(IntervalUploads::Inserted))
                    .col(big(IntervalUploads::Corrected))
                    .col(big(IntervalUploads::Unchanged))
                    .col(big(IntervalUploads::Rejected))
                    .col(
                        ColumnDef::new(IntervalUploads::FirstTs)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(IntervalUploads::LastTs).big_integer().null())
                    .col(ts(IntervalUploads::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_interval_uploads_partner")
                    .table(IntervalUploads::Table)
                    .col(IntervalUploads::PartnerId)
                    .col(IntervalUploads::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IntervalUploads::Table.into_iden(),
            IntervalCorrections::Table.into_iden(),
            IntervalSeries::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE interval_readings")
            .await?;
        Ok(())
    }
}
