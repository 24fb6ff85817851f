//! The engine handle every operation hangs off (`impl Engine` blocks in `users`, `sessions`,
//! `platforms`, `drafts`).

use crate::clock::{Clock, Timestamp};
use crate::hashing::{HashLimits, Hasher};
use crate::policy::{SessionPolicy, ThrottlePolicy};
use crate::store::Db;
use std::sync::Arc;

/// The engine: a store, the session policy, a clock, and the defences against guessing (the
/// throttle policy and the bounded password hasher). Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    db: Db,
    policy: SessionPolicy,
    clock: Arc<dyn Clock>,
    throttle: ThrottlePolicy,
    hasher: Hasher,
}

impl Engine {
    /// An engine with the default throttle and hashing limits (see [`Engine::with_defences`]).
    pub fn new(db: Db, policy: SessionPolicy, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            policy,
            clock,
            throttle: ThrottlePolicy::default(),
            hasher: Hasher::new(HashLimits::default()),
        }
    }

    /// The same engine with these login throttles and password hashing limits.
    pub fn with_defences(mut self, throttle: ThrottlePolicy, hashing: HashLimits) -> Self {
        self.throttle = throttle;
        self.hasher = Hasher::new(hashing);
        self
    }

    pub fn throttle_policy(&self) -> &ThrottlePolicy {
        &self.throttle
    }

    pub(crate) fn hasher(&self) -> &Hasher {
        &self.hasher
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn policy(&self) -> &SessionPolicy {
        &self.policy
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
