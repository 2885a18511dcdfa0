//! The hosted Connect flow: sessions a partner opens for a customer, the
//! consent records (utility authorizations) customers give, and the per-meter
//! state of fetching utility data for authorized meters.

use sea_orm_migration::prelude::*;

use crate::columns::{id, int, json, text, text_null, ts, ts_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ConnectSessions {
    Table,
    Id,
    PartnerId,
    /// SHA-256 of the link token (the token itself is never stored).
    TokenHash,
    /// SHA-256 of the secret in the cookie of the browser that opened the link.
    BrowserHash,
    CustomerReference,
    ReturnUrl,
    ReturnState,
    Utilities,
    Scopes,
    AuthorizationDays,
    Status,
    /// The step the customer is on: `UTILITY`, `ACCOUNT`, `CONSENT`.
    Step,
    Utility,
    /// The account found at the utility (JSON), shown on the consent step.
    Account,
    LookupFailures,
    AbandonReason,
    AuthorizationId,
    CreatedBy,
    CreatedAt,
    ExpiresAt,
    OpenedAt,
    FinishedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UtilityAuthorizations {
    Table,
    Id,
    PartnerId,
    SessionId,
    Utility,
    AccountNumber,
    CustomerName,
    CustomerEmail,
    Scopes,
    /// The consent text as shown, and its SHA-256.
    ConsentText,
    ConsentSha256,
    IpAddress,
    UserAgent,
    Status,
    GrantedAt,
    ExpiresAt,
    EndedAt,
    EndedBy,
    EndReason,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UtilitySync {
    Table,
    MeterId,
    PartnerId,
    AuthorizationId,
    Utility,
    AccountNumber,
    ServiceId,
    /// Unix seconds up to which readings were fetched (exclusive).
    SyncedThrough,
    NextSyncAt,
    LeaseUntil,
    Attempts,
    LastError,
    LastSyncedAt,
}

#[derive(DeriveIden)]
enum Meters {
    Table,
    AuthorizationId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ConnectSessions::Table)
                    .col(id(ConnectSessions::Id))
                    .col(text(ConnectSessions::PartnerId))
                    .col(text(ConnectSessions::TokenHash).unique_key())
                    .col(text_null(ConnectSessions::BrowserHash))
                    .col(text_null(ConnectSessions::CustomerReference))
                    .col(text(ConnectSessions::ReturnUrl))
                    .col(text_null(ConnectSessions::ReturnState))
                    .col(json(ConnectSessions::Utilities))
                    .col(json(ConnectSessions::Scopes))
                    .col(int(ConnectSessions::AuthorizationDays))
                    .col(text(ConnectSessions::Status))
                    .col(text(ConnectSessions::Step))
                    .col(text_null(ConnectSessions::Utility))
                    .col(
                        ColumnDef::new(ConnectSessions::Account)
                            .json_binary()
                            .null(),
                    )
                    .col(int(ConnectSessions::LookupFailures))
                    .col(text_null(ConnectSessions::AbandonReason))
                    .col(text_null(ConnectSessions::AuthorizationId))
                    .col(text(ConnectSessions::CreatedBy))
                    .col(ts(ConnectSessions::CreatedAt))
                    .col(ts(ConnectSessions::ExpiresAt))
                    .col(ts_null(ConnectSessions::OpenedAt))
                    .col(ts_null(ConnectSessions::FinishedAt))
                    .col(ts(ConnectSessions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_connect_sessions_partner")
                    .table(ConnectSessions::Table)
                    .col(ConnectSessions::PartnerId)
                    .col(ConnectSessions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_connect_sessions_expiry")
                    .table(ConnectSessions::Table)
                    .col(ConnectSessions::Status)
                    .col(ConnectSessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UtilityAuthorizations::Table)
                    .col(id(UtilityAuthorizations::Id))
                    .col(text(UtilityAuthorizations::PartnerId))
                    .col(text(UtilityAuthorizations::SessionId))
                    .col(text(UtilityAuthorizations::Utility))
                    .col(text(UtilityAuthorizations::AccountNumber))
                    .col(text(UtilityAuthorizations::CustomerName))
                    .col(text(UtilityAuthorizations::CustomerEmail))
                    .col(json(UtilityAuthorizations::Scopes))
                    .col(text(UtilityAuthorizations::ConsentText))
                    .col(text(UtilityAuthorizations::ConsentSha256))
                    .col(text_null(UtilityAuthorizations::IpAddress))
                    .col(text_null(UtilityAuthorizations::UserAgent))
                    .col(text(UtilityAuthorizations::Status))
                    .col(ts(UtilityAuthorizations::GrantedAt))
                    .col(ts(UtilityAuthorizations::ExpiresAt))
                    .col(ts_null(UtilityAuthorizations::EndedAt))
                    .col(text_null(UtilityAuthorizations::EndedBy))
                    .col(text_null(UtilityAuthorizations::EndReason))
                    .col(ts(UtilityAuthorizations::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_utility_authorizations_partner")
                    .table(UtilityAuthorizations::Table)
                    .col(UtilityAuthorizations::PartnerId)
                    .col(UtilityAuthorizations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_utility_authorizations_expiry")
                    .table(UtilityAuthorizations::Table)
                    .col(UtilityAuthorizations::Status)
                    .col(UtilityAuthorizations::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UtilitySync::Table)
                    .col(id(UtilitySync::MeterId))
                    .col(text(UtilitySync::PartnerId))
                    .col(text(UtilitySync::AuthorizationId))
                    .col(text(UtilitySync::Utility))
                    .col(text(UtilitySync::AccountNumber))
                    .col(text(UtilitySync::ServiceId))
                    .col(
                        ColumnDef::new(UtilitySync::SyncedThrough)
                            .big_integer()
                            .null(),
                    )
                    .col(ts(UtilitySync::NextSyncAt))
                    .col(ts_null(UtilitySync::LeaseUntil))
                    .col(int(UtilitySync::Attempts))
                    .col(text_null(UtilitySync::LastError))
                    .col(ts_null(UtilitySync::LastSyncedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_utility_sync_due")
                    .table(UtilitySync::Table)
                    .col(UtilitySync::NextSyncAt)
                    .to_owned(),
            )
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Meters::Table)
                    .add_column(ColumnDef::new(Meters::AuthorizationId).string().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_meters_authorization")
                    .table(Meters::Table)
                    .col(Meters::AuthorizationId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_meters_authorization")
                    .table(Meters::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Meters::Table)
                    .drop_column(Meters::AuthorizationId)
                    .to_owned(),
            )
            .await?;
        for table in [
            UtilitySync::Table.into_iden(),
            UtilityAuthorizations::Table.into_iden(),
            ConnectSessions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
