//! `gridhub intervals upload FILE`: sends a CSV file of readings to a running
//! server through the GraphQL API, in chunks, with a progress bar.
//!
//! The file is read line by line (it may be larger than memory allows as one
//! request). By default the upload has two passes: every chunk is first sent as
//! a dry run, and only when the whole file is valid are the chunks stored — so
//! a file with a bad line writes nothing. `--skip-invalid` stores the valid
//! rows in one pass and lists the others. Uploads are idempotent: running the
//! command again after an interruption stores only what is missing.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{json, Value};

use crate::domain::interval::csv::Header;
use crate::domain::interval::RawReading;
use crate::services::intervals::MAX_READINGS_PER_UPLOAD;

const MUTATION: &str =
    "mutation($r: [IntervalReadingInput!]!, $atomic: Boolean!, $dry: Boolean!, $p: ID) {
  uploadIntervals(readings: $r, atomic: $atomic, dryRun: $dry, partnerId: $p) {
    upload { status inserted corrected unchanged rejected }
    errors { row code message }
    errorCount
  }
}";

#[derive(Debug, Clone, clap::Args)]
pub struct UploadArgs {
    /// CSV file: header naming meter_id or external_id, start, interval_minutes,
    /// kwh and optionally channel, source (docs/intervals.md).
    pub file: PathBuf,
    /// The server's base URL.
    #[arg(long, env = "GRIDHUB_URL", default_value = "http://127.0.0.1:8080")]
    pub url: String,
    /// A PARTNER key (or an ADMIN key with --partner-id).
    #[arg(long, env = "GRIDHUB_API_KEY", hide_env_values = true)]
    pub api_key: String,
    #[arg(long)]
    pub partner_id: Option<String>,
    /// Readings per request.
    #[arg(long, default_value_t = 10_000)]
    pub chunk_size: usize,
    /// Store the valid rows and list the invalid ones, in one pass.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Check the file against the server and store nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Totals over the whole file.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Summary {
    pub rows: u64,
    pub inserted: u64,
    pub corrected: u64,
    pub unchanged: u64,
    pub rejected: u64,
    /// `(line, code, message)`, in line order.
    pub errors: Vec<(usize, String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0}")]
    Header(String),
    #[error("the server refused the request: {0}")]
    Server(String),
    #[error("request failed: {0}")]
    Http(#[from] reqwest::Error),
    #[error(
        "{count} invalid rows; nothing was stored (use --skip-invalid to store the valid rows)"
    )]
    Invalid { count: u64, summary: Box<Summary> },
}

/// Runs the upload, drawing progress on stderr when it is a terminal.
pub async fn run(args: &UploadArgs) -> Result<Summary, UploadError> {
    let chunk_size = args.chunk_size.clamp(1, MAX_READINGS_PER_UPLOAD);
    let bytes = std::fs::metadata(&args.file)
        .map_err(|source| UploadError::Read {
            path: args.file.clone(),
            source,
        })?
        .len();
    let client = reqwest::Client::new();
    let endpoint = format!("{}/graphql", args.url.trim_end_matches('/'));
    let started = Instant::now();

    let passes: &[(bool, &str)] = if args.dry_run {
        &[(true, "checking")]
    } else if args.skip_invalid {
        &[(false, "uploading")]
    } else {
        &[(true, "checking"), (false, "uploading")]
    };
    let mut summary = Summary::default();
    for (dry, label) in passes {
        let bar = progress(bytes, label);
        summary = Summary::default();
        let mut reader = Chunks::open(&args.file, chunk_size)?;
        while let Some(chunk) = reader.next_chunk()? {
            summary.rows += (chunk.lines.len() + chunk.local_errors.len()) as u64;
            for (line, code, message) in &chunk.local_errors {
                summary.rejected += 1;
                summary
                    .errors
                    .push((*line, (*code).into(), message.clone()));
            }
            if !chunk.readings.is_empty() {
                let answer = send(&client, &endpoint, args, &chunk.readings, *dry).await?;
                apply(&mut summary, &answer, &chunk.lines)?;
            }
            bar.set_position(reader.bytes_read);
        }
        bar.finish_and_clear();
        summary.errors.sort();
        if *dry && !args.dry_run && summary.rejected > 0 {
            let count = summary.rejected;
            return Err(UploadError::Invalid {
                count,
                summary: Box::new(summary),
            });
        }
    }
    tracing::debug!(elapsed = ?started.elapsed(), rows = summary.rows, "upload finished");
    Ok(summary)
}

fn progress(bytes: u64, label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(bytes), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>9} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(label.to_owned());
    bar
}

async fn send(
    client: &reqwest::Client,
    endpoint: &str,
    args: &UploadArgs,
    readings: &[Value],
    dry_run: bool,
) -> Result<Value, UploadError> {
    let body = json!({
        "query": MUTATION,
        "variables": {
            "r": readings,
            "atomic": !args.skip_invalid,
            "dry": dry_run,
            "p": args.partner_id,
        }
    });
    let response: Value = client
        .post(endpoint)
        .bearer_auth(&args.api_key)
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
    if let Some(errors) = response["errors"].as_array().filter(|e| !e.is_empty()) {
        let e = &errors[0];
        return Err(UploadError::Server(format!(
            "{} ({})",
            e["message"].as_str().unwrap_or("unknown error"),
            e["extensions"]["code"].as_str().unwrap_or("?")
        )));
    }
    Ok(response["data"]["uploadIntervals"].clone())
}

fn apply(summary: &mut Summary, answer: &Value, lines: &[usize]) -> Result<(), UploadError> {
    let upload = &answer["upload"];
    let count = |k: &str| upload[k].as_u64().unwrap_or(0);
    if upload["status"] != "REJECTED" {
        summary.inserted += count("inserted");
        summary.corrected += count("corrected");
        summary.unchanged += count("unchanged");
    }
    summary.rejected += count("rejected");
    for e in answer["errors"].as_array().into_iter().flatten() {
        let index = e["row"].as_u64().unwrap_or(0) as usize;
        summary.errors.push((
            lines.get(index).copied().unwrap_or(0),
            e["code"].as_str().unwrap_or("").to_owned(),
            e["message"].as_str().unwrap_or("").to_owned(),
        ));
    }
    Ok(())
}

/// The file in chunks of readings ready to send, each with the file line of
/// every reading and the lines that could not be read.
struct Chunks {
    lines: std::io::Lines<BufReader<CountingReader>>,
    header: Header,
    chunk_size: usize,
    line_no: usize,
    bytes_read: u64,
    counter: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

struct Chunk {
    readings: Vec<Value>,
    lines: Vec<usize>,
    local_errors: Vec<(usize, &'static str, String)>,
}

struct CountingReader {
    file: File,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl std::io::Read for CountingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

impl Chunks {
    fn open(path: &PathBuf, chunk_size: usize) -> Result<Chunks, UploadError> {
        let read_err = |source| UploadError::Read {
            path: path.clone(),
            source,
        };
        let counter = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let file = File::open(path).map_err(read_err)?;
        let mut lines = BufReader::new(CountingReader {
            file,
            count: counter.clone(),
        })
        .lines();
        let mut line_no = 0;
        let header = loop {
            line_no += 1;
            match lines.next() {
                None => return Err(UploadError::Header("the file is empty".into())),
                Some(line) => {
                    let line = line.map_err(read_err)?;
                    if !line.trim().is_empty() {
                        break Header::parse(&line).map_err(UploadError::Header)?;
                    }
                }
            }
        };
        Ok(Chunks {
            lines,
            header,
            chunk_size,
            line_no,
            bytes_read: 0,
            counter,
        })
    }

    fn next_chunk(&mut self) -> Result<Option<Chunk>, UploadError> {
        let mut chunk = Chunk {
            readings: Vec::new(),
            lines: Vec::new(),
            local_errors: Vec::new(),
        };
        while chunk.readings.len() < self.chunk_size {
            let Some(line) = self.lines.next() else { break };
            self.line_no += 1;
            let line = line.map_err(|source| UploadError::Read {
                path: PathBuf::from("input"),
                source,
            })?;
            if line.trim().is_empty() {
                continue;
            }
            match self.header.row(&line).and_then(|r| to_json(&r)) {
                Ok(reading) => {
                    chunk.readings.push(reading);
                    chunk.lines.push(self.line_no);
                }
                Err(e) => chunk
                    .local_errors
                    .push((self.line_no, e.code.as_str(), e.message)),
            }
        }
        self.bytes_read = self.counter.load(std::sync::atomic::Ordering::Relaxed);
        if chunk.readings.is_empty() && chunk.local_errors.is_empty() {
            return Ok(None);
        }
        Ok(Some(chunk))
    }
}

fn to_json(r: &RawReading) -> Result<Value, crate::domain::interval::RowError> {
    use crate::domain::interval::{ReadingErrorCode, RowError};
    if !r.kwh.is_finite() {
        return Err(RowError {
            code: ReadingErrorCode::NotANumber,
            message: "kwh must be a finite number".into(),
        });
    }
    let start = chrono::DateTime::from_timestamp(r.start, 0).ok_or_else(|| RowError {
        code: ReadingErrorCode::MisalignedTimestamp,
        message: "start has fractions of a second".into(),
    })?;
    Ok(json!({
        "meterId": r.meter_id,
        "externalId": r.external_id,
        "start": start.to_rfc3339(),
        "intervalMinutes": r.interval_seconds / 60,
        "kwh": r.kwh,
        "channel": r.channel,
        "source": r.source.as_str(),
    }))
}
