//! The `gridhub` command: serve, migrate, export the schema, load demo data,
//! bootstrap admin keys.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use gridhub_api::config::{ServerConfig, DEFAULT_BIND, DEFAULT_MAX_BODY_BYTES};
use gridhub_api::db::DEFAULT_DATABASE_URL;
use gridhub_api::domain::Role;
use gridhub_api::rules::RulesLimits;
use gridhub_api::telemetry::{self, LogFormat};
use gridhub_api::{graphql, seed, server};

#[derive(Parser)]
#[command(
    name = "gridhub",
    version,
    about = "Grid-services platform for virtual power plants"
)]
struct Cli {
    #[arg(
        long,
        env = "GRIDHUB_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: LogFormat,
    /// Log level (trace, debug, info, warn, error); RUST_LOG overrides it.
    #[arg(long, env = "GRIDHUB_LOG_LEVEL", default_value = "info", global = true)]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct DbArgs {
    /// sqlite://path?mode=rwc (embedded) or postgres://user:pass@host/db
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    database_url: String,
}

#[derive(Args, Clone)]
struct PluginArgs {
    /// Built plugins (*.wasm) to install at start for programs that lack them
    /// (`scripts/build-plugins.sh` writes them to ./target/plugins).
    #[arg(long, env = "GRIDHUB_PLUGIN_DIR", default_value = "./target/plugins")]
    plugin_dir: PathBuf,
    /// Cache of compiled plugins, by content hash.
    #[arg(
        long,
        env = "GRIDHUB_PLUGIN_CACHE_DIR",
        default_value = "./data/plugin-cache"
    )]
    plugin_cache_dir: PathBuf,
    /// CPU budget of one plugin call, in fuel units (about one per instruction).
    #[arg(long, env = "GRIDHUB_PLUGIN_FUEL", default_value_t = RulesLimits::default().fuel_per_call)]
    plugin_fuel: u64,
    /// Memory cap of one plugin instance, in MiB.
    #[arg(long, env = "GRIDHUB_PLUGIN_MEMORY_MIB", default_value_t = RulesLimits::default().memory_bytes >> 20)]
    plugin_memory_mib: usize,
}

impl PluginArgs {
    fn apply(self, config: &mut ServerConfig) {
        config.bundled_plugin_dir = Some(self.plugin_dir);
        config.plugin_cache_dir = Some(self.plugin_cache_dir);
        config.rules_limits.fuel_per_call = self.plugin_fuel;
        config.rules_limits.memory_bytes = self.plugin_memory_mib << 20;
    }
}

/// The hosted Connect flow and utility data.
#[derive(Args)]
struct ConnectArgs {
    /// The address customers reach this server at, used in Connect links
    /// (default: `http://` + the bound address).
    #[arg(long, env = "GRIDHUB_PUBLIC_URL")]
    public_url: Option<String>,
    /// Behind a proxy: record the client address of consents from `X-Forwarded-For`.
    #[arg(long, env = "GRIDHUB_TRUST_X_FORWARDED_FOR")]
    trust_x_forwarded_for: bool,
    /// Days of utility history fetched when a meter is first authorized.
    #[arg(long, env = "GRIDHUB_UTILITY_BACKFILL_DAYS", default_value_t = 395)]
    utility_backfill_days: i64,
    /// Minutes between fetches of new utility data per meter.
    #[arg(long, env = "GRIDHUB_UTILITY_SYNC_MINUTES", default_value_t = 15)]
    utility_sync_minutes: u64,
}

impl ConnectArgs {
    fn apply(self, config: &mut ServerConfig) {
        config.public_url = self.public_url;
        config.trust_forwarded_for = self.trust_x_forwarded_for;
        config.connect.backfill_days = self.utility_backfill_days.clamp(0, 730);
        config.connect.sync_interval =
            std::time::Duration::from_secs(self.utility_sync_minutes.max(1) * 60);
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve the API.
    Serve {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long, env = "GRIDHUB_BIND", default_value = DEFAULT_BIND)]
        bind: SocketAddr,
        /// Load demo partners, API keys and meters (never on production data).
        #[arg(long, env = "GRIDHUB_DEMO")]
        demo: bool,
        #[arg(long, env = "GRIDHUB_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
        max_body_bytes: usize,
        #[command(flatten)]
        plugins: PluginArgs,
        #[command(flatten)]
        connect: ConnectArgs,
    },
    /// Run pending migrations and exit.
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Load the demo data into the database and exit.
    Demo {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Interval data on a running server.
    Intervals {
        #[command(subcommand)]
        task: IntervalsTask,
    },
    /// Administrative tasks.
    Admin {
        #[command(flatten)]
        db: DbArgs,
        #[command(subcommand)]
        task: AdminTask,
    },
}

#[derive(Subcommand)]
enum IntervalsTask {
    /// Upload a CSV file of readings (checked whole first; idempotent).
    Upload(gridhub_api::cli::intervals_upload::UploadArgs),
}

#[derive(Subcommand)]
enum AdminTask {
    /// Issue an API key and print its secret (shown once).
    CreateKey {
        #[arg(long, value_parser = parse_role, default_value = "ADMIN")]
        role: Role,
        #[arg(long)]
        name: String,
        /// Required for PARTNER keys.
        #[arg(long)]
        partner_id: Option<String>,
    },
    /// Create a partner and print its id.
    CreatePartner {
        #[arg(long)]
        name: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(&text.to_ascii_uppercase())
        .ok_or_else(|| "expected ADMIN, ANALYST or PARTNER".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    telemetry::init(cli.log_format, &cli.log_level);
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err}");
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Serve {
            db,
            bind,
            demo,
            max_body_bytes,
            plugins,
            connect,
        } => {
            let mut config = ServerConfig {
                database_url: db.database_url,
                bind,
                demo,
                max_body_bytes,
                ..ServerConfig::default()
            };
            plugins.apply(&mut config);
            connect.apply(&mut config);
            let running = server::start(config).await?;
            if demo {
                tracing::info!(
                    admin = seed::demo::ADMIN_KEY,
                    analyst = seed::demo::ANALYST_KEY,
                    acme = seed::demo::ACME_KEY,
                    volt = seed::demo::VOLT_KEY,
                    "demo API keys"
                );
            }
            println!("gridhub serving on http://{}/graphql", running.addr);
            shutdown_signal().await;
            tracing::info!("shutting down: finishing in-flight requests");
            running.shutdown().await;
        }
        Command::Migrate { db } => {
            server::prepare(&config(db, false)).await?;
            println!("database is up to date");
        }
        Command::Schema => print!("{}", graphql::sdl()),
        Command::Demo { db } => {
            server::prepare(&config(db, true)).await?;
            println!("demo data loaded");
        }
        Command::Intervals {
            task: IntervalsTask::Upload(args),
        } => {
            use gridhub_api::cli::intervals_upload::{run, UploadError};
            let summary = match run(&args).await {
                Ok(summary) => summary,
                Err(UploadError::Invalid { count, summary }) => {
                    print_row_errors(&summary.errors);
                    return Err(UploadError::Invalid { count, summary }.into());
                }
                Err(e) => return Err(e.into()),
            };
            print_row_errors(&summary.errors);
            println!(
                "{} rows: {} inserted, {} corrected, {} unchanged, {} rejected{}",
                summary.rows,
                summary.inserted,
                summary.corrected,
                summary.unchanged,
                summary.rejected,
                if args.dry_run {
                    " (dry run: nothing stored)"
                } else {
                    ""
                }
            );
            if summary.rejected > 0 {
                return Err(format!("{} rows were refused", summary.rejected).into());
            }
        }
        Command::Admin { db, task } => {
            let services = server::prepare(&config(db, false)).await?;
            match task {
                AdminTask::CreateKey {
                    role,
                    name,
                    partner_id,
                } => {
                    let issued = services
                        .api_keys
                        .issue(None, role, partner_id, name, None)
                        .await?;
                    eprintln!(
                        "created {} key {} — the secret below is shown only once:",
                        role, issued.key.id
                    );
                    println!("{}", issued.secret.unwrap_or_default());
                }
                AdminTask::CreatePartner { name } => {
                    let partner = services.partners.create_unchecked(&name).await?;
                    println!("{}", partner.id);
                }
            }
        }
    }
    Ok(())
}

fn print_row_errors(errors: &[(usize, String, String)]) {
    const SHOWN: usize = 50;
    for (line, code, message) in errors.iter().take(SHOWN) {
        eprintln!("line {line}: {code}: {message}");
    }
    if errors.len() > SHOWN {
        eprintln!("… and {} more", errors.len() - SHOWN);
    }
}

/// Configuration of the one-shot commands: they compile no plugins worth caching.
fn config(db: DbArgs, demo: bool) -> ServerConfig {
    ServerConfig {
        database_url: db.database_url,
        demo,
        plugin_cache_dir: None,
        ..ServerConfig::default()
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
