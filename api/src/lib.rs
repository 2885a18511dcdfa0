//! gridhub: a grid-services platform for virtual power plants.
//!
//! Layers, outside in: `http` (axum routes, GraphQL over HTTP) → `graphql`
//! (schema, thin resolvers) → `services` (business rules, transactions) →
//! `entity` (sea-orm rows) → `db`. `domain` holds the types and validation
//! shared by services and the API.

pub mod auth;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod entity;
pub mod error;
pub mod graphql;
pub mod http;
pub mod ids;
pub mod rules;
pub mod seed;
pub mod server;
pub mod services;
pub mod telemetry;
pub mod utility;
