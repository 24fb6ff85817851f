//! The engine handle every operation hangs off (`impl Engine` blocks in `users`, `sessions`,
//! `platforms`, `drafts`).

use crate::clock::{Clock, Timestamp};
use crate::fingerprint::{Fingerprint, Fingerprinter};
use crate::hashing::{HashLimits, Hasher};
use crate::model::{Alert, ClientMeta};
use crate::policy::{AlertPolicy, FingerprintPolicy, SessionPolicy, ThrottlePolicy};
use crate::secrets::SecretKey;
use crate::store::Db;
use std::sync::Arc;

/// Told of every alert as it is raised (the server's webhook queue). Must not block.
pub type AlertListener = Arc<dyn Fn(&Alert) + Send + Sync>;

/// The engine: a store, the session policy, a clock, and the defences against guessing (the
/// throttle policy and the bounded password hasher). Cheap to clone: one shared part (every
/// request clones it into its context).
#[derive(Clone)]
pub struct Engine {
    parts: Arc<Parts>,
}

#[derive(Clone)]
struct Parts {
    db: Db,
    policy: SessionPolicy,
    clock: Arc<dyn Clock>,
    throttle: ThrottlePolicy,
    hasher: Hasher,
    alerts: AlertPolicy,
    alert_listener: Option<AlertListener>,
    fingerprints: Arc<Fingerprinter>,
}

impl Engine {
    /// An engine with the default throttle and hashing limits (see [`Engine::with_defences`]).
    pub fn new(db: Db, policy: SessionPolicy, clock: Arc<dyn Clock>) -> Self {
        let parts = Parts {
            db,
            policy,
            clock,
            throttle: ThrottlePolicy::default(),
            hasher: Hasher::new(HashLimits::default()),
            alerts: AlertPolicy::default(),
            alert_listener: None,
            fingerprints: Arc::new(Fingerprinter::new(FingerprintPolicy::default(), SecretKey::random())),
        };
        Self { parts: Arc::new(parts) }
    }

    /// The parts, to change while the engine is built (a copy if it was cloned already).
    fn parts_mut(&mut self) -> &mut Parts {
        Arc::make_mut(&mut self.parts)
    }

    /// The same engine with these login throttles and password hashing limits.
    pub fn with_defences(mut self, throttle: ThrottlePolicy, hashing: HashLimits) -> Self {
        let parts = self.parts_mut();
        parts.throttle = throttle;
        parts.hasher = Hasher::new(hashing);
        self
    }

    /// The same engine with these detectors, telling `listener` of every alert raised.
    pub fn with_alerts(mut self, policy: AlertPolicy, listener: Option<AlertListener>) -> Self {
        let parts = self.parts_mut();
        parts.alerts = policy;
        parts.alert_listener = listener;
        self
    }

    /// The same engine binding sessions to client fingerprints by `policy`, keyed by `key` (the
    /// server loads it from the database so every instance shares it; see `secrets`).
    pub fn with_fingerprints(mut self, policy: FingerprintPolicy, key: SecretKey) -> Self {
        let parts = self.parts_mut();
        parts.fingerprints = Arc::new(Fingerprinter::new(policy, key));
        self
    }

    pub fn fingerprint_policy(&self) -> &FingerprintPolicy {
        self.parts.fingerprints.policy()
    }

    /// The fingerprint of the client behind `meta`.
    pub(crate) fn fingerprint_of(&self, meta: &ClientMeta) -> Fingerprint {
        self.parts.fingerprints.of(meta)
    }

    pub fn alert_policy(&self) -> &AlertPolicy {
        &self.parts.alerts
    }

    pub(crate) fn alert_listener(&self) -> Option<&AlertListener> {
        self.parts.alert_listener.as_ref()
    }

    pub fn throttle_policy(&self) -> &ThrottlePolicy {
        &self.parts.throttle
    }

    pub(crate) fn hasher(&self) -> &Hasher {
        &self.parts.hasher
    }

    pub fn db(&self) -> &Db {
        &self.parts.db
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.parts.policy
    }

    pub fn now(&self) -> Timestamp {
        self.parts.clock.now()
    }
}
