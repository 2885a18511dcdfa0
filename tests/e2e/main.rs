//! End-to-end tests: each test starts a real server on a free port with a fresh
//! database (SQLite, or PostgreSQL when GRIDHUB_TEST_POSTGRES_URL is set) and
//! talks GraphQL over HTTP.

mod auth;
mod connect;
mod dataloader;
mod enrollments;
mod events;
mod http_spec;
mod idempotency;
mod intervals;
mod meters;
mod pagination;
mod performance;
mod plugins;
mod program_rules;
mod program_scenarios;
mod programs;
mod schema_file;
mod settlement;
mod subscriptions;
mod tenancy;
mod webhooks;
