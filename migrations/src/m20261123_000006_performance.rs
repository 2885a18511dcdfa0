//! Event performance: one run per computation of an event (versions are kept;
//! one is current), one row per meter and run, and the durable queue of
//! computations due (event completed, late data).

use sea_orm_migration::prelude::*;

use crate::columns::{double, double_null, id, int, text, text_null, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PerformanceRuns {
    Table,
    Id,
    EventId,
    ProgramId,
    Version,
    Current,
    Trigger,
    PluginId,
    PluginVersion,
    PluginSha256,
    ParameterVersionId,
    Threshold,
    MeterCount,
    CommittedKw,
    DeliveredKw,
    UnderPerformingCount,
    MissingDataCount,
    RequestedBy,
    DurationMs,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MeterPerformances {
    Table,
    Id,
    RunId,
    EventId,
    MeterId,
    PartnerId,
    DispatchId,
    Status,
    CommittedKw,
    DeliveredKw,
    DeliveredKwh,
    PerformanceFactor,
    UnderPerforming,
    BaselineMethod,
    Measure,
    DaysUsed,
    Notes,
    Intervals,
    Error,
}

#[derive(DeriveIden)]
enum PerformanceJobs {
    Table,
    Id,
    EventId,
    Reason,
    Status,
    NotBefore,
    Attempts,
    ClaimedAt,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PerformanceRuns::Table)
                    .col(id(PerformanceRuns::Id))
                    .col(text(PerformanceRuns::EventId))
                    .col(text(PerformanceRuns::ProgramId))
                    .col(int(PerformanceRuns::Version))
                    .col(
                        ColumnDef::new(PerformanceRuns::Current)
                            .boolean()
                            .not_null(),
                    )
                    .col(text(PerformanceRuns::Trigger))
                    .col(text(PerformanceRuns::PluginId))
                    .col(text(PerformanceRuns::PluginVersion))
                    .col(text(PerformanceRuns::PluginSha256))
                    .col(text(PerformanceRuns::ParameterVersionId))
                    .col(double(PerformanceRuns::Threshold))
                    .col(int(PerformanceRuns::MeterCount))
                    .col(double(PerformanceRuns::CommittedKw))
                    .col(double(PerformanceRuns::DeliveredKw))
                    .col(int(PerformanceRuns::UnderPerformingCount))
                    .col(int(PerformanceRuns::MissingDataCount))
                    .col(text(PerformanceRuns::RequestedBy))
                    .col(
                        ColumnDef::new(PerformanceRuns::DurationMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ts(PerformanceRuns::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // One version number per event; two replicas racing lose one insert.
        manager
            .create_index(
                Index::create()
                    .name("ux_performance_runs_event_version")
                    .table(PerformanceRuns::Table)
                    .col(PerformanceRuns::EventId)
                    .col(PerformanceRuns::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MeterPerformances::Table)
                    .col(id(MeterPerformances::Id))
                    .col(text(MeterPerformances::RunId))
                    .col(text(MeterPerformances::EventId))
                    .col(text(MeterPerformances::MeterId))
                    .col(text(MeterPerformances::PartnerId))
                    .col(text(MeterPerformances::DispatchId))
                    .col(text(MeterPerformances::Status))
                    .col(double(MeterPerformances::CommittedKw))
                    .col(double_null(MeterPerformances::DeliveredKw))
                    .col(double_null(MeterPerformances::DeliveredKwh))
                    .col(double_null(MeterPerformances::PerformanceFactor))
                    .col(
                        ColumnDef::new(MeterPerformances::UnderPerforming)
                            .boolean()
                            .not_null(),
                    )
                    .col(text_null(MeterPerformances::BaselineMethod))
                    .col(text_null(MeterPerformances::Measure))
                    .col(
                        ColumnDef::new(MeterPerformances::DaysUsed)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MeterPerformances::Notes)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MeterPerformances::Intervals)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text_null(MeterPerformances::Error))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_meter_performances_run")
                    .table(MeterPerformances::Table)
                    .col(MeterPerformances::RunId)
                    .col(MeterPerformances::PartnerId)
                    .col(MeterPerformances::MeterId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_meter_performances_meter")
                    .table(MeterPerformances::Table)
                    .col(MeterPerformances::MeterId)
                    .col(MeterPerformances::EventId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PerformanceJobs::Table)
                    .col(id(PerformanceJobs::Id))
                    .col(text(PerformanceJobs::EventId))
                    .col(text(PerformanceJobs::Reason))
                    .col(text(PerformanceJobs::Status))
                    .col(ts(PerformanceJobs::NotBefore))
                    .col(int(PerformanceJobs::Attempts))
                    .col(
                        ColumnDef::new(PerformanceJobs::ClaimedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(text_null(PerformanceJobs::LastError))
                    .col(ts(PerformanceJobs::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_performance_jobs_due")
                    .table(PerformanceJobs::Table)
                    .col(PerformanceJobs::Status)
                    .col(PerformanceJobs::NotBefore)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_performance_jobs_event")
                    .table(PerformanceJobs::Table)
                    .col(PerformanceJobs::EventId)
                    .col(PerformanceJobs::Status)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PerformanceJobs::Table.into_iden(),
            MeterPerformances::Table.into_iden(),
            PerformanceRuns::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
