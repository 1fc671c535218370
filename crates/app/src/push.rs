//! Web Push (RFC 8030): the server's VAPID key (RFC 8292) and a person's
//! subscribed devices. Messages are queued by the notifications consumer and
//! sent by the push sender (`ontask-workers`), encrypted per RFC 8291.
//!
//! A subscription's endpoint is the only place a push goes: it must be an
//! https URL on a public address (unless private endpoints are allowed, for
//! tests), checked here and again, after name resolution, when sending.
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use ontask_domain::settings::{Secret, units};
use ontask_domain::{PushSubscriptionId, ValidationErrors};
use ontask_store::push::{self, Subscription};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use crate::webhooks::check_target;
use crate::{Actor, App, AppError, Result, Scope, now};

/// A subscription's label is what the person reads in their device list.
const MAX_LABEL: usize = 100;

/// The server's VAPID key pair: a P-256 private key, kept as the 32 bytes of
/// its scalar in base64url (the form `web-push generate-vapid-keys` prints and
/// `web_push::VapidSignatureBuilder::from_base64` reads).
#[derive(Clone)]
pub struct VapidKey {
    private: String,
    /// The uncompressed public point, base64url: the browser's `applicationServerKey`.
    public: String,
}

impl VapidKey {
    /// Parses a private key; the error says why it is not one.
    pub fn parse(private: &str) -> std::result::Result<Self, String> {
        let private = private.trim();
        // The key parser behind web-push panics on a scalar of another length.
        match URL_SAFE_NO_PAD.decode(private) {
            Ok(scalar) if scalar.len() == 32 => {}
            _ => return Err("is not the base64url of a 32-byte P-256 private key".to_owned()),
        }
        let builder = web_push::VapidSignatureBuilder::from_base64_no_sub(private)
            .map_err(|e| format!("is not a base64url P-256 private key ({e})"))?;
        Ok(Self { private: private.to_owned(), public: URL_SAFE_NO_PAD.encode(builder.get_public_key()) })
    }

    /// A new random key pair.
    pub fn generate() -> Self {
        loop {
            let mut scalar = [0u8; 32];
            rand::thread_rng().fill_bytes(&mut scalar);
            // All but about one in 2^32 random scalars are below the curve's
            // order (and not zero); draw again for those.
            if let Ok(key) = Self::parse(&URL_SAFE_NO_PAD.encode(scalar)) {
                return key;
            }
        }
    }

    /// For `web_push::VapidSignatureBuilder::from_base64`.
    pub fn private_base64(&self) -> &str {
        &self.private
    }

    pub fn public_base64(&self) -> &str {
        &self.public
    }
}

impl std::fmt::Debug for VapidKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKey").field("public", &self.public).finish_non_exhaustive()
    }
}

/// Web Push (`[push]`): reminders and mentions pushed to the devices people
/// allowed notifications on.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PushSettings {
    /// The VAPID private key: a P-256 key as the base64url of its 32-byte
    /// scalar (what `npx web-push generate-vapid-keys` prints as the private
    /// key). Unset: `data_dir/vapid_private_key`, generated on first start,
    /// when the database is SQLite (one process owns `data_dir`). With
    /// PostgreSQL every replica must sign with the same key, so push stays off
    /// until it is set.
    pub vapid_private_key: Option<Secret>,
    /// The VAPID `sub` claim, a contact for push services' operators
    /// (RFC 8292 section 2.1): `mailto:ops@example.com` or an `https:` URL.
    /// Default: `public_url` when it is https, else `mailto:admin@localhost`.
    pub subject: Option<String>,
    /// Accept subscriptions whose endpoint is plain http or on a loopback or
    /// private address (tests only: real push services are public https).
    pub allow_private_endpoints: bool,
    /// Timeout of one request to a push service.
    #[serde(rename = "timeout_secs", with = "units::secs")]
    pub timeout: Duration,
    /// Attempts per message before it is given up (404/410 remove the subscription at once).
    pub max_attempts: u32,
    #[serde(skip)]
    pub retry_base: Duration,
    #[serde(skip)]
    pub retry_max: Duration,
    /// How long a push service keeps a message for an offline device (the `TTL` header).
    #[serde(skip)]
    pub ttl: Duration,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            vapid_private_key: None,
            subject: None,
            allow_private_endpoints: false,
            timeout: Duration::from_secs(10),
            max_attempts: 8,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(3600),
            ttl: Duration::from_secs(24 * 3600),
        }
    }
}

/// Who signs pushes: the key in use (configured or generated) and the contact
/// push services see. Without one, push is off.
#[derive(Debug, Clone)]
pub struct Vapid {
    pub key: VapidKey,
    /// The `sub` claim.
    pub subject: String,
}

impl Vapid {
    /// Signs with `key`, naming `settings.subject`, else `public_url` when it
    /// is https, else `mailto:admin@localhost`.
    pub fn new(key: VapidKey, settings: &PushSettings, public_url: Option<&str>) -> Self {
        let subject = match (&settings.subject, public_url) {
            (Some(subject), _) => subject.clone(),
            (None, Some(url)) if url.starts_with("https://") => url.to_owned(),
            _ => "mailto:admin@localhost".to_owned(),
        };
        Self { key, subject }
    }
}

/// A device as its owner sees it: never the keys, and the endpoint only as the
/// push service's host (the whole URL is a capability to the device).
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeviceView {
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = Uuid))]
    pub id: PushSubscriptionId,
    pub label: String,
    /// The push service's host, e.g. `fcm.googleapis.com`.
    pub service: String,
    pub created_at: DateTime<Utc>,
    pub last_sent_at: Option<DateTime<Utc>>,
}

impl From<&Subscription> for DeviceView {
    fn from(s: &Subscription) -> Self {
        let service = reqwest::Url::parse(&s.endpoint).ok().and_then(|u| u.host_str().map(str::to_owned));
        Self {
            id: s.id,
            label: s.label.clone(),
            service: service.unwrap_or_default(),
            created_at: s.created_at,
            last_sent_at: s.last_sent_at,
        }
    }
}

/// A subscription as the browser's `PushSubscription.toJSON()` gives it, with a label.
#[derive(Debug, Clone, Default)]
pub struct NewSubscription {
    pub endpoint: String,
    pub p256dh: String,
    pub auth: String,
    pub label: Option<String>,
    /// The endpoint of the person's device this one renews.
    pub replaces: Option<String>,
}

pub struct PushService<'a> {
    app: &'a App,
}

impl<'a> PushService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// The settings, while push is on (`NotFound` otherwise).
    fn settings(&self) -> Result<&'a PushSettings> {
        self.vapid()?;
        Ok(&self.app.outbound.push)
    }

    fn vapid(&self) -> Result<&'a Vapid> {
        self.app.outbound.vapid.as_ref().ok_or(AppError::NotFound)
    }

    /// The key browsers subscribe with; `NotFound` while push is off.
    pub fn public_key(&self) -> Result<&'a str> {
        Ok(self.vapid()?.key.public_base64())
    }

    /// Adds (or renews) one of the person's devices.
    #[tracing::instrument(skip_all, fields(user_id = %actor.user_id))]
    pub async fn subscribe(&self, actor: &Actor, input: NewSubscription) -> Result<DeviceView> {
        actor.require(Scope::TasksWrite)?;
        let settings = self.settings()?;
        let mut errors = ValidationErrors::new();
        let endpoint = input.endpoint.trim();
        match check_target(endpoint, settings.allow_private_endpoints).await {
            Ok(url) if url.scheme() != "https" && !settings.allow_private_endpoints => {
                errors.push("endpoint", "must be an https URL (RFC 8030 section 8)");
            }
            Ok(_) => {}
            Err(why) => errors.push("endpoint", why),
        }
        match URL_SAFE_NO_PAD.decode(input.p256dh.trim().trim_end_matches('=')) {
            // An uncompressed P-256 point (RFC 8291 section 3.1).
            Ok(key) if key.len() == 65 && key[0] == 4 => {}
            _ => errors.push("keys.p256dh", "must be an uncompressed P-256 public key, base64url"),
        }
        match URL_SAFE_NO_PAD.decode(input.auth.trim().trim_end_matches('=')) {
            Ok(secret) if secret.len() == 16 => {}
            _ => errors.push("keys.auth", "must be a 16-byte auth secret, base64url"),
        }
        let label = input.label.as_deref().unwrap_or("").trim().to_owned();
        if label.chars().count() > MAX_LABEL {
            errors.push("label", format!("must be at most {MAX_LABEL} characters"));
        }
        errors.into_result()?;
        let named = !label.is_empty();
        let mut row = Subscription {
            id: PushSubscriptionId::new(),
            user_id: actor.user_id,
            endpoint: endpoint.to_owned(),
            p256dh: input.p256dh.trim().trim_end_matches('=').to_owned(),
            auth: input.auth.trim().trim_end_matches('=').to_owned(),
            label: if label.is_empty() { "A browser".to_owned() } else { label },
            created_at: now(),
            last_sent_at: None,
        };
        let mut tx = self.app.db.begin().await?;
        // A renewed subscription takes the place of the old one, and its name.
        if let Some(old) = input.replaces.as_deref().map(str::trim).filter(|old| *old != endpoint)
            && let Some(renewed) = push::delete_endpoint(&mut tx, actor.user_id, old).await?
            && !named
        {
            row.label = renewed.label;
        }
        let stored = push::upsert(&mut tx, &row).await?;
        tx.commit().await?;
        Ok(DeviceView::from(&stored))
    }

    pub async fn list(&self, actor: &Actor) -> Result<Vec<DeviceView>> {
        actor.require(Scope::TasksRead)?;
        let mut conn = self.app.db.read().await?;
        Ok(push::for_user(&mut conn, actor.user_id).await?.iter().map(DeviceView::from).collect())
    }

    /// Forgets one of the person's devices; nothing more is pushed to it.
    pub async fn unsubscribe(&self, actor: &Actor, id: PushSubscriptionId) -> Result<()> {
        actor.require(Scope::TasksWrite)?;
        let mut tx = self.app.db.begin().await?;
        let deleted = push::delete(&mut tx, actor.user_id, id).await?;
        tx.commit().await?;
        if deleted { Ok(()) } else { Err(AppError::NotFound) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_parses_back_with_the_same_public_key() {
        let key = VapidKey::generate();
        let again = VapidKey::parse(key.private_base64()).unwrap();
        assert_eq!(again.public_base64(), key.public_base64());
        let public = URL_SAFE_NO_PAD.decode(key.public_base64()).unwrap();
        assert_eq!((public.len(), public[0]), (65, 4), "an uncompressed point");
        assert_ne!(VapidKey::generate().public_base64(), key.public_base64());
        assert!(!format!("{key:?}").contains(key.private_base64()), "the private key is not printed");
    }

    #[test]
    fn what_is_not_a_key_is_refused() {
        for bad in ["", "not base64!", "AAAA", &URL_SAFE_NO_PAD.encode([0u8; 32])] {
            assert!(VapidKey::parse(bad).is_err(), "{bad:?}");
        }
    }
}
