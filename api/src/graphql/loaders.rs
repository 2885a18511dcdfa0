//! Batch loaders for nested fields: a page of N parents costs one query per
//! nested field, not N.
//!
//! Why not a timer-based DataLoader: batching by a delay (1 ms) splits a batch
//! whenever resolving the siblings takes longer than the delay, so the query
//! count depends on machine speed. Here each load queues its key and yields
//! once; tokio defers that wake-up until the current poll of the request task
//! ends, by which time every sibling resolver in the list has queued its key.
//! The first load to resume then fetches the whole batch. Keys already loaded
//! or in flight are never fetched twice within a request.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use tokio::sync::oneshot;

use crate::entity::{api_key, partner, program_parameter_version};
use crate::error::{ApiError, ApiResult};
use crate::services::plugins::PluginSummary;
use crate::services::Services;

/// Largest number of keys in one query.
const MAX_BATCH: usize = 1000;

/// Fetches values for many keys at once; absent keys have no value.
pub trait BatchLoad: Send + Sync + 'static {
    type Value: Clone + Send + Sync + 'static;
    fn load(
        &self,
        keys: &[String],
    ) -> impl Future<Output = ApiResult<HashMap<String, Self::Value>>> + Send;
}

type Outcome<V> = ApiResult<Option<V>>;

enum Slot<V> {
    Done(Outcome<V>),
    Waiting(Vec<oneshot::Sender<Outcome<V>>>),
}

struct State<V> {
    slots: HashMap<String, Slot<V>>,
    queued: Vec<String>,
}

/// A per-request batching, caching loader.
pub struct BatchLoader<L: BatchLoad> {
    loader: L,
    state: Mutex<State<L::Value>>,
}

impl<L: BatchLoad> BatchLoader<L> {
    pub fn new(loader: L) -> Self {
        Self {
            loader,
            state: Mutex::new(State {
                slots: HashMap::new(),
                queued: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State<L::Value>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub async fn load_one(&self, key: String) -> Outcome<L::Value> {
        let receiver = {
            let mut state = self.lock();
            let (tx, rx) = oneshot::channel();
            match state.slots.get_mut(&key) {
                Some(Slot::Done(outcome)) => return outcome.clone(),
                Some(Slot::Waiting(waiters)) => waiters.push(tx),
                None => {
                    state.slots.insert(key.clone(), Slot::Waiting(vec![tx]));
                    state.queued.push(key);
                }
            }
            rx
        };
        // Let the sibling resolvers of this poll queue their keys first.
        tokio::task::yield_now().await;
        let batch = std::mem::take(&mut self.lock().queued);
        for chunk in batch.chunks(MAX_BATCH) {
            self.fetch(chunk).await;
        }
        receiver
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("a batch load was cancelled")))
    }

    async fn fetch(&self, keys: &[String]) {
        let result = self.loader.load(keys).await;
        let mut state = self.lock();
        for key in keys {
            let outcome = match &result {
                Ok(values) => Ok(values.get(key).cloned()),
                Err(err) => Err(err.clone()),
            };
            let previous = state.slots.insert(key.clone(), Slot::Done(outcome.clone()));
            if let Some(Slot::Waiting(waiters)) = previous {
                for waiter in waiters {
                    let _ = waiter.send(outcome.clone());
                }
            }
        }
    }
}

pub struct PartnerLoader(pub Services);

impl BatchLoad for PartnerLoader {
    type Value = partner::Model;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.partners.by_ids(keys).await
    }
}

/// All parameter versions of a program, oldest first.
pub struct ProgramVersionsLoader(pub Services);

impl BatchLoad for ProgramVersionsLoader {
    type Value = Vec<program_parameter_version::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.programs.versions_of(keys).await
    }
}

/// API keys of a partner.
pub struct ApiKeysByPartnerLoader(pub Services);

impl BatchLoad for ApiKeysByPartnerLoader {
    type Value = Vec<api_key::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.api_keys.by_partners(keys).await
    }
}

/// Installed plugin versions of a program, newest first.
pub struct PluginVersionsLoader(pub Services);

impl BatchLoad for PluginVersionsLoader {
    type Value = Vec<PluginSummary>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.plugins.versions(keys).await
    }
}

/// Meters by id, for nested fields of records already checked for tenancy.
pub struct MeterLoader(pub Services);

impl BatchLoad for MeterLoader {
    type Value = crate::entity::meter::Model;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.meters.by_ids(&crate::auth::Tenant::All, keys).await
    }
}

pub struct ProgramLoader(pub Services);

impl BatchLoad for ProgramLoader {
    type Value = crate::entity::program::Model;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.programs.by_ids(keys).await
    }
}

/// Enrollments of a meter.
pub struct EnrollmentsByMeterLoader(pub Services);

impl BatchLoad for EnrollmentsByMeterLoader {
    type Value = Vec<crate::entity::enrollment::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.enrollments.by_meters(keys).await
    }
}

/// Status history of an enrollment, oldest first.
pub struct EnrollmentHistoryLoader(pub Services);

impl BatchLoad for EnrollmentHistoryLoader {
    type Value = Vec<crate::entity::enrollment_history::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.enrollments.history_of(keys).await
    }
}

/// Idle periods of an enrollment.
pub struct IdlePeriodLoader(pub Services);

impl BatchLoad for IdlePeriodLoader {
    type Value = Vec<crate::entity::enrollment_idle_period::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.enrollments.idle_periods_of(keys).await
    }
}

/// Changes of an event, oldest first.
pub struct EventChangesLoader(pub Services);

impl BatchLoad for EventChangesLoader {
    type Value = Vec<crate::entity::event_change::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.events.changes_of(keys).await
    }
}

/// How an event's meters answered, counted within the caller's tenant.
pub struct EventResponsesLoader(pub Services, pub crate::auth::Tenant);

impl BatchLoad for EventResponsesLoader {
    type Value = crate::services::events::ResponseSummary;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.events.summaries(&self.1, keys).await
    }
}

/// A meter's stored series (the parent meter is already tenant-checked).
pub struct IntervalSeriesLoader(pub Services);

impl BatchLoad for IntervalSeriesLoader {
    type Value = Vec<crate::entity::interval_series::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        let mut out: HashMap<String, Self::Value> = HashMap::new();
        for (_, s) in self.0.intervals.series_of(keys).await? {
            out.entry(s.meter_id.clone()).or_default().push(s);
        }
        for list in out.values_mut() {
            list.sort_by(|a, b| (&a.source, &a.channel).cmp(&(&b.source, &b.channel)));
        }
        Ok(out)
    }
}

/// The current performance run of an event (the event is already visible).
pub struct CurrentPerformanceLoader(pub Services);

impl BatchLoad for CurrentPerformanceLoader {
    type Value = crate::entity::performance_run::Model;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.performance.current_runs(keys).await
    }
}

/// Totals of performance runs over the tenant's meters.
pub struct PerformanceSummaryLoader(pub Services, pub crate::auth::Tenant);

impl BatchLoad for PerformanceSummaryLoader {
    type Value = crate::services::performance::Summary;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.performance.summaries(&self.1, keys).await
    }
}

/// Line items of a settled meter, keyed `run_id/meter_id`.
pub struct SettlementLinesLoader(pub Services);

impl BatchLoad for SettlementLinesLoader {
    type Value = Vec<crate::entity::settlement_line::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.settlement.lines_of(keys).await
    }
}

/// Settlement run totals over the tenant's meters (cents).
pub struct SettlementTotalsLoader(pub Services, pub crate::auth::Tenant);

impl BatchLoad for SettlementTotalsLoader {
    type Value = i64;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.settlement.totals(&self.1, keys).await
    }
}

/// Attempts of a webhook delivery, oldest first.
pub struct WebhookAttemptsLoader(pub Services);

impl BatchLoad for WebhookAttemptsLoader {
    type Value = Vec<crate::entity::webhook_attempt::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.webhooks.attempts_of(keys).await
    }
}

pub struct AuthorizationLoader(pub Services);

impl BatchLoad for AuthorizationLoader {
    type Value = crate::entity::utility_authorization::Model;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.connect.authorizations_by_ids(keys).await
    }
}

pub struct AuthorizationMetersLoader(pub Services);

impl BatchLoad for AuthorizationMetersLoader {
    type Value = Vec<crate::entity::meter::Model>;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.connect.meters_of(keys).await
    }
}

pub struct UtilitySyncLoader(pub Services);

impl BatchLoad for UtilitySyncLoader {
    type Value = crate::entity::utility_sync::Model;

    async fn load(&self, keys: &[String]) -> ApiResult<HashMap<String, Self::Value>> {
        self.0.connect.sync_of(keys).await
    }
}
