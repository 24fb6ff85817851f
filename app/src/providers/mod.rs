//! Context providers: the session (the server's answer for the page, and the knowledge adopted
//! on top of it), the optimistic switch, and notifications. Components reach all of it through
//! [`use_session`].

pub mod page;
pub mod session;
pub mod switch;
pub mod toasts;

pub use session::{provide_session, use_session, Session, SessionStatus};

use crate::error::ApiError;
use crate::models::SessionSnapshot;

/// Starts the browser's side of the page from the server's answer it was rendered with: the
/// session store and tab sync, then the page's following of the session and its enhanced forms
/// (`page`). The nav island calls it before any other island reads the session; once per page,
/// and nothing on the server.
pub fn start_page(snapshot: Result<SessionSnapshot, ApiError>) {
    if session::start_in_browser(snapshot) {
        page::follow(use_session());
    }
}
