//! The agent front door: an MCP server (the official Rust SDK, `rmcp`) that lets
//! an AI assistant manage a person's tasks. Its tools call the same application
//! services as the REST API, so every change is validated the same way and
//! writes the same events, with `agent` as the actor in their metadata.
//!
//! The chat agent ([`chat`]) runs a model's tool loop over the same tools.
//!
//! Two transports: stdio ([`serve_stdio`], what `ontask mcp` runs, acting for the
//! holder of an API token) and streamable HTTP at `/mcp` ([`router`], mounted by
//! the binary when the agent role runs, authenticated per request with
//! `Authorization: Bearer <API token or JWT>`).
#![forbid(unsafe_code)]

pub mod chat;
pub mod mcp;
pub mod tools;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ontask_app::{App, AppError};
use rmcp::ServiceExt;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

pub use mcp::McpServer;
pub use tools::Tools;

/// The path the HTTP transport is served at.
pub const MCP_PATH: &str = "/mcp";

/// Serves MCP over this process's stdin/stdout until the client hangs up.
/// The token is checked first, so a wrong one fails at start with a clear error.
pub async fn serve_stdio(app: App, token: &str) -> Result<(), StdioError> {
    app.auth().authenticate(token).await.map_err(StdioError::Auth)?;
    let server = McpServer::with_token(app, token)
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| StdioError::Transport(e.to_string()))?;
    server.waiting().await.map_err(|e| StdioError::Transport(e.to_string()))?;
    Ok(())
}

#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("the MCP token was not accepted: {}", tools::describe_error(.0))]
    Auth(AppError),
    #[error("the MCP connection failed: {0}")]
    Transport(String),
}

/// `/mcp`: MCP over streamable HTTP, without sessions. Every request must
/// carry a bearer API token or JWT; the tools act for that account with its
/// scopes.
///
/// `shutdown` ends open SSE streams so the server can drain.
pub fn router(app: App, shutdown: CancellationToken) -> Router {
    // Host/Origin checks guard servers that trust the network (DNS rebinding);
    // this one trusts nothing but the bearer token, and must answer on any host
    // name it is deployed under.
    //
    // Stateless: no session lives in this process, so with several agent
    // replicas behind one Service any replica answers any request. Every
    // request carries its bearer token and the tools need nothing from an
    // earlier request (they send no notifications and make no requests of the
    // client), so a session would only pin a client to one pod. A plain tool
    // call is answered as `application/json`, without an SSE stream to hold.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_cancellation_token(shutdown);
    let factory_app = app.clone();
    let service = StreamableHttpService::new(
        move || Ok(McpServer::for_requests(factory_app.clone())),
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new().route_service(MCP_PATH, service).layer(axum::middleware::from_fn_with_state(app, authenticate))
}

/// Puts the caller's [`ontask_app::Actor`] into the request, or answers 401.
async fn authenticate(State(app): State<App>, mut request: Request, next: Next) -> Response {
    let bearer = ontask_app::front_door::bearer_token(request.headers()).map(str::to_owned);
    let Some(bearer) = bearer else {
        return unauthorized("send Authorization: Bearer <API token or session token>");
    };
    match app.auth().authenticate(&bearer).await {
        Ok(actor) => {
            if let Err(AppError::RateLimited { retry_after, .. }) = app.limits().api(actor.user_id) {
                return rate_limited(retry_after);
            }
            request.extensions_mut().insert(actor);
            next.run(request).await
        }
        Err(AppError::Unauthorized(m)) => unauthorized(&m),
        Err(e) => {
            tracing::error!(error = %ontask_telemetry::error_chain(&e), "authenticating an MCP request failed");
            (StatusCode::SERVICE_UNAVAILABLE, "authentication is unavailable").into_response()
        }
    }
}

/// An RFC 9457 problem, as the REST API answers them.
fn problem(status: StatusCode, slug: &str, title: &str, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": format!("https://ontask.dev/problems/{slug}"),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
    });
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

fn rate_limited(retry_after: std::time::Duration) -> Response {
    let seconds = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    let detail = format!("too many requests; try again in {seconds} s");
    let mut response = problem(StatusCode::TOO_MANY_REQUESTS, "rate-limited", "Too many requests", &detail);
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

fn unauthorized(detail: &str) -> Response {
    let mut response = problem(StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized", detail);
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"ontask\""));
    response
}
