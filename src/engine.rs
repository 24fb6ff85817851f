//! The engine handle every operation hangs off (`impl Engine` blocks in `users`, `sessions`,
//! `platforms`, `drafts`).

use crate::clock::{Clock, Timestamp};
use crate::policy::SessionPolicy;
use crate::store::Db;
use std::sync::Arc;

/// The engine: a store, the session policy and a clock. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    db: Db,
    policy: SessionPolicy,
    clock: Arc<dyn Clock>,
}

impl Engine {
    pub fn new(db: Db, policy: SessionPolicy, clock: Arc<dyn Clock>) -> Self {
        Self { db, policy, clock }
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
