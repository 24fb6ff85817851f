//! The Switchboard session engine.
//!
//! Users, server-side sessions, platform connections and platform-scoped drafts, stored in
//! SQLite (the embedded default) or PostgreSQL (for many server instances). Nothing here knows
//! about HTTP or Leptos: the `app` and `server` crates call in, the engine calls the store.

//!
//! Leaves first: `clock`, `domain` (parsed client values), `ids`, `model` (what is stored and
//! answered), `policy`, `token`, `device`; then `error`, `cache` (the session cache), `store`,
//! `engine` (the handle), `audit`;
//! then the operations (`users`, `sessions`, `accounts`, `platforms`, `drafts`), each an
//! `impl Engine` block, `hashing` (bounded argon2id), `throttle` (login and registration
//! throttles), `alerts` (suspicious-activity detectors) and `cleanup` (the batched sweep), and
//! `secrets`, `fingerprint`, `net` (client addresses), `csrf`, `seed`.

#[macro_use]
mod macros;

pub mod accounts;
pub mod alerts;
pub mod audit;
pub mod cache;
pub mod cleanup;
pub mod clock;
pub mod csrf;
pub mod device;
pub mod domain;
pub mod drafts;
mod engine;
pub mod error;
pub mod fingerprint;
pub mod hashing;
pub mod ids;
pub mod model;
pub mod net;
pub mod platforms;
pub mod policy;
pub mod secrets;
pub mod seed;
pub mod sessions;
pub mod stats;
pub mod store;
pub mod throttle;
pub mod token;
pub mod users;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use engine::Engine;
pub use error::{Entity, Error, Result};
pub use ids::{DraftId, PlatformId, PublicSessionId, SessionId, SessionVersion, UserId};
pub use model::{Draft, EndReason, Platform, Session, SessionState, User};
pub use policy::{SessionPolicy, WhenFull};
pub use sessions::{ClientMeta, SessionStart};
pub use store::{Backend, Db, PoolSettings};

#[cfg(feature = "test-support")]
pub mod testing;

#[cfg(test)]
mod proptests;
