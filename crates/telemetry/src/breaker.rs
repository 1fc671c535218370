//! Circuit breakers for the calls ontask makes to others: each webhook
//! endpoint, the SMTP relay, the LLM endpoint and the Dapr sidecar.
//!
//! After `failures` failed calls in a row a breaker opens: calls fail at once
//! for `open_for`, instead of each waiting out its timeout on a peer that is
//! down (and holding a worker, a connection and a request meanwhile). Then it
//! is half-open: one call at a time goes through as a probe; a success closes
//! the breaker, a failure opens it again. The state machine is failsafe's;
//! this module adds the single probe, how long until the next try, and what
//! `/metrics` and `/health` show. Breakers are per process: each replica
//! learns on its own that a peer is down, after `failures` calls.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use failsafe::backoff::{self, Constant};
use failsafe::failure_policy::{self, ConsecutiveFailures};
use failsafe::{Instrument, StateMachine};

use crate::metrics as m;

/// Whom a breaker guards calls to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Peer {
    /// A webhook receiver (one breaker per endpoint).
    Webhook,
    Smtp,
    Llm,
    Dapr,
}

impl Peer {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Smtp => "smtp",
            Self::Llm => "llm",
            Self::Dapr => "dapr",
        }
    }

    /// Whether ontask itself relies on the peer, so that its open breaker
    /// degrades `/health`. A webhook receiver that is down is its owner's
    /// problem, not the service's.
    pub const fn is_dependency(self) -> bool {
        !matches!(self, Self::Webhook)
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

impl BreakerState {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half_open",
        }
    }
}

/// Circuit breakers on outbound calls (`[circuit_breakers]`): one per webhook
/// endpoint, and one each for the SMTP relay, the LLM endpoint and the Dapr
/// sidecar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerSettings {
    /// Failed calls in a row that open a breaker (calls then fail at once).
    pub failures: u32,
    /// How long an open breaker refuses calls before it lets a probe through.
    #[serde(rename = "open_secs", with = "ontask_domain::settings::units::secs")]
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self { failures: 5, open_for: Duration::from_secs(30) }
    }
}

/// A call refused because its peer's breaker is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{peer} is failing: its circuit breaker is open after repeated failures; the next try is in {} s", retry_in.as_secs_f64().ceil())]
pub struct Open {
    pub peer: Peer,
    /// When a call will be let through again (at the earliest).
    pub retry_in: Duration,
}

/// How long a caller refused during a probe waits: the probe's outcome is
/// known within one call's time, which callers bound with their timeouts.
const PROBE_WAIT: Duration = Duration::from_secs(1);

/// What the state machine's transitions are mirrored into.
struct Watch {
    peer: Peer,
    observed: Mutex<Observed>,
    /// A half-open breaker's one probe is in flight.
    probing: AtomicBool,
}

struct Observed {
    state: BreakerState,
    opened_at: Option<Instant>,
    /// Counted in the gauge (`StateMachine::new` reports the first `Closed`).
    counted: bool,
}

impl Watch {
    fn observed(&self) -> MutexGuard<'_, Observed> {
        // The guarded data is a few plain values, valid whatever panicked.
        self.observed.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn enter(&self, to: BreakerState) {
        let mut observed = self.observed();
        let from = observed.state;
        if to == BreakerState::Open {
            observed.opened_at = Some(Instant::now());
        }
        if observed.counted && from == to {
            return;
        }
        let peer = self.peer.as_str();
        if observed.counted {
            metrics::gauge!(m::CIRCUIT_BREAKERS, "peer" => peer, "state" => from.as_str()).decrement(1.0);
            metrics::counter!(m::CIRCUIT_BREAKER_TRANSITIONS_TOTAL, "peer" => peer, "state" => to.as_str())
                .increment(1);
            match to {
                BreakerState::Open => tracing::warn!(peer, "circuit breaker opened: calls fail at once for a while"),
                BreakerState::HalfOpen => tracing::info!(peer, "circuit breaker half-open: probing"),
                BreakerState::Closed => tracing::info!(peer, "circuit breaker closed: calls go through again"),
            }
        }
        metrics::gauge!(m::CIRCUIT_BREAKERS, "peer" => peer, "state" => to.as_str()).increment(1.0);
        observed.state = to;
        observed.counted = true;
    }
}

#[derive(Clone)]
struct Observer(Arc<Watch>);

impl Instrument for Observer {
    fn on_call_rejected(&self) {
        metrics::counter!(m::CIRCUIT_BREAKER_REJECTED_TOTAL, "peer" => self.0.peer.as_str()).increment(1);
    }

    fn on_open(&self) {
        self.0.enter(BreakerState::Open);
    }

    fn on_half_open(&self) {
        self.0.enter(BreakerState::HalfOpen);
    }

    fn on_closed(&self) {
        self.0.enter(BreakerState::Closed);
    }
}

/// One peer's breaker; clones share it.
#[derive(Clone)]
pub struct Breaker {
    machine: StateMachine<ConsecutiveFailures<Constant>, Observer>,
    watch: Arc<Watch>,
    open_for: Duration,
}

impl Breaker {
    pub fn new(peer: Peer, settings: BreakerSettings) -> Self {
        let watch = Arc::new(Watch {
            peer,
            observed: Mutex::new(Observed { state: BreakerState::Closed, opened_at: None, counted: false }),
            probing: AtomicBool::new(false),
        });
        let policy =
            failure_policy::consecutive_failures(settings.failures.max(1), backoff::constant(settings.open_for));
        Self { machine: StateMachine::new(policy, Observer(watch.clone())), watch, open_for: settings.open_for }
    }

    pub fn peer(&self) -> Peer {
        self.watch.peer
    }

    pub fn state(&self) -> BreakerState {
        self.watch.observed().state
    }

    /// Leave to make one call, or why not now. The call's outcome goes to the
    /// permit ([`Permit::succeeded`], [`Permit::failed`]); a permit dropped
    /// without one (the call was cancelled) counts as neither.
    pub fn permit(&self) -> Result<Permit, Open> {
        if !self.machine.is_call_permitted() {
            let retry_in = self
                .watch
                .observed()
                .opened_at
                .map_or(self.open_for, |at| (at + self.open_for).saturating_duration_since(Instant::now()));
            return Err(Open { peer: self.peer(), retry_in });
        }
        let probe = self.state() == BreakerState::HalfOpen;
        if probe && self.watch.probing.swap(true, Ordering::AcqRel) {
            metrics::counter!(m::CIRCUIT_BREAKER_REJECTED_TOTAL, "peer" => self.peer().as_str()).increment(1);
            return Err(Open { peer: self.peer(), retry_in: PROBE_WAIT });
        }
        Ok(Permit { breaker: self.clone(), probe, recorded: false })
    }
}

/// Leave for one call; see [`Breaker::permit`].
#[must_use = "a permit records the call's outcome"]
pub struct Permit {
    breaker: Breaker,
    probe: bool,
    recorded: bool,
}

impl Permit {
    pub fn succeeded(mut self) {
        self.breaker.machine.on_success();
        self.recorded = true;
    }

    pub fn failed(mut self) {
        self.breaker.machine.on_error();
        self.recorded = true;
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if self.probe {
            self.breaker.watch.probing.store(false, Ordering::Release);
        }
    }
}

/// Every breaker of one application, by peer and name, so `/health` can
/// report them. Clones share them.
#[derive(Clone, Default)]
pub struct Breakers {
    settings: BreakerSettings,
    by_peer: Arc<Mutex<HashMap<(Peer, String), Breaker>>>,
}

/// How many breakers of one kind of peer are in each state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerReport {
    pub peer: Peer,
    pub closed: usize,
    pub open: usize,
    pub half_open: usize,
}

impl Breakers {
    pub fn new(settings: BreakerSettings) -> Self {
        Self { settings, by_peer: Arc::default() }
    }

    pub fn settings(&self) -> BreakerSettings {
        self.settings
    }

    /// The breaker of `peer`; `name` tells peers of one kind apart (a webhook
    /// endpoint's id; empty for the one SMTP relay, LLM endpoint or sidecar).
    pub fn of(&self, peer: Peer, name: &str) -> Breaker {
        let mut by_peer = self.by_peer.lock().unwrap_or_else(PoisonError::into_inner);
        by_peer.entry((peer, name.to_owned())).or_insert_with(|| Breaker::new(peer, self.settings)).clone()
    }

    /// Forgets the breaker of a peer that is gone (a deleted webhook endpoint).
    pub fn forget(&self, peer: Peer, name: &str) {
        self.by_peer.lock().unwrap_or_else(PoisonError::into_inner).remove(&(peer, name.to_owned()));
    }

    /// Per kind of peer, how many breakers are in each state.
    pub fn report(&self) -> Vec<PeerReport> {
        let by_peer = self.by_peer.lock().unwrap_or_else(PoisonError::into_inner);
        let mut reports: Vec<PeerReport> = Vec::new();
        for ((peer, _), breaker) in by_peer.iter() {
            let report = match reports.iter_mut().find(|r| r.peer == *peer) {
                Some(r) => r,
                None => {
                    reports.push(PeerReport { peer: *peer, closed: 0, open: 0, half_open: 0 });
                    reports.last_mut().expect("just pushed")
                }
            };
            match breaker.state() {
                BreakerState::Closed => report.closed += 1,
                BreakerState::Open => report.open += 1,
                BreakerState::HalfOpen => report.half_open += 1,
            }
        }
        reports.sort_by_key(|r| r.peer);
        reports
    }
}

impl PeerReport {
    /// Whether some breaker of this kind is not closed.
    pub fn tripped(&self) -> bool {
        self.open + self.half_open > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(open_for: Duration) -> BreakerSettings {
        BreakerSettings { failures: 3, open_for }
    }

    fn fail(breaker: &Breaker) {
        breaker.permit().expect("a call is let through").failed();
    }

    #[test]
    fn opens_after_failures_in_a_row_and_refuses_at_once() {
        let breaker = Breaker::new(Peer::Smtp, settings(Duration::from_secs(60)));
        fail(&breaker);
        fail(&breaker);
        // A success in between starts the count again.
        breaker.permit().expect("still closed").succeeded();
        for _ in 0..3 {
            fail(&breaker);
        }
        assert_eq!(breaker.state(), BreakerState::Open);
        let open = breaker.permit().err().expect("an open breaker refuses");
        assert_eq!(open.peer, Peer::Smtp);
        assert!(open.retry_in > Duration::from_secs(55) && open.retry_in <= Duration::from_secs(60), "{open:?}");
        assert!(open.to_string().contains("smtp is failing"), "{open}");
    }

    #[tokio::test]
    async fn half_open_lets_one_probe_through_and_its_outcome_decides() {
        let breaker = Breaker::new(Peer::Webhook, settings(Duration::from_millis(50)));
        for _ in 0..3 {
            fail(&breaker);
        }
        tokio::time::sleep(Duration::from_millis(80)).await;
        let probe = breaker.permit().expect("a probe after open_for");
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        let second = breaker.permit().err().expect("one probe at a time");
        assert_eq!(second.retry_in, PROBE_WAIT);
        probe.failed();
        assert_eq!(breaker.state(), BreakerState::Open, "a failed probe opens it again");

        tokio::time::sleep(Duration::from_millis(80)).await;
        breaker.permit().expect("the next probe").succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
        for _ in 0..2 {
            fail(&breaker);
        }
        assert_eq!(breaker.state(), BreakerState::Closed, "closing starts the count from zero");
    }

    #[tokio::test]
    async fn a_cancelled_probe_frees_the_probe_slot_and_counts_as_nothing() {
        let breaker = Breaker::new(Peer::Dapr, BreakerSettings { failures: 1, open_for: Duration::from_millis(20) });
        fail(&breaker);
        tokio::time::sleep(Duration::from_millis(40)).await;
        drop(breaker.permit().expect("a probe"));
        assert_eq!(breaker.state(), BreakerState::HalfOpen);
        breaker.permit().expect("another probe once the first was dropped").succeeded();
        assert_eq!(breaker.state(), BreakerState::Closed);
    }

    #[test]
    fn the_registry_reports_per_kind_of_peer() {
        let breakers = Breakers::new(BreakerSettings { failures: 1, open_for: Duration::from_secs(60) });
        fail(&breakers.of(Peer::Webhook, "a"));
        let _ = breakers.of(Peer::Webhook, "b");
        let _ = breakers.of(Peer::Smtp, "");
        assert_eq!(breakers.of(Peer::Webhook, "a").state(), BreakerState::Open, "one breaker per name");
        assert_eq!(
            breakers.report(),
            vec![
                PeerReport { peer: Peer::Webhook, closed: 1, open: 1, half_open: 0 },
                PeerReport { peer: Peer::Smtp, closed: 1, open: 0, half_open: 0 },
            ]
        );
        breakers.forget(Peer::Webhook, "a");
        assert_eq!(breakers.report()[0], PeerReport { peer: Peer::Webhook, closed: 1, open: 0, half_open: 0 });
    }
}
