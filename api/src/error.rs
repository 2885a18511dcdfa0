//! The one error type of the domain layer, and the one place that decides the
//! stable `extensions.code` a client sees for each failure.

use serde::Serialize;

/// A problem with one input field, possibly inside one row of a batch.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldError {
    /// Path of the offending field as the client wrote it, e.g. `inputs[3].capacityKw`.
    pub field: String,
    /// Index of the offending row when the input is a batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub row: Option<usize>,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            row: None,
            message: message.into(),
        }
    }

    pub fn in_row(mut self, row: usize) -> Self {
        self.row = Some(row);
        self
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required: send `Authorization: Bearer <api key>`")]
    Unauthenticated,
    #[error("the API key is unknown or has been revoked")]
    InvalidApiKey,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{entity} `{id}` not found")]
    NotFound { entity: &'static str, id: String },
    #[error("invalid input: {}", summarize(.0))]
    Validation(Vec<FieldError>),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("idempotency key `{0}` was already used for a different request")]
    IdempotencyKeyReused(String),
    #[error("internal error; quote reference {reference} when reporting it")]
    Internal { reference: String },
    /// An event schedule breaks the program's rules (season, hours, duration,
    /// notice, event count); an admin may override with a recorded reason.
    #[error("the schedule breaks the program's rules: {}; an ADMIN may schedule it anyway with `overrideReason`", summarize_rules(.0))]
    ScheduleRules(Vec<RuleViolation>),
    /// A failure of a program's rules plugin; the code says which kind.
    #[error("{message}")]
    Plugin { code: &'static str, message: String },
}

/// One schedule rule an event would break.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleViolation {
    /// Stable rule code, e.g. `OUTSIDE_SEASON`, `OUTSIDE_EVENT_WINDOW`.
    pub rule: &'static str,
    pub message: String,
}

fn summarize_rules(violations: &[RuleViolation]) -> String {
    violations
        .iter()
        .map(|v| v.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn summarize(errors: &[FieldError]) -> String {
    let mut parts: Vec<String> = errors
        .iter()
        .take(5)
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    if errors.len() > 5 {
        parts.push(format!("and {} more", errors.len() - 5));
    }
    parts.join("; ")
}

impl ApiError {
    /// The stable machine-readable code (`extensions.code`).
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidApiKey => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound { .. } => "NOT_FOUND",
            ApiError::Validation(_) => "VALIDATION",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::IdempotencyKeyReused(_) => "IDEMPOTENCY_KEY_REUSED",
            ApiError::Internal { .. } => "INTERNAL",
            ApiError::ScheduleRules(_) => "SCHEDULE_RULE_VIOLATION",
            ApiError::Plugin { code, .. } => code,
        }
    }

    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn not_found(entity: &'static str, id: impl Into<String>) -> Self {
        ApiError::NotFound {
            entity,
            id: id.into(),
        }
    }

    /// Logs the real cause with a fresh reference and returns an error that
    /// tells the client only the reference.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let reference = uuid::Uuid::now_v7().simple().to_string();
        tracing::error!(%reference, error = %cause, "internal error");
        ApiError::Internal { reference }
    }

    /// Extra `extensions` entries beyond `code`.
    pub fn extensions(&self) -> Vec<(&'static str, serde_json::Value)> {
        match self {
            ApiError::Validation(errors) => {
                let mut out = vec![(
                    "fieldErrors",
                    serde_json::to_value(errors).unwrap_or_default(),
                )];
                if let Some(first) = errors.first() {
                    out.push(("field", first.field.clone().into()));
                    if let Some(row) = first.row {
                        out.push(("row", row.into()));
                    }
                }
                out
            }
            ApiError::NotFound { entity, id } => {
                vec![("entity", (*entity).into()), ("id", id.clone().into())]
            }
            ApiError::Internal { reference } => vec![("reference", reference.clone().into())],
            ApiError::ScheduleRules(violations) => vec![(
                "violations",
                serde_json::to_value(violations).unwrap_or_default(),
            )],
            _ => vec![],
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        match err.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(detail)) => {
                tracing::debug!(%detail, "unique constraint violation");
                ApiError::Conflict("a record with the same unique key already exists".into())
            }
            _ => ApiError::internal(err),
        }
    }
}

impl From<serde_json::Error> for ApiError {
    fn from(err: serde_json::Error) -> Self {
        ApiError::internal(err)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Collects field errors while validating a batch, then fails once with all of them.
#[derive(Default, Debug)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn field(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.errors.extend(errors);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}
