//! Subscriptions (over WebSocket, see `http/ws.rs`): a partner's dispatch
//! event notifications as they are committed.

use std::sync::Arc;

use async_graphql::{Context, Object, Result, SimpleObject, Subscription, ID};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde_json::Value;
use tokio_stream::wrappers::BroadcastStream;

use super::context::ContextExt;
use crate::auth::Tenant;
use crate::entity::event_notification as notification;

/// One notification: an event change that concerns the partner, or a test.
pub struct DispatchEventNotice(pub Arc<notification::Model>);

impl DispatchEventNotice {
    fn event(&self) -> &Value {
        &self.0.payload["event"]
    }
    fn text(&self, key: &str) -> Option<String> {
        self.event()[key].as_str().map(str::to_owned)
    }
    fn time(&self, key: &str) -> Option<DateTime<Utc>> {
        self.text(key)
            .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| t.with_timezone(&Utc))
    }
}

#[derive(SimpleObject)]
pub struct NoticeDispatch {
    pub id: ID,
    pub meter_id: ID,
    pub committed_kw: f64,
    pub response: String,
}

#[Object]
impl DispatchEventNotice {
    /// The notification id (the same notice's webhook has its own delivery id).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// `CREATED`, `UPDATED`, `CANCELLED`, `STARTED`, `COMPLETED`, or `TEST`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn event_id(&self) -> Option<ID> {
        (!self.0.event_id.is_empty()).then(|| ID(self.0.event_id.clone()))
    }
    async fn program_id(&self) -> Option<ID> {
        self.text("programId").map(ID)
    }
    async fn program_code(&self) -> Option<String> {
        self.text("programCode")
    }
    /// `EMERGENCY`, `ECONOMIC` or `TEST`.
    async fn event_type(&self) -> Option<String> {
        self.text("type")
    }
    /// The event's status after this change.
    async fn status(&self) -> Option<String> {
        self.text("status")
    }
    async fn start(&self) -> Option<DateTime<Utc>> {
        self.time("start")
    }
    async fn end(&self) -> Option<DateTime<Utc>> {
        self.time("end")
    }
    async fn ack_deadline(&self) -> Option<DateTime<Utc>> {
        self.time("ackDeadline")
    }
    async fn energy_price(&self) -> Option<String> {
        self.text("energyPrice")
    }
    async fn revision(&self) -> Option<i64> {
        self.event()["revision"].as_i64()
    }
    /// The partner's meters the event calls.
    async fn dispatches(&self) -> Vec<NoticeDispatch> {
        self.0.payload["dispatches"]
            .as_array()
            .map(|list| {
                list.iter()
                    .map(|d| NoticeDispatch {
                        id: ID(d["id"].as_str().unwrap_or_default().to_owned()),
                        meter_id: ID(d["meterId"].as_str().unwrap_or_default().to_owned()),
                        committed_kw: d["committedKw"].as_f64().unwrap_or_default(),
                        response: d["response"].as_str().unwrap_or_default().to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
    /// Free text of a TEST notice.
    async fn message(&self) -> Option<String> {
        self.0.payload["message"].as_str().map(str::to_owned)
    }
}

#[derive(Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// The partner's dispatch event notifications (only events calling its
    /// meters), optionally of one program, in commit order, from the moment
    /// of subscribing. An admin key receives every partner's.
    async fn dispatch_events(
        &self,
        ctx: &Context<'_>,
        program_id: Option<ID>,
    ) -> Result<impl Stream<Item = DispatchEventNotice>> {
        let program = program_id.map(|p| p.0);
        notices(ctx, move |n| {
            let about_events = n.kind == "TEST" || !n.event_id.is_empty();
            about_events
                && program.as_ref().is_none_or(|p| {
                    n.kind == "TEST" || n.payload["event"]["programId"].as_str() == Some(p)
                })
        })
        .map(|stream| stream.map(DispatchEventNotice))
    }

    /// The partner's Connect outcomes as they are committed: sessions
    /// COMPLETED, ABANDONED or EXPIRED, and authorizations REVOKED or EXPIRED.
    /// An admin key receives every partner's.
    async fn connect_session_events(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = ConnectNotice>> {
        ctx.principal()?
            .require(&[crate::domain::Role::Partner, crate::domain::Role::Admin])?;
        notices(ctx, |n| {
            n.kind.starts_with("CONNECT_") || n.kind.starts_with("AUTHORIZATION_")
        })
        .map(|stream| stream.map(ConnectNotice))
    }
}

/// The principal's notifications from now on (every partner's for an admin
/// key) that `keep` accepts, in commit order.
fn notices(
    ctx: &Context<'_>,
    keep: impl Fn(&notification::Model) -> bool + Send + 'static,
) -> Result<impl Stream<Item = Arc<notification::Model>>> {
    let tenant = ctx.principal()?.tenant(None)?;
    let receiver = ctx.services()?.notifications.subscribe();
    Ok(BroadcastStream::new(receiver).filter_map(move |item| {
        let kept = match item {
            Ok(n) => {
                let mine = match &tenant {
                    Tenant::Partner(p) => *p == n.partner_id,
                    Tenant::All => true,
                };
                (mine && keep(&n)).then_some(n)
            }
            Err(err) => {
                tracing::warn!(%err, "a subscriber fell behind and missed notifications");
                None
            }
        };
        futures::future::ready(kept)
    }))
}

/// A Connect session's outcome or an authorization's end.
pub struct ConnectNotice(pub Arc<notification::Model>);

impl ConnectNotice {
    fn text(&self, object: &str, key: &str) -> Option<String> {
        self.0.payload[object][key].as_str().map(str::to_owned)
    }
}

#[Object]
impl ConnectNotice {
    /// The notification id (its webhook delivery has its own id).
    async fn id(&self) -> ID {
        ID(self.0.id.clone())
    }
    /// `CONNECT_SESSION_COMPLETED`, `CONNECT_SESSION_ABANDONED`,
    /// `CONNECT_SESSION_EXPIRED`, `AUTHORIZATION_REVOKED` or `AUTHORIZATION_EXPIRED`.
    async fn kind(&self) -> &str {
        &self.0.kind
    }
    async fn at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    async fn session_id(&self) -> Option<ID> {
        self.text("session", "id").map(ID)
    }
    /// The session's status after this change.
    async fn session_status(&self) -> Option<String> {
        self.text("session", "status")
    }
    /// The step an abandoned session was left at.
    async fn step(&self) -> Option<String> {
        self.text("session", "step")
    }
    async fn abandon_reason(&self) -> Option<String> {
        self.text("session", "abandonReason")
    }
    async fn customer_reference(&self) -> Option<String> {
        self.text("session", "customerReference")
    }
    async fn authorization_id(&self) -> Option<ID> {
        self.text("authorization", "id").map(ID)
    }
    async fn authorization_status(&self) -> Option<String> {
        self.text("authorization", "status")
    }
    /// Meters authorized (completed) or no longer authorized (ended).
    async fn meter_ids(&self) -> Vec<ID> {
        self.0.payload["meterIds"]
            .as_array()
            .map(|ids| {
                ids.iter()
                    .filter_map(|i| i.as_str().map(|s| ID(s.to_owned())))
                    .collect()
            })
            .unwrap_or_default()
    }
}
