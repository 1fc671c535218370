//! The password rules, and argon2id hashing bounded in memory and time.
use crate::{AppError, Result};

const MIN_PASSWORD: usize = 8;
const MAX_PASSWORD: usize = 1024;

/// The password rules, reported on `field`.
pub(super) fn check_password(field: &str, password: &str) -> Result<()> {
    let n = password.chars().count();
    if n < MIN_PASSWORD {
        return Err(AppError::validation(field, format!("must be at least {MIN_PASSWORD} characters")));
    }
    if n > MAX_PASSWORD {
        return Err(AppError::validation(field, format!("must be at most {MAX_PASSWORD} characters")));
    }
    Ok(())
}

/// Password hashing, bounded: argon2 takes 19 MiB and most of a core for each
/// hash, so at most `permits` run at once and at most `queue` more wait; past
/// that a sign-in or sign-up is refused at once (503 with `Retry-After`), so a
/// burst of logins can neither exhaust memory nor queue without end.
pub(super) struct Hashing {
    permits: tokio::sync::Semaphore,
    /// Hashes running or waiting.
    admitted: std::sync::atomic::AtomicUsize,
    limit: usize,
}

/// A hash counted among the admitted until dropped.
struct Admitted<'a>(&'a Hashing);

impl Drop for Admitted<'_> {
    fn drop(&mut self) {
        self.0.admitted.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Hashing {
    fn new(permits: usize, queue: usize) -> Self {
        let permits = permits.max(1);
        Self { permits: tokio::sync::Semaphore::new(permits), admitted: Default::default(), limit: permits + queue }
    }

    /// One hash at a time per core, and a short queue of four per core.
    pub(super) fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        Self::new(cores, 4 * cores)
    }

    fn admit(&self) -> Result<Admitted<'_>> {
        let before = self.admitted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let admitted = Admitted(self);
        if before >= self.limit {
            return Err(AppError::Busy("too many sign-ins at once; try again in a moment".into()));
        }
        Ok(admitted)
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let _admitted = self.admit()?;
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work).await.map_err(AppError::internal)?
    }

    pub(super) async fn hash(&self, password: String) -> Result<String> {
        self.run(move || {
            use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
            let salt = SaltString::generate(&mut OsRng);
            argon2::Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(e.to_string().into()))
        })
        .await
    }

    pub(super) async fn verify(&self, password: String, hash: String) -> Result<bool> {
        self.run(move || {
            use argon2::password_hash::{PasswordHash, PasswordVerifier};
            let parsed = PasswordHash::new(&hash).map_err(|e| AppError::Internal(e.to_string().into()))?;
            Ok(argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Past the running hashes and the short queue, a hash is refused at
    /// once (the API's 503), and a slot is free again once one finishes.
    #[tokio::test]
    async fn hashing_admits_a_bounded_number_and_refuses_the_rest() {
        let hashing = Hashing::new(1, 1);
        let running = hashing.admit().unwrap();
        let waiting = hashing.admit().unwrap();
        assert!(matches!(hashing.admit(), Err(AppError::Busy(_))));
        assert!(matches!(hashing.hash("correct horse".into()).await, Err(AppError::Busy(_))));
        drop(running);
        let next = hashing.admit().unwrap();
        drop((waiting, next));
        assert!(hashing.hash("correct horse".into()).await.is_ok(), "nothing left counted");
    }

    #[tokio::test]
    async fn password_hash_verifies() {
        let hashing = Hashing::new(1, 0);
        let hash = hashing.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hashing.verify("correct horse".into(), hash.clone()).await.unwrap());
        assert!(!hashing.verify("wrong horse".into(), hash).await.unwrap());
    }
}
