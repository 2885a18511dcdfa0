//! Typed access to a program's parameters (a JSON object `{ key: value }`).
//! Money and decimals are exact decimal strings; reading them as floats is refused.

use std::str::FromStr;

use rust_decimal::Decimal;
use serde_json::{Map, Value};

use crate::RuleError;

#[derive(Debug, Clone, Default)]
pub struct Params(Map<String, Value>);

fn invalid(message: String) -> RuleError {
    RuleError::InvalidParameters(message)
}

impl Params {
    pub fn parse(json: &str) -> Result<Self, RuleError> {
        match serde_json::from_str(json) {
            Ok(Value::Object(map)) => Ok(Params(map)),
            Ok(_) => Err(invalid("parameters must be a JSON object".into())),
            Err(e) => Err(invalid(format!("parameters are not JSON: {e}"))),
        }
    }

    pub fn from_value(value: Value) -> Result<Self, RuleError> {
        match value {
            Value::Object(map) => Ok(Params(map)),
            _ => Err(invalid("parameters must be a JSON object".into())),
        }
    }

    pub fn raw(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    fn get(&self, key: &str) -> Result<&Value, RuleError> {
        self.0
            .get(key)
            .ok_or_else(|| invalid(format!("missing parameter `{key}`")))
    }

    /// An exact decimal (MONEY or DECIMAL parameters).
    pub fn decimal(&self, key: &str) -> Result<Decimal, RuleError> {
        match self.get(key)? {
            Value::String(s) => Decimal::from_str(s)
                .map_err(|_| invalid(format!("parameter `{key}` is not a decimal: `{s}`"))),
            other => Err(invalid(format!(
                "parameter `{key}` must be a decimal string, got {other}"
            ))),
        }
    }

    pub fn number(&self, key: &str) -> Result<f64, RuleError> {
        self.get(key)?
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| invalid(format!("parameter `{key}` must be a number")))
    }

    pub fn integer(&self, key: &str) -> Result<i64, RuleError> {
        self.get(key)?
            .as_i64()
            .ok_or_else(|| invalid(format!("parameter `{key}` must be an integer")))
    }

    pub fn boolean(&self, key: &str) -> Result<bool, RuleError> {
        self.get(key)?
            .as_bool()
            .ok_or_else(|| invalid(format!("parameter `{key}` must be true or false")))
    }

    pub fn text(&self, key: &str) -> Result<&str, RuleError> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| invalid(format!("parameter `{key}` must be a string")))
    }

    /// A list of strings (e.g. eligible utility codes).
    pub fn strings(&self, key: &str) -> Result<Vec<String>, RuleError> {
        let list = self
            .get(key)?
            .as_array()
            .ok_or_else(|| invalid(format!("parameter `{key}` must be a list")))?;
        list.iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid(format!("parameter `{key}` must list strings")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_reads() {
        let p =
            Params::parse(r#"{"rate":"225.00","n":4,"r":0.2,"on":true,"u":["A","B"],"bad":225}"#)
                .unwrap();
        assert_eq!(p.decimal("rate").unwrap(), Decimal::new(22500, 2));
        assert_eq!(p.integer("n").unwrap(), 4);
        assert_eq!(p.number("r").unwrap(), 0.2);
        assert!(p.boolean("on").unwrap());
        assert_eq!(p.strings("u").unwrap(), ["A", "B"]);
        assert!(matches!(
            p.decimal("bad"),
            Err(RuleError::InvalidParameters(_))
        ));
        assert!(
            matches!(p.number("missing"), Err(RuleError::InvalidParameters(m)) if m.contains("missing"))
        );
        assert!(Params::parse("[1]").is_err());
    }
}
