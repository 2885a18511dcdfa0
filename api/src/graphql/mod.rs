//! The GraphQL schema. Resolvers are thin: they read the principal and call
//! services; GraphQL object types wrap entities so columns can change without
//! changing the API.

pub mod catalog;
pub mod connect;
pub mod context;
pub mod eligibility;
pub mod enrollments;
pub mod errors;
pub mod events;
pub mod intervals;
pub mod loaders;
pub mod meters;
pub mod pagination;
pub mod partners;
pub mod performance;
pub mod plugins;
pub mod programs;
pub mod settlement;
pub mod subscriptions;
pub mod webhooks;

use async_graphql::{MergedObject, Schema};

pub use context::{Loaders, RequestContext};
pub use errors::ExecutionMarker;

use crate::services::Services;

/// Operation limits (see `docs/api.md`).
pub const MAX_DEPTH: usize = 12;
pub const MAX_COMPLEXITY: usize = 50_000;

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    partners::PartnerQuery,
    meters::MeterQuery,
    programs::ProgramQuery,
    catalog::CatalogQuery,
    connect::ConnectQuery,
    eligibility::EligibilityQuery,
    enrollments::EnrollmentQuery,
    events::EventQuery,
    intervals::IntervalQuery,
    performance::PerformanceQuery,
    settlement::SettlementQuery,
    webhooks::WebhookQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    partners::PartnerMutation,
    meters::MeterMutation,
    connect::ConnectMutation,
    programs::ProgramMutation,
    plugins::PluginMutation,
    enrollments::EnrollmentMutation,
    events::EventMutation,
    intervals::IntervalMutation,
    performance::PerformanceMutation,
    settlement::SettlementMutation,
    webhooks::WebhookMutation,
);

pub type GridhubSchema = Schema<QueryRoot, MutationRoot, subscriptions::SubscriptionRoot>;

/// Builds the schema; `services` is `None` only to export the SDL.
pub fn build_schema(services: Option<Services>) -> GridhubSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        subscriptions::SubscriptionRoot,
    )
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY)
    .extension(errors::ErrorCodes);
    if let Some(services) = services {
        builder = builder.data(services);
    }
    builder.finish()
}

/// The SDL as served and as committed in `schema.graphql`.
pub fn sdl() -> String {
    build_schema(None).sdl()
}
