use std::sync::Arc;

use async_trait::async_trait;
use ontask_store::{Db, events};
use tokio::sync::{broadcast, watch};

use crate::{BusError, EventBus, StoredEvent, Subscription};

const LIVE_CAPACITY: usize = 4096;
/// How often a subscription checks for events published by another process.
const REMOTE_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// The embedded bus. Events already sit in the `events` table, so publishing only
/// moves the "published up to" mark forward and feeds live listeners; consumers
/// read the table from their own durable offset.
pub struct LogBus {
    db: Db,
    published: watch::Sender<i64>,
    live: broadcast::Sender<Arc<StoredEvent>>,
}

impl LogBus {
    /// Starts from what the log says was published before.
    pub async fn open(db: Db) -> Result<Self, BusError> {
        let mut conn = db.read().await?;
        let (_, published) = events::heads(&mut conn).await?;
        drop(conn);
        let (live, _) = broadcast::channel(LIVE_CAPACITY);
        Ok(Self { db, published: watch::Sender::new(published), live })
    }

    pub fn published_upto(&self) -> i64 {
        *self.published.borrow()
    }
}

#[async_trait]
impl EventBus for LogBus {
    fn kind(&self) -> &'static str {
        "log"
    }

    async fn publish(&self, batch: &[StoredEvent]) -> Result<(), BusError> {
        let Some(last) = batch.last() else { return Ok(()) };
        for event in batch {
            // No receivers is fine: nobody is listening live right now.
            let _ = self.live.send(Arc::new(event.clone()));
        }
        self.published.send_if_modified(|upto| {
            let advanced = last.seq > *upto;
            if advanced {
                *upto = last.seq;
            }
            advanced
        });
        Ok(())
    }

    async fn subscribe(&self, consumer: &str) -> Result<Box<dyn Subscription>, BusError> {
        let mut conn = self.db.read().await?;
        let position = events::offset(&mut conn, consumer).await?;
        Ok(Box::new(LogSubscription { db: self.db.clone(), position, published: self.published.subscribe() }))
    }

    fn live(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.live.subscribe()
    }

    async fn health(&self) -> Result<(), BusError> {
        self.db.ping().await.map_err(BusError::from)
    }
}

struct LogSubscription {
    db: Db,
    /// The last position handed out and acknowledged.
    position: i64,
    published: watch::Receiver<i64>,
}

#[async_trait]
impl Subscription for LogSubscription {
    async fn next(&mut self, max: usize) -> Result<Vec<StoredEvent>, BusError> {
        let position = self.position;
        let upto = loop {
            // This process's relay announces what it published; a relay in
            // another process (roles split over one PostgreSQL database) is
            // seen by reading the published head now and then.
            let announced = async { self.published.wait_for(|upto| *upto > position).await.map(|upto| *upto) };
            tokio::select! {
                upto = announced => break upto.map_err(|_| BusError::Closed)?,
                () = tokio::time::sleep(REMOTE_POLL) => {
                    let mut conn = self.db.read().await?;
                    let (_, published) = events::heads(&mut conn).await?;
                    if published > position {
                        break published;
                    }
                }
            }
        };
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        Ok(events::range(&self.db, position, upto, limit).await?)
    }

    async fn ack(&mut self, seq: i64) -> Result<(), BusError> {
        // The consumer stored its offset in its own transaction; this only moves
        // the in-memory cursor.
        self.position = self.position.max(seq);
        Ok(())
    }
}
