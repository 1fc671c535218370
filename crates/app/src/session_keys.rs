//! The keys of our own session tokens (HS256 JWTs) and their rotation.
//!
//! Sessions are signed with the current secret (`auth.jwt_secret`) only. After
//! a rotation, the secrets it replaced (`auth.previous_jwt_secrets`) still
//! verify, but a token signed with one of them is accepted only for a grace
//! period counted from its `iat`, and never past its own `exp` or before its
//! `nbf`: people are not all signed out at the moment of the switch, and once
//! the grace period is over no session signed with an old secret works, however
//! long it was issued for.
//!
//! A previous secret vouches for any `iat` its holder writes, so a leaked secret
//! must not be listed (the configuration docs say so): the grace period bounds
//! the sessions people had, not what a thief could mint.
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::auth::{token_refused, unauthorized};
use crate::{AppError, Result};

pub(crate) const ISSUER: &str = "ontask";
/// Clock skew tolerated on a session's `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 5;

/// What a session token says.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Claims {
    pub sub: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub role: Option<String>,
    pub iss: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default)]
    pub jti: Option<String>,
    /// The account's session generation when it was issued (absent: 0, as
    /// before password changes counted); a newer one refuses it.
    #[serde(default)]
    pub sgen: i64,
}

pub(crate) struct SessionKeys {
    encoding: EncodingKey,
    current: DecodingKey,
    /// The previous secrets', in the order of the configuration.
    previous: Vec<DecodingKey>,
    grace: chrono::Duration,
}

impl SessionKeys {
    pub fn new(current: &[u8], previous: &[Vec<u8>], grace: Duration) -> Self {
        Self {
            encoding: EncodingKey::from_secret(current),
            current: DecodingKey::from_secret(current),
            previous: previous.iter().map(|s| DecodingKey::from_secret(s)).collect(),
            // Checked at start (at most a year); saturate rather than fail on a giant value.
            grace: chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// A token for `claims`, signed with the current secret.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding).map_err(AppError::internal)
    }

    /// The claims of `token` if it is valid at `now`: signed with the current
    /// secret, or with a previous one and issued less than the grace period
    /// ago. Every other check (issuer, `exp`, `nbf`) is the same for both.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "sub", "iss"]);
        validation.leeway = LEEWAY_SECS;
        // A token not valid yet (`nbf` ahead, beyond the leeway) is refused.
        validation.validate_nbf = true;
        let refused = match jsonwebtoken::decode::<Claims>(token, &self.current, &validation) {
            Ok(data) => return Ok(data.claims),
            Err(e) => e,
        };
        // Only a token the current secret did not sign can be a previous
        // secret's: one it signed that has expired stays refused.
        if *refused.kind() != ErrorKind::InvalidSignature {
            return Err(token_refused(refused));
        }
        for key in &self.previous {
            match jsonwebtoken::decode::<Claims>(token, key, &validation) {
                Ok(data) => return self.within_grace(data.claims, now),
                Err(e) if *e.kind() == ErrorKind::InvalidSignature => {}
                // Signed with this previous secret, but expired, not valid yet, ...
                Err(e) => return Err(token_refused(e)),
            }
        }
        Err(token_refused(refused))
    }

    fn within_grace(&self, claims: Claims, now: DateTime<Utc>) -> Result<Claims> {
        let issued = DateTime::from_timestamp(claims.iat, 0).ok_or_else(|| unauthorized("the token is not valid"))?;
        // An `iat` ahead of the clock would push the end of the grace period
        // out; no session we issued has one.
        if issued > now + chrono::Duration::seconds(LEEWAY_SECS.cast_signed()) {
            return Err(unauthorized("the token is not valid yet"));
        }
        if issued.checked_add_signed(self.grace).is_some_and(|end| now >= end) {
            return Err(unauthorized(
                "the session was signed with a retired server secret and its grace period is over; sign in again",
            ));
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &[u8] = b"the-old-session-secret-0123456789abcdef";
    const NEW: &[u8] = b"the-new-session-secret-0123456789abcdef";
    const OTHER: &[u8] = b"another-retired-secret-0123456789abcdef";
    const HOUR: chrono::Duration = chrono::Duration::hours(1);
    const DAY: Duration = Duration::from_secs(24 * 3600);

    fn keys(current: &[u8], previous: &[&[u8]], grace: Duration) -> SessionKeys {
        SessionKeys::new(current, &previous.iter().map(|s| s.to_vec()).collect::<Vec<_>>(), grace)
    }

    /// A session as `Auth` issues one, issued at `iat` and valid until `exp`.
    fn claims(iat: DateTime<Utc>, exp: DateTime<Utc>) -> Claims {
        Claims {
            sub: uuid::Uuid::now_v7().to_string(),
            email: None,
            role: None,
            iss: ISSUER.into(),
            iat: iat.timestamp(),
            exp: exp.timestamp(),
            jti: None,
            sgen: 0,
        }
    }

    fn sign(claims: &impl Serialize, secret: &[u8]) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn refusal(result: Result<Claims>) -> String {
        match result {
            Err(AppError::Unauthorized(why)) => why,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn after_a_rotation_sessions_are_signed_with_the_new_secret_only() {
        let t = Utc::now();
        let token = keys(NEW, &[OLD], DAY).sign(&claims(t, t + HOUR)).unwrap();
        assert!(keys(NEW, &[], DAY).verify(&token, t).is_ok(), "the new secret alone verifies it");
        assert_eq!(refusal(keys(OLD, &[], DAY).verify(&token, t)), "the token signature is invalid");
    }

    #[test]
    fn a_previous_secrets_session_is_accepted_for_the_grace_period_from_its_issue() {
        let issued = Utc::now();
        let before = sign(&claims(issued, issued + HOUR * 24 * 7), OLD);
        let rotated = keys(NEW, &[OTHER, OLD], DAY);
        assert!(rotated.verify(&before, issued).is_ok(), "right after the switch");
        assert!(rotated.verify(&before, issued + HOUR * 23).is_ok(), "inside the grace period");
        let why = refusal(rotated.verify(&before, issued + HOUR * 24));
        assert!(why.contains("grace period is over"), "{why}");

        // Issued 25 hours ago and valid for another hour: the grace period ends it.
        let late = claims(issued - HOUR * 25, issued + HOUR);
        assert!(refusal(rotated.verify(&sign(&late, OLD), issued)).contains("grace period is over"));
        assert!(rotated.verify(&sign(&late, NEW), issued).is_ok(), "the current secret knows no grace period");

        // A zero grace period accepts none; an unlisted secret is refused as any other.
        assert!(refusal(keys(NEW, &[OLD], Duration::ZERO).verify(&before, issued)).contains("grace period is over"));
        assert_eq!(refusal(keys(NEW, &[OTHER], DAY).verify(&before, issued)), "the token signature is invalid");
    }

    #[test]
    fn a_previous_secrets_session_never_outlives_its_expiry_nor_starts_early() {
        let rotated = keys(NEW, &[OLD], DAY);
        let t = Utc::now();
        let expired = claims(t - HOUR * 2, t - HOUR);
        assert_eq!(refusal(rotated.verify(&sign(&expired, OLD), t)), "the token has expired");
        assert_eq!(refusal(rotated.verify(&sign(&expired, NEW), t)), "the token has expired");

        #[derive(Serialize)]
        struct NotBefore {
            #[serde(flatten)]
            claims: Claims,
            nbf: i64,
        }
        let early = NotBefore { claims: claims(t, t + HOUR), nbf: (t + HOUR / 2).timestamp() };
        assert_eq!(refusal(rotated.verify(&sign(&early, OLD), t)), "the token is not valid yet");
        assert_eq!(refusal(rotated.verify(&sign(&early, NEW), t)), "the token is not valid yet");

        // An `iat` ahead of the clock would push the end of the grace period out.
        let ahead = claims(t + HOUR * 12, t + HOUR * 48);
        assert_eq!(refusal(rotated.verify(&sign(&ahead, OLD), t)), "the token is not valid yet");
    }
}
