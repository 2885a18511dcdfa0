//! Program definitions: typed, versioned parameters and seasons.
//!
//! Rates and windows are parameters stored with the program (never constants in
//! plugin code), so a rate change is a new parameter version, not a new plugin.
//! Money values are JSON strings holding exact decimals.

use std::str::FromStr;

use async_graphql::{InputObject, Json, SimpleObject};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::geo::{Iso, Region};
use super::string_enum;
use crate::error::FieldError;

string_enum! {
    /// How a program measures performance.
    pub enum MvKind {
        /// Measured at the utility meter against a baseline.
        UtilityMeter => "UTILITY_METER",
        /// Measured on the device's own interval data.
        Device => "DEVICE",
    }
}

string_enum! {
    pub enum ProgramStatus {
        Active => "ACTIVE",
        Retired => "RETIRED",
    }
}

string_enum! {
    /// The type of a parameter's value.
    pub enum ParameterKind {
        /// Exact decimal amount of US dollars, as a JSON string (`"18.00"`).
        Money => "MONEY",
        /// Exact decimal, as a JSON string.
        Decimal => "DECIMAL",
        Integer => "INTEGER",
        /// A finite JSON number (ratios, kW).
        Number => "NUMBER",
        Boolean => "BOOLEAN",
        String => "STRING",
        /// Any JSON (lists, per-zone tables).
        Json => "JSON",
    }
}

/// One program parameter with its documentation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Parameter {
    pub key: String,
    pub kind: ParameterKind,
    pub value: serde_json::Value,
    pub unit: Option<String>,
    pub description: String,
    /// Where the default comes from (a program document).
    pub source: Option<String>,
    /// The value could not be checked against the program documents yet.
    pub to_confirm: bool,
}

/// A recurring season, by month and day in the program's time zone, inclusive.
/// `start` after `end` wraps over the new year (e.g. Nov 1 – Apr 30).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, SimpleObject, InputObject)]
#[graphql(input_name = "SeasonInput")]
#[serde(rename_all = "camelCase")]
pub struct Season {
    pub name: String,
    /// `MM-DD`
    pub start: String,
    /// `MM-DD`; `02-29` means the last day of February.
    pub end: String,
}

#[derive(Debug, Clone, InputObject, Serialize)]
#[graphql(name = "ParameterInput")]
#[serde(rename_all = "camelCase")]
pub struct ParameterInput {
    pub key: String,
    pub kind: ParameterKind,
    pub value: Json<serde_json::Value>,
    pub unit: Option<String>,
    pub description: String,
    pub source: Option<String>,
    #[graphql(default)]
    pub to_confirm: bool,
}

/// A change to one parameter. For a new key, `kind` and `description` are required.
#[derive(Debug, Clone, InputObject, Serialize)]
#[graphql(name = "ParameterChangeInput")]
#[serde(rename_all = "camelCase")]
pub struct ParameterChange {
    pub key: String,
    pub value: Json<serde_json::Value>,
    pub kind: Option<ParameterKind>,
    pub unit: Option<String>,
    pub description: Option<String>,
    pub source: Option<String>,
    /// Defaults to false: a value set by an analyst is taken as confirmed.
    pub to_confirm: Option<bool>,
}

#[derive(Debug, Clone, InputObject, Serialize)]
#[graphql(name = "CreateProgramInput")]
#[serde(rename_all = "camelCase")]
pub struct ProgramSpec {
    /// Unique code, upper case with underscores (`CAISO_DRAM`).
    pub code: String,
    pub name: String,
    #[graphql(default)]
    pub description: String,
    pub region: Region,
    /// Set when the program belongs to one utility (Con Edison DLRP).
    pub utility: Option<String>,
    pub mv_kind: MvKind,
    /// Whether partners upload the interval data (device programs).
    pub partner_supplied_intervals: bool,
    /// IANA time zone in which hours, days and seasons are judged.
    pub timezone: String,
    pub seasons: Vec<Season>,
    pub parameters: Vec<ParameterInput>,
}

impl ProgramSpec {
    pub fn iso(&self) -> Iso {
        self.region.iso()
    }

    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let code_ok = (2..=64).contains(&self.code.len())
            && self.code.starts_with(|c: char| c.is_ascii_uppercase())
            && self
                .code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !code_ok {
            errors.push(FieldError::new(
                "code",
                "must be 2–64 characters of A–Z, 0–9 and _ starting with a letter",
            ));
        }
        if self.name.trim().is_empty() || self.name.len() > 200 {
            errors.push(FieldError::new("name", "must be 1 to 200 characters"));
        }
        if let Some(code) = &self.utility {
            match super::geo::find_utility(code) {
                Some(u) if u.regions.contains(&self.region) => {}
                _ => errors.push(FieldError::new(
                    "utility",
                    format!("`{code}` is not a utility of region {}", self.region),
                )),
            }
        }
        if let Err(e) = validate_timezone(&self.timezone) {
            errors.push(FieldError::new("timezone", e));
        }
        errors.extend(validate_seasons(&self.seasons, "seasons"));
        let mut keys = std::collections::HashSet::new();
        for (i, p) in self.parameters.iter().enumerate() {
            let path = format!("parameters[{i}]");
            if !keys.insert(p.key.as_str()) {
                errors.push(FieldError::new(format!("{path}.key"), "duplicate key").in_row(i));
            }
            errors.extend(
                validate_parameter(&p.key, p.kind, &p.value.0, &p.description, &path)
                    .into_iter()
                    .map(|e| e.in_row(i)),
            );
        }
        errors
    }

    pub fn parameters(&self) -> Vec<Parameter> {
        self.parameters
            .iter()
            .map(|p| Parameter {
                key: p.key.clone(),
                kind: p.kind,
                value: p.value.0.clone(),
                unit: p.unit.clone(),
                description: p.description.clone(),
                source: p.source.clone(),
                to_confirm: p.to_confirm,
            })
            .collect()
    }
}

pub fn validate_timezone(tz: &str) -> Result<(), String> {
    chrono_tz::Tz::from_str(tz)
        .map(|_| ())
        .map_err(|_| format!("`{tz}` is not an IANA time zone such as America/New_York"))
}

fn parse_month_day(text: &str) -> Option<(u32, u32)> {
    let (m, d) = text.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let (m, d): (u32, u32) = (m.parse().ok()?, d.parse().ok()?);
    // Judge against a leap year so that 02-29 is accepted.
    chrono::NaiveDate::from_ymd_opt(2024, m, d).map(|_| (m, d))
}

pub fn validate_seasons(seasons: &[Season], path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (i, s) in seasons.iter().enumerate() {
        let at = |f: &str| format!("{path}[{i}].{f}");
        if s.name.trim().is_empty() || s.name.len() > 64 {
            errors.push(FieldError::new(at("name"), "must be 1 to 64 characters").in_row(i));
        } else if !names.insert(s.name.as_str()) {
            errors.push(FieldError::new(at("name"), "duplicate season name").in_row(i));
        }
        for (field, value) in [("start", &s.start), ("end", &s.end)] {
            if parse_month_day(value).is_none() {
                errors.push(
                    FieldError::new(at(field), format!("must be MM-DD (got `{value}`)")).in_row(i),
                );
            }
        }
    }
    errors
}

/// Checks that `value` has the shape its kind promises.
pub fn validate_parameter(
    key: &str,
    kind: ParameterKind,
    value: &serde_json::Value,
    description: &str,
    path: &str,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let key_ok = (1..=64).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !key_ok {
        errors.push(FieldError::new(
            format!("{path}.key"),
            format!("`{key}` must be snake_case: a–z, 0–9 and _, starting with a letter"),
        ));
    }
    if description.trim().is_empty() {
        errors.push(FieldError::new(
            format!("{path}.description"),
            "must say what the parameter means",
        ));
    }
    if let Err(message) = check_value(kind, value) {
        errors.push(FieldError::new(format!("{path}.value"), message));
    }
    errors
}

fn check_value(kind: ParameterKind, value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let ok = match kind {
        ParameterKind::Money | ParameterKind::Decimal => match value {
            Value::String(s) => {
                let d = Decimal::from_str(s)
                    .map_err(|_| format!("`{s}` is not a decimal number written as a string"))?;
                if kind == ParameterKind::Money && d.scale() > 6 {
                    return Err(format!("`{s}` has more than 6 decimal places"));
                }
                true
            }
            _ => {
                return Err(format!(
                    "{kind} values are exact decimals written as JSON strings, e.g. \"18.00\""
                ))
            }
        },
        ParameterKind::Integer => value.is_i64(),
        ParameterKind::Number => value.as_f64().is_some_and(f64::is_finite),
        ParameterKind::Boolean => value.is_boolean(),
        ParameterKind::String => value.is_string(),
        ParameterKind::Json => !value.is_null(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("expected a value of kind {kind}, got {value}"))
    }
}

/// Applies changes to the current parameters, producing the next version's set.
pub fn apply_changes(
    current: &[Parameter],
    changes: &[ParameterChange],
    removals: &[String],
) -> Result<Vec<Parameter>, Vec<FieldError>> {
    let mut next: Vec<Parameter> = current.to_vec();
    let mut errors = Vec::new();
    for (i, key) in removals.iter().enumerate() {
        let before = next.len();
        next.retain(|p| &p.key != key);
        if next.len() == before {
            errors.push(
                FieldError::new(format!("remove[{i}]"), format!("no parameter `{key}`")).in_row(i),
            );
        }
    }
    let mut seen = std::collections::HashSet::new();
    for (i, change) in changes.iter().enumerate() {
        let path = format!("changes[{i}]");
        if !seen.insert(change.key.as_str()) {
            errors.push(FieldError::new(format!("{path}.key"), "duplicate key").in_row(i));
            continue;
        }
        let existing = next.iter_mut().find(|p| p.key == change.key);
        let (kind, description) = match &existing {
            Some(p) => (
                change.kind.unwrap_or(p.kind),
                change
                    .description
                    .clone()
                    .unwrap_or_else(|| p.description.clone()),
            ),
            None => match change.kind {
                Some(kind) => (kind, change.description.clone().unwrap_or_default()),
                None => {
                    errors.push(
                        FieldError::new(
                            format!("{path}.kind"),
                            format!(
                                "`{}` is a new parameter: give its kind and description",
                                change.key
                            ),
                        )
                        .in_row(i),
                    );
                    continue;
                }
            },
        };
        let problems = validate_parameter(&change.key, kind, &change.value.0, &description, &path);
        if !problems.is_empty() {
            errors.extend(problems.into_iter().map(|e| e.in_row(i)));
            continue;
        }
        let updated = Parameter {
            key: change.key.clone(),
            kind,
            value: change.value.0.clone(),
            unit: change
                .unit
                .clone()
                .or_else(|| existing.as_ref().and_then(|p| p.unit.clone())),
            description,
            source: change
                .source
                .clone()
                .or_else(|| existing.as_ref().and_then(|p| p.source.clone())),
            to_confirm: change.to_confirm.unwrap_or(false),
        };
        match existing {
            Some(p) => *p = updated,
            None => next.push(updated),
        }
    }
    if errors.is_empty() {
        Ok(next)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rate() -> Parameter {
        Parameter {
            key: "summer_rate_per_kw".into(),
            kind: ParameterKind::Money,
            value: json!("225.00"),
            unit: Some("USD/kW-season".into()),
            description: "Summer rate".into(),
            source: None,
            to_confirm: true,
        }
    }

    fn change(key: &str, value: serde_json::Value) -> ParameterChange {
        ParameterChange {
            key: key.into(),
            value: Json(value),
            kind: None,
            unit: None,
            description: None,
            source: None,
            to_confirm: None,
        }
    }

    #[test]
    fn money_must_be_a_decimal_string() {
        assert!(check_value(ParameterKind::Money, &json!("18.00")).is_ok());
        assert!(check_value(ParameterKind::Money, &json!(18.0)).is_err());
        assert!(check_value(ParameterKind::Money, &json!("eighteen")).is_err());
        assert!(check_value(ParameterKind::Integer, &json!(4)).is_ok());
        assert!(check_value(ParameterKind::Integer, &json!(4.5)).is_err());
    }

    #[test]
    fn changes_keep_kind_and_confirm_the_value() {
        let next = apply_changes(
            &[rate()],
            &[change("summer_rate_per_kw", json!("230.00"))],
            &[],
        )
        .unwrap();
        assert_eq!(next[0].value, json!("230.00"));
        assert_eq!(next[0].kind, ParameterKind::Money);
        assert!(!next[0].to_confirm);
        let err =
            apply_changes(&[rate()], &[change("summer_rate_per_kw", json!(230))], &[]).unwrap_err();
        assert_eq!(err[0].field, "changes[0].value");
        let err = apply_changes(&[rate()], &[change("brand_new", json!(1))], &[]).unwrap_err();
        assert_eq!(err[0].field, "changes[0].kind");
    }

    #[test]
    fn seasons_accept_feb_29_and_reject_nonsense() {
        let ok = Season {
            name: "winter".into(),
            start: "12-01".into(),
            end: "02-29".into(),
        };
        assert!(validate_seasons(&[ok], "seasons").is_empty());
        let bad = Season {
            name: "x".into(),
            start: "13-01".into(),
            end: "2-3".into(),
        };
        assert_eq!(validate_seasons(&[bad], "seasons").len(), 2);
    }
}
