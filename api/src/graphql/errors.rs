//! Gives every GraphQL error a stable `extensions.code`, and records whether a
//! request reached execution (the HTTP layer needs that for its status code).
//!
//! Domain errors carry their code ([`ApiError::code`]). Errors raised by
//! async-graphql itself are classified by the stage that raised them. Any
//! other error type reaching a client is a bug: its message is replaced by a
//! reference and logged, so internals never leak.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextParseQuery, NextRequest,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Response, ServerError, ServerResult, Value, Variables};

use crate::error::ApiError;

/// Set to true once a request starts executing (it parsed and validated).
#[derive(Clone, Default)]
pub struct ExecutionMarker(pub Arc<AtomicBool>);

impl ExecutionMarker {
    pub fn executed(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

pub struct ErrorCodes;

impl ExtensionFactory for ErrorCodes {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ErrorCodesExtension::default())
    }
}

#[derive(Default)]
struct ErrorCodesExtension {
    parsed: AtomicBool,
    executing: AtomicBool,
}

#[derive(Clone, Copy)]
enum Stage {
    Parse,
    Validation,
    Execution,
}

#[async_trait::async_trait]
impl Extension for ErrorCodesExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        let stage = if self.executing.load(Ordering::Acquire) {
            Stage::Execution
        } else if self.parsed.load(Ordering::Acquire) {
            Stage::Validation
        } else {
            Stage::Parse
        };
        for error in &mut response.errors {
            classify(error, stage);
        }
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.parsed.store(true, Ordering::Release);
        Ok(document)
    }

    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        self.executing.store(true, Ordering::Release);
        if let Some(marker) = ctx.data_opt::<ExecutionMarker>() {
            marker.0.store(true, Ordering::Release);
        }
        next.run(ctx, operation_name).await
    }
}

fn classify(error: &mut ServerError, stage: Stage) {
    if error
        .extensions
        .as_ref()
        .is_some_and(|e| e.get("code").is_some())
    {
        return;
    }
    let domain = error.source::<ApiError>().cloned();
    let has_foreign_source = domain.is_none() && error.source.is_some();
    let extensions = error.extensions.get_or_insert_with(Default::default);
    match domain {
        Some(api) => {
            extensions.set("code", api.code());
            for (name, value) in api.extensions() {
                extensions.set(name, Value::from_json(value).unwrap_or(Value::Null));
            }
        }
        None if has_foreign_source => {
            let internal = ApiError::internal(&error.message);
            error.message = internal.to_string();
            extensions.set("code", internal.code());
            for (name, value) in internal.extensions() {
                extensions.set(name, Value::from_json(value).unwrap_or(Value::Null));
            }
        }
        None => extensions.set(
            "code",
            match stage {
                Stage::Parse => "GRAPHQL_PARSE_FAILED",
                Stage::Validation => "GRAPHQL_VALIDATION_FAILED",
                // async-graphql's own execution-time errors are input coercion failures.
                Stage::Execution => "BAD_USER_INPUT",
            },
        ),
    }
}
