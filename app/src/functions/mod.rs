//! The server functions: Switchboard's HTTP API under `/api/`, one module per resource. Each
//! takes form-encoded fields (what an HTML form sends, so everything works without JavaScript
//! and from curl) and answers JSON, or a redirect for a plain form post. `docs/API.md` is the
//! contract.
//!
//! The registry (`registry.rs`) lists them all for the request layer.

pub mod account;
pub mod admin;
pub mod client;
pub mod drafts;
pub mod platforms;
pub mod session;

pub use account::*;
pub use admin::*;
pub use drafts::*;
pub use platforms::*;
pub use session::*;

/// The push stream of session changes: Server-Sent Events, served by the server crate
/// (`server/src/http/events.rs`), held by each browser's leader tab (`sync`).
pub const SESSION_EVENTS: &str = "/api/session_events";
