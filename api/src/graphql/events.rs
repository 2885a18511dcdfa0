//! Dispatch events and the per-meter dispatches partners respond to.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;

use super::context::ContextExt;
use super::meters::Meter;
use super::pagination::{edges, PageInfo};
use super::programs::Program;
use crate::domain::event::{DispatchResponse, EventChangeKind, EventStatus, EventType, Targeting};
use crate::entity::{dispatch, event, event_change};
use crate::error::ApiError;
use crate::services::events::{
    DispatchFilter as ServiceDispatchFilter, EventChanges, EventFilter as ServiceEventFilter,
    ResponseSummary as Summary, ScheduleInput,
};
use crate::services::pagination::PageRequest;

pub struct Event(pub event::Model);

#[Object]
impl Event {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn program(&self, ctx: &Context<'_>) -> Result<Program> {
        let p = ctx
            .loaders()?
            .programs
            .load_one(self.0.program_id.clone())
            .await?;
        Ok(Program(p.ok_or_else(|| {
            ApiError::internal("event without program")
        })?))
    }
    #[graphql(name = "type")]
    async fn event_type(&self) -> Result<EventType> {
        Ok(EventType::from_db(&self.0.event_type)?)
    }
    async fn status(&self) -> Result<EventStatus> {
        Ok(EventStatus::from_db(&self.0.status)?)
    }
    /// When partners were (or will be) told.
    async fn notification_at(&self) -> DateTime<Utc> {
        self.0.notification_at
    }
    async fn start(&self) -> DateTime<Utc> {
        self.0.start_at
    }
    /// Exclusive.
    async fn end(&self) -> DateTime<Utc> {
        self.0.end_at
    }
    /// Acknowledge or opt out before this instant.
    async fn ack_deadline(&self) -> DateTime<Utc> {
        self.0.ack_deadline
    }
    async fn targeting(&self) -> Result<Targeting> {
        Ok(serde_json::from_value(self.0.targeting.clone()).map_err(ApiError::from)?)
    }
    /// USD/kWh, when the market gave one.
    async fn energy_price(&self) -> Result<Option<Decimal>> {
        Ok(self
            .0
            .energy_price
            .as_deref()
            .map(Decimal::from_str)
            .transpose()
            .map_err(ApiError::internal)?)
    }
    /// Why an admin scheduled it against the program's rules, if so.
    async fn override_reason(&self) -> Option<&str> {
        self.0.override_reason.as_deref()
    }
    /// Grows with every change.
    async fn revision(&self) -> i32 {
        self.0.revision
    }
    /// The current performance computation; null until the event completed
    /// and was measured.
    async fn performance(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Option<super::performance::EventPerformance>> {
        Ok(ctx
            .loaders()?
            .current_performance
            .load_one(self.0.id.clone())
            .await?
            .map(super::performance::EventPerformance))
    }
    /// Every change, oldest first.
    async fn changes(&self, ctx: &Context<'_>) -> Result<Vec<EventChange>> {
        let rows = ctx
            .loaders()?
            .event_changes
            .load_one(self.0.id.clone())
            .await?;
        Ok(rows
            .unwrap_or_default()
            .into_iter()
            .map(EventChange)
            .collect())
    }
    /// How the called meters answered (a partner counts only its own).
    async fn responses(&self, ctx: &Context<'_>) -> Result<ResponseSummary> {
        let s = ctx
            .loaders()?
            .event_responses
            .load_one(self.0.id.clone())
            .await?;
        Ok(ResponseSummary(s.unwrap_or_default()))
    }
    /// The meters called (a partner sees only its own), with their answers.
    async fn dispatches(
        &self,
        ctx: &Context<'_>,
        response: Option<Vec<DispatchResponse>>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<DispatchConnection> {
        let filter = ServiceDispatchFilter {
            event_ids: Some(vec![self.0.id.clone()]),
            responses: response,
            events: None,
        };
        dispatch_page(
            ctx,
            &filter,
            PageRequest::from_relay(after, before, first, last)?,
        )
        .await
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

pub struct EventChange(pub event_change::Model);

#[Object]
impl EventChange {
    async fn kind(&self) -> Result<EventChangeKind> {
        Ok(EventChangeKind::from_db(&self.0.kind)?)
    }
    /// What changed (previous times, reason, meters called …).
    async fn detail(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.detail.clone())
    }
    /// API key id of whoever changed it (`system` for the clock).
    async fn changed_by(&self) -> &str {
        &self.0.changed_by
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

pub struct ResponseSummary(pub Summary);

#[Object]
impl ResponseSummary {
    async fn meters(&self) -> u64 {
        self.0.meters
    }
    async fn committed_kw(&self) -> f64 {
        self.0.committed_kw
    }
    async fn acknowledged(&self) -> u64 {
        self.0.acknowledged
    }
    async fn opted_out(&self) -> u64 {
        self.0.opted_out
    }
    /// Not answered (yet, or before the deadline passed).
    async fn pending(&self) -> u64 {
        self.0.pending
    }
}

pub struct Dispatch(pub dispatch::Model);

#[Object]
impl Dispatch {
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    async fn event_id(&self) -> ID {
        ID(self.0.event_id.clone())
    }
    async fn meter(&self, ctx: &Context<'_>) -> Result<Meter> {
        let m = ctx
            .loaders()?
            .meters
            .load_one(self.0.meter_id.clone())
            .await?;
        Ok(Meter(m.ok_or_else(|| {
            ApiError::internal("dispatch without meter")
        })?))
    }
    async fn enrollment_id(&self) -> ID {
        ID(self.0.enrollment_id.clone())
    }
    async fn committed_kw(&self) -> f64 {
        self.0.committed_kw
    }
    async fn response(&self) -> Result<DispatchResponse> {
        Ok(DispatchResponse::from_db(&self.0.response)?)
    }
    async fn responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.responded_at
    }
    async fn opt_out_reason(&self) -> Option<&str> {
        self.0.opt_out_reason.as_deref()
    }
}

#[derive(SimpleObject)]
pub struct EventEdge {
    pub cursor: String,
    pub node: Event,
}

#[derive(SimpleObject)]
pub struct EventConnection {
    pub edges: Vec<EventEdge>,
    pub page_info: PageInfo,
}

#[derive(SimpleObject)]
pub struct DispatchEdge {
    pub cursor: String,
    pub node: Dispatch,
}

#[derive(SimpleObject)]
pub struct DispatchConnection {
    pub edges: Vec<DispatchEdge>,
    pub page_info: PageInfo,
}

async fn dispatch_page(
    ctx: &Context<'_>,
    filter: &ServiceDispatchFilter,
    page: PageRequest,
) -> Result<DispatchConnection> {
    let p = ctx.principal()?;
    let result = ctx.services()?.events.dispatches(p, filter, &page).await?;
    let (edges, page_info) = edges(
        result,
        |d| &d.id,
        |cursor, d| DispatchEdge {
            cursor,
            node: Dispatch(d),
        },
    );
    Ok(DispatchConnection { edges, page_info })
}

#[derive(InputObject, Default)]
pub struct EventFilter {
    pub program_ids: Option<Vec<ID>>,
    pub statuses: Option<Vec<EventStatus>>,
    /// Events ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Events starting before this instant.
    pub to: Option<DateTime<Utc>>,
}

#[derive(InputObject, Default)]
pub struct DispatchFilter {
    pub event_ids: Option<Vec<ID>>,
    pub responses: Option<Vec<DispatchResponse>>,
    /// Only dispatches of events of these programs.
    pub program_ids: Option<Vec<ID>>,
    /// Only dispatches of events in these statuses.
    pub event_statuses: Option<Vec<EventStatus>>,
    /// Only dispatches of events ending after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only dispatches of events starting before this instant.
    pub to: Option<DateTime<Utc>>,
}

#[derive(InputObject)]
pub struct ScheduleEventInput {
    pub program_id: ID,
    #[graphql(name = "type")]
    pub event_type: EventType,
    /// When partners are told; defaults to now.
    pub notification_at: Option<DateTime<Utc>>,
    pub start: DateTime<Utc>,
    /// Exclusive.
    pub end: DateTime<Utc>,
    /// Acknowledge or opt out before this; defaults to the start.
    pub ack_deadline: Option<DateTime<Utc>>,
    /// Which enrolled meters are called; all of the program's by default.
    pub targeting: Option<Targeting>,
    /// USD/kWh.
    pub energy_price: Option<Decimal>,
    /// Schedule even though the program's rules (season, hours, duration,
    /// notice, events per season) say no; recorded with the event. Also
    /// records a market event that is already over (it completes at once
    /// and is measured).
    pub override_reason: Option<String>,
}

#[derive(InputObject, Default)]
pub struct UpdateEventInput {
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub ack_deadline: Option<DateTime<Utc>>,
    pub energy_price: Option<Decimal>,
    pub override_reason: Option<String>,
    /// Why it changed (kept in the change history).
    pub note: Option<String>,
}

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// An event: any for the operator; for a partner, one that calls its meters.
    async fn event(&self, ctx: &Context<'_>, id: ID) -> Result<Event> {
        let p = ctx.principal()?;
        Ok(Event(ctx.services()?.events.get(p, &id).await?))
    }

    /// Events in creation order (a partner sees those calling its meters),
    /// with Relay pagination (at most 500 a page).
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    async fn events(
        &self,
        ctx: &Context<'_>,
        filter: Option<EventFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<EventConnection> {
        let p = ctx.principal()?;
        let page = PageRequest::from_relay(after, before, first, last)?;
        let f = filter.unwrap_or_default();
        let filter = ServiceEventFilter {
            program_ids: f.program_ids.map(|l| l.into_iter().map(|i| i.0).collect()),
            statuses: f.statuses,
            from: f.from,
            to: f.to,
        };
        let result = ctx.services()?.events.list(p, &filter, &page).await?;
        let (edges, page_info) = edges(
            result,
            |e| &e.id,
            |cursor, e| EventEdge {
                cursor,
                node: Event(e),
            },
        );
        Ok(EventConnection { edges, page_info })
    }

    /// Per-meter dispatches (a partner sees only its own), Relay-paginated.
    #[graphql(
        complexity = "first.or(last).unwrap_or(50).clamp(0, 500) as usize * child_complexity"
    )]
    async fn dispatches(
        &self,
        ctx: &Context<'_>,
        filter: Option<DispatchFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> Result<DispatchConnection> {
        let f = filter.unwrap_or_default();
        let by_event = f.program_ids.is_some()
            || f.event_statuses.is_some()
            || f.from.is_some()
            || f.to.is_some();
        let filter = ServiceDispatchFilter {
            event_ids: f.event_ids.map(|l| l.into_iter().map(|i| i.0).collect()),
            responses: f.responses,
            events: by_event.then(|| ServiceEventFilter {
                program_ids: f.program_ids.map(|l| l.into_iter().map(|i| i.0).collect()),
                statuses: f.event_statuses,
                from: f.from,
                to: f.to,
            }),
        };
        dispatch_page(
            ctx,
            &filter,
            PageRequest::from_relay(after, before, first, last)?,
        )
        .await
    }
}

#[derive(Default)]
pub struct EventMutation;

#[Object]
impl EventMutation {
    /// Schedules a dispatch event (ADMIN): checks the program's schedule rules
    /// (`SCHEDULE_RULE_VIOLATION` lists each broken rule; `overrideReason`
    /// schedules anyway and is recorded) and calls every meter enrolled that
    /// day, not idle, matching the targeting — one dispatch per meter with its
    /// committed kW. Partners are notified in the same transaction.
    async fn schedule_event(
        &self,
        ctx: &Context<'_>,
        input: ScheduleEventInput,
        idempotency_key: Option<String>,
    ) -> Result<Event> {
        let p = ctx.principal()?;
        let key = ctx.idempotency_key(idempotency_key)?;
        let input = ScheduleInput {
            program_id: input.program_id.0,
            event_type: input.event_type,
            notification_at: input.notification_at,
            start: input.start,
            end: input.end,
            ack_deadline: input.ack_deadline,
            targeting: input.targeting.unwrap_or_default(),
            energy_price: input.energy_price,
            override_reason: input.override_reason,
        };
        Ok(Event(ctx.services()?.events.schedule(p, input, key).await?))
    }

    /// Moves an event or changes its deadline or price (ADMIN); the rules are
    /// checked again and partners are told.
    async fn update_event(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: UpdateEventInput,
    ) -> Result<Event> {
        let p = ctx.principal()?;
        let changes = EventChanges {
            start: input.start,
            end: input.end,
            ack_deadline: input.ack_deadline,
            energy_price: input.energy_price,
            override_reason: input.override_reason,
            note: input.note,
        };
        Ok(Event(ctx.services()?.events.update(p, &id, changes).await?))
    }

    /// Cancels an event (ADMIN); partners are told.
    async fn cancel_event(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<Event> {
        let p = ctx.principal()?;
        Ok(Event(ctx.services()?.events.cancel(p, &id, reason).await?))
    }

    /// Sends a TEST notice to the partner's `dispatchEvents` subscriptions and
    /// to its webhook endpoints that take `TEST` (an admin names the partner).
    async fn send_test_notification(
        &self,
        ctx: &Context<'_>,
        partner_id: Option<ID>,
    ) -> Result<ID> {
        let p = ctx.principal()?;
        let n = ctx
            .services()?
            .notifications
            .send_test(p, partner_id.as_ref().map(|i| i.as_str()))
            .await?;
        Ok(ID(n.id))
    }

    /// The partner confirms the meter will respond (before the event's `ackDeadline`).
    async fn acknowledge_dispatch(&self, ctx: &Context<'_>, id: ID) -> Result<Dispatch> {
        let p = ctx.principal()?;
        let d = ctx
            .services()?
            .events
            .respond(p, &id, DispatchResponse::Acknowledged, None)
            .await?;
        Ok(Dispatch(d))
    }

    /// The partner opts the meter out of the event, saying why (before the deadline).
    async fn opt_out_dispatch(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: String,
    ) -> Result<Dispatch> {
        let p = ctx.principal()?;
        let d = ctx
            .services()?
            .events
            .respond(p, &id, DispatchResponse::OptedOut, Some(reason))
            .await?;
        Ok(Dispatch(d))
    }
}
