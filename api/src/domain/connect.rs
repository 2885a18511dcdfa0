//! The hosted Connect flow's vocabulary: session and authorization states,
//! the data a customer shares, and the partner's session request with its
//! checks. Nothing here touches the database.

use async_graphql::InputObject;
use serde::Serialize;

use super::geo;
use super::string_enum;
use crate::error::{FieldError, Validator};

string_enum! {
    /// Where a Connect session stands.
    pub enum ConnectSessionStatus {
        /// Created; the customer has not opened the link yet.
        Created => "CREATED",
        /// The customer opened the link and is in the flow.
        Opened => "OPENED",
        /// The customer consented; the meters are authorized.
        Completed => "COMPLETED",
        /// The customer cancelled, or left the flow until it expired;
        /// `abandonReason` says which.
        Abandoned => "ABANDONED",
        /// The link expired without being opened.
        Expired => "EXPIRED",
    }
}

impl ConnectSessionStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Completed | Self::Abandoned | Self::Expired)
    }
}

string_enum! {
    /// The step of the hosted flow the customer is on (or left at).
    pub enum ConnectStep {
        /// Choosing the utility.
        Utility => "UTILITY",
        /// Entering the utility account details.
        Account => "ACCOUNT",
        /// Reviewing the account found and giving consent.
        Consent => "CONSENT",
    }
}

string_enum! {
    pub enum AbandonReason {
        /// The customer chose "Cancel".
        CustomerCancelled => "CUSTOMER_CANCELLED",
        /// The customer opened the link but did not finish before it expired.
        TimedOut => "TIMED_OUT",
        /// Too many account details that the utility did not recognise.
        TooManyAttempts => "TOO_MANY_ATTEMPTS",
    }
}

string_enum! {
    /// What a customer agrees to share.
    pub enum DataScope {
        /// Name, service addresses, meter numbers, customer class.
        AccountDetails => "ACCOUNT_DETAILS",
        /// 15-minute electricity usage: history and ongoing.
        IntervalUsage => "INTERVAL_USAGE",
    }
}

impl DataScope {
    /// How the hosted page explains the scope to the customer.
    pub fn explanation(self) -> &'static str {
        match self {
            Self::AccountDetails => {
                "Account details: the name on the account, service addresses, meter numbers and customer class."
            }
            Self::IntervalUsage => {
                "Electricity usage every 15 minutes: up to 13 months of history and new usage as your utility publishes it."
            }
        }
    }
}

string_enum! {
    /// Where a customer's utility data authorization stands.
    pub enum AuthorizationState {
        Authorized => "AUTHORIZED",
        /// Ended by the partner, an admin or the utility before its expiry.
        Revoked => "REVOKED",
        /// Reached its expiry date.
        Expired => "EXPIRED",
        /// The customer authorized the same account again; the newer record governs.
        Superseded => "SUPERSEDED",
    }
}

/// Prefix of Connect link tokens, so leaked links are easy to recognise.
pub const TOKEN_PREFIX: &str = "gct_";
pub const DEFAULT_SESSION_MINUTES: i64 = 24 * 60;
pub const MIN_SESSION_MINUTES: i64 = 5;
pub const MAX_SESSION_MINUTES: i64 = 7 * 24 * 60;
pub const DEFAULT_AUTHORIZATION_DAYS: i32 = 365;
pub const MAX_AUTHORIZATION_DAYS: i32 = 3 * 365;
/// Account details the utility does not recognise before the session ends.
pub const MAX_LOOKUP_FAILURES: i32 = 5;
const MAX_TEXT: usize = 512;

/// What a partner asks for when it opens a session for a customer.
#[derive(Debug, Clone, InputObject, Serialize)]
#[graphql(name = "ConnectSessionInput")]
#[serde(rename_all = "camelCase")]
pub struct ConnectSessionRequest {
    /// Where the customer is sent when the flow ends: `https://…` (or
    /// `http://localhost…` during development). gridhub adds `sessionId`,
    /// `status` and, if given, `state` to its query.
    pub return_url: String,
    /// Echoed back as `state` on the return URL (e.g. the partner's CSRF value).
    pub return_state: Option<String>,
    /// The partner's own reference for the customer, kept with the session.
    pub customer_reference: Option<String>,
    /// Utility codes the customer may choose from; all with a data source when absent.
    pub utilities: Option<Vec<String>>,
    /// Data asked for; both scopes when absent.
    pub scopes: Option<Vec<DataScope>>,
    /// How long the authorization lasts once given (1–1095 days, default 365).
    pub authorization_days: Option<i32>,
    /// How long the link stays valid (5 minutes to 7 days, default 24 hours).
    pub expires_in_minutes: Option<i32>,
}

impl ConnectSessionRequest {
    /// Normalizes codes and checks every field; `offered` are the utilities
    /// that have a data source.
    pub fn validate(&mut self, offered: &[&str]) -> Result<(), crate::error::ApiError> {
        let mut v = Validator::default();
        self.return_url = self.return_url.trim().to_owned();
        if let Err(message) = check_return_url(&self.return_url) {
            v.field("input.returnUrl", message);
        }
        for (field, text) in [
            ("input.returnState", &self.return_state),
            ("input.customerReference", &self.customer_reference),
        ] {
            if text.as_ref().is_some_and(|t| {
                t.is_empty() || t.len() > MAX_TEXT || t.chars().any(char::is_control)
            }) {
                v.field(
                    field,
                    format!("must be 1 to {MAX_TEXT} printable characters"),
                );
            }
        }
        if let Some(list) = &mut self.utilities {
            for (i, code) in list.iter_mut().enumerate() {
                *code = code.trim().to_uppercase();
                if geo::find_utility(code).is_none() {
                    v.push(FieldError::new(
                        format!("input.utilities[{i}]"),
                        format!("unknown utility `{code}`; see the `utilities` query"),
                    ));
                } else if !offered.contains(&code.as_str()) {
                    v.push(FieldError::new(
                        format!("input.utilities[{i}]"),
                        format!("no utility data source serves `{code}` yet"),
                    ));
                }
            }
            list.dedup();
            if list.is_empty() {
                v.field(
                    "input.utilities",
                    "give at least one utility, or leave it out",
                );
            }
        }
        if let Some(scopes) = &mut self.scopes {
            scopes.sort();
            scopes.dedup();
            if scopes.is_empty() {
                v.field("input.scopes", "give at least one scope, or leave it out");
            }
        }
        if let Some(days) = self.authorization_days {
            if !(1..=MAX_AUTHORIZATION_DAYS).contains(&days) {
                v.field(
                    "input.authorizationDays",
                    format!("must be 1 to {MAX_AUTHORIZATION_DAYS}"),
                );
            }
        }
        if let Some(minutes) = self.expires_in_minutes {
            if !(MIN_SESSION_MINUTES..=MAX_SESSION_MINUTES).contains(&i64::from(minutes)) {
                v.field(
                    "input.expiresInMinutes",
                    format!("must be {MIN_SESSION_MINUTES} to {MAX_SESSION_MINUTES}"),
                );
            }
        }
        v.finish()
    }

    pub fn scopes(&self) -> Vec<DataScope> {
        self.scopes
            .clone()
            .unwrap_or_else(|| DataScope::ALL.to_vec())
    }
}

/// A return URL must be absolute https, or http to a loopback host (for
/// development), without credentials or a fragment.
pub fn check_return_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("not an absolute URL: {e}"))?;
    let loopback = matches!(
        url.host_str(),
        Some("localhost") | Some("127.0.0.1") | Some("[::1]")
    );
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err("must be https (http only to localhost)".into()),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials".into());
    }
    if url.fragment().is_some() {
        return Err("must not contain a fragment (#…)".into());
    }
    if text.len() > 2048 {
        return Err("must be at most 2048 characters".into());
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(url: &str) -> ConnectSessionRequest {
        ConnectSessionRequest {
            return_url: url.into(),
            return_state: None,
            customer_reference: None,
            utilities: None,
            scopes: None,
            authorization_days: None,
            expires_in_minutes: None,
        }
    }

    #[test]
    fn return_urls_must_be_https_or_loopback() {
        assert!(check_return_url("https://partner.example/done?x=1").is_ok());
        assert!(check_return_url("http://127.0.0.1:4000/back").is_ok());
        assert!(check_return_url("http://localhost/back").is_ok());
        assert!(check_return_url("http://partner.example/done").is_err());
        assert!(check_return_url("javascript:alert(1)").is_err());
        assert!(check_return_url("https://user:pw@partner.example/").is_err());
        assert!(check_return_url("https://partner.example/#frag").is_err());
        assert!(check_return_url("/relative").is_err());
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut r = request("ftp://x");
        r.utilities = Some(vec!["pge".into(), "NOPE".into()]);
        r.authorization_days = Some(0);
        r.expires_in_minutes = Some(1);
        r.customer_reference = Some(String::new());
        let err = r.validate(&["PGE"]).unwrap_err().to_string();
        for field in [
            "input.returnUrl",
            "input.utilities[1]",
            "input.authorizationDays",
            "input.expiresInMinutes",
            "input.customerReference",
        ] {
            assert!(err.contains(field), "{field} missing from {err}");
        }
        assert_eq!(
            r.utilities.as_deref(),
            Some(&["PGE".to_owned(), "NOPE".to_owned()][..])
        );
    }
}
