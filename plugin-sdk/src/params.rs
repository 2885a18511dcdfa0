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

/// A named recurring season (`MM-DD` bounds, inclusive).
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
pub struct Season {
    pub name: String,
    pub start: String,
    pub end: String,
}

impl Params {
    /// The program's time zone (`timezone`, which the platform passes from
    /// the program record).
    pub fn timezone(&self) -> Result<chrono_tz::Tz, RuleError> {
        crate::time::zone(self.text("timezone")?)
    }

    /// Holiday names (`holidays`), see [`crate::time::holiday`].
    pub fn holidays(&self) -> Result<Vec<String>, RuleError> {
        self.strings("holidays")
    }

    /// The program's seasons (`seasons`, passed from the program record).
    pub fn seasons(&self) -> Result<Vec<Season>, RuleError> {
        serde_json::from_value(self.get("seasons")?.clone())
            .map_err(|e| invalid(format!("parameter `seasons`: {e}")))
    }

    /// A `YYYY-MM-DD` date parameter.
    pub fn date(&self, key: &str) -> Result<chrono::NaiveDate, RuleError> {
        let text = self.text(key)?;
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            invalid(format!(
                "parameter `{key}` is not a YYYY-MM-DD date: `{text}`"
            ))
        })
    }

    /// A non-negative count (days, hours, events).
    pub fn count(&self, key: &str) -> Result<usize, RuleError> {
        usize::try_from(self.integer(key)?)
            .map_err(|_| invalid(format!("parameter `{key}` must not be negative")))
    }

    /// A JSON parameter decoded into `T`.
    pub fn json<T: serde::de::DeserializeOwned>(&self, key: &str) -> Result<T, RuleError> {
        serde_json::from_value(self.get(key)?.clone())
            .map_err(|e| invalid(format!("parameter `{key}`: {e}")))
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

#[cfg(test)]
mod program_record_tests {
    use super::*;

    #[test]
    fn zone_seasons_dates_counts() {
        let p = Params::parse(
            r#"{"timezone":"America/Chicago","seasons":[{"name":"summer","start":"05-01","end":"09-30"}],
                "cod":"2019-01-01","n":-1,"z":"Mars/Base"}"#,
        )
        .unwrap();
        assert_eq!(p.timezone().unwrap(), chrono_tz::America::Chicago);
        assert_eq!(p.seasons().unwrap()[0].name, "summer");
        assert_eq!(p.date("cod").unwrap().to_string(), "2019-01-01");
        assert!(p.count("n").is_err());
        assert!(crate::time::zone(p.text("z").unwrap()).is_err());
    }
}
