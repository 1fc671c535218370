//! `Idempotency-Key`: a request sent again with the same key gets the first
//! answer instead of being done twice. Keys are per account.
use ontask_domain::UserId;
use ontask_store::idempotency::{self, Reservation, StoredResponse};

use crate::{App, Result, now};

pub struct IdempotencyService<'a> {
    app: &'a App,
}

impl<'a> IdempotencyService<'a> {
    pub(crate) fn new(app: &'a App) -> Self {
        Self { app }
    }

    /// Reserves `key` for the request whose hash is `request_hash`, or says
    /// what became of an earlier request with that key.
    pub async fn reserve(&self, user: UserId, key: &str, request_hash: &str) -> Result<Reservation> {
        let mut tx = self.app.db.begin().await?;
        let reservation = idempotency::reserve(&mut tx, user, key, request_hash, now()).await?;
        tx.commit().await?;
        Ok(reservation)
    }

    /// Keeps the answer for the requests that repeat the key.
    pub async fn complete(&self, user: UserId, key: &str, answer: &StoredResponse) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        idempotency::complete(&mut tx, user, key, answer).await?;
        Ok(tx.commit().await?)
    }

    /// Frees the key after a failure of ours, so the client may retry it.
    pub async fn release(&self, user: UserId, key: &str) -> Result<()> {
        let mut tx = self.app.db.begin().await?;
        idempotency::release(&mut tx, user, key).await?;
        Ok(tx.commit().await?)
    }
}
