//! The Switchboard session engine.
//!
//! Users, server-side sessions, platform connections and platform-scoped drafts, stored in
//! SQLite (the embedded default) or PostgreSQL (for many server instances). Nothing here knows
//! about HTTP or Leptos: the `app` and `server` crates call in, the engine calls the store.

pub mod clock;
pub mod csrf;
pub mod domain;
pub mod drafts;
pub mod error;
pub mod platforms;
pub mod seed;
pub mod sessions;
pub mod store;
pub mod token;
pub mod users;

use std::sync::Arc;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::{Error, Result};
pub use sessions::{ClientMeta, SessionPolicy, SessionState};
pub use store::{Backend, Db, PoolSettings};

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

#[cfg(feature = "test-support")]
pub mod testing;
