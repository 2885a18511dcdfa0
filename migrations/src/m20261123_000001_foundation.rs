//! Partners, API keys, meters, programs with parameter history, idempotency records.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Partners {
    Table,
    Id,
    Name,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    PartnerId,
    Role,
    Name,
    KeyPrefix,
    KeyHash,
    CreatedBy,
    CreatedAt,
    RevokedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum Meters {
    Table,
    Id,
    PartnerId,
    ExternalId,
    Kind,
    DeviceType,
    Region,
    Utility,
    Iso,
    LoadZone,
    CustomerClass,
    AddressLine1,
    AddressLine2,
    City,
    State,
    PostalCode,
    CapacityKw,
    EnergyKwh,
    UtilityAccountNumber,
    UtilityServiceId,
    EsiId,
    AuthorizationStatus,
    Status,
    DeactivatedAt,
    DeactivationReason,
    NetworkTier,
    CommercialOperationDate,
    ColocatedRenewableKw,
    Attributes,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Programs {
    Table,
    Id,
    Code,
    Name,
    Description,
    Region,
    Iso,
    Utility,
    MvKind,
    PartnerSuppliedIntervals,
    Timezone,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProgramParameterVersions {
    Table,
    Id,
    ProgramId,
    Version,
    EffectiveFrom,
    Parameters,
    Seasons,
    Note,
    ChangedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyRecords {
    Table,
    Id,
    Scope,
    IdempotencyKey,
    Operation,
    RequestHash,
    Response,
    CreatedAt,
}

fn id_col<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .string()
        .not_null()
        .primary_key()
        .to_owned()
}

fn ts<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn ts_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn text<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).string().not_null().to_owned()
}

fn text_null<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).string().null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Partners::Table)
                    .col(id_col(Partners::Id))
                    .col(text(Partners::Name))
                    .col(ts(Partners::CreatedAt))
                    .col(ts(Partners::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .col(id_col(ApiKeys::Id))
                    .col(text_null(ApiKeys::PartnerId))
                    .col(text(ApiKeys::Role))
                    .col(text(ApiKeys::Name))
                    .col(text(ApiKeys::KeyPrefix))
                    .col(text(ApiKeys::KeyHash))
                    .col(text_null(ApiKeys::CreatedBy))
                    .col(ts(ApiKeys::CreatedAt))
                    .col(ts_null(ApiKeys::RevokedAt))
                    .col(ts_null(ApiKeys::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeys::Table, ApiKeys::PartnerId)
                            .to(Partners::Table, Partners::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_api_keys_hash")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::KeyHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_api_keys_partner")
                    .table(ApiKeys::Table)
                    .col(ApiKeys::PartnerId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Meters::Table)
                    .col(id_col(Meters::Id))
                    .col(text(Meters::PartnerId))
                    .col(text(Meters::ExternalId))
                    .col(text(Meters::Kind))
                    .col(text_null(Meters::DeviceType))
                    .col(text(Meters::Region))
                    .col(text_null(Meters::Utility))
                    .col(text(Meters::Iso))
                    .col(text_null(Meters::LoadZone))
                    .col(text_null(Meters::CustomerClass))
                    .col(text_null(Meters::AddressLine1))
                    .col(text_null(Meters::AddressLine2))
                    .col(text_null(Meters::City))
                    .col(text_null(Meters::State))
                    .col(text_null(Meters::PostalCode))
                    .col(ColumnDef::new(Meters::CapacityKw).double().null())
                    .col(ColumnDef::new(Meters::EnergyKwh).double().null())
                    .col(text_null(Meters::UtilityAccountNumber))
                    .col(text_null(Meters::UtilityServiceId))
                    .col(text_null(Meters::EsiId))
                    .col(text(Meters::AuthorizationStatus))
                    .col(text(Meters::Status))
                    .col(ts_null(Meters::DeactivatedAt))
                    .col(text_null(Meters::DeactivationReason))
                    .col(text_null(Meters::NetworkTier))
                    .col(
                        ColumnDef::new(Meters::CommercialOperationDate)
                            .date()
                            .null(),
                    )
                    .col(ColumnDef::new(Meters::ColocatedRenewableKw).double().null())
                    .col(ColumnDef::new(Meters::Attributes).json_binary().not_null())
                    .col(ts(Meters::CreatedAt))
                    .col(ts(Meters::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Meters::Table, Meters::PartnerId)
                            .to(Partners::Table, Partners::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_meters_partner_external_id")
                    .table(Meters::Table)
                    .col(Meters::PartnerId)
                    .col(Meters::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // Keyset pagination within a partner walks (partner_id, id).
        manager
            .create_index(
                Index::create()
                    .name("ix_meters_partner_id")
                    .table(Meters::Table)
                    .col(Meters::PartnerId)
                    .col(Meters::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_meters_partner_updated")
                    .table(Meters::Table)
                    .col(Meters::PartnerId)
                    .col(Meters::UpdatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Programs::Table)
                    .col(id_col(Programs::Id))
                    .col(text(Programs::Code))
                    .col(text(Programs::Name))
                    .col(text(Programs::Description))
                    .col(text(Programs::Region))
                    .col(text(Programs::Iso))
                    .col(text_null(Programs::Utility))
                    .col(text(Programs::MvKind))
                    .col(
                        ColumnDef::new(Programs::PartnerSuppliedIntervals)
                            .boolean()
                            .not_null(),
                    )
                    .col(text(Programs::Timezone))
                    .col(text(Programs::Status))
                    .col(ts(Programs::CreatedAt))
                    .col(ts(Programs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_programs_code")
                    .table(Programs::Table)
                    .col(Programs::Code)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProgramParameterVersions::Table)
                    .col(id_col(ProgramParameterVersions::Id))
                    .col(text(ProgramParameterVersions::ProgramId))
                    .col(
                        ColumnDef::new(ProgramParameterVersions::Version)
                            .integer()
                            .not_null(),
                    )
                    .col(ts(ProgramParameterVersions::EffectiveFrom))
                    .col(
                        ColumnDef::new(ProgramParameterVersions::Parameters)
                            .json_binary()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ProgramParameterVersions::Seasons)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text_null(ProgramParameterVersions::Note))
                    .col(text_null(ProgramParameterVersions::ChangedBy))
                    .col(ts(ProgramParameterVersions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ProgramParameterVersions::Table,
                                ProgramParameterVersions::ProgramId,
                            )
                            .to(Programs::Table, Programs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_program_parameter_versions")
                    .table(ProgramParameterVersions::Table)
                    .col(ProgramParameterVersions::ProgramId)
                    .col(ProgramParameterVersions::Version)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyRecords::Table)
                    .col(id_col(IdempotencyRecords::Id))
                    .col(text(IdempotencyRecords::Scope))
                    .col(text(IdempotencyRecords::IdempotencyKey))
                    .col(text(IdempotencyRecords::Operation))
                    .col(text(IdempotencyRecords::RequestHash))
                    .col(
                        ColumnDef::new(IdempotencyRecords::Response)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ts(IdempotencyRecords::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idempotency_scope_key")
                    .table(IdempotencyRecords::Table)
                    .col(IdempotencyRecords::Scope)
                    .col(IdempotencyRecords::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyRecords::Table.into_iden(),
            ProgramParameterVersions::Table.into_iden(),
            Programs::Table.into_iden(),
            Meters::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            Partners::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
