//! Interval readings as partners send them: the row checks an upload applies
//! before anything is written, and the CSV format (shared by the server's CSV
//! mutation and `gridhub intervals upload`).

use async_graphql::InputObject;
use chrono::{DateTime, Utc};

use super::meter::{DeviceType, MeterKind};
use super::string_enum;

string_enum! {
    /// Where a reading comes from.
    pub enum ReadingSource {
        /// Measured by the partner's device (battery, inverter …).
        Device => "DEVICE",
        /// The utility's revenue meter.
        Utility => "UTILITY",
    }
}

string_enum! {
    /// Why one row of an upload was refused.
    pub enum ReadingErrorCode {
        /// Neither `meterId` nor `externalId`, or a malformed CSV row.
        MalformedRow => "MALFORMED_ROW",
        UnknownMeter => "UNKNOWN_METER",
        /// The meter belongs to another partner.
        ForeignMeter => "FOREIGN_METER",
        /// Interval length other than 5, 15 or 60 minutes.
        InvalidIntervalLength => "INVALID_INTERVAL_LENGTH",
        /// The series already holds readings of another length.
        IntervalLengthMismatch => "INTERVAL_LENGTH_MISMATCH",
        /// The start is not a multiple of the interval length (UTC).
        MisalignedTimestamp => "MISALIGNED_TIMESTAMP",
        /// The same meter, source, channel and start appear earlier in the upload.
        DuplicateInUpload => "DUPLICATE_IN_UPLOAD",
        NotANumber => "NOT_A_NUMBER",
        /// Negative energy from a device that cannot export (only batteries
        /// discharge/charge and utility meters net-export).
        NegativeValue => "NEGATIVE_VALUE",
        /// More energy than the meter's capacity allows in the interval.
        ExceedsCapacity => "EXCEEDS_CAPACITY",
        /// The interval ends in the future.
        FutureInterval => "FUTURE_INTERVAL",
        InvalidChannel => "INVALID_CHANNEL",
    }
}

/// Accepted interval lengths.
pub const INTERVAL_MINUTES: [i32; 3] = [5, 15, 60];
/// The channel used when none is given, and the one performance is measured on.
pub const DEFAULT_CHANNEL: &str = "main";
/// Headroom over nameplate before a value counts as physically impossible
/// (metering tolerance, short overloads).
pub const CAPACITY_TOLERANCE: f64 = 1.1;
/// Ceiling for meters without a stated capacity: 100 MW.
pub const MAX_KW_WITHOUT_CAPACITY: f64 = 100_000.0;
/// Clock skew allowed for an interval that ends "now".
pub const FUTURE_TOLERANCE_SECONDS: i64 = 300;

/// One reading as sent through GraphQL.
#[derive(Debug, Clone, InputObject)]
#[graphql(name = "IntervalReadingInput")]
pub struct ReadingInput {
    /// The platform meter id; or give `externalId`.
    pub meter_id: Option<async_graphql::ID>,
    /// The partner's own meter id.
    pub external_id: Option<String>,
    /// Start of the interval (RFC 3339); must be aligned to its length.
    pub start: DateTime<Utc>,
    /// 5, 15 or 60.
    pub interval_minutes: i32,
    /// Energy over the interval: import (utility meter) or discharge (battery)
    /// positive; charging or export negative.
    pub kwh: f64,
    /// Defaults to `main`, the channel performance is measured on.
    pub channel: Option<String>,
    /// Defaults to `DEVICE`.
    pub source: Option<ReadingSource>,
}

/// A reading after parsing, before its meter is known.
#[derive(Debug, Clone, PartialEq)]
pub struct RawReading {
    pub meter_id: Option<String>,
    pub external_id: Option<String>,
    pub start: i64,
    pub interval_seconds: i64,
    pub kwh: f64,
    pub channel: String,
    pub source: ReadingSource,
}

impl From<ReadingInput> for RawReading {
    fn from(r: ReadingInput) -> Self {
        RawReading {
            meter_id: r.meter_id.map(|id| id.0),
            external_id: r.external_id,
            // Sub-second starts can never be aligned; keep them visible.
            start: if r.start.timestamp_subsec_nanos() == 0 {
                r.start.timestamp()
            } else {
                i64::MIN
            },
            interval_seconds: i64::from(r.interval_minutes) * 60,
            kwh: r.kwh,
            channel: r.channel.unwrap_or_else(|| DEFAULT_CHANNEL.into()),
            source: r.source.unwrap_or(ReadingSource::Device),
        }
    }
}

/// What the checks need to know about a meter.
#[derive(Debug, Clone)]
pub struct MeterFacts {
    pub kind: MeterKind,
    pub device_type: Option<DeviceType>,
    pub capacity_kw: Option<f64>,
}

/// A refused row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub code: ReadingErrorCode,
    pub message: String,
}

fn err(code: ReadingErrorCode, message: impl Into<String>) -> RowError {
    RowError {
        code,
        message: message.into(),
    }
}

pub fn check_channel(channel: &str) -> Result<(), RowError> {
    let ok = !channel.is_empty()
        && channel.len() <= 32
        && channel
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(err(
            ReadingErrorCode::InvalidChannel,
            format!("channel `{channel}` must be 1–32 of a-z, 0-9, `_`, `-`"),
        ))
    }
}

/// The checks of one reading that need only the row, its meter and the
/// series already stored (`stored_seconds`); duplicates are checked by the caller.
pub fn check_reading(
    r: &RawReading,
    meter: &MeterFacts,
    stored_seconds: Option<i64>,
    now: i64,
) -> Result<(), RowError> {
    check_channel(&r.channel)?;
    let minutes = r.interval_seconds / 60;
    if r.interval_seconds % 60 != 0 || !INTERVAL_MINUTES.contains(&(minutes as i32)) {
        return Err(err(
            ReadingErrorCode::InvalidIntervalLength,
            format!("interval of {minutes} minutes; use 5, 15 or 60"),
        ));
    }
    if let Some(stored) = stored_seconds.filter(|s| *s != r.interval_seconds) {
        return Err(err(
            ReadingErrorCode::IntervalLengthMismatch,
            format!(
                "this meter's {} `{}` series holds {}-minute readings; send {}-minute readings or use another channel",
                r.source,
                r.channel,
                stored / 60,
                stored / 60
            ),
        ));
    }
    if r.start == i64::MIN || r.start.rem_euclid(r.interval_seconds) != 0 {
        return Err(err(
            ReadingErrorCode::MisalignedTimestamp,
            format!("a {minutes}-minute interval must start on a multiple of {minutes} minutes"),
        ));
    }
    if r.start + r.interval_seconds > now + FUTURE_TOLERANCE_SECONDS {
        return Err(err(
            ReadingErrorCode::FutureInterval,
            "the interval ends in the future",
        ));
    }
    if !r.kwh.is_finite() {
        return Err(err(
            ReadingErrorCode::NotANumber,
            "kwh must be a finite number",
        ));
    }
    let can_be_negative =
        meter.kind == MeterKind::UtilityMeter || meter.device_type == Some(DeviceType::Battery);
    if r.kwh < 0.0 && !can_be_negative {
        return Err(err(
            ReadingErrorCode::NegativeValue,
            format!(
                "{} kWh: a {} cannot export; only batteries and utility meters report negative energy",
                r.kwh,
                meter
                    .device_type
                    .map(|d| d.as_str().to_lowercase().replace('_', " "))
                    .unwrap_or_else(|| "device".into())
            ),
        ));
    }
    let hours = r.interval_seconds as f64 / 3600.0;
    let kw = r.kwh.abs() / hours;
    let limit = match (meter.kind, meter.capacity_kw) {
        (MeterKind::Device, Some(cap)) if cap > 0.0 => cap * CAPACITY_TOLERANCE,
        _ => MAX_KW_WITHOUT_CAPACITY,
    };
    if kw > limit {
        return Err(err(
            ReadingErrorCode::ExceedsCapacity,
            format!("{} kWh in {minutes} minutes is {kw:.1} kW, above the {limit:.1} kW the meter can do", r.kwh),
        ));
    }
    Ok(())
}

/// Two stored values are the same reading (tolerates float round trips).
pub fn same_value(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// CSV: a header naming the columns (any order), then one reading per line.
/// Columns: `meter_id` or `external_id` (one per row), `start` (RFC 3339),
/// `interval_minutes`, `kwh`, optional `channel`, `source`.
pub mod csv {
    use super::*;

    pub const COLUMNS: [&str; 7] = [
        "meter_id",
        "external_id",
        "start",
        "interval_minutes",
        "kwh",
        "channel",
        "source",
    ];

    /// A row of the file: its 1-based line number and the reading, or why it
    /// could not be read.
    pub type Row = (usize, Result<RawReading, RowError>);

    /// Parses a whole file. A bad header is an error for the file; a bad line
    /// is an error for that row.
    pub fn parse(text: &str) -> Result<Vec<Row>, String> {
        let mut lines = text.lines().enumerate();
        let (_, header) = lines
            .by_ref()
            .find(|(_, l)| !l.trim().is_empty())
            .ok_or("the file is empty")?;
        let header = Header::parse(header)?;
        Ok(lines
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, line)| (i + 1, header.row(line)))
            .collect())
    }

    pub struct Header {
        index: [Option<usize>; 7],
        width: usize,
    }

    impl Header {
        pub fn parse(line: &str) -> Result<Header, String> {
            let mut index = [None; 7];
            let names: Vec<&str> = split(line);
            for (i, name) in names.iter().enumerate() {
                let name = name.trim().trim_start_matches('\u{feff}');
                let pos = COLUMNS.iter().position(|c| *c == name).ok_or_else(|| {
                    format!(
                        "unknown column `{name}`; columns are {}",
                        COLUMNS.join(", ")
                    )
                })?;
                if index[pos].replace(i).is_some() {
                    return Err(format!("column `{name}` appears twice"));
                }
            }
            for required in [2, 3, 4] {
                if index[required].is_none() {
                    return Err(format!("the header needs a `{}` column", COLUMNS[required]));
                }
            }
            if index[0].is_none() && index[1].is_none() {
                return Err("the header needs `meter_id` or `external_id`".into());
            }
            Ok(Header {
                index,
                width: names.len(),
            })
        }

        pub fn row(&self, line: &str) -> Result<RawReading, RowError> {
            let malformed = |m: String| err(ReadingErrorCode::MalformedRow, m);
            let cells = split(line);
            if cells.len() != self.width {
                return Err(malformed(format!(
                    "{} fields; the header has {}",
                    cells.len(),
                    self.width
                )));
            }
            let cell = |i: usize| -> Option<&str> {
                self.index[i]
                    .map(|at| cells[at].trim())
                    .filter(|c| !c.is_empty())
            };
            let meter_id = cell(0).map(str::to_owned);
            let external_id = cell(1).map(str::to_owned);
            if meter_id.is_none() && external_id.is_none() {
                return Err(malformed("give meter_id or external_id".into()));
            }
            let start_text = cell(2).ok_or_else(|| malformed("start is empty".into()))?;
            let start = DateTime::parse_from_rfc3339(start_text).map_err(|_| {
                malformed(format!(
                    "start `{start_text}` is not an RFC 3339 time (2026-07-01T14:00:00Z)"
                ))
            })?;
            let minutes: i64 = cell(3)
                .and_then(|m| m.parse().ok())
                .ok_or_else(|| malformed("interval_minutes must be a whole number".into()))?;
            let kwh_text = cell(4).ok_or_else(|| malformed("kwh is empty".into()))?;
            let kwh: f64 = kwh_text
                .parse()
                .map_err(|_| malformed(format!("kwh `{kwh_text}` is not a number")))?;
            let source = match cell(6) {
                None => ReadingSource::Device,
                Some(s) => ReadingSource::parse(&s.to_ascii_uppercase())
                    .ok_or_else(|| malformed(format!("source `{s}` is not DEVICE or UTILITY")))?,
            };
            Ok(RawReading {
                meter_id,
                external_id,
                start: if start.timestamp_subsec_nanos() == 0 {
                    start.timestamp()
                } else {
                    i64::MIN
                },
                interval_seconds: minutes.saturating_mul(60),
                kwh,
                channel: cell(5).unwrap_or(DEFAULT_CHANNEL).to_owned(),
                source,
            })
        }
    }

    /// Splits one line on commas, honouring double quotes (`"a,b"`, `""`).
    fn split(line: &str) -> Vec<&str> {
        if !line.contains('"') {
            return line.split(',').collect();
        }
        let mut out = Vec::new();
        let (mut start, mut quoted) = (0, false);
        for (i, c) in line.char_indices() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => {
                    out.push(line[start..i].trim().trim_matches('"'));
                    start = i + 1;
                }
                _ => {}
            }
        }
        out.push(line[start..].trim().trim_matches('"'));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn battery(cap: f64) -> MeterFacts {
        MeterFacts {
            kind: MeterKind::Device,
            device_type: Some(DeviceType::Battery),
            capacity_kw: Some(cap),
        }
    }

    fn reading(start: i64, minutes: i64, kwh: f64) -> RawReading {
        RawReading {
            meter_id: Some("m".into()),
            external_id: None,
            start,
            interval_seconds: minutes * 60,
            kwh,
            channel: DEFAULT_CHANNEL.into(),
            source: ReadingSource::Device,
        }
    }

    fn code(r: Result<(), RowError>) -> Option<ReadingErrorCode> {
        r.err().map(|e| e.code)
    }

    #[test]
    fn each_rule_has_its_code() {
        let b = battery(10.0);
        let t = 1_700_000_100 - 1_700_000_100 % 3600;
        assert_eq!(
            code(check_reading(&reading(t, 15, 2.5), &b, None, NOW)),
            None
        );
        // 10 kW × 1.1 over 15 minutes = 2.75 kWh is the ceiling.
        assert_eq!(
            code(check_reading(&reading(t, 15, 2.75), &b, None, NOW)),
            None
        );
        assert_eq!(
            code(check_reading(&reading(t, 15, 2.8), &b, None, NOW)),
            Some(ReadingErrorCode::ExceedsCapacity)
        );
        // Charging is fine for a battery, impossible for an EV charger.
        assert_eq!(
            code(check_reading(&reading(t, 15, -2.0), &b, None, NOW)),
            None
        );
        let ev = MeterFacts {
            device_type: Some(DeviceType::EvCharger),
            ..b.clone()
        };
        assert_eq!(
            code(check_reading(&reading(t, 15, -2.0), &ev, None, NOW)),
            Some(ReadingErrorCode::NegativeValue)
        );
        assert_eq!(
            code(check_reading(&reading(t + 60, 15, 1.0), &b, None, NOW)),
            Some(ReadingErrorCode::MisalignedTimestamp)
        );
        assert_eq!(
            code(check_reading(&reading(t, 30, 1.0), &b, None, NOW)),
            Some(ReadingErrorCode::InvalidIntervalLength)
        );
        assert_eq!(
            code(check_reading(&reading(t, 15, 1.0), &b, Some(3600), NOW)),
            Some(ReadingErrorCode::IntervalLengthMismatch)
        );
        assert_eq!(
            code(check_reading(&reading(t, 15, f64::NAN), &b, None, NOW)),
            Some(ReadingErrorCode::NotANumber)
        );
        assert_eq!(
            code(check_reading(&reading(NOW, 15, 1.0), &b, None, NOW)),
            Some(ReadingErrorCode::FutureInterval)
        );
        let mut bad_channel = reading(t, 15, 1.0);
        bad_channel.channel = "Main Channel".into();
        assert_eq!(
            code(check_reading(&bad_channel, &b, None, NOW)),
            Some(ReadingErrorCode::InvalidChannel)
        );
    }

    #[test]
    fn csv_reads_any_column_order_and_reports_bad_lines() {
        let text = "external_id,kwh,start,interval_minutes,source\n\
                    bat-1,1.5,2026-07-01T14:00:00Z,15,device\n\
                    bat-1,x,2026-07-01T14:15:00Z,15,DEVICE\n\
                    \n\
                    \"bat,2\",2,2026-07-01T14:30:00-04:00,60,UTILITY\n";
        let rows = csv::parse(text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].0, 2);
        let first = rows[0].1.as_ref().unwrap();
        assert_eq!(first.external_id.as_deref(), Some("bat-1"));
        assert_eq!(first.start, 1_782_914_400);
        assert_eq!(first.channel, "main");
        assert_eq!(
            rows[1].1.as_ref().unwrap_err().code,
            ReadingErrorCode::MalformedRow
        );
        assert_eq!(rows[2].0, 5);
        let third = rows[2].1.as_ref().unwrap();
        assert_eq!(third.external_id.as_deref(), Some("bat,2"));
        assert_eq!(third.source, ReadingSource::Utility);
        assert_eq!(third.interval_seconds, 3600);
        assert!(csv::parse("meter_id,when,kwh\n")
            .unwrap_err()
            .contains("when"));
        assert!(csv::parse("kwh,start,interval_minutes\n")
            .unwrap_err()
            .contains("external_id"));
    }
}
