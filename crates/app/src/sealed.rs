//! Secrets the server must read back (webhook signing secrets) are stored
//! sealed: XChaCha20-Poly1305 under a key derived with HKDF-SHA256 from the
//! server secret (`auth.jwt_secret`). A copy of the database alone no longer
//! lets anyone forge deliveries.
//!
//! Rotating the server secret must not make those unreadable: values are
//! sealed under the current secret, and unsealed under it or, failing that,
//! under each of `auth.previous_jwt_secrets` (for this, even after their
//! sessions' grace period is over). A value is sealed under the
//! current secret again when it is next written (an endpoint's secret is
//! rotated) and, at the start of each webhook worker, by [`Sealer::reseal`], so
//! an old secret can leave the list once the workers have run with the new one.
//!
//! Stored form: `sealed:v1:` + base64(24-byte nonce ‖ ciphertext ‖ tag). A
//! value without the prefix is a secret stored before sealing existed and is
//! used as it is.
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use sha2::Sha256;

const PREFIX: &str = "sealed:v1:";
/// HKDF "info": a key for this purpose only, unrelated to the session-token key.
const PURPOSE: &[u8] = b"ontask/webhook-secrets/v1";
const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
#[error(
    "the stored secret cannot be unsealed: it was sealed under another server secret \
     (was auth.jwt_secret changed without listing the old one in auth.previous_jwt_secrets?) \
     or it is damaged; rotate the endpoint's secret"
)]
pub struct UnsealError;

/// Seals and unseals stored secrets.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    /// Under the previous server secrets, newest first: for unsealing only.
    previous: Vec<XChaCha20Poly1305>,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    pub fn from_server_secret(server_secret: &[u8]) -> Self {
        Self::from_server_secrets(server_secret, &[])
    }

    /// Seals under `current`; unseals under `current` or any of `previous`.
    pub fn from_server_secrets(current: &[u8], previous: &[Vec<u8>]) -> Self {
        Self { cipher: cipher(current), previous: previous.iter().map(|s| cipher(s)).collect() }
    }

    pub fn seal(&self, plain: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let sealed = self.cipher.encrypt(&nonce, plain.as_bytes()).expect("encrypting in memory cannot fail");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", STANDARD.encode(bytes))
    }

    pub fn unseal(&self, stored: &str) -> Result<String, UnsealError> {
        match self.open(stored)? {
            Opened::NotSealed(plain) | Opened::Current(plain) | Opened::Previous(plain) => Ok(plain),
        }
    }

    /// `stored` sealed under the current server secret, if it is sealed under
    /// a previous one; `None` if it needs nothing (sealed under the current
    /// secret, or stored before sealing existed) or cannot be unsealed at all.
    pub fn reseal(&self, stored: &str) -> Option<String> {
        match self.open(stored) {
            Ok(Opened::Previous(plain)) => Some(self.seal(&plain)),
            _ => None,
        }
    }

    fn open(&self, stored: &str) -> Result<Opened, UnsealError> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(Opened::NotSealed(stored.to_owned())) };
        let bytes = STANDARD.decode(encoded).map_err(|_| UnsealError)?;
        if bytes.len() < NONCE_LEN {
            return Err(UnsealError);
        }
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let nonce = XNonce::from_slice(nonce);
        let text = |plain: Vec<u8>| String::from_utf8(plain).map_err(|_| UnsealError);
        // The tag authenticates: only the key a value was sealed under opens it.
        if let Ok(plain) = self.cipher.decrypt(nonce, sealed) {
            return Ok(Opened::Current(text(plain)?));
        }
        let plain = self.previous.iter().find_map(|c| c.decrypt(nonce, sealed).ok()).ok_or(UnsealError)?;
        Ok(Opened::Previous(text(plain)?))
    }
}

/// A stored value, read.
enum Opened {
    /// Stored before sealing existed.
    NotSealed(String),
    /// Sealed under the current server secret.
    Current(String),
    /// Sealed under one of the previous server secrets.
    Previous(String),
}

fn cipher(server_secret: &[u8]) -> XChaCha20Poly1305 {
    let mut key = [0u8; 32];
    Hkdf::<Sha256>::new(None, server_secret)
        .expand(PURPOSE, &mut key)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    XChaCha20Poly1305::new(&key.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_round_trip_and_never_show_the_secret() {
        let sealer = Sealer::from_server_secret(&[7; 40]);
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let once = sealer.seal(secret);
        let twice = sealer.seal(secret);
        assert!(once.starts_with(PREFIX), "{once}");
        assert!(!once.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        assert_ne!(once, twice, "a fresh nonce each time");
        assert_eq!(sealer.unseal(&once).unwrap(), secret);
        assert_eq!(sealer.unseal(&twice).unwrap(), secret);
    }

    #[test]
    fn another_server_secret_or_a_damaged_value_cannot_unseal() {
        let sealed = Sealer::from_server_secret(&[7; 40]).seal("whsec_abc");
        let other = Sealer::from_server_secret(&[8; 40]);
        assert!(other.unseal(&sealed).is_err());
        let mine = Sealer::from_server_secret(&[7; 40]);
        let at = PREFIX.len() + 30;
        let flipped = if &sealed[at..=at] == "A" { "B" } else { "A" };
        let mut damaged = sealed.clone();
        damaged.replace_range(at..=at, flipped);
        assert!(mine.unseal(&damaged).is_err(), "a changed byte fails authentication");
        assert!(mine.unseal("sealed:v1:bm9wZQ==").is_err(), "shorter than a nonce");
        assert!(mine.unseal("sealed:v1:***").is_err(), "not base64");
    }

    #[test]
    fn after_a_rotation_values_sealed_under_a_previous_secret_still_unseal() {
        let (old, new) = ([7u8; 40], [8u8; 40]);
        let before = Sealer::from_server_secret(&old).seal("whsec_abc");
        let rotated = Sealer::from_server_secrets(&new, &[vec![9; 40], old.to_vec()]);
        assert_eq!(rotated.unseal(&before).unwrap(), "whsec_abc");
        let after = rotated.seal("whsec_def");
        assert_eq!(
            Sealer::from_server_secret(&new).unseal(&after).unwrap(),
            "whsec_def",
            "sealed under the current one"
        );
        assert!(Sealer::from_server_secret(&old).unseal(&after).is_err());
        assert!(Sealer::from_server_secrets(&new, &[vec![9; 40]]).unseal(&before).is_err(), "not listed, not read");

        // Sealed again, a value needs the current secret only.
        let resealed = rotated.reseal(&before).expect("sealed under a previous secret");
        assert_eq!(Sealer::from_server_secret(&new).unseal(&resealed).unwrap(), "whsec_abc");
        assert_eq!(rotated.reseal(&resealed), None, "already under the current secret");
        assert_eq!(rotated.reseal("whsec_abc"), None, "stored before sealing: left as it is");
        assert_eq!(Sealer::from_server_secret(&[9; 40]).reseal(&before), None, "unreadable: left as it is");
    }

    #[test]
    fn secrets_stored_before_sealing_are_used_as_they_are() {
        let sealer = Sealer::from_server_secret(&[7; 40]);
        assert_eq!(sealer.unseal("whsec_abc").unwrap(), "whsec_abc");
    }
}
