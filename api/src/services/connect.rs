//! The hosted Connect flow and the authorizations it produces.
//!
//! A partner creates a session and gets a link holding a 256-bit token (only
//! its SHA-256 is stored). The first visit exchanges the token for a cookie
//! secret bound to that browser (again only its hash is stored): the link is
//! then used, and every later page and form of the flow needs the cookie, so
//! a forwarded or leaked link is worthless. Forms carry a CSRF value derived
//! from the cookie secret. The customer picks a utility, gives the account
//! details the utility data source checks, and consents; the consent, the
//! meters and their data sync are written in one transaction, announced to
//! the partner (subscription and webhook), and the browser is sent to the
//! partner's return URL. Sessions and authorizations expire on their own.

use std::collections::HashMap;

use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::auth::{Principal, Tenant};
use crate::db::Db;
use crate::domain::connect::{
    AbandonReason, AuthorizationState, ConnectSessionRequest, ConnectSessionStatus, ConnectStep,
    DataScope, DEFAULT_AUTHORIZATION_DAYS, DEFAULT_SESSION_MINUTES, MAX_LOOKUP_FAILURES,
    TOKEN_PREFIX,
};
use crate::domain::geo::{self, Region};
use crate::domain::meter::{AuthorizationStatus, MeterKind, MeterSpec, ServiceAddress};
use crate::domain::Role;
use crate::entity::{
    connect_session as session, meter, partner, utility_authorization as authorization,
    utility_sync,
};
use crate::error::{ApiError, ApiResult};
use crate::ids::new_id;
use crate::services::idempotency::{self, IdempotencyKey, Start};
use crate::services::pagination::{keyset, Page, PageRequest};
use crate::utility::{
    AccountQuery, AuthorizedAccount, LookupError, UtilityAccount, UtilitySources,
};

/// Connect and utility data settings.
#[derive(Debug, Clone)]
pub struct ConnectConfig {
    /// How often a replica ends expired sessions and authorizations.
    pub sweep_interval: std::time::Duration,
    /// How often a replica looks for meters due a utility data fetch.
    pub sync_poll: std::time::Duration,
    /// How often each authorized meter's new utility data is fetched.
    pub sync_interval: std::time::Duration,
    /// History fetched when a meter is first authorized.
    pub backfill_days: i64,
}

impl Default for ConnectConfig {
    fn default() -> Self {
        Self {
            sweep_interval: std::time::Duration::from_secs(30),
            sync_poll: std::time::Duration::from_secs(5),
            sync_interval: std::time::Duration::from_secs(15 * 60),
            backfill_days: 395,
        }
    }
}

/// Why a page of the flow cannot be shown; the HTTP layer renders each.
#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    #[error("this link is not valid")]
    UnknownLink,
    /// The link was opened before, in another browser (or its cookie is gone).
    #[error("this link has already been used")]
    LinkUsed,
    /// The session ended (completed, abandoned or expired).
    #[error("this session has ended")]
    Ended(Box<session::Model>),
    /// The form's CSRF value or the request's origin is wrong.
    #[error("the form could not be verified")]
    Forgery,
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<sea_orm::DbErr> for FlowError {
    fn from(err: sea_orm::DbErr) -> Self {
        FlowError::Api(err.into())
    }
}

pub type FlowResult<T> = Result<T, FlowError>;

/// A form the customer must correct: field → message, and what they typed.
#[derive(Debug, Default, Clone)]
pub struct FormErrors {
    pub errors: Vec<(&'static str, String)>,
    pub values: HashMap<&'static str, String>,
}

impl FormErrors {
    fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.errors.push((field, message.into()));
    }
}

/// What a form submission leads to.
pub enum Submitted {
    /// Show the (next) step of this session.
    Next(Box<session::Model>),
    /// Show the step again with the errors.
    Invalid(Box<session::Model>, FormErrors),
    /// The flow ended: send the browser here.
    Finished(String),
}

/// The consent step's answers.
pub struct ConsentForm {
    pub name: String,
    pub email: String,
    pub agreed: bool,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct SessionFilter {
    pub statuses: Option<Vec<ConnectSessionStatus>>,
    pub customer_reference: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct AuthorizationFilter {
    pub statuses: Option<Vec<AuthorizationState>>,
    pub utilities: Option<Vec<String>>,
}

#[derive(Clone)]
pub struct ConnectService {
    db: Db,
    sources: UtilitySources,
    enrollments: super::enrollments::EnrollmentService,
    notifications: super::notifications::NotificationService,
    public_url: String,
}

/// Why an authorization ended at its expiry date.
pub const EXPIRY_REASON: &str = "the authorization reached its expiry date";

/// 256 random bits, base64url (link tokens and browser cookie secrets).
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// The CSRF value of a browser's flow: derived from its cookie secret, so a
/// page on another site can neither read nor compute it.
pub fn csrf_token(browser_secret: &str) -> String {
    sha256(&format!("gridhub-connect-csrf:{browser_secret}"))
}

/// Equality that takes the same time wherever the strings differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

impl ConnectService {
    pub fn new(
        db: Db,
        sources: UtilitySources,
        enrollments: super::enrollments::EnrollmentService,
        notifications: super::notifications::NotificationService,
        public_url: String,
    ) -> Self {
        Self {
            db,
            sources,
            enrollments,
            notifications,
            public_url: public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The link a customer opens.
    pub fn link(&self, token: &str) -> String {
        format!("{}/connect/{token}", self.public_url)
    }

    // ---- partner API -------------------------------------------------------

    /// Opens a session; returns it with its link (shown only here and on an
    /// idempotent replay).
    pub async fn create_session(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        mut request: ConnectSessionRequest,
        idempotency_key: Option<String>,
    ) -> ApiResult<(session::Model, String)> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let partner_id = principal.acting_partner(partner_id)?;
        request.validate(&self.sources.served())?;
        let idem = idempotency_key
            .map(|key| {
                IdempotencyKey::new(
                    principal,
                    key,
                    "createConnectSession",
                    &(&partner_id, &request),
                )
            })
            .transpose()?;
        let txn = match idempotency::start::<(String, String)>(&self.db, idem.as_ref()).await? {
            Start::Replay((id, url)) => return Ok((self.find(&id).await?, url)),
            Start::Fresh(txn) => txn,
        };
        partner::Entity::find_by_id(partner_id.clone())
            .one(&*txn)
            .await?
            .ok_or_else(|| ApiError::not_found("partner", &partner_id))?;
        let now = Utc::now();
        let token = format!("{TOKEN_PREFIX}{}", random_secret());
        let minutes = request
            .expires_in_minutes
            .map(i64::from)
            .unwrap_or(DEFAULT_SESSION_MINUTES);
        let utilities = request.utilities.clone().unwrap_or_default();
        let only_one = (utilities.len() == 1).then(|| utilities[0].clone());
        let row = session::ActiveModel {
            id: Set(new_id("cs")),
            partner_id: Set(partner_id.clone()),
            token_hash: Set(sha256(&token)),
            browser_hash: Set(None),
            customer_reference: Set(request.customer_reference.clone()),
            return_url: Set(request.return_url.clone()),
            return_state: Set(request.return_state.clone()),
            utilities: Set(json!(utilities)),
            scopes: Set(json!(request.scopes())),
            authorization_days: Set(request
                .authorization_days
                .unwrap_or(DEFAULT_AUTHORIZATION_DAYS)),
            status: Set(ConnectSessionStatus::Created.as_str().into()),
            // A session for one utility starts at the account step.
            step: Set(if only_one.is_some() {
                ConnectStep::Account
            } else {
                ConnectStep::Utility
            }
            .as_str()
            .into()),
            utility: Set(only_one),
            account: Set(None),
            lookup_failures: Set(0),
            abandon_reason: Set(None),
            authorization_id: Set(None),
            created_by: Set(principal.key_id.clone()),
            created_at: Set(now),
            expires_at: Set(now + Duration::minutes(minutes)),
            opened_at: Set(None),
            finished_at: Set(None),
            updated_at: Set(now),
        }
        .insert(&*txn)
        .await?;
        let url = self.link(&token);
        idempotency::finish(txn, idem.as_ref(), &(row.id.clone(), url.clone())).await?;
        tracing::info!(session = %row.id, partner = %partner_id, "connect session created");
        Ok((row, url))
    }

    async fn find(&self, id: &str) -> ApiResult<session::Model> {
        session::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or_else(|| ApiError::not_found("connect session", id))
    }

    pub async fn session(&self, principal: &Principal, id: &str) -> ApiResult<session::Model> {
        let row = session::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?;
        visible(principal, row, |r| &r.partner_id, "connect session", id)
    }

    pub async fn sessions(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        filter: &SessionFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<session::Model>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let mut query = session::Entity::find();
        if let Tenant::Partner(p) = principal.tenant(partner_id)? {
            query = query.filter(session::Column::PartnerId.eq(p));
        }
        if let Some(s) = &filter.statuses {
            query = query.filter(session::Column::Status.is_in(s.iter().map(|x| x.as_str())));
        }
        if let Some(r) = &filter.customer_reference {
            query = query.filter(session::Column::CustomerReference.eq(r.clone()));
        }
        let rows = keyset(query, page, session::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(Page::from_fetched(page, rows))
    }

    pub async fn authorization(
        &self,
        principal: &Principal,
        id: &str,
    ) -> ApiResult<authorization::Model> {
        let row = authorization::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?;
        visible(
            principal,
            row,
            |r| &r.partner_id,
            "utility authorization",
            id,
        )
    }

    pub async fn authorizations(
        &self,
        principal: &Principal,
        partner_id: Option<&str>,
        filter: &AuthorizationFilter,
        page: &PageRequest,
    ) -> ApiResult<Page<authorization::Model>> {
        principal.require(&[Role::Partner, Role::Admin])?;
        let mut query = authorization::Entity::find();
        if let Tenant::Partner(p) = principal.tenant(partner_id)? {
            query = query.filter(authorization::Column::PartnerId.eq(p));
        }
        if let Some(s) = &filter.statuses {
            query = query.filter(authorization::Column::Status.is_in(s.iter().map(|x| x.as_str())));
        }
        if let Some(u) = &filter.utilities {
            query = query.filter(authorization::Column::Utility.is_in(u.iter().cloned()));
        }
        let rows = keyset(query, page, authorization::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(Page::from_fetched(page, rows))
    }

    /// Authorizations by id (for batch loaders; callers check the tenant).
    pub async fn authorizations_by_ids(
        &self,
        ids: &[String],
    ) -> ApiResult<HashMap<String, authorization::Model>> {
        Ok(authorization::Entity::find()
            .filter(authorization::Column::Id.is_in(ids.iter().cloned()))
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|a| (a.id.clone(), a))
            .collect())
    }

    /// Meters of authorizations, by authorization id (for batch loaders).
    pub async fn meters_of(&self, ids: &[String]) -> ApiResult<HashMap<String, Vec<meter::Model>>> {
        let rows = meter::Entity::find()
            .filter(meter::Column::AuthorizationId.is_in(ids.iter().cloned()))
            .order_by_asc(meter::Column::Id)
            .all(self.db.conn())
            .await?;
        Ok(super::group_by(rows, |m| {
            m.authorization_id.clone().unwrap_or_default()
        }))
    }

    /// Utility data sync state of meters (for batch loaders).
    pub async fn sync_of(
        &self,
        meter_ids: &[String],
    ) -> ApiResult<HashMap<String, utility_sync::Model>> {
        Ok(utility_sync::Entity::find()
            .filter(utility_sync::Column::MeterId.is_in(meter_ids.iter().cloned()))
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|s| (s.meter_id.clone(), s))
            .collect())
    }

    /// Ends an authorization at the partner's (or an admin's) request.
    pub async fn revoke(
        &self,
        principal: &Principal,
        id: &str,
        reason: Option<String>,
    ) -> ApiResult<authorization::Model> {
        let row = self.authorization(principal, id).await?;
        let reason = reason
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "revoked at the partner's request".into());
        if reason.len() > 500 {
            return Err(ApiError::validation(
                "reason",
                "must be at most 500 characters",
            ));
        }
        self.end(
            &row.id,
            AuthorizationState::Revoked,
            &principal.key_id,
            &reason,
        )
        .await?
        .ok_or_else(|| ApiError::Conflict(format!("authorization {id} is already {}", row.status)))
    }

    /// Ends an AUTHORIZED authorization: its meters lose the authorization,
    /// their utility data stops, the partner is told, and the meters'
    /// enrollments are re-decided (programs that need utility data mark them
    /// INELIGIBLE with `AUTHORIZATION_REQUIRED`). `None` if it had already ended.
    pub async fn end(
        &self,
        id: &str,
        state: AuthorizationState,
        by: &str,
        reason: &str,
    ) -> ApiResult<Option<authorization::Model>> {
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        let done = authorization::Entity::update_many()
            .col_expr(authorization::Column::Status, Expr::value(state.as_str()))
            .col_expr(authorization::Column::EndedAt, Expr::value(now))
            .col_expr(authorization::Column::EndedBy, Expr::value(by))
            .col_expr(authorization::Column::EndReason, Expr::value(reason))
            .col_expr(authorization::Column::UpdatedAt, Expr::value(now))
            .filter(authorization::Column::Id.eq(id))
            .filter(authorization::Column::Status.eq(AuthorizationState::Authorized.as_str()))
            .exec(&*txn)
            .await?;
        if done.rows_affected == 0 {
            return Ok(None);
        }
        let row = authorization::Entity::find_by_id(id.to_owned())
            .one(&*txn)
            .await?
            .ok_or_else(|| ApiError::internal("authorization vanished"))?;
        let meter_status = match state {
            AuthorizationState::Expired => AuthorizationStatus::Expired,
            _ => AuthorizationStatus::Revoked,
        };
        let meter_ids = detach_meters(&*txn, &[id.to_owned()], meter_status, now).await?;
        let kind = match state {
            AuthorizationState::Expired => "AUTHORIZATION_EXPIRED",
            _ => "AUTHORIZATION_REVOKED",
        };
        super::notifications::record(
            &*txn,
            &row.partner_id,
            None,
            kind,
            json!({ "kind": kind, "authorization": authorization_payload(&row), "meterIds": meter_ids }),
            now,
        )
        .await?;
        txn.commit().await?;
        self.notifications.wake();
        tracing::info!(authorization = %id, state = %state, meters = meter_ids.len(), "utility authorization ended");
        if let Some(source) = self.sources.for_utility(&row.utility) {
            if let Err(err) = source.revoke(&authorized_account(&row)).await {
                tracing::warn!(authorization = %id, %err, "could not tell the utility");
            }
        }
        for meter_id in &meter_ids {
            self.enrollments.after_meter_change(meter_id).await;
        }
        Ok(Some(row))
    }

    // ---- hosted flow -------------------------------------------------------

    /// The first visit of a link: binds the session to this browser. Returns
    /// the session and, when the browser is new to it, the cookie secret to set.
    /// `cookie_of` gives the browser's cookie for a session id, if it has one.
    pub async fn open(
        &self,
        token: &str,
        cookie_of: impl Fn(&str) -> Option<String>,
    ) -> FlowResult<(session::Model, Option<String>)> {
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 100 {
            return Err(FlowError::UnknownLink);
        }
        let row = session::Entity::find()
            .filter(session::Column::TokenHash.eq(sha256(token)))
            .one(self.db.conn())
            .await?
            .ok_or(FlowError::UnknownLink)?;
        let row = self.check_live(row).await?;
        if row.status == ConnectSessionStatus::Opened.as_str() {
            return match cookie_of(&row.id) {
                Some(c)
                    if row
                        .browser_hash
                        .as_deref()
                        .is_some_and(|h| same_secret(h, &sha256(&c))) =>
                {
                    Ok((row, None))
                }
                _ => Err(FlowError::LinkUsed),
            };
        }
        let secret = random_secret();
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        let done = session::Entity::update_many()
            .col_expr(
                session::Column::Status,
                Expr::value(ConnectSessionStatus::Opened.as_str()),
            )
            .col_expr(session::Column::BrowserHash, Expr::value(sha256(&secret)))
            .col_expr(session::Column::OpenedAt, Expr::value(now))
            .col_expr(session::Column::UpdatedAt, Expr::value(now))
            .filter(session::Column::Id.eq(row.id.clone()))
            .filter(session::Column::Status.eq(ConnectSessionStatus::Created.as_str()))
            .exec(&*txn)
            .await?;
        txn.commit().await?;
        if done.rows_affected == 0 {
            // Another request opened it first.
            return Err(FlowError::LinkUsed);
        }
        tracing::info!(session = %row.id, "connect link opened");
        Ok((self.find(&row.id).await?, Some(secret)))
    }

    /// The session of a flow page, if this browser holds it and it is live.
    pub async fn flow(&self, session_id: &str, cookie: Option<&str>) -> FlowResult<session::Model> {
        let row = session::Entity::find_by_id(session_id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or(FlowError::UnknownLink)?;
        let bound = match (cookie, &row.browser_hash) {
            (Some(c), Some(h)) => same_secret(h, &sha256(c)),
            _ => false,
        };
        if !bound {
            return Err(FlowError::LinkUsed);
        }
        self.check_live(row).await
    }

    /// Fails with `Ended` for a finished session, ending it first if its time is up.
    async fn check_live(&self, row: session::Model) -> FlowResult<session::Model> {
        let status = ConnectSessionStatus::from_db(&row.status)?;
        if status.is_final() {
            return Err(FlowError::Ended(Box::new(row)));
        }
        if row.expires_at <= Utc::now() {
            let ended = self.expire_session(row).await?;
            return Err(FlowError::Ended(Box::new(ended)));
        }
        Ok(row)
    }

    /// Step 1: the utility.
    pub async fn choose_utility(
        &self,
        row: session::Model,
        utility: &str,
    ) -> FlowResult<Submitted> {
        let offered = self.offered(&row)?;
        if !offered.iter().any(|u| u.code == utility) {
            let mut errors = FormErrors::default();
            errors.add("utility", "Choose your utility from the list.");
            return Ok(Submitted::Invalid(Box::new(row), errors));
        }
        let row = self
            .advance(&row, |a| {
                a.utility = Set(Some(utility.to_owned()));
                a.account = Set(None);
                a.step = Set(ConnectStep::Account.as_str().into());
            })
            .await?;
        Ok(Submitted::Next(Box::new(row)))
    }

    /// Step 2: the account details, checked with the utility.
    pub async fn submit_account(
        &self,
        row: session::Model,
        account_number: &str,
        postal_code: &str,
    ) -> FlowResult<Submitted> {
        let mut errors = FormErrors::default();
        errors
            .values
            .insert("accountNumber", account_number.to_owned());
        errors.values.insert("postalCode", postal_code.to_owned());
        let Some(utility) = row.utility.clone() else {
            errors.add("utility", "Choose your utility first.");
            return Ok(Submitted::Invalid(Box::new(row), errors));
        };
        let number: String = account_number
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let zip = postal_code.trim();
        if number.is_empty() {
            errors.add("accountNumber", "Enter your account number.");
        }
        let zip_ok = (zip.len() == 5 && zip.bytes().all(|b| b.is_ascii_digit()))
            || (zip.len() == 10
                && zip.as_bytes()[5] == b'-'
                && zip
                    .bytes()
                    .enumerate()
                    .all(|(i, b)| i == 5 || b.is_ascii_digit()));
        if !zip_ok {
            errors.add(
                "postalCode",
                "Enter the 5-digit ZIP code of the service address.",
            );
        }
        if !errors.errors.is_empty() {
            return Ok(Submitted::Invalid(Box::new(row), errors));
        }
        let source = self
            .sources
            .for_utility(&utility)
            .ok_or_else(|| ApiError::internal(format!("no data source for {utility}")))?;
        let query = AccountQuery {
            utility: utility.clone(),
            account_number: number,
            postal_code: zip[..5].to_owned(),
        };
        match source.find_account(&query).await {
            Ok(account) => {
                let json = serde_json::to_value(&account).map_err(ApiError::from)?;
                let row = self
                    .advance(&row, |a| {
                        a.account = Set(Some(json));
                        a.step = Set(ConnectStep::Consent.as_str().into());
                    })
                    .await?;
                Ok(Submitted::Next(Box::new(row)))
            }
            Err(LookupError::Unavailable(detail)) => {
                tracing::warn!(session = %row.id, %detail, "utility lookup unavailable");
                errors.add(
                    "accountNumber",
                    LookupError::Unavailable(detail).to_string(),
                );
                Ok(Submitted::Invalid(Box::new(row), errors))
            }
            Err(err) => {
                let failures = row.lookup_failures + 1;
                if failures >= MAX_LOOKUP_FAILURES {
                    let url = self.abandon(row, AbandonReason::TooManyAttempts).await?;
                    return Ok(Submitted::Finished(url));
                }
                let row = self
                    .advance(&row, |a| a.lookup_failures = Set(failures))
                    .await?;
                let field = match err {
                    LookupError::OutsideServiceArea { .. } => "postalCode",
                    _ => "accountNumber",
                };
                errors.add(field, err.to_string());
                Ok(Submitted::Invalid(Box::new(row), errors))
            }
        }
    }

    /// Goes back to an earlier step.
    pub async fn back_to(
        &self,
        row: session::Model,
        step: ConnectStep,
    ) -> FlowResult<session::Model> {
        let now = ConnectStep::from_db(&row.step)?;
        if step >= now || (step == ConnectStep::Utility && self.offered(&row)?.len() == 1) {
            return Ok(row);
        }
        self.advance(&row, |a| a.step = Set(step.as_str().into()))
            .await
    }

    /// Step 3: consent. Creates the authorization and the meters.
    pub async fn consent(&self, row: session::Model, form: ConsentForm) -> FlowResult<Submitted> {
        let mut errors = FormErrors::default();
        let name = form.name.trim().to_owned();
        let email = form.email.trim().to_owned();
        errors.values.insert("name", name.clone());
        errors.values.insert("email", email.clone());
        if name.is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
            errors.add("name", "Enter the name of the account holder.");
        }
        if !plausible_email(&email) {
            errors.add("email", "Enter an email address like name@example.com.");
        }
        if !form.agreed {
            errors.add(
                "agree",
                "Tick the box to give your consent, or choose Cancel.",
            );
        }
        let Some(account) = self.account_of(&row)? else {
            return Ok(Submitted::Next(Box::new(row)));
        };
        if !errors.errors.is_empty() {
            return Ok(Submitted::Invalid(Box::new(row), errors));
        }
        let partner_name = self.partner_name(&row.partner_id).await?;
        let now = Utc::now();
        let expires_at = now + Duration::days(i64::from(row.authorization_days));
        let text = consent_text(&row, &partner_name, &account)?;
        let auth_id = new_id("auth");

        let txn = self.db.begin_write().await?;
        // Only one request completes the session.
        let done = session::Entity::update_many()
            .col_expr(
                session::Column::Status,
                Expr::value(ConnectSessionStatus::Completed.as_str()),
            )
            .col_expr(
                session::Column::AuthorizationId,
                Expr::value(auth_id.clone()),
            )
            .col_expr(session::Column::FinishedAt, Expr::value(now))
            .col_expr(session::Column::UpdatedAt, Expr::value(now))
            .filter(session::Column::Id.eq(row.id.clone()))
            .filter(session::Column::Status.eq(ConnectSessionStatus::Opened.as_str()))
            .exec(&*txn)
            .await?;
        if done.rows_affected == 0 {
            drop(txn);
            return Err(FlowError::Ended(Box::new(self.find(&row.id).await?)));
        }
        let auth = authorization::ActiveModel {
            id: Set(auth_id.clone()),
            partner_id: Set(row.partner_id.clone()),
            session_id: Set(row.id.clone()),
            utility: Set(account.utility.clone()),
            account_number: Set(account.account_number.clone()),
            customer_name: Set(name),
            customer_email: Set(email),
            scopes: Set(row.scopes.clone()),
            consent_sha256: Set(sha256(&text)),
            consent_text: Set(text),
            ip_address: Set(form.ip_address),
            user_agent: Set(form.user_agent.map(|u| u.chars().take(500).collect())),
            status: Set(AuthorizationState::Authorized.as_str().into()),
            granted_at: Set(now),
            expires_at: Set(expires_at),
            ended_at: Set(None),
            ended_by: Set(None),
            end_reason: Set(None),
            updated_at: Set(now),
        }
        .insert(&*txn)
        .await?;
        // An earlier authorization of the same account gives way to this one.
        let earlier: Vec<String> = authorization::Entity::find()
            .filter(authorization::Column::PartnerId.eq(row.partner_id.clone()))
            .filter(authorization::Column::Utility.eq(account.utility.clone()))
            .filter(authorization::Column::AccountNumber.eq(account.account_number.clone()))
            .filter(authorization::Column::Status.eq(AuthorizationState::Authorized.as_str()))
            .filter(authorization::Column::Id.ne(auth_id.clone()))
            .all(&*txn)
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        if !earlier.is_empty() {
            authorization::Entity::update_many()
                .col_expr(
                    authorization::Column::Status,
                    Expr::value(AuthorizationState::Superseded.as_str()),
                )
                .col_expr(authorization::Column::EndedAt, Expr::value(now))
                .col_expr(authorization::Column::EndedBy, Expr::value("customer"))
                .col_expr(
                    authorization::Column::EndReason,
                    Expr::value(format!("superseded by {auth_id}")),
                )
                .col_expr(authorization::Column::UpdatedAt, Expr::value(now))
                .filter(authorization::Column::Id.is_in(earlier.clone()))
                .exec(&*txn)
                .await?;
        }
        let meter_ids = attach_meters(&*txn, &row, &auth, &account, now).await?;
        if !earlier.is_empty() {
            // Service points the account no longer has lose the authorization.
            detach_meters(&*txn, &earlier, AuthorizationStatus::Revoked, now).await?;
        }
        let mut completed = row.clone();
        completed.status = ConnectSessionStatus::Completed.as_str().into();
        completed.authorization_id = Some(auth_id.clone());
        completed.finished_at = Some(now);
        super::notifications::record(
            &*txn,
            &row.partner_id,
            None,
            "CONNECT_SESSION_COMPLETED",
            json!({
                "kind": "CONNECT_SESSION_COMPLETED",
                "session": session_payload(&completed),
                "authorization": authorization_payload(&auth),
                "meterIds": meter_ids,
            }),
            now,
        )
        .await?;
        txn.commit().await?;
        self.notifications.wake();
        tracing::info!(session = %row.id, authorization = %auth_id, meters = meter_ids.len(), "connect session completed");
        for meter_id in &meter_ids {
            self.enrollments.after_meter_change(meter_id).await;
        }
        Ok(Submitted::Finished(return_url(&completed)))
    }

    /// The customer chose Cancel.
    pub async fn cancel(&self, row: session::Model) -> FlowResult<String> {
        self.abandon(row, AbandonReason::CustomerCancelled).await
    }

    async fn abandon(&self, row: session::Model, reason: AbandonReason) -> FlowResult<String> {
        match self
            .finish(&row, ConnectSessionStatus::Abandoned, Some(reason))
            .await?
        {
            Some(ended) => Ok(return_url(&ended)),
            None => Err(FlowError::Ended(Box::new(self.find(&row.id).await?))),
        }
    }

    /// Ends a session whose time is up: ABANDONED if opened, EXPIRED if not.
    async fn expire_session(&self, row: session::Model) -> ApiResult<session::Model> {
        let (status, reason) = if row.status == ConnectSessionStatus::Opened.as_str() {
            (
                ConnectSessionStatus::Abandoned,
                Some(AbandonReason::TimedOut),
            )
        } else {
            (ConnectSessionStatus::Expired, None)
        };
        match self.finish(&row, status, reason).await? {
            Some(ended) => Ok(ended),
            None => self.find(&row.id).await,
        }
    }

    /// Moves a live session to a final status and tells the partner; `None`
    /// if it was no longer in the status `row` had.
    async fn finish(
        &self,
        row: &session::Model,
        status: ConnectSessionStatus,
        reason: Option<AbandonReason>,
    ) -> ApiResult<Option<session::Model>> {
        let now = Utc::now();
        let txn = self.db.begin_write().await?;
        let done = session::Entity::update_many()
            .col_expr(session::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                session::Column::AbandonReason,
                Expr::value(reason.map(|r| r.as_str())),
            )
            .col_expr(session::Column::FinishedAt, Expr::value(now))
            .col_expr(session::Column::UpdatedAt, Expr::value(now))
            .filter(session::Column::Id.eq(row.id.clone()))
            .filter(session::Column::Status.eq(row.status.clone()))
            .exec(&*txn)
            .await?;
        if done.rows_affected == 0 {
            return Ok(None);
        }
        let mut ended = row.clone();
        ended.status = status.as_str().into();
        ended.abandon_reason = reason.map(|r| r.as_str().into());
        ended.finished_at = Some(now);
        ended.updated_at = now;
        let kind = format!("CONNECT_SESSION_{}", status.as_str());
        super::notifications::record(
            &*txn,
            &row.partner_id,
            None,
            &kind,
            json!({ "kind": kind, "session": session_payload(&ended) }),
            now,
        )
        .await?;
        txn.commit().await?;
        self.notifications.wake();
        tracing::info!(session = %row.id, status = %status, reason = ?reason, "connect session ended");
        Ok(Some(ended))
    }

    /// Ends sessions and authorizations whose time is up (every replica runs
    /// this; the conditional updates make each happen once).
    pub async fn sweep(&self) -> ApiResult<usize> {
        let now = Utc::now();
        let sessions = session::Entity::find()
            .filter(session::Column::Status.is_in([
                ConnectSessionStatus::Created.as_str(),
                ConnectSessionStatus::Opened.as_str(),
            ]))
            .filter(session::Column::ExpiresAt.lte(now))
            .all(self.db.conn())
            .await?;
        let mut n = 0;
        for row in sessions {
            self.expire_session(row).await?;
            n += 1;
        }
        let due: Vec<String> = authorization::Entity::find()
            .filter(authorization::Column::Status.eq(AuthorizationState::Authorized.as_str()))
            .filter(authorization::Column::ExpiresAt.lte(now))
            .all(self.db.conn())
            .await?
            .into_iter()
            .map(|a| a.id)
            .collect();
        for id in due {
            if self
                .end(&id, AuthorizationState::Expired, "system", EXPIRY_REASON)
                .await?
                .is_some()
            {
                n += 1;
            }
        }
        Ok(n)
    }

    pub fn spawn_sweeper(&self, interval: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        super::every(interval, "connect sweep", move || {
            let this = this.clone();
            async move { this.sweep().await }
        })
    }

    // ---- what the pages show -------------------------------------------------

    pub async fn partner_name(&self, partner_id: &str) -> ApiResult<String> {
        Ok(partner::Entity::find_by_id(partner_id.to_owned())
            .one(self.db.conn())
            .await?
            .map(|p| p.name)
            .unwrap_or_else(|| "your provider".into()))
    }

    /// Utilities the customer may choose from.
    pub fn offered(&self, row: &session::Model) -> ApiResult<Vec<&'static geo::Utility>> {
        let wanted: Vec<String> = serde_json::from_value(row.utilities.clone())?;
        let served = self.sources.served();
        Ok(geo::UTILITIES
            .iter()
            .filter(|u| served.contains(&u.code))
            .filter(|u| wanted.is_empty() || wanted.iter().any(|w| w == u.code))
            .collect())
    }

    pub fn account_of(&self, row: &session::Model) -> ApiResult<Option<UtilityAccount>> {
        Ok(row
            .account
            .clone()
            .map(serde_json::from_value)
            .transpose()?)
    }

    /// Changes a session the customer is still in (not if it ended meanwhile).
    async fn advance(
        &self,
        row: &session::Model,
        change: impl FnOnce(&mut session::ActiveModel),
    ) -> FlowResult<session::Model> {
        let mut active: session::ActiveModel = row.clone().into();
        change(&mut active);
        active.updated_at = Set(Utc::now());
        let txn = self.db.begin_write().await?;
        let updated = session::Entity::update(active)
            .filter(session::Column::Status.eq(ConnectSessionStatus::Opened.as_str()))
            .exec(&*txn)
            .await;
        match updated {
            Ok(row) => {
                txn.commit().await?;
                Ok(row)
            }
            Err(sea_orm::DbErr::RecordNotUpdated) => {
                drop(txn);
                Err(FlowError::Ended(Box::new(self.find(&row.id).await?)))
            }
            Err(err) => Err(err.into()),
        }
    }
}

/// A row the principal may read: its partner's (any for an admin). Another
/// partner's row is NOT_FOUND, like a missing one, so ids leak nothing.
fn visible<T>(
    principal: &Principal,
    row: Option<T>,
    partner_of: impl Fn(&T) -> &String,
    entity: &'static str,
    id: &str,
) -> ApiResult<T> {
    principal.require(&[Role::Partner, Role::Admin])?;
    let tenant = principal.tenant(None)?;
    match row {
        Some(r) if matches!(&tenant, Tenant::Partner(p) if p != partner_of(&r)) => {
            Err(ApiError::not_found(entity, id))
        }
        Some(r) => Ok(r),
        None => Err(ApiError::not_found(entity, id)),
    }
}

/// The consent statement the customer agrees to: the page shows it and the
/// authorization stores it (with its SHA-256). It names no date, so the text
/// shown and the text stored are the same whenever the customer submits.
pub fn consent_text(
    row: &session::Model,
    partner_name: &str,
    account: &UtilityAccount,
) -> ApiResult<String> {
    let scopes: Vec<DataScope> = serde_json::from_value(row.scopes.clone())?;
    let utility = geo::find_utility(&account.utility)
        .map(|u| u.name)
        .unwrap_or(&account.utility);
    let points: Vec<&str> = account
        .service_points
        .iter()
        .map(|p| p.service_id.as_str())
        .collect();
    let shared: Vec<&str> = scopes.iter().map(|s| s.explanation()).collect();
    Ok(format!(
        "I am the account holder (or authorized by the account holder) of {utility} account {} \
         with service points {}. I authorize {utility} to share the following data with \
         {partner_name} through gridhub for {} days from today: {} {partner_name} may use this \
         data to enroll these services in electricity market programs and to measure and settle \
         their participation. I can revoke this authorization at any time by contacting \
         {partner_name}.",
        mask(&account.account_number),
        points.join(", "),
        row.authorization_days,
        shared.join(" "),
    ))
}

/// `12345678` → `••••5678`.
pub fn mask(account_number: &str) -> String {
    let keep = account_number.len().saturating_sub(4);
    format!("••••{}", &account_number[keep..])
}

fn plausible_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Where the browser goes when the flow ends.
pub fn return_url(row: &session::Model) -> String {
    let mut url = match reqwest::Url::parse(&row.return_url) {
        Ok(u) => u,
        Err(_) => return row.return_url.clone(),
    };
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("sessionId", &row.id);
        q.append_pair("status", &row.status);
        if let Some(state) = &row.return_state {
            q.append_pair("state", state);
        }
    }
    url.into()
}

pub fn session_payload(row: &session::Model) -> Value {
    json!({
        "id": row.id,
        "status": row.status,
        "step": row.step,
        "customerReference": row.customer_reference,
        "utility": row.utility,
        "abandonReason": row.abandon_reason,
        "authorizationId": row.authorization_id,
        "finishedAt": row.finished_at,
    })
}

fn authorization_payload(row: &authorization::Model) -> Value {
    json!({
        "id": row.id,
        "status": row.status,
        "utility": row.utility,
        "accountNumber": mask(&row.account_number),
        "grantedAt": row.granted_at,
        "expiresAt": row.expires_at,
        "endedAt": row.ended_at,
        "endReason": row.end_reason,
    })
}

fn authorized_account(row: &authorization::Model) -> AuthorizedAccount {
    AuthorizedAccount {
        authorization_id: row.id.clone(),
        utility: row.utility.clone(),
        account_number: row.account_number.clone(),
        expires_at: row.expires_at,
    }
}

/// Creates or updates the partner's meters for the account's service points,
/// authorized under `auth`, and schedules their utility data.
async fn attach_meters(
    conn: &impl ConnectionTrait,
    row: &session::Model,
    auth: &authorization::Model,
    account: &UtilityAccount,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    let utility = geo::find_utility(&account.utility)
        .ok_or_else(|| ApiError::internal(format!("unknown utility {}", account.utility)))?;
    let service_ids: Vec<String> = account
        .service_points
        .iter()
        .map(|p| p.service_id.clone())
        .collect();
    let existing: HashMap<String, meter::Model> = meter::Entity::find()
        .filter(meter::Column::PartnerId.eq(row.partner_id.clone()))
        .filter(meter::Column::Utility.eq(account.utility.clone()))
        .filter(meter::Column::UtilityServiceId.is_in(service_ids.clone()))
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|m| m.utility_service_id.clone().map(|s| (s, m)))
        .collect();
    let mut ids = Vec::new();
    for point in &account.service_points {
        let meter_id = match existing.get(&point.service_id) {
            Some(m) => {
                meter::Entity::update_many()
                    .col_expr(
                        meter::Column::AuthorizationStatus,
                        Expr::value(AuthorizationStatus::Authorized.as_str()),
                    )
                    .col_expr(meter::Column::AuthorizationId, Expr::value(auth.id.clone()))
                    .col_expr(
                        meter::Column::UtilityAccountNumber,
                        Expr::value(account.account_number.clone()),
                    )
                    .col_expr(meter::Column::UpdatedAt, Expr::value(now))
                    .filter(meter::Column::Id.eq(m.id.clone()))
                    .exec(conn)
                    .await?;
                m.id.clone()
            }
            None => {
                let region = Region::parse(&point.state)
                    .filter(|r| utility.regions.contains(r))
                    .or_else(|| utility.regions.first().copied())
                    .ok_or_else(|| ApiError::internal("utility without region"))?;
                let mut spec = MeterSpec {
                    external_id: external_id(
                        conn,
                        &row.partner_id,
                        &account.utility,
                        &point.service_id,
                    )
                    .await?,
                    kind: MeterKind::UtilityMeter,
                    device_type: None,
                    region,
                    utility: Some(account.utility.clone()),
                    load_zone: point.load_zone.clone(),
                    customer_class: Some(account.customer_class),
                    service_address: Some(ServiceAddress {
                        line1: Some(point.address_line1.clone()),
                        line2: None,
                        city: Some(point.city.clone()),
                        state: Some(point.state.clone()),
                        postal_code: Some(point.postal_code.clone()),
                    }),
                    capacity_kw: None,
                    energy_kwh: None,
                    utility_account_number: Some(account.account_number.clone()),
                    utility_service_id: Some(point.service_id.clone()),
                    esi_id: None,
                    network_tier: None,
                    commercial_operation_date: None,
                    colocated_renewable_kw: None,
                    attributes: Some(async_graphql::Json(json!({
                        "connectSessionId": row.id,
                        "customerReference": row.customer_reference,
                        "rateSchedule": point.rate_schedule,
                    }))),
                };
                spec.normalize();
                let problems = spec.validate("");
                if !problems.is_empty() {
                    return Err(ApiError::Validation(problems));
                }
                let mut active = super::meters::new_row(&spec, &row.partner_id, now);
                active.authorization_status = Set(AuthorizationStatus::Authorized.as_str().into());
                active.authorization_id = Set(Some(auth.id.clone()));
                active.insert(conn).await?.id
            }
        };
        utility_sync::Entity::delete_by_id(meter_id.clone())
            .exec(conn)
            .await?;
        utility_sync::ActiveModel {
            meter_id: Set(meter_id.clone()),
            partner_id: Set(row.partner_id.clone()),
            authorization_id: Set(auth.id.clone()),
            utility: Set(account.utility.clone()),
            account_number: Set(account.account_number.clone()),
            service_id: Set(point.service_id.clone()),
            synced_through: Set(None),
            next_sync_at: Set(now),
            lease_until: Set(None),
            attempts: Set(0),
            last_error: Set(None),
            last_synced_at: Set(None),
        }
        .insert(conn)
        .await?;
        ids.push(meter_id);
    }
    Ok(ids)
}

/// `connect:{utility}:{service id}`, or with the session's suffix when the
/// partner already uses that external id for another meter.
async fn external_id(
    conn: &impl ConnectionTrait,
    partner_id: &str,
    utility: &str,
    service_id: &str,
) -> ApiResult<String> {
    let id = format!("connect:{utility}:{service_id}");
    let taken = meter::Entity::find()
        .filter(meter::Column::PartnerId.eq(partner_id))
        .filter(meter::Column::ExternalId.eq(id.clone()))
        .one(conn)
        .await?
        .is_some();
    Ok(if taken {
        format!("{id}:{}", &new_id("x")[2..14])
    } else {
        id
    })
}

/// Takes the authorization away from the meters still under these
/// authorizations and stops their data; returns their ids.
async fn detach_meters(
    conn: &impl ConnectionTrait,
    authorization_ids: &[String],
    status: AuthorizationStatus,
    now: DateTime<Utc>,
) -> ApiResult<Vec<String>> {
    let ids: Vec<String> = meter::Entity::find()
        .filter(meter::Column::AuthorizationId.is_in(authorization_ids.iter().cloned()))
        .order_by_asc(meter::Column::Id)
        .all(conn)
        .await?
        .into_iter()
        .map(|m| m.id)
        .collect();
    if ids.is_empty() {
        return Ok(ids);
    }
    meter::Entity::update_many()
        .col_expr(
            meter::Column::AuthorizationStatus,
            Expr::value(status.as_str()),
        )
        .col_expr(meter::Column::UpdatedAt, Expr::value(now))
        .filter(meter::Column::Id.is_in(ids.clone()))
        .exec(conn)
        .await?;
    utility_sync::Entity::delete_many()
        .filter(utility_sync::Column::AuthorizationId.is_in(authorization_ids.iter().cloned()))
        .exec(conn)
        .await?;
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_and_emails() {
        assert_eq!(mask("1234567892"), "••••7892");
        assert!(plausible_email("ana@example.com"));
        assert!(!plausible_email("ana@example"));
        assert!(!plausible_email("ana example.com"));
        assert!(!plausible_email("@example.com"));
    }

    #[test]
    fn csrf_depends_on_the_browser_secret() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        assert!(same_secret(&csrf_token("a"), &csrf_token("a")));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("abc", "ab"));
    }
}
