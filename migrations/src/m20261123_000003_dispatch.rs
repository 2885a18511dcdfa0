//! Dispatch events, the per-meter dispatches they create, every change to an
//! event, and the per-partner notifications written in the same transaction
//! (the durable source that webhooks and subscriptions deliver from).

use sea_orm_migration::prelude::*;

use crate::columns::{id, text, text_null, ts};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Events {
    Table,
    Id,
    ProgramId,
    EventType,
    Status,
    NotificationAt,
    StartAt,
    EndAt,
    AckDeadline,
    Targeting,
    EnergyPrice,
    OverrideReason,
    Revision,
    CreatedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EventChanges {
    Table,
    Id,
    EventId,
    Kind,
    Detail,
    ChangedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Dispatches {
    Table,
    Id,
    EventId,
    PartnerId,
    MeterId,
    EnrollmentId,
    CommittedKw,
    Response,
    RespondedAt,
    RespondedBy,
    OptOutReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum EventNotifications {
    Table,
    Id,
    PartnerId,
    EventId,
    Kind,
    Payload,
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

fn index(name: &str, table: impl IntoIden + 'static, cols: Vec<DynIden>) -> IndexCreateStatement {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    i.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Events::Table)
                    .col(id(Events::Id))
                    .col(text(Events::ProgramId))
                    .col(text(Events::EventType))
                    .col(text(Events::Status))
                    .col(ts(Events::NotificationAt))
                    .col(ts(Events::StartAt))
                    .col(ts(Events::EndAt))
                    .col(ts(Events::AckDeadline))
                    .col(ColumnDef::new(Events::Targeting).json_binary().not_null())
                    // Exact decimal USD/kWh as text: portable and never rounded.
                    .col(text_null(Events::EnergyPrice))
                    .col(text_null(Events::OverrideReason))
                    .col(ColumnDef::new(Events::Revision).integer().not_null())
                    .col(text(Events::CreatedBy))
                    .col(ts(Events::CreatedAt))
                    .col(ts(Events::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Events::Table, Events::ProgramId)
                            .to(Programs::Table, Programs::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_events_program_start",
                Events::Table,
                vec![Events::ProgramId.into_iden(), Events::StartAt.into_iden()],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_events_status_start",
                Events::Table,
                vec![Events::Status.into_iden(), Events::StartAt.into_iden()],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EventChanges::Table)
                    .col(id(EventChanges::Id))
                    .col(text(EventChanges::EventId))
                    .col(text(EventChanges::Kind))
                    .col(
                        ColumnDef::new(EventChanges::Detail)
                            .json_binary()
                            .not_null(),
                    )
                    .col(text(EventChanges::ChangedBy))
                    .col(ts(EventChanges::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(EventChanges::Table, EventChanges::EventId)
                            .to(Events::Table, Events::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_event_changes_event",
                EventChanges::Table,
                vec![
                    EventChanges::EventId.into_iden(),
                    EventChanges::Id.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Dispatches::Table)
                    .col(id(Dispatches::Id))
                    .col(text(Dispatches::EventId))
                    .col(text(Dispatches::PartnerId))
                    .col(text(Dispatches::MeterId))
                    .col(text(Dispatches::EnrollmentId))
                    .col(ColumnDef::new(Dispatches::CommittedKw).double().not_null())
                    .col(text(Dispatches::Response))
                    .col(
                        ColumnDef::new(Dispatches::RespondedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(text_null(Dispatches::RespondedBy))
                    .col(text_null(Dispatches::OptOutReason))
                    .col(ts(Dispatches::CreatedAt))
                    .col(ts(Dispatches::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dispatches::Table, Dispatches::EventId)
                            .to(Events::Table, Events::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Dispatches::Table, Dispatches::MeterId)
                            .to(Meters::Table, Meters::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_dispatches_event_meter",
                    Dispatches::Table,
                    vec![
                        Dispatches::EventId.into_iden(),
                        Dispatches::MeterId.into_iden(),
                    ],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_dispatches_partner_event",
                Dispatches::Table,
                vec![
                    Dispatches::PartnerId.into_iden(),
                    Dispatches::EventId.into_iden(),
                ],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(EventNotifications::Table)
                    .col(id(EventNotifications::Id))
                    .col(text(EventNotifications::PartnerId))
                    .col(text(EventNotifications::EventId))
                    .col(text(EventNotifications::Kind))
                    .col(
                        ColumnDef::new(EventNotifications::Payload)
                            .json_binary()
                            .not_null(),
                    )
                    .col(ts(EventNotifications::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_event_notifications_partner",
                EventNotifications::Table,
                vec![
                    EventNotifications::PartnerId.into_iden(),
                    EventNotifications::Id.into_iden(),
                ],
            ))
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            EventNotifications::Table.into_iden(),
            Dispatches::Table.into_iden(),
            EventChanges::Table.into_iden(),
            Events::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
