//! Webhook endpoints (register, list, read, delete, delivery log), the settings
//! of outbound notifications (webhooks and SMTP e-mail), and the address policy
//! that keeps webhooks from reaching into the network ontask runs in (SSRF).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ontask_domain::settings::{Secret, units};
use ontask_domain::{DeliveryId, EndpointId, EndpointStatus, EventType, ValidationErrors};
use ontask_store::webhooks::{self, Attempt, Delivery, Endpoint};
use ontask_telemetry::breaker::Peer;
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::{Actor, App, AppError, Result, Scope, now};

/// Endpoints one user may register; plenty for integrations, bounded for abuse.
pub const MAX_ENDPOINTS_PER_USER: usize = 25;
const MAX_URL_LEN: usize = 2048;
const MAX_DESCRIPTION_LEN: usize = 500;
/// How long registration waits for DNS before leaving the check to delivery time.
const REGISTRATION_DNS_TIMEOUT: Duration = Duration::from_secs(2);

/// How webhooks are delivered (`[webhooks]`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebhookSettings {
    /// Let users register and receive webhooks on loopback, private (RFC 1918),
    /// link-local, unique-local and similar addresses (for tests and trusted
    /// single-tenant setups only). Off: such targets are refused at
    /// registration and at delivery (after DNS resolution).
    pub allow_private_targets: bool,
    /// Timeout of one delivery attempt.
    #[serde(rename = "timeout_secs", with = "units::secs")]
    pub timeout: Duration,
    /// Attempts per delivery before it counts as failed.
    pub max_attempts: u32,
    /// Backoff between attempts: exponential from `retry_base`, capped at `retry_max`, with jitter.
    #[serde(rename = "retry_base_ms", with = "units::millis")]
    pub retry_base: Duration,
    #[serde(rename = "retry_max_secs", with = "units::secs")]
    pub retry_max: Duration,
    /// Consecutive failed deliveries after which an endpoint is disabled.
    #[serde(rename = "disable_after_failures")]
    pub disable_after: u32,
    /// Deliveries in flight at once, per worker process.
    pub concurrency: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            disable_after: 5,
            concurrency: 8,
        }
    }
}

/// Where reminder e-mails go out (`[smtp]`); off unless `url` and `from` are set.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmtpSettings {
    /// The relay, in lettre's URL format: `smtp://host:25` (plain),
    /// `smtp://user:pass@host:587?tls=required` (STARTTLS),
    /// `smtps://user:pass@host` (TLS). A secret: it may carry the password.
    pub url: Option<Secret>,
    /// The `From:` mailbox: `ontask <noreply@example.com>`.
    pub from: Option<String>,
    #[serde(rename = "timeout_secs", with = "units::secs")]
    pub timeout: Duration,
    /// Attempts per e-mail before it is given up (permanent SMTP errors give up at once).
    pub max_attempts: u32,
    #[serde(skip)]
    pub retry_base: Duration,
    #[serde(skip)]
    pub retry_max: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            url: None,
            from: None,
            timeout: Duration::from_secs(30),
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
        }
    }
}

impl SmtpSettings {
    /// The relay's URL and the `From:` mailbox, when e-mail is on.
    pub fn relay(&self) -> Option<(&str, &str)> {
        Some((self.url.as_ref()?.expose(), self.from.as_deref()?))
    }
}

/// Settings of the notification channels beyond in-app.
#[derive(Debug, Clone, Default)]
pub struct OutboundSettings {
    pub webhooks: WebhookSettings,
    /// E-mail is on when it names a relay ([`SmtpSettings::relay`]).
    pub smtp: SmtpSettings,
    pub push: crate::push::PushSettings,
    /// What pushes are signed with; `None`: no Web Push.
    pub vapid: Option<crate::push::Vapid>,
    /// The URL people reach the server at, for links in e-mails.
    pub public_url: Option<String>,
}

// --- address policy ------------------------------------------------------------

/// Why ontask will not connect to `ip` on a user's behalf, if it will not.
pub fn forbidden_reason(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_unspecified() || a == 0 {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_private() {
        Some("a private (RFC 1918) address")
    } else if ip.is_link_local() {
        // Includes 169.254.169.254, the cloud metadata service.
        Some("a link-local address")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a carrier-grade NAT (RFC 6598) address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if ip.is_broadcast() || a >= 240 {
        Some("a reserved address")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    // IPv4 wrapped in IPv6 (mapped, NAT64, 6to4) reaches the IPv4 address.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return forbidden_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    if ip.is_unspecified() {
        Some("an unspecified address")
    } else if ip.is_loopback() {
        Some("a loopback address")
    } else if s[0] & 0xfe00 == 0xfc00 {
        Some("a unique local address")
    } else if s[0] & 0xffc0 == 0xfe80 || s[0] & 0xffc0 == 0xfec0 {
        Some("a link-local address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else if s[0..6] == [0, 0, 0, 0, 0, 0] {
        // The deprecated IPv4-compatible form (::a.b.c.d).
        Some("an IPv4-compatible address")
    } else {
        None
    }
}

/// Checks a webhook URL: http(s), a host, no credentials, and (unless private
/// targets are allowed) no host that is or resolves to a forbidden address.
/// Resolution here is a courtesy to the user; the delivery worker checks again
/// on the address it actually connects to.
#[tracing::instrument(skip_all)]
pub async fn check_target(raw: &str, allow_private: bool) -> std::result::Result<reqwest::Url, String> {
    if raw.len() > MAX_URL_LEN {
        return Err(format!("must be at most {MAX_URL_LEN} characters"));
    }
    let url = reqwest::Url::parse(raw).map_err(|e| format!("is not a valid URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain credentials (the signature authenticates ontask)".into());
    }
    let port = url.port_or_known_default().unwrap_or(443);
    let Some(host) = url.host_str() else { return Err("must name a host".into()) };
    // IPv6 literals come bracketed; URL parsing already normalised IPv4 forms
    // like `0x7f.1` to dotted decimal.
    let ips: Vec<IpAddr> = match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) => vec![ip],
        Err(_) => {
            let name = host;
            if allow_private {
                return Ok(url);
            }
            let lower = name.to_ascii_lowercase();
            if lower == "localhost" || lower.ends_with(".localhost") {
                return Err("must not point to this machine (localhost)".into());
            }
            match tokio::time::timeout(REGISTRATION_DNS_TIMEOUT, tokio::net::lookup_host((name, port))).await {
                Ok(Ok(addrs)) => addrs.map(|a| a.ip()).collect(),
                // Unresolvable now: it may resolve later, and delivery checks then.
                _ => Vec::new(),
            }
        }
    };
    if !allow_private && let Some(reason) = ips.into_iter().find_map(forbidden_reason) {
        return Err(format!("must not point to {reason}"));
    }
    Ok(url)
}

// --- the service ------------------------------------------------------------------

/// A webhook registration as the user sends it.
#[derive(Debug, Clone, Default)]
pub struct NewEndpoint {
    pub url: String,
    /// `None`: every event.
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
}

/// Checks event filters: `*`, an event type, or `<domain>.*` for a domain that has events.
pub fn parse_filters(raw: Option<Vec<String>>) -> std::result::Result<Vec<String>, String> {
    let Some(raw) = raw else { return Ok(vec!["*".into()]) };
    if raw.is_empty() {
        return Err("must name at least one event type (or leave it out for all)".into());
    }
    let mut filters: Vec<String> = Vec::new();
    for f in raw {
        let f = f.trim().to_owned();
        let known = f == "*"
            || EventType::parse(&f).is_some()
            || f.strip_suffix(".*")
                .is_some_and(|domain| EventType::ALL.iter().any(|t| t.as_str().split('.').next() == Some(domain)));
        if !known {
            let types: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            return Err(format!(
                "{f:?} is not an event type ({}), a \"<domain>.*\" pattern or \"*\"",
                types.join(", ")
            ));
        }
        if !filters.contains(&f) {
            filters.push(f);
        }
    }
    Ok(filters)
}

/// When an endpoint is taken out of service: once `disable_after` deliveries in a
/// row were given up on. Returns the reason its owner reads, or `None` while
/// the endpoint stays (or already is out of service).
pub fn disable_reason(
    consecutive_failures: i64,
    status: EndpointStatus,
    disable_after: i64,
    last_error: Option<&str>,
) -> Option<String> {
    (status == EndpointStatus::Active && consecutive_failures >= disable_after.max(1)).then(|| {
        format!(
            "disabled after {consecutive_failures} consecutive failed deliveries; last error: {}",
            last_error.unwrap_or("unknown")
        )
    })
}

/// How long a rotated-out secret keeps signing beside its successor.
pub const PREVIOUS_SECRET_GRACE: chrono::TimeDelta = chrono::TimeDelta::hours(24);

/// A new signing secret: `whsec_` and 32 random bytes in base64 (Standard Webhooks).
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    format!("whsec_{}", STANDARD.encode(key))
}

/// One page of an endpoint's delivery log.
#[derive(Debug, Clone)]
pub struct DeliveryPage {
    pub items: Vec<Delivery>,
    pub next_cursor: Option<String>,
}

pub struct WebhookService<'a> {
    app: &'a App,
}

impl<'a> WebhookService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Registers an endpoint; the result carries its secret (shown only now).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id))]
    pub async fn create(&self, actor: &Actor, input: NewEndpoint) -> Result<Endpoint> {
        // A webhook reads every matching event from now on, so registering one
        // needs the read scope as well as the write scope.
        actor.require(Scope::TasksWrite)?;
        actor.require(Scope::TasksRead)?;
        let mut errors = ValidationErrors::new();
        let url =
            errors.check("url", check_target(input.url.trim(), self.app.outbound.webhooks.allow_private_targets).await);
        let events = errors.check("events", parse_filters(input.events));
        let description = input.description.unwrap_or_default().trim().to_owned();
        if description.chars().count() > MAX_DESCRIPTION_LEN {
            errors.push("description", format!("must be at most {MAX_DESCRIPTION_LEN} characters"));
        }
        errors.into_result()?;
        let (Some(url), Some(events)) = (url, events) else { return Err(AppError::validation("body", "invalid")) };
        let now = now();
        let endpoint = Endpoint {
            id: EndpointId::new(),
            user_id: actor.user_id,
            url: url.to_string(),
            description,
            events,
            secret: new_secret(),
            status: EndpointStatus::Active,
            disabled_reason: None,
            consecutive_failures: 0,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.app.db.begin().await?;
        if webhooks::endpoints_of(tx.conn(), actor.user_id).await?.len() >= MAX_ENDPOINTS_PER_USER {
            return Err(AppError::Conflict(format!("at most {MAX_ENDPOINTS_PER_USER} webhook endpoints per user")));
        }
        let stored = Endpoint { secret: self.app.sealer.seal(&endpoint.secret), ..endpoint.clone() };
        webhooks::insert_endpoint(&mut tx, &stored).await?;
        tx.commit().await?;
        tracing::info!(endpoint = %endpoint.id, "webhook endpoint registered");
        Ok(endpoint)
    }

    pub async fn list(&self, actor: &Actor) -> Result<Vec<Endpoint>> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        Ok(webhooks::endpoints_of(&mut conn, actor.user_id).await?)
    }

    pub async fn get(&self, actor: &Actor, id: EndpointId) -> Result<Endpoint> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        webhooks::endpoint(&mut conn, actor.user_id, id).await?.ok_or(AppError::NotFound)
    }

    #[tracing::instrument(skip_all, fields(user = %actor.user_id, endpoint = %id))]
    pub async fn delete(&self, actor: &Actor, id: EndpointId) -> Result<()> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        if !webhooks::delete_endpoint(&mut tx, actor.user_id, id).await? {
            return Err(AppError::NotFound);
        }
        tx.commit().await?;
        self.forget_breaker(id);
        Ok(())
    }

    /// Re-enables an endpoint (after fixing the receiver that got it disabled).
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, endpoint = %id))]
    pub async fn enable(&self, actor: &Actor, id: EndpointId) -> Result<Endpoint> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        if !webhooks::enable_endpoint(&mut tx, actor.user_id, id, now()).await? {
            return Err(AppError::NotFound);
        }
        let endpoint = webhooks::endpoint(tx.conn(), actor.user_id, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        self.forget_breaker(id);
        Ok(endpoint)
    }

    /// The endpoint's circuit breaker starts afresh (its receiver was fixed,
    /// or it is gone). Breakers are per process: this reaches the delivering
    /// worker when it runs in this process; a separate worker's breaker lets
    /// a probe through within `circuit_breakers.open_secs` anyway.
    fn forget_breaker(&self, id: EndpointId) {
        self.app.breakers().forget(Peer::Webhook, &id.to_string());
    }

    /// Gives the endpoint a new signing secret, returned (like at registration)
    /// only in this answer. Attempts from now on are signed with it and, for
    /// [`PREVIOUS_SECRET_GRACE`], with the old one too, so the receiver can
    /// switch over without rejecting a delivery.
    #[tracing::instrument(skip_all, fields(user = %actor.user_id, endpoint = %id))]
    pub async fn rotate_secret(&self, actor: &Actor, id: EndpointId) -> Result<Endpoint> {
        actor.require(Scope::TasksWrite)?;
        let secret = new_secret();
        let mut tx = self.app.db.begin().await?;
        let now = now();
        let sealed = self.app.sealer.seal(&secret);
        if !webhooks::set_secret(&mut tx, actor.user_id, id, &sealed, now + PREVIOUS_SECRET_GRACE, now).await? {
            return Err(AppError::NotFound);
        }
        let endpoint = webhooks::endpoint(tx.conn(), actor.user_id, id).await?.ok_or(AppError::NotFound)?;
        tx.commit().await?;
        tracing::info!("webhook secret rotated");
        Ok(Endpoint { secret, ..endpoint })
    }

    /// The endpoint's deliveries, newest first; `cursor` is a previous page's `next_cursor`.
    pub async fn deliveries(
        &self,
        actor: &Actor,
        id: EndpointId,
        cursor: Option<&str>,
        limit: i64,
    ) -> Result<DeliveryPage> {
        actor.require(Scope::TasksRead)?;
        let limit = limit.clamp(1, 200);
        let before = match cursor {
            Some(c) => Some(
                URL_SAFE_NO_PAD
                    .decode(c)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .and_then(|s| DeliveryId::parse(&s).ok())
                    .ok_or_else(|| AppError::validation("cursor", "is not a cursor this server issued"))?,
            ),
            None => None,
        };
        let mut conn = self.app.db.read().await?;
        webhooks::endpoint(&mut conn, actor.user_id, id).await?.ok_or(AppError::NotFound)?;
        let mut items = webhooks::deliveries(&mut conn, id, before, limit + 1).await?;
        let more = items.len() as i64 > limit;
        items.truncate(limit as usize);
        let next_cursor = if more { items.last().map(|d| URL_SAFE_NO_PAD.encode(d.id.to_string())) } else { None };
        Ok(DeliveryPage { items, next_cursor })
    }

    /// One delivery with every attempt made.
    pub async fn delivery(
        &self,
        actor: &Actor,
        id: EndpointId,
        delivery_id: DeliveryId,
    ) -> Result<(Delivery, Vec<Attempt>)> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        webhooks::endpoint(&mut conn, actor.user_id, id).await?.ok_or(AppError::NotFound)?;
        let delivery = webhooks::delivery(&mut conn, id, delivery_id).await?.ok_or(AppError::NotFound)?;
        let attempts = webhooks::attempts(&mut conn, delivery_id).await?;
        Ok((delivery, attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_active_endpoint_is_disabled_at_the_configured_count_of_failed_deliveries() {
        let active = EndpointStatus::Active;
        assert_eq!(disable_reason(2, active, 3, Some("HTTP 500")), None);
        let reason = disable_reason(3, active, 3, Some("the endpoint answered HTTP 500")).unwrap();
        assert_eq!(
            reason,
            "disabled after 3 consecutive failed deliveries; last error: the endpoint answered HTTP 500"
        );
        assert!(disable_reason(4, active, 3, None).unwrap().ends_with("last error: unknown"));
        assert_eq!(disable_reason(9, EndpointStatus::Disabled, 3, None), None, "already out of service");
        assert!(disable_reason(1, active, 0, None).is_some(), "a bar of 0 counts as 1");
    }

    #[test]
    fn forbidden_addresses() {
        for ip in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "224.0.0.1",
            "100.64.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:a00:1::",
        ] {
            assert!(forbidden_reason(ip.parse().unwrap()).is_some(), "{ip} must be forbidden");
        }
        for ip in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "172.32.0.1"] {
            assert!(forbidden_reason(ip.parse().unwrap()).is_none(), "{ip} must be allowed");
        }
    }

    #[test]
    fn filters_parse() {
        assert_eq!(parse_filters(None).unwrap(), ["*"]);
        assert_eq!(parse_filters(Some(vec!["task.*".into(), "task.*".into()])).unwrap(), ["task.*"]);
        assert!(parse_filters(Some(vec!["reminder.due".into()])).is_ok());
        assert!(parse_filters(Some(vec!["nope.*".into()])).is_err());
        assert!(parse_filters(Some(vec!["task.exploded".into()])).is_err());
        assert!(parse_filters(Some(vec![])).is_err());
    }

    #[test]
    fn secrets_follow_the_standard() {
        let s = new_secret();
        let key = STANDARD.decode(s.strip_prefix("whsec_").unwrap()).unwrap();
        assert_eq!(key.len(), 32);
    }

    #[tokio::test]
    async fn targets() {
        for url in
            ["http://127.0.0.1/", "http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/", "http://localhost:9/"]
        {
            assert!(check_target(url, false).await.is_err(), "{url}");
            assert!(check_target(url, true).await.is_ok(), "{url}");
        }
        // Other spellings of loopback normalise to it and are refused as well.
        for url in ["http://2130706433/", "http://0x7f.1/", "http://127.1/", "http://[::ffff:127.0.0.1]/"] {
            assert!(check_target(url, false).await.is_err(), "{url}");
        }
        assert!(check_target("ftp://example.com/", true).await.is_err());
        assert!(check_target("https://u:p@example.com/", true).await.is_err());
        assert!(check_target("https://93.184.216.34/hook", false).await.is_ok());
    }
}
