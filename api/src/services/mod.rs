//! Domain services: business rules and transactions. They know the database and
//! the domain types, not GraphQL or HTTP.

pub mod api_keys;
pub mod bulk;
pub mod connect;
pub mod eligibility;
pub mod enrollments;
pub mod events;
pub mod idempotency;
pub mod intervals;
pub mod meters;
pub mod notifications;
pub mod pagination;
pub mod partners;
pub mod performance;
pub mod plugins;
pub mod programs;
pub mod revenue;
pub mod settlement;
pub mod utility_sync;
pub mod webhooks;

use std::collections::HashMap;
use std::hash::Hash;

use crate::db::Db;

/// Runs `step` every `interval` in the background (a slow step delays the
/// next tick instead of piling up); a failing step is logged as `what`.
pub fn every<F, Fut>(
    interval: std::time::Duration,
    what: &'static str,
    step: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = crate::error::ApiResult<usize>> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match step().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(what, n, "background step did work"),
                Err(err) => tracing::warn!(what, %err, "background step failed"),
            }
        }
    })
}

/// Groups rows by a key, keeping their order (for batch loaders of nested lists).
pub fn group_by<K: Hash + Eq, T>(rows: Vec<T>, key: impl Fn(&T) -> K) -> HashMap<K, Vec<T>> {
    let mut out: HashMap<K, Vec<T>> = HashMap::new();
    for row in rows {
        out.entry(key(&row)).or_default().push(row);
    }
    out
}

/// All services, cheap to clone (each holds a pooled connection handle).
#[derive(Clone)]
pub struct Services {
    pub db: Db,
    pub api_keys: api_keys::ApiKeyService,
    pub partners: partners::PartnerService,
    pub meters: meters::MeterService,
    pub programs: programs::ProgramService,
    pub plugins: plugins::PluginService,
    pub eligibility: eligibility::EligibilityService,
    pub enrollments: enrollments::EnrollmentService,
    pub events: events::EventService,
    pub webhooks: webhooks::WebhookService,
    pub notifications: notifications::NotificationService,
    pub intervals: intervals::IntervalService,
    pub performance: performance::PerformanceService,
    pub settlement: std::sync::Arc<settlement::SettlementService>,
    pub revenue: revenue::RevenueService,
    pub connect: connect::ConnectService,
    pub utility_sync: utility_sync::UtilitySyncService,
}

impl Services {
    pub fn new(
        db: Db,
        rules: std::sync::Arc<crate::rules::RulesHost>,
        config: &crate::config::ServerConfig,
    ) -> Self {
        let plugins = plugins::PluginService::new(db.clone(), rules);
        let meters = meters::MeterService::new(db.clone());
        let programs = programs::ProgramService::new(db.clone());
        let notifications = notifications::NotificationService::new(db.clone());
        let intervals = intervals::IntervalService::new(db.clone(), config.late_data_delay);
        let performance = performance::PerformanceService::new(
            db.clone(),
            programs.clone(),
            plugins.clone(),
            intervals.clone(),
            config.performance.clone(),
        );
        let settlement = settlement::SettlementService::new(
            db.clone(),
            programs.clone(),
            plugins.clone(),
            intervals.clone(),
            performance.clone(),
        );
        // Each performance run is followed by the preliminary settlement. The
        // hook holds the settlement weakly: settlement holds performance, so a
        // strong reference would be a cycle that keeps the database pool (and
        // its connections) alive after the server is dropped.
        let settlement = std::sync::Arc::new(settlement);
        let after = std::sync::Arc::downgrade(&settlement);
        performance.set_after_run(std::sync::Arc::new(move |run| {
            let after = after.upgrade();
            Box::pin(async move {
                match after {
                    Some(settlement) => settlement.after_performance(run).await,
                    None => Ok(()),
                }
            })
        }));
        let eligibility = eligibility::EligibilityService::new(
            db.clone(),
            meters.clone(),
            programs.clone(),
            plugins.clone(),
            intervals.clone(),
        );
        let enrollments = enrollments::EnrollmentService::new(
            db.clone(),
            meters.clone(),
            programs.clone(),
            eligibility.clone(),
        );
        let sources = crate::utility::UtilitySources::simulated();
        let connect = connect::ConnectService::new(
            db.clone(),
            sources.clone(),
            enrollments.clone(),
            notifications.clone(),
            config.public_url(),
        );
        let utility_sync = utility_sync::UtilitySyncService::new(
            db.clone(),
            sources,
            intervals.clone(),
            connect.clone(),
            config.connect.clone(),
        );
        Self {
            connect,
            utility_sync,
            events: events::EventService::new(
                db.clone(),
                meters.clone(),
                programs.clone(),
                notifications.clone(),
            ),
            notifications,
            intervals,
            webhooks: webhooks::WebhookService::new(db.clone(), config.webhooks.clone()),
            performance,
            settlement,
            revenue: revenue::RevenueService::new(db.clone()),
            enrollments,
            eligibility,
            plugins,
            api_keys: api_keys::ApiKeyService::new(db.clone()),
            partners: partners::PartnerService::new(db.clone()),
            meters,
            programs,
            db,
        }
    }
}
