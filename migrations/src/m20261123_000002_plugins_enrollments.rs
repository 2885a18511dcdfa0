//! Rules plugins (versions kept for rollback) and enrollments with their history.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Plugins {
    Table,
    Id,
    ProgramId,
    PluginVersion,
    ContractVersion,
    Description,
    Sha256,
    SizeBytes,
    Wasm,
    Active,
    InstalledBy,
    InstalledAt,
    ActivatedBy,
    ActivatedAt,
}

#[derive(DeriveIden)]
enum Enrollments {
    Table,
    Id,
    PartnerId,
    MeterId,
    ProgramId,
    Status,
    CommittedKw,
    StartDate,
    EndDate,
    Reasons,
    PluginId,
    PluginSha256,
    ParameterVersionId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EnrollmentHistory {
    Table,
    Id,
    EnrollmentId,
    Status,
    Reasons,
    Note,
    ChangedBy,
    PluginId,
    PluginSha256,
    CreatedAt,
}

#[derive(DeriveIden)]
enum EnrollmentIdlePeriods {
    Table,
    Id,
    EnrollmentId,
    StartDate,
    EndDate,
    Reason,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Meters {
    Table,
    Id,
}

fn text<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

fn text_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).string().null().to_owned()
}

fn ts<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Plugins::Table)
                    .col(
                        ColumnDef::new(Plugins::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(text(Plugins::ProgramId))
                    .col(text(Plugins::PluginVersion))
                    .col(text(Plugins::ContractVersion))
                    .col(text(Plugins::Description))
                    .col(text(Plugins::Sha256))
                    .col(ColumnDef::new(Plugins::SizeBytes).big_integer().not_null())
                    .col(ColumnDef::new(Plugins::Wasm).blob().not_null())
                    .col(ColumnDef::new(Plugins::Active).boolean().not_null())
                    .col(text_null(Plugins::InstalledBy))
                    .col(ts(Plugins::InstalledAt))
                    .col(text_null(Plugins::ActivatedBy))
                    .col(
                        ColumnDef::new(Plugins::ActivatedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Plugins::Table, Plugins::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_plugins_program_version")
                    .table(Plugins::Table)
                    .col(Plugins::ProgramId)
                    .col(Plugins::PluginVersion)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_plugins_active")
                    .table(Plugins::Table)
                    .col(Plugins::Active)
                    .col(Plugins::ProgramId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Enrollments::Table)
                    .col(
                        ColumnDef::new(Enrollments::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(text(Enrollments::PartnerId))
                    .col(text(Enrollments::MeterId))
                    .col(text(Enrollments::ProgramId))
                    .col(text(Enrollments::Status))
                    .col(ColumnDef::new(Enrollments::CommittedKw).double().null())
                    .col(ColumnDef::new(Enrollments::StartDate).date().not_null())
                    .col(ColumnDef::new(Enrollments::EndDate).date().null())
                    .col(
                        ColumnDef::new(Enrollments::Reasons)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text_null(Enrollments::PluginId))
                    .col(text_null(Enrollments::PluginSha256))
                    .col(text_null(Enrollments::ParameterVersionId))
                    .col(ts(Enrollments::CreatedAt))
                    .col(ts(Enrollments::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Enrollments::Table, Enrollments::MeterId)
                            .to(Meters::Table, Meters::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Enrollments::Table, Enrollments::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // One enrollment record per meter and program; re-enrolling updates it.
        manager
            .create_index(
                Index::create()
                    .name("ux_enrollments_meter_program")
                    .table(Enrollments::Table)
                    .col(Enrollments::MeterId)
                    .col(Enrollments::ProgramId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_enrollments_partner")
                    .table(Enrollments::Table)
                    .col(Enrollments::PartnerId)
                    .col(Enrollments::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_enrollments_program_status")
                    .table(Enrollments::Table)
                    .col(Enrollments::ProgramId)
                    .col(Enrollments::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EnrollmentHistory::Table)
                    .col(
                        ColumnDef::new(EnrollmentHistory::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(text(EnrollmentHistory::EnrollmentId))
                    .col(text(EnrollmentHistory::Status))
                    .col(
                        ColumnDef::new(EnrollmentHistory::Reasons)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text_null(EnrollmentHistory::Note))
                    .col(text_null(EnrollmentHistory::ChangedBy))
                    .col(text_null(EnrollmentHistory::PluginId))
                    .col(text_null(EnrollmentHistory::PluginSha256))
                    .col(ts(EnrollmentHistory::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EnrollmentHistory::Table, EnrollmentHistory::EnrollmentId)
                            .to(Enrollments::Table, Enrollments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_enrollment_history_enrollment")
                    .table(EnrollmentHistory::Table)
                    .col(EnrollmentHistory::EnrollmentId)
                    .col(EnrollmentHistory::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(EnrollmentIdlePeriods::Table)
                    .col(
                        ColumnDef::new(EnrollmentIdlePeriods::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(text(EnrollmentIdlePeriods::EnrollmentId))
                    .col(
                        ColumnDef::new(EnrollmentIdlePeriods::StartDate)
                            .date()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(EnrollmentIdlePeriods::EndDate)
                            .date()
                            .not_null(),
                    )
                    .col(text_null(EnrollmentIdlePeriods::Reason))
                    .col(text_null(EnrollmentIdlePeriods::CreatedBy))
                    .col(ts(EnrollmentIdlePeriods::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                EnrollmentIdlePeriods::Table,
                                EnrollmentIdlePeriods::EnrollmentId,
                            )
                            .to(Enrollments::Table, Enrollments::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_enrollment_idle_enrollment")
                    .table(EnrollmentIdlePeriods::Table)
                    .col(EnrollmentIdlePeriods::EnrollmentId)
                    .col(EnrollmentIdlePeriods::StartDate)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EnrollmentIdlePeriods::Table.into_iden(),
            EnrollmentHistory::Table.into_iden(),
            Enrollments::Table.into_iden(),
            Plugins::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
