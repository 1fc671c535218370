use std::time::Duration;

use ontask_store::{Db, events};
use ontask_telemetry::metrics as m;
use tokio_util::sync::CancellationToken;

/// Samples relay and consumer lag into gauges every few seconds.
pub async fn run_lag_monitor(db: Db, cancel: CancellationToken) {
    loop {
        if let Err(e) = sample(&db).await {
            tracing::debug!(error = %ontask_telemetry::error_chain(&e), "lag sample failed");
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

async fn sample(db: &Db) -> Result<(), ontask_store::StoreError> {
    let mut conn = db.read().await?;
    let (_, published) = events::heads(&mut conn).await?;
    let unpublished = events::unpublished_count(&mut conn).await?;
    metrics::gauge!(m::RELAY_LAG_EVENTS).set(unpublished as f64);
    for (consumer, position) in events::all_offsets(&mut conn).await? {
        metrics::gauge!(m::CONSUMER_LAG_EVENTS, "consumer" => consumer).set((published - position).max(0) as f64);
    }
    Ok(())
}
