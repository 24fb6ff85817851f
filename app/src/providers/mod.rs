//! Context providers: the session (the server's answer for the page, and the knowledge adopted
//! on top of it), the optimistic switch, and notifications. Components reach all of it through
//! [`use_session`].

pub mod session;
pub mod switch;
pub mod toasts;

pub use session::{provide_session, use_session, Session, SessionStatus};
