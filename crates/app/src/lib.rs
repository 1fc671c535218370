//! Application services: the one place where ontask's use cases live. Every
//! front door (REST, web UI, MCP tools, chat agent, CLI) calls these, so every
//! change takes the same path: validate, then write the state and its event in
//! one transaction.
#![forbid(unsafe_code)]

pub mod account;
pub mod admin;
pub mod auth;
pub mod caldav;
pub mod comments;
mod context;
pub mod conversations;
mod error;
pub mod export;
pub mod feeds;
pub mod front_door;
pub mod idempotency;
pub mod import;
pub mod input;
pub mod limits;
pub mod live;
pub mod notifications;
pub mod policy;
pub mod projects;
pub mod push;
pub mod query;
pub mod quick;
pub mod sealed;
mod session_keys;
pub mod tasks;
pub mod webhooks;

use std::sync::Arc;

pub use context::{Actor, Context, Role, Scope, SignedIn};
pub use error::AppError;
use ontask_store::Db;
use ontask_telemetry::breaker::{BreakerSettings, Breakers};

pub type Result<T, E = AppError> = std::result::Result<T, E>;

/// The time now, at the precision every store keeps (milliseconds).
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(3)
}

/// Everything the services need, cheap to clone. Its state is its own: the
/// front doors reach it through the services.
#[derive(Clone)]
pub struct App {
    db: Db,
    auth: Arc<auth::Auth>,
    /// The role name written as `source` on events.
    source: Arc<str>,
    /// Webhook and e-mail settings.
    outbound: Arc<webhooks::OutboundSettings>,
    /// Seals the webhook secrets stored in the database. Shared: the app is
    /// cloned for every request, and a sealer holds its keys on the heap.
    sealer: Arc<sealed::Sealer>,
    inboxes: Arc<ontask_store::Memo<ontask_domain::UserId, ontask_domain::ProjectId>>,
    limits: Arc<limits::RateLimits>,
    breakers: Breakers,
}

impl App {
    pub fn new(db: Db, mut auth: auth::Auth, source: &str) -> Self {
        auth.source = source.into();
        let (current, previous) = auth.server_secrets();
        let sealer = Arc::new(sealed::Sealer::from_server_secrets(current, previous));
        let limits = Arc::new(limits::RateLimits::new(limits::RateLimitSettings::default()));
        let breakers = Breakers::default();
        Self {
            db,
            auth: Arc::new(auth),
            source: source.into(),
            outbound: Arc::default(),
            sealer,
            inboxes: Arc::new(projects::known_inboxes()),
            limits,
            breakers,
        }
    }

    /// Sets how the circuit breakers on outbound calls trip (default:
    /// [`BreakerSettings::default`]).
    pub fn with_circuit_breakers(mut self, settings: BreakerSettings) -> Self {
        self.breakers = Breakers::new(settings);
        self
    }

    /// The circuit breakers of every outbound call this application makes.
    pub fn breakers(&self) -> &Breakers {
        &self.breakers
    }

    /// Sets the rate limits (default: [`limits::RateLimitSettings::default`]).
    pub fn with_rate_limits(mut self, settings: limits::RateLimitSettings) -> Self {
        self.limits = Arc::new(limits::RateLimits::new(settings));
        self
    }

    /// The rate limits every front door checks.
    pub fn limits(&self) -> &limits::RateLimits {
        &self.limits
    }

    /// Sets how webhooks and e-mails go out (default: webhooks to public
    /// addresses only, no e-mail).
    pub fn with_outbound(mut self, outbound: webhooks::OutboundSettings) -> Self {
        self.outbound = Arc::new(outbound);
        self
    }

    /// Writes `source` on the events of this application from now on (the
    /// MCP server on stdio is the agent, whatever roles the config names).
    pub fn with_source(mut self, source: &str) -> Self {
        self.source = source.into();
        self
    }

    /// The role name written as `source` on events.
    pub fn source(&self) -> &Arc<str> {
        &self.source
    }

    /// The database, for what runs beside the services and shares their
    /// transactions: the relay, the consumers, the scheduler, the delivery
    /// loops, the health checks, and the chat agent's own conversations.
    /// Front doors change tasks, projects and accounts through the services.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Where webhooks, e-mails and push messages go out, for the delivery loops.
    pub fn outbound(&self) -> &webhooks::OutboundSettings {
        &self.outbound
    }

    /// Unseals the stored webhook secrets, for the webhook delivery loop.
    pub fn sealer(&self) -> &sealed::Sealer {
        &self.sealer
    }

    /// Accounts, sessions and API tokens.
    pub fn auth(&self) -> &auth::Auth {
        &self.auth
    }

    pub fn tasks(&self) -> tasks::TaskService<'_> {
        tasks::TaskService::new(self)
    }

    pub fn comments(&self) -> comments::CommentService<'_> {
        comments::CommentService::new(self)
    }

    pub fn projects(&self) -> projects::ProjectService<'_> {
        projects::ProjectService::new(self)
    }

    pub fn webhooks(&self) -> webhooks::WebhookService<'_> {
        webhooks::WebhookService::new(self)
    }

    pub fn admin(&self) -> admin::AdminService<'_> {
        admin::AdminService::new(self)
    }

    pub fn account(&self) -> account::AccountService<'_> {
        account::AccountService::new(self)
    }

    pub fn push(&self) -> push::PushService<'_> {
        push::PushService::new(self)
    }

    pub fn export(&self) -> export::ExportService<'_> {
        export::ExportService::new(self)
    }

    pub fn imports(&self) -> import::ImportService<'_> {
        import::ImportService::new(self)
    }

    pub fn caldav(&self) -> caldav::CalDavService<'_> {
        caldav::CalDavService::new(self)
    }

    pub fn feeds(&self) -> feeds::FeedService<'_> {
        feeds::FeedService::new(self)
    }

    pub fn notifications(&self) -> notifications::NotificationService<'_> {
        notifications::NotificationService::new(self)
    }

    pub fn idempotency(&self) -> idempotency::IdempotencyService<'_> {
        idempotency::IdempotencyService::new(self)
    }

    pub fn conversations(&self) -> conversations::ConversationService<'_> {
        conversations::ConversationService::new(self)
    }

    pub fn live(&self) -> live::LiveService<'_> {
        live::LiveService::new(self)
    }
}
