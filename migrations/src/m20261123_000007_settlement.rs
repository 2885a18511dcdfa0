//! Settlement: versioned runs per program and period (preliminary from our
//! measurements, final from the market's statement), per-meter totals and
//! line items in exact cents, the imported market statements, and each
//! partner's revenue terms.

use sea_orm_migration::prelude::*;

use crate::columns::{big, id, text, text_null, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum SettlementRuns {
    Table,
    Id,
    ProgramId,
    Kind,
    PeriodStart,
    PeriodEnd,
    Season,
    Version,
    Current,
    Trigger,
    StatementId,
    PluginId,
    PluginVersion,
    PluginSha256,
    ParameterVersionId,
    MeterCount,
    TotalCents,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SettlementMeters {
    Table,
    Id,
    RunId,
    MeterId,
    PartnerId,
    CommittedKw,
    AmountCents,
    FullPerformanceCents,
    FullByMonth,
    Weight,
    Notes,
    Error,
}

#[derive(DeriveIden)]
enum SettlementLines {
    Table,
    Id,
    RunId,
    MeterId,
    PartnerId,
    Month,
    EventId,
    Code,
    Description,
    Quantity,
    Unit,
    Rate,
    AmountCents,
}

#[derive(DeriveIden)]
enum MarketStatements {
    Table,
    Id,
    ProgramId,
    PeriodStart,
    PeriodEnd,
    Basis,
    AggregateCents,
    Reference,
    ImportedBy,
    ImportedAt,
}

#[derive(DeriveIden)]
enum PartnerRevenueTerms {
    Table,
    PartnerId,
    PlatformFeePercent,
    CustomerSharePercent,
    UpdatedBy,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SettlementRuns::Table)
                    .col(id(SettlementRuns::Id))
                    .col(text(SettlementRuns::ProgramId))
                    .col(text(SettlementRuns::Kind))
                    .col(text(SettlementRuns::PeriodStart))
                    .col(text(SettlementRuns::PeriodEnd))
                    .col(text_null(SettlementRuns::Season))
                    .col(ColumnDef::new(SettlementRuns::Version).integer().not_null())
                    .col(ColumnDef::new(SettlementRuns::Current).boolean().not_null())
                    .col(text(SettlementRuns::Trigger))
                    .col(text_null(SettlementRuns::StatementId))
                    .col(text_null(SettlementRuns::PluginId))
                    .col(text_null(SettlementRuns::PluginVersion))
                    .col(text_null(SettlementRuns::PluginSha256))
                    .col(text_null(SettlementRuns::ParameterVersionId))
                    .col(
                        ColumnDef::new(SettlementRuns::MeterCount)
                            .integer()
                            .not_null(),
                    )
                    .col(big(SettlementRuns::TotalCents))
                    .col(text(SettlementRuns::CreatedBy))
                    .col(ts(SettlementRuns::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_settlement_runs_version")
                    .table(SettlementRuns::Table)
                    .col(SettlementRuns::ProgramId)
                    .col(SettlementRuns::Kind)
                    .col(SettlementRuns::PeriodStart)
                    .col(SettlementRuns::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SettlementMeters::Table)
                    .col(id(SettlementMeters::Id))
                    .col(text(SettlementMeters::RunId))
                    .col(text(SettlementMeters::MeterId))
                    .col(text(SettlementMeters::PartnerId))
                    .col(
                        ColumnDef::new(SettlementMeters::CommittedKw)
                            .double()
                            .not_null(),
                    )
                    .col(big(SettlementMeters::AmountCents))
                    .col(
                        ColumnDef::new(SettlementMeters::FullPerformanceCents)
                            .big_integer()
                            .null(),
                    )
                    // `{ "YYYY-MM": cents }`: what full performance earns per month.
                    .col(
                        ColumnDef::new(SettlementMeters::FullByMonth)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SettlementMeters::Weight).double().not_null())
                    .col(
                        ColumnDef::new(SettlementMeters::Notes)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text_null(SettlementMeters::Error))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_settlement_meters_run")
                    .table(SettlementMeters::Table)
                    .col(SettlementMeters::RunId)
                    .col(SettlementMeters::PartnerId)
                    .col(SettlementMeters::MeterId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SettlementLines::Table)
                    .col(id(SettlementLines::Id))
                    .col(text(SettlementLines::RunId))
                    .col(text(SettlementLines::MeterId))
                    .col(text(SettlementLines::PartnerId))
                    .col(text(SettlementLines::Month))
                    .col(text_null(SettlementLines::EventId))
                    .col(text(SettlementLines::Code))
                    .col(text(SettlementLines::Description))
                    .col(
                        ColumnDef::new(SettlementLines::Quantity)
                            .double()
                            .not_null(),
                    )
                    .col(text(SettlementLines::Unit))
                    .col(text(SettlementLines::Rate))
                    .col(big(SettlementLines::AmountCents))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_settlement_lines_run")
                    .table(SettlementLines::Table)
                    .col(SettlementLines::RunId)
                    .col(SettlementLines::PartnerId)
                    .col(SettlementLines::MeterId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(MarketStatements::Table)
                    .col(id(MarketStatements::Id))
                    .col(text(MarketStatements::ProgramId))
                    .col(text(MarketStatements::PeriodStart))
                    .col(text(MarketStatements::PeriodEnd))
                    .col(text(MarketStatements::Basis))
                    .col(
                        ColumnDef::new(MarketStatements::AggregateCents)
                            .big_integer()
                            .null(),
                    )
                    .col(text_null(MarketStatements::Reference))
                    .col(text(MarketStatements::ImportedBy))
                    .col(ts(MarketStatements::ImportedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(PartnerRevenueTerms::Table)
                    .col(id(PartnerRevenueTerms::PartnerId))
                    .col(text(PartnerRevenueTerms::PlatformFeePercent))
                    .col(text(PartnerRevenueTerms::CustomerSharePercent))
                    .col(text(PartnerRevenueTerms::UpdatedBy))
                    .col(ts(PartnerRevenueTerms::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            PartnerRevenueTerms::Table.into_iden(),
            MarketStatements::Table.into_iden(),
            SettlementLines::Table.into_iden(),
            SettlementMeters::Table.into_iden(),
            SettlementRuns::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
