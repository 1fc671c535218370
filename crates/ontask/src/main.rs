//! `ontask`: the task service. `ontask serve` (the default) runs every part in
//! one process; `--role` picks parts for a distributed deployment.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ontask::config::{Config, ConfigError, Overrides};

/// mimalloc instead of glibc's malloc: under load a request task allocates and
/// frees many small values across worker threads, and glibc's arenas spent
/// over a quarter of the workers' time in malloc and free (perf, closed-loop
/// creates).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "ontask",
    version,
    about = "An event-driven task service: REST API, realtime streams, reminders and recurrence, in one binary."
)]
struct Cli {
    /// Configuration file (default: ./ontask.toml when present).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default command).
    Serve(ServeArgs),
    /// Create or upgrade the database schema, then exit.
    Migrate(DbArgs),
    /// Print the effective configuration, secrets redacted.
    Config {
        /// Only validate: print nothing and exit 0, or print the problem and exit 2.
        #[arg(long)]
        check: bool,
    },
    /// Print a session token (JWT) for an existing account, for scripts.
    Token {
        /// The account's e-mail address.
        #[arg(long, value_name = "EMAIL")]
        user: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Serve MCP (Model Context Protocol) on stdin/stdout, so an AI assistant can
    /// manage the tasks of the account the token belongs to.
    Mcp {
        /// An API token (ot_...) or session token.
        #[arg(long, env = "ONTASK_MCP_TOKEN", hide_env_values = true, value_name = "TOKEN")]
        token: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Write everything of an account's (projects, sections, tasks, comments,
    /// reminders, recurrence) as JSON (docs/export/schema.json) or iCalendar.
    Export {
        /// The account's e-mail address.
        #[arg(long, value_name = "EMAIL")]
        user: String,
        #[arg(long, value_enum, default_value = "json")]
        format: ontask::transfer::ExportFormat,
        /// Write to this file instead of standard output.
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Import a Todoist CSV, an iCalendar file (VTODOs) or an ontask export
    /// into an account. Prints the report as JSON; importing the same file
    /// again creates nothing twice.
    Import {
        /// The account's e-mail address.
        #[arg(long, value_name = "EMAIL")]
        user: String,
        /// The project a Todoist CSV or an iCalendar file goes to (created if
        /// new) [default: the file's name without its extension].
        #[arg(long, value_name = "NAME")]
        project: Option<String>,
        /// Report what would be created; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// todoist, ics or ontask [default: detected from the file].
        #[arg(long, value_parser = parse_import_format)]
        format: Option<ontask_app::import::ImportFormat>,
        file: PathBuf,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Work with the event log.
    Events {
        #[command(subcommand)]
        command: EventsCommand,
    },
    /// Dead letters: events a consumer gave up on.
    Dlq {
        #[command(subcommand)]
        command: DlqCommand,
    },
}

#[derive(Subcommand)]
enum DlqCommand {
    /// List dead letters, newest first (one JSON object per line).
    List(DbArgs),
    /// Hand dead letters back to the consumer that gave up on them, once the
    /// cause is fixed. Exit 1 when one fails again.
    Redrive {
        /// Only this dead letter (repeatable); default: all.
        #[arg(long, value_name = "ID")]
        id: Vec<String>,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Subcommand)]
enum EventsCommand {
    /// Rebuild every task from the event log and compare with the stored state
    /// (exit 1 when they differ).
    Replay(DbArgs),
}

#[derive(Args, Default)]
struct DbArgs {
    /// Directory for the SQLite database and generated secrets [env: ONTASK_DATA_DIR] [default: ./data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (sqlite://... or postgres://...) [env: ONTASK_DATABASE_URL].
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
}

#[derive(Args, Default)]
struct ServeArgs {
    /// Address to listen on [env: ONTASK_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Parts to run: api, web, agent, relay, worker, scheduler (comma-separated or repeated), or all [env: ONTASK_ROLE].
    #[arg(long, value_name = "ROLE")]
    role: Vec<String>,
    #[command(flatten)]
    db: DbArgs,
}

fn parse_import_format(raw: &str) -> Result<ontask_app::import::ImportFormat, String> {
    ontask_app::import::ImportFormat::parse(raw).ok_or_else(|| format!("{raw:?} is not todoist, ics or ontask"))
}

fn overrides(db: &DbArgs, serve: Option<&ServeArgs>) -> Overrides {
    Overrides {
        listen: serve.and_then(|s| s.listen.clone()),
        data_dir: db.data_dir.clone(),
        database_url: db.database_url.clone(),
        role: serve.filter(|s| !s.role.is_empty()).map(|s| s.role.join(",")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let over = match &command {
        Command::Serve(s) => overrides(&s.db, Some(s)),
        Command::Migrate(db)
        | Command::Token { db, .. }
        | Command::Mcp { db, .. }
        | Command::Export { db, .. }
        | Command::Import { db, .. }
        | Command::Events { command: EventsCommand::Replay(db) }
        | Command::Dlq { command: DlqCommand::List(db) | DlqCommand::Redrive { db, .. } } => overrides(db, None),
        Command::Config { .. } => Overrides::default(),
    };
    let config = match Config::load(cli.config.as_deref(), &over) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ontask: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Command::Config { check } = command {
        if !check {
            print!("{}", config.to_toml());
        }
        return ExitCode::SUCCESS;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ontask: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command, config)) {
        Ok(code) => code,
        Err(e) => {
            let config_problem = e.downcast_ref::<ConfigError>().is_some();
            eprintln!("ontask: {}", format!("{e:#}").replace('\n', " "));
            if config_problem { ExitCode::from(2) } else { ExitCode::FAILURE }
        }
    }
}

async fn run(command: Command, config: Config) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve(_) => serve(config).await,
        Command::Migrate(_) => {
            ontask::open_database(&config).await?;
            eprintln!("ontask: the database is up to date");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token { user, .. } => {
            let db = ontask::open_database(&config).await?;
            let app = ontask::build_app(&config, db).await?;
            let session = app.auth().token_for_email(&user).await.map_err(|e| match e {
                ontask_app::AppError::NotFound => anyhow::anyhow!("no account with the e-mail {user:?}"),
                other => anyhow::anyhow!(other),
            })?;
            println!("{}", session.token);
            Ok(ExitCode::SUCCESS)
        }
        Command::Mcp { token, .. } => {
            let db = ontask::open_database(&config).await?;
            let app = ontask::build_app(&config, db).await?.with_source("agent");
            ontask_agent::serve_stdio(app, &token).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Events { command: EventsCommand::Replay(_) } => {
            let db = ontask::open_database(&config).await?;
            let report = ontask::replay::replay(&db).await?;
            println!("replayed {} events into {} tasks and {} projects", report.events, report.tasks, report.projects);
            for d in &report.differences {
                println!("difference: {d}");
            }
            if report.differences.is_empty() {
                println!("the tasks table matches the event log");
                Ok(ExitCode::SUCCESS)
            } else {
                Ok(ExitCode::FAILURE)
            }
        }
        Command::Export { user, format, output, .. } => {
            let db = ontask::open_database(&config).await?;
            let app = ontask::build_app(&config, db).await?;
            ontask::transfer::export(&app, &user, format, output.as_deref()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { user, project, dry_run, format, file, .. } => {
            let db = ontask::open_database(&config).await?;
            let app = ontask::build_app(&config, db).await?;
            let args = ontask::transfer::ImportArgs {
                email: &user,
                file: &file,
                format,
                project: project.as_deref(),
                dry_run,
            };
            ontask::transfer::import(&app, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Dlq { command } => dlq(command, config).await,
        Command::Config { .. } => Ok(ExitCode::SUCCESS),
    }
}

async fn dlq(command: DlqCommand, config: Config) -> anyhow::Result<ExitCode> {
    use ontask_store::events;
    let db = ontask::open_database(&config).await?;
    let dead_letters = {
        let mut conn = db.read().await?;
        events::dead_letters(&mut conn, i64::MAX).await?
    };
    match command {
        DlqCommand::List(_) => {
            for d in &dead_letters {
                println!("{}", serde_json::to_string(d)?);
            }
            eprintln!("ontask: {} dead letter(s)", dead_letters.len());
            Ok(ExitCode::SUCCESS)
        }
        DlqCommand::Redrive { id, .. } => {
            let app = ontask::build_app(&config, db).await?;
            let named = |d: &&events::DeadLetter| id.contains(&d.id.to_string());
            let chosen: Vec<_> = dead_letters.iter().filter(|d| id.is_empty() || named(d)).collect();
            if let Some(missing) = id.iter().find(|i| !dead_letters.iter().any(|d| d.id.to_string() == **i)) {
                anyhow::bail!("no dead letter with the id {missing:?} (see `ontask dlq list`)");
            }
            let mut failed = 0;
            for dead in chosen {
                let outcome = ontask_workers::redrive(&app, dead).await?;
                if matches!(outcome, ontask_workers::Redriven::FailedAgain(_)) {
                    failed += 1;
                }
                println!("{} {} {}: {outcome:?}", dead.id, dead.consumer, dead.event_id);
            }
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<ExitCode> {
    let _telemetry = ontask_telemetry::init(&config.log_filter(), config.log_format, &config.telemetry)?;
    let roles = config.role;
    let application = ontask::Application::build(config.clone()).await?;
    let url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{}", display_addr(config.listen, application.port())));
    tracing::info!(url = %url, roles = %roles, data_dir = %config.data_dir.display(), "ontask started");
    eprintln!(
        "\nontask is running at {url}  (roles: {roles})\n\
         Open it in a browser to create an account and sign in.\n\
         API docs: {url}/docs   health: {url}/health   MCP: {url}/mcp\n\
         From scripts: curl -X POST {url}/api/v1/auth/register -H 'content-type: application/json' \\\n\
         \x20             -d '{{\"email\":\"you@example.com\",\"password\":\"choose-a-password\"}}'\n\
         and send the returned token as 'Authorization: Bearer <token>' (later: ontask token --user EMAIL)\n"
    );
    application.run_until_stopped().await?;
    Ok(ExitCode::SUCCESS)
}

/// Where a browser on this machine reaches the server: an unspecified listen
/// address (all interfaces) is reached at loopback.
fn display_addr(listen: std::net::SocketAddr, port: u16) -> String {
    let ip = if listen.ip().is_unspecified() { std::net::Ipv4Addr::LOCALHOST.into() } else { listen.ip() };
    std::net::SocketAddr::new(ip, port).to_string()
}
