//! Partners' webhook endpoints, the deliveries owed to them (written in the
//! same transaction as the notification they carry), and every attempt.

use sea_orm_migration::prelude::*;

use crate::columns::{id, text, text_null, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    PartnerId,
    Url,
    Secret,
    EventTypes,
    Status,
    DisabledReason,
    ConsecutiveFailures,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    EndpointId,
    PartnerId,
    NotificationId,
    EventType,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LastError,
    DeliveredAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    StatusCode,
    Error,
    DurationMs,
    AttemptedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(id(WebhookEndpoints::Id))
                    .col(text(WebhookEndpoints::PartnerId))
                    .col(text(WebhookEndpoints::Url))
                    // The signing secret: needed in clear to sign each delivery.
                    .col(text(WebhookEndpoints::Secret))
                    .col(
                        ColumnDef::new(WebhookEndpoints::EventTypes)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text(WebhookEndpoints::Status))
                    .col(text_null(WebhookEndpoints::DisabledReason))
                    .col(
                        ColumnDef::new(WebhookEndpoints::ConsecutiveFailures)
                            .integer()
                            .not_null(),
                    )
                    .col(text(WebhookEndpoints::CreatedBy))
                    .col(ts(WebhookEndpoints::CreatedAt))
                    .col(ts(WebhookEndpoints::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_endpoints_partner")
                    .table(WebhookEndpoints::Table)
                    .col(WebhookEndpoints::PartnerId)
                    .col(WebhookEndpoints::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(id(WebhookDeliveries::Id))
                    .col(text(WebhookDeliveries::EndpointId))
                    .col(text(WebhookDeliveries::PartnerId))
                    .col(text_null(WebhookDeliveries::NotificationId))
                    .col(text(WebhookDeliveries::EventType))
                    .col(
                        ColumnDef::new(WebhookDeliveries::Payload)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text(WebhookDeliveries::Status))
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null(),
                    )
                    .col(ts(WebhookDeliveries::NextAttemptAt))
                    .col(text_null(WebhookDeliveries::LastError))
                    .col(
                        ColumnDef::new(WebhookDeliveries::DeliveredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ts(WebhookDeliveries::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // The worker's queue: due deliveries by time.
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_due")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_deliveries_endpoint")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(id(WebhookAttempts::Id))
                    .col(text(WebhookAttempts::DeliveryId))
                    .col(ColumnDef::new(WebhookAttempts::StatusCode).integer().null())
                    .col(text_null(WebhookAttempts::Error))
                    .col(
                        ColumnDef::new(WebhookAttempts::DurationMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ts(WebhookAttempts::AttemptedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_webhook_attempts_delivery")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .col(WebhookAttempts::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
