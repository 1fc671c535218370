//! Rate limits: how often one client address may try to sign in, how often
//! one account may be tried, and how many requests one person's credentials
//! may make. Generous enough that a person or a well-behaved script never
//! meets them; past them the answer is 429 with `Retry-After`. Each process
//! counts on its own (several replicas each allow the full rate).
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use ontask_domain::UserId;

use crate::AppError;

/// Counted in `ontask_rate_limited_total{scope}` (the name is also in
/// `ontask_telemetry::metrics`; the app stays free of the telemetry stack).
const RATE_LIMITED_TOTAL: &str = "ontask_rate_limited_total";

/// Rate limits (`[rate_limits]`), per process and per minute; each allows its
/// whole minute at once (a burst). Past one the answer is 429 with `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    pub enabled: bool,
    /// Sign-ins, sign-ups and API token creations from one client address.
    pub sign_in_per_address: u32,
    /// Sign-in and sign-up attempts for one e-mail address, from anywhere.
    pub sign_in_per_account: u32,
    /// Requests made with one person's credentials (all their tokens together).
    pub api_per_person: u32,
    /// Behind a reverse proxy, the header it puts the client's address in
    /// (`x-forwarded-for`: the last address, the one the proxy saw). Unset:
    /// the connection's peer address; the header is then ignored, since any
    /// client can send it.
    #[serde(with = "header_name")]
    pub client_address_header: Option<http::HeaderName>,
}

/// A header name as its text, checked where it is read.
mod header_name {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(name: &Option<http::HeaderName>, s: S) -> Result<S::Ok, S::Error> {
        match name {
            Some(name) => s.serialize_some(name.as_str()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<http::HeaderName>, D::Error> {
        let raw = Option::<String>::deserialize(d)?.unwrap_or_default();
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(None);
        }
        raw.parse().map(Some).map_err(|_| serde::de::Error::custom(format!("is not a header name (got {raw:?})")))
    }
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            sign_in_per_address: 30,
            sign_in_per_account: 10,
            api_per_person: 6000,
            client_address_header: None,
        }
    }
}

/// Which limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    SignInAddress,
    SignInAccount,
    Api,
}

impl Limit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignInAddress => "sign_in_address",
            Self::SignInAccount => "sign_in_account",
            Self::Api => "api",
        }
    }
}

/// The limiters of one process.
pub struct RateLimits {
    enabled: bool,
    client_address_header: Option<http::HeaderName>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
    by_person: DefaultKeyedRateLimiter<UserId>,
}

fn per_minute(n: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN))
}

impl RateLimits {
    pub fn new(s: RateLimitSettings) -> Self {
        Self {
            enabled: s.enabled,
            client_address_header: s.client_address_header,
            by_address: DefaultKeyedRateLimiter::keyed(per_minute(s.sign_in_per_address)),
            by_account: DefaultKeyedRateLimiter::keyed(per_minute(s.sign_in_per_account)),
            by_person: DefaultKeyedRateLimiter::keyed(per_minute(s.api_per_person)),
        }
    }

    /// The client's address: from the configured proxy header, else the
    /// connection's peer.
    pub fn client_address(&self, headers: &http::HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
        match &self.client_address_header {
            Some(name) => headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|last| last.trim().parse().ok()),
            None => peer,
        }
    }

    /// A sign-in, registration or token creation from `address` (when known)
    /// for `account` (an e-mail, when the request names one).
    pub fn sign_in(&self, address: Option<IpAddr>, account: Option<&str>) -> Result<(), AppError> {
        if let Some(address) = address {
            self.check(Limit::SignInAddress, &self.by_address, &address)?;
        }
        if let Some(account) = account {
            self.check(Limit::SignInAccount, &self.by_account, &account.trim().to_lowercase())?;
        }
        Ok(())
    }

    /// A request made with `person`'s credentials.
    pub fn api(&self, person: UserId) -> Result<(), AppError> {
        self.check(Limit::Api, &self.by_person, &person)
    }

    fn check<K>(&self, limit: Limit, limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), AppError>
    where
        K: std::hash::Hash + Eq + Clone,
    {
        if !self.enabled {
            return Ok(());
        }
        limiter.check_key(key).map_err(|not_until| {
            metrics::counter!(RATE_LIMITED_TOTAL, "scope" => limit.as_str()).increment(1);
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            AppError::RateLimited { limit, retry_after: wait.max(Duration::from_secs(1)) }
        })
    }

    /// Forgets keys whose limit has fully refilled, so the maps hold only
    /// recent clients (the server calls it once a minute).
    pub fn forget_idle(&self) {
        self.by_address.retain_recent();
        self.by_account.retain_recent();
        self.by_person.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_address: u32, per_account: u32) -> RateLimits {
        RateLimits::new(RateLimitSettings {
            enabled: true,
            sign_in_per_address: per_address,
            sign_in_per_account: per_account,
            api_per_person: 2,
            client_address_header: None,
        })
    }

    #[test]
    fn each_key_gets_its_own_allowance_and_past_it_a_wait() {
        let l = limits(3, 2);
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        assert!(l.sign_in(Some(a), Some("ada@example.com")).is_ok());
        assert!(l.sign_in(Some(a), Some("ADA@example.com ")).is_ok());
        // The account is spent (whatever its case), another one is not.
        let Err(AppError::RateLimited { limit, retry_after }) = l.sign_in(Some(b), Some("ada@example.com")) else {
            panic!("the third try for one account is refused");
        };
        assert_eq!(limit, Limit::SignInAccount);
        assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(60), "{retry_after:?}");
        assert!(l.sign_in(Some(a), Some("bob@example.com")).is_ok());
        // The address is spent (three tries), another address is not.
        assert!(matches!(l.sign_in(Some(a), None), Err(AppError::RateLimited { limit: Limit::SignInAddress, .. })));
        assert!(l.sign_in(Some(b), None).is_ok());
        assert!(l.sign_in(None, None).is_ok(), "an unknown address is not counted");

        let (ada, bob) = (UserId::new(), UserId::new());
        assert!(l.api(ada).is_ok() && l.api(ada).is_ok());
        assert!(matches!(l.api(ada), Err(AppError::RateLimited { limit: Limit::Api, .. })));
        assert!(l.api(bob).is_ok());
    }

    #[test]
    fn the_client_address_comes_from_the_proxy_header_only_when_one_is_configured() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.9, 198.51.100.7".parse().unwrap());
        let peer: IpAddr = "10.0.0.5".parse().unwrap();
        let direct = RateLimits::new(RateLimitSettings::default());
        assert_eq!(direct.client_address(&headers, Some(peer)), Some(peer), "a client cannot claim an address");
        let proxied = RateLimits::new(RateLimitSettings {
            client_address_header: Some(http::HeaderName::from_static("x-forwarded-for")),
            ..RateLimitSettings::default()
        });
        assert_eq!(proxied.client_address(&headers, Some(peer)), Some("198.51.100.7".parse().unwrap()));
        assert_eq!(proxied.client_address(&http::HeaderMap::new(), Some(peer)), None);
    }

    #[test]
    fn off_means_off() {
        let l = RateLimits::new(RateLimitSettings { enabled: false, ..RateLimitSettings::default() });
        let ada = UserId::new();
        for _ in 0..10_000 {
            assert!(l.api(ada).is_ok());
        }
        assert!((0..100).all(|_| l.sign_in(Some([127, 0, 0, 1].into()), Some("x@example.com")).is_ok()));
    }
}
