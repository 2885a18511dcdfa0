//! sea-orm entities: the database rows, and nothing the API exposes directly.
//! GraphQL types live in `graphql/` and map from these.

pub mod api_key;
pub mod connect_session;
pub mod dispatch;
pub mod enrollment;
pub mod enrollment_history;
pub mod enrollment_idle_period;
pub mod event;
pub mod event_change;
pub mod event_notification;
pub mod idempotency_record;
pub mod interval_correction;
pub mod interval_reading;
pub mod interval_series;
pub mod interval_upload;
pub mod market_statement;
pub mod meter;
pub mod meter_performance;
pub mod partner;
pub mod partner_revenue_terms;
pub mod performance_job;
pub mod performance_run;
pub mod plugin;
pub mod program;
pub mod program_parameter_version;
pub mod settlement_line;
pub mod settlement_meter;
pub mod settlement_run;
pub mod utility_authorization;
pub mod utility_sync;
pub mod webhook_attempt;
pub mod webhook_delivery;
pub mod webhook_endpoint;
