//! What every resolver needs from the request: the principal, the services, the
//! per-request DataLoaders. Missing data is an error with a code, never a panic.

use async_graphql::Context;

use super::loaders::{
    ApiKeysByPartnerLoader, AuthorizationLoader, AuthorizationMetersLoader, BatchLoader,
    CurrentPerformanceLoader, EnrollmentHistoryLoader, EnrollmentsByMeterLoader,
    EventChangesLoader, EventResponsesLoader, IdlePeriodLoader, IntervalSeriesLoader, MeterLoader,
    PartnerLoader, PerformanceSummaryLoader, PluginVersionsLoader, ProgramLoader,
    ProgramVersionsLoader, SettlementLinesLoader, SettlementTotalsLoader, UtilitySyncLoader,
    WebhookAttemptsLoader,
};
use crate::auth::{Principal, Tenant};
use crate::error::{ApiError, ApiResult};
use crate::services::Services;

/// Per-request facts set by the HTTP layer.
#[derive(Clone, Default)]
pub struct RequestContext {
    pub principal: Option<Principal>,
    /// The `Idempotency-Key` header, if sent.
    pub idempotency_key: Option<String>,
}

/// Batch loaders live for one request, so their caches never outlive it or
/// cross tenants.
pub struct Loaders {
    pub partners: BatchLoader<PartnerLoader>,
    pub program_versions: BatchLoader<ProgramVersionsLoader>,
    pub api_keys_by_partner: BatchLoader<ApiKeysByPartnerLoader>,
    pub plugin_versions: BatchLoader<PluginVersionsLoader>,
    pub meters: BatchLoader<MeterLoader>,
    pub programs: BatchLoader<ProgramLoader>,
    pub enrollments_by_meter: BatchLoader<EnrollmentsByMeterLoader>,
    pub enrollment_history: BatchLoader<EnrollmentHistoryLoader>,
    pub idle_periods: BatchLoader<IdlePeriodLoader>,
    pub event_changes: BatchLoader<EventChangesLoader>,
    pub event_responses: BatchLoader<EventResponsesLoader>,
    pub webhook_attempts: BatchLoader<WebhookAttemptsLoader>,
    pub interval_series: BatchLoader<IntervalSeriesLoader>,
    pub current_performance: BatchLoader<CurrentPerformanceLoader>,
    pub performance_summaries: BatchLoader<PerformanceSummaryLoader>,
    pub settlement_lines: BatchLoader<SettlementLinesLoader>,
    pub settlement_totals: BatchLoader<SettlementTotalsLoader>,
    pub authorizations: BatchLoader<AuthorizationLoader>,
    pub authorization_meters: BatchLoader<AuthorizationMetersLoader>,
    pub utility_sync: BatchLoader<UtilitySyncLoader>,
}

impl Loaders {
    /// `principal` scopes the loaders whose answers depend on the tenant.
    pub fn new(services: &Services, principal: Option<&Principal>) -> Self {
        // No principal (or an analyst): counts of no partner's dispatches leak.
        let tenant = principal
            .and_then(|p| p.tenant(None).ok())
            .unwrap_or_else(|| Tenant::Partner(String::new()));
        Self {
            partners: BatchLoader::new(PartnerLoader(services.clone())),
            program_versions: BatchLoader::new(ProgramVersionsLoader(services.clone())),
            api_keys_by_partner: BatchLoader::new(ApiKeysByPartnerLoader(services.clone())),
            plugin_versions: BatchLoader::new(PluginVersionsLoader(services.clone())),
            meters: BatchLoader::new(MeterLoader(services.clone())),
            programs: BatchLoader::new(ProgramLoader(services.clone())),
            enrollments_by_meter: BatchLoader::new(EnrollmentsByMeterLoader(services.clone())),
            enrollment_history: BatchLoader::new(EnrollmentHistoryLoader(services.clone())),
            idle_periods: BatchLoader::new(IdlePeriodLoader(services.clone())),
            event_changes: BatchLoader::new(EventChangesLoader(services.clone())),
            event_responses: BatchLoader::new(EventResponsesLoader(
                services.clone(),
                tenant.clone(),
            )),
            webhook_attempts: BatchLoader::new(WebhookAttemptsLoader(services.clone())),
            authorizations: BatchLoader::new(AuthorizationLoader(services.clone())),
            authorization_meters: BatchLoader::new(AuthorizationMetersLoader(services.clone())),
            utility_sync: BatchLoader::new(UtilitySyncLoader(services.clone())),
            interval_series: BatchLoader::new(IntervalSeriesLoader(services.clone())),
            current_performance: BatchLoader::new(CurrentPerformanceLoader(services.clone())),
            settlement_lines: BatchLoader::new(SettlementLinesLoader(services.clone())),
            settlement_totals: BatchLoader::new(SettlementTotalsLoader(
                services.clone(),
                tenant.clone(),
            )),
            // Analysts see program-wide totals (no partner's rows).
            performance_summaries: BatchLoader::new(PerformanceSummaryLoader(
                services.clone(),
                match principal.map(|p| p.role) {
                    Some(crate::domain::Role::Analyst) => Tenant::All,
                    _ => tenant,
                },
            )),
        }
    }
}

pub trait ContextExt {
    fn services(&self) -> ApiResult<&Services>;
    fn principal(&self) -> ApiResult<&Principal>;
    fn loaders(&self) -> ApiResult<&Loaders>;
    /// The idempotency key from the mutation argument or the header; both at
    /// once must agree.
    fn idempotency_key(&self, argument: Option<String>) -> ApiResult<Option<String>>;
}

impl ContextExt for Context<'_> {
    fn services(&self) -> ApiResult<&Services> {
        self.data_opt::<Services>()
            .ok_or_else(|| ApiError::internal("schema built without services"))
    }

    fn principal(&self) -> ApiResult<&Principal> {
        self.data_opt::<RequestContext>()
            .and_then(|r| r.principal.as_ref())
            .ok_or(ApiError::Unauthenticated)
    }

    fn loaders(&self) -> ApiResult<&Loaders> {
        self.data_opt::<Loaders>()
            .ok_or_else(|| ApiError::internal("request without loaders"))
    }

    fn idempotency_key(&self, argument: Option<String>) -> ApiResult<Option<String>> {
        let header = self
            .data_opt::<RequestContext>()
            .and_then(|r| r.idempotency_key.clone());
        match (argument, header) {
            (Some(a), Some(h)) if a != h => Err(ApiError::validation(
                "idempotencyKey",
                "differs from the Idempotency-Key header; send one or make them equal",
            )),
            (Some(a), _) => Ok(Some(a)),
            (None, h) => Ok(h),
        }
    }
}
