//! Fan-out of event notifications to subscribers on every replica.
//!
//! Notifications are rows written in the same transaction as the change they
//! announce. Each replica's relay reads new rows (every `poll`, or at once
//! when this process committed one) and broadcasts them in process to its
//! WebSocket subscribers. Reading the table rather than a side channel means
//! a replica sees other replicas' changes on SQLite and PostgreSQL alike, and
//! nothing committed is skipped: the relay re-reads a short window behind its
//! cursor (rows from other replicas may commit slightly out of id order) and
//! drops ids it has already sent.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde_json::json;
use tokio::sync::{broadcast, Notify};

use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::Role;
use crate::entity::event_notification as notification;
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;

/// How far behind its cursor the relay looks again.
const OVERLAP_SECONDS: i64 = 5;

#[derive(Clone)]
pub struct NotificationService {
    db: Db,
    sender: broadcast::Sender<Arc<notification::Model>>,
    wake: Arc<Notify>,
}

impl NotificationService {
    pub fn new(db: Db) -> Self {
        let (sender, _) = broadcast::channel(4096);
        Self {
            db,
            sender,
            wake: Arc::new(Notify::new()),
        }
    }

    /// Every notification from now on (each subscriber filters its own).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<notification::Model>> {
        self.sender.subscribe()
    }

    /// Tells the relay that this process just committed notifications.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Writes a `TEST` notification for the partner: delivered to its
    /// subscriptions and to its webhook endpoints that take `TEST`.
    pub async fn send_test(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
    ) -> ApiResult<notification::Model> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let partner = match principal.tenant(partner_id)? {
            Tenant::Partner(p) => p,
            Tenant::All => {
                return Err(ApiError::validation(
                    "partnerId",
                    "an admin names the partner to notify",
                ))
            }
        };
        let txn = self.db.begin_write().await?;
        let row = record(
            &*txn,
            &partner,
            None,
            "TEST",
            json!({ "kind": "TEST", "message": "a test notification from gridhub" }),
            Utc::now(),
        )
        .await?;
        txn.commit().await?;
        self.wake();
        Ok(row)
    }

    /// Starts the relay.
    pub fn spawn_relay(&self, poll: StdDuration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut cursor = Utc::now() - Duration::seconds(OVERLAP_SECONDS);
            let mut sent: HashSet<String> = HashSet::new();
            let mut order: VecDeque<(chrono::DateTime<Utc>, String)> = VecDeque::new();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(poll) => {}
                    _ = this.wake.notified() => {}
                }
                let since = cursor - Duration::seconds(OVERLAP_SECONDS);
                let rows = match notification::Entity::find()
                    .filter(notification::Column::CreatedAt.gte(since))
                    .order_by_asc(notification::Column::CreatedAt)
                    .order_by_asc(notification::Column::Id)
                    .all(this.db.conn())
                    .await
                {
                    Ok(rows) => rows,
                    Err(err) => {
                        tracing::warn!(%err, "notification relay could not read");
                        continue;
                    }
                };
                for row in rows {
                    if !sent.insert(row.id.clone()) {
                        continue;
                    }
                    cursor = cursor.max(row.created_at);
                    order.push_back((row.created_at, row.id.clone()));
                    // No receivers is fine: nobody is subscribed on this replica.
                    let _ = this.sender.send(Arc::new(row));
                }
                // Forget ids older than the re-read window.
                let horizon = cursor - Duration::seconds(2 * OVERLAP_SECONDS);
                while order.front().is_some_and(|(at, _)| *at < horizon) {
                    if let Some((_, id)) = order.pop_front() {
                        sent.remove(&id);
                    }
                }
            }
        })
    }
}

/// Writes a notification for a partner and its webhook deliveries, in the
/// caller's transaction (call [`NotificationService::wake`] after commit).
/// `event_id` names the dispatch event a notice is about, if any.
pub(crate) async fn record(
    conn: &impl sea_orm::ConnectionTrait,
    partner_id: &str,
    event_id: Option<&str>,
    kind: &str,
    payload: serde_json::Value,
    at: chrono::DateTime<Utc>,
) -> ApiResult<notification::Model> {
    let row = notification::ActiveModel {
        id: Set(new_id("ntf")),
        partner_id: Set(partner_id.to_owned()),
        event_id: Set(event_id.unwrap_or_default().to_owned()),
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        created_at: Set(at),
    }
    .insert(conn)
    .await?;
    super::webhooks::enqueue(conn, &row).await?;
    Ok(row)
}
