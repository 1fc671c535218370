//! The `ontask` binary as a library: configuration, and [`Application`], which
//! wires the store, the bus, the HTTP server and the background workers for the
//! roles this process runs. `main.rs` only parses the command line.
#![forbid(unsafe_code)]

pub mod bus;
pub mod config;
pub mod replay;
mod secrets;
pub mod transfer;

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use axum::serve::ListenerExt as _;
use ontask_api::{ApiConfig, ApiState, OpsEndpoints};
use ontask_app::App;
use ontask_app::auth::Auth;
use ontask_bus::{DaprBus, EventBus};
use ontask_store::{Db, DbOptions};
use ontask_workers::{ReminderClock, WorkerRoles};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::config::{BusKind, Config, ConfigError, Roles};

/// How long in-flight requests get to finish after a stop signal.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(20);

/// Opens the database and runs the migrations (also what `ontask migrate` does).
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    }
    let url = config.database_url();
    let mut options = DbOptions::new(url.clone());
    options.wal_limit_bytes = config.sqlite.wal_limit_mib << 20;
    let db = Db::connect(&options)
        .await
        .with_context(|| format!("cannot open the database {}", ontask_store::redact(&url)))?;
    db.migrate().await.context("migrating the database failed")?;
    Ok(db)
}

/// The application services for this configuration.
pub async fn build_app(config: &Config, db: Db) -> anyhow::Result<App> {
    let roles = config.role;
    let jwt_secret = match &config.auth.jwt_secret {
        Some(s) => s.expose().as_bytes().to_vec(),
        None => secrets::load_or_create(&config.data_dir.join("jwt_secret"))?,
    };
    let auth = Auth::new(db.clone(), config.auth.clone(), jwt_secret);
    let outbound = config.outbound(push_key(config, &db)?);
    Ok(App::new(db, auth, roles.source())
        .with_outbound(outbound)
        .with_rate_limits(config.rate_limits.clone())
        .with_circuit_breakers(config.circuit_breakers))
}

/// The VAPID key: configured, or kept in the data directory beside the SQLite
/// database (generated on first start). With PostgreSQL and none configured,
/// push is off: replicas with keys of their own would each sign differently.
fn push_key(config: &Config, db: &Db) -> anyhow::Result<Option<ontask_app::push::VapidKey>> {
    use ontask_app::push::VapidKey;
    if let Some(key) = &config.push.vapid_private_key {
        return Ok(Some(VapidKey::parse(key.expose()).map_err(|why| anyhow::anyhow!("push.vapid_private_key {why}"))?));
    }
    if db.backend() != ontask_store::Backend::Sqlite {
        tracing::warn!("push.vapid_private_key is not set; Web Push is off");
        return Ok(None);
    }
    let path = config.data_dir.join("vapid_private_key");
    let key = secrets::load_or_create_with(&path, || VapidKey::generate().private_base64().to_owned())?;
    Ok(Some(
        VapidKey::parse(&key)
            .map_err(|why| anyhow::anyhow!("{} {why}; delete it to generate a new one", path.display()))?,
    ))
}

/// A built, bound, not yet running server.
pub struct Application {
    listener: TcpListener,
    /// `ops_listen`: where the operational endpoints are served instead.
    ops_listener: Option<TcpListener>,
    port: u16,
    app: App,
    bus: Arc<dyn EventBus>,
    /// Dapr mode: the sidecar's routes are served and reminders use its Jobs API.
    dapr: Option<(Arc<DaprBus>, config::DaprConfig)>,
    roles: Roles,
    api_config: ApiConfig,
    stop: CancellationToken,
    /// The chat agent (served with the agent role).
    chat: ontask_agent::chat::ChatAgent,
    /// What housekeeping keeps (run with the scheduler role).
    retention: ontask_workers::Retention,
}

impl Application {
    /// Connects, migrates and binds the listener (port 0 picks a free port).
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let roles = config.role;
        let db = open_database(&config).await?;
        let app = build_app(&config, db.clone()).await?;
        let adopted = app.projects().adopt_orphans().await.context("moving tasks into their owners' Inboxes failed")?;
        if adopted > 0 {
            tracing::info!(adopted, "gave accounts from before projects an Inbox and moved their tasks into it");
        }
        let dapr = match config.bus.kind {
            BusKind::Dapr => Some((bus::dapr(&config, app.breakers())?, config.dapr.clone())),
            _ => None,
        };
        let bus = match &dapr {
            Some((dapr, _)) => dapr.clone() as Arc<dyn EventBus>,
            None => bus::connect(&config, &db, app.breakers()).await?,
        };
        let addr = config.listen;
        let listener = TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
        let port = listener.local_addr()?.port();
        let ops_listener = match config.ops_listen {
            Some(addr) => {
                Some(TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (ops_listen)"))?)
            }
            None => None,
        };
        let api_config = ApiConfig {
            cookie_secure: config.auth.cookie_secure,
            public_url: config.public_url.clone(),
            realtime_ping: Duration::from_secs(config.realtime.ping_secs),
            ..ApiConfig::default()
        };
        let chat = ontask_agent::chat::ChatAgent::new(app.clone(), config.agent.clone())
            .context("cannot set up the chat model client")?;
        let retention = config.retention.clone();
        Ok(Self {
            listener,
            ops_listener,
            port,
            app,
            bus,
            dapr,
            roles,
            api_config,
            stop: CancellationToken::new(),
            chat,
            retention,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port of `ops_listen`, when the operational endpoints have their own.
    pub fn ops_port(&self) -> Option<u16> {
        self.ops_listener.as_ref().and_then(|l| l.local_addr().ok()).map(|a| a.port())
    }

    /// Cancelling this token stops the application as a signal would.
    pub fn stop_token(&self) -> CancellationToken {
        self.stop.clone()
    }

    /// Serves until SIGTERM/ctrl-c (or the stop token), then drains: stop
    /// accepting, finish in-flight requests, let the relay flush, exit.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let _ = ontask_telemetry::metrics::handle();
        let workers_cancel = CancellationToken::new();
        let tracker = TaskTracker::new();
        let clock = match &self.dapr {
            Some((dapr, _)) => ReminderClock::External(dapr.clone()),
            None => ReminderClock::Poll,
        };
        ontask_workers::spawn_with_clock(
            &self.app,
            self.bus.clone(),
            WorkerRoles { relay: self.roles.relay, consumers: self.roles.worker, scheduler: self.roles.scheduler },
            clock,
            self.retention.clone(),
            &workers_cancel,
            &tracker,
        );
        tracker.close();

        let http_shutdown = CancellationToken::new();
        let state = ApiState {
            app: self.app.clone(),
            bus: self.bus.clone(),
            config: Arc::new(self.api_config.clone()),
            shutdown: http_shutdown.clone(),
            started: Instant::now(),
        };
        let ops = match self.ops_listener {
            Some(_) => OpsEndpoints::Elsewhere,
            None => OpsEndpoints::Here,
        };
        let mut router = if self.roles.serves_api() {
            ontask_api::router(state.clone(), ops)
        } else {
            ontask_api::base_router(state.clone(), ops)
        };
        let ops_server = self.ops_listener.map(|listener| {
            let router = ontask_api::ops_router(state.clone());
            let stop = http_shutdown.clone();
            tokio::spawn(
                async move { axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await },
            )
        });
        if self.roles.agent {
            router = router.merge(ontask_api::observed(ontask_agent::router(self.app.clone(), http_shutdown.clone())));
            router = router.merge(ontask_api::chat_router(state, self.chat.clone()));
        }
        if self.roles.web {
            let web = ontask_web::WebConfig { cookie_secure: self.api_config.cookie_secure };
            router = router.merge(ontask_api::observed(ontask_web::router(self.app.clone(), web)));
        }
        if let Some((dapr, settings)) = &self.dapr {
            let scheduler = ontask_workers::Scheduler::new(
                self.app.db().clone(),
                self.app.source().clone(),
                Arc::new(tokio::sync::Notify::new()),
            );
            router = router.merge(ontask_api::dapr_router(ontask_api::DaprRoutes {
                bus: dapr.clone(),
                scheduler: Arc::new(scheduler),
                app_api_token: settings
                    .app_api_token
                    .as_ref()
                    .map(|t| t.expose())
                    .filter(|t| !t.is_empty())
                    .map(Arc::from),
                reminder_scan_binding: settings.reminder_scan_binding.clone(),
            }));
        }
        let stop = self.stop.clone();
        let signal_stop = http_shutdown.clone();
        let shutdown_signal = async move {
            tokio::select! {
                () = stop.cancelled() => {}
                () = os_signal() => {}
            }
            tracing::info!("stop requested; draining");
            signal_stop.cancel();
        };
        // The peer address is what the rate limits count when no proxy header is configured.
        let router = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
        // Without TCP_NODELAY a small write that follows another one not yet
        // acknowledged (the second event of a live stream, the end of a
        // chunked body) waits for the peer's delayed ACK: 40 ms on Linux,
        // which was the p99 from commit to a live event.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let server = axum::serve(listener, router).with_graceful_shutdown(shutdown_signal);
        // The rate limits keep a count per client; forget the ones whose
        // allowance has refilled, so the counts stay as many as recent clients.
        let (app, limits_stop) = (self.app.clone(), http_shutdown.clone());
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(60));
            loop {
                tokio::select! {
                    () = limits_stop.cancelled() => return,
                    _ = every.tick() => app.limits().forget_idle(),
                }
            }
        });
        let serve = tokio::spawn(async move { server.await });
        http_shutdown.cancelled().await;
        match tokio::time::timeout(DRAIN_TIMEOUT, serve).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::error!(error = %ontask_telemetry::error_chain(&e), "the HTTP server failed"),
            Ok(Err(e)) => tracing::error!(error = %ontask_telemetry::error_chain(&e), "the HTTP server task failed"),
            Err(_) => tracing::warn!("in-flight requests did not finish in time"),
        }
        if let Some(ops_server) = ops_server {
            // Health and metrics answer quickly; nothing there waits to drain.
            ops_server.abort();
        }
        workers_cancel.cancel();
        tracker.wait().await;
        self.app.db().close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

async fn os_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
