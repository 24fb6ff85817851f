//! The engine's one error type. It says what went wrong in the engine's terms; the web layer maps
//! each variant to a wire code and an HTTP status in one place (`app::auth::ssr`).

use crate::domain::ParseError;
use crate::ids::SessionVersion;
use crate::model::{EndReason, SessionState};

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a `NotFound` was looking for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    Platform,
    Draft,
    Session,
    User,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::Platform => "platform",
            Entity::Draft => "draft",
            Entity::Session => "session",
            Entity::User => "user",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value a client sent is not acceptable; the parse error names the field.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// Unknown email or wrong password: deliberately the same error.
    #[error("the email or password is not correct")]
    InvalidCredentials,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("no valid session")]
    Unauthenticated,
    /// The session exists but has ended, for this reason.
    #[error("{}", ended_message(*.0))]
    SessionEnded(EndReason),
    #[error("{} not found", .0.as_str())]
    NotFound(Entity),
    /// A compare-and-set lost: carries the state that won, so the client can settle on it.
    #[error("the session changed since version {expected}; current version is {}", current.session.version)]
    VersionConflict {
        expected: SessionVersion,
        current: Box<SessionState>,
    },
    #[error("no platform is active; add or choose one first")]
    NoActivePlatform,
    #[error("{0}")]
    LimitReached(String),
    /// Login refused: the user has as many live sessions as allowed (`when_full = refuse`).
    #[error("you are signed in on too many devices; sign out of one first")]
    TooManySessions,
    /// Only administrators may do this.
    #[error("only administrators may do this")]
    Forbidden,
    /// A sensitive action needs a password entered in this session recently.
    #[error("enter your password again to continue")]
    ReauthenticationRequired,
    /// Too many failed attempts (logins for one account from one address, or from one address,
    /// or registrations from one address): try again after `retry_after`.
    #[error("too many attempts; try again in {}s", retry_after.as_secs().max(1))]
    TooManyAttempts { retry_after: std::time::Duration },
    /// Password hashing is at capacity (every hasher busy and the queue full): try again shortly.
    #[error("the server is busy; try again in a moment")]
    Busy,
    /// The store could not be reached in time (pool exhausted or database down).
    #[error("the service is busy; try again shortly")]
    Unavailable,
    /// Our fault. The message is for logs, never for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

fn ended_message(reason: EndReason) -> &'static str {
    match reason {
        EndReason::Expired => "the session has expired",
        _ => "the session has ended",
    }
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid(ParseError::new(field, message))
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        if is_unreachable(&e) {
            tracing::warn!(error = %e, "the database cannot be reached");
            return Error::Unavailable;
        }
        Error::Internal(e.to_string())
    }
}

/// Whether a database error means "the database is not there right now" (answered `503`, and
/// retried by the pool) rather than a fault in what we asked.
fn is_unreachable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::WorkerCrashed => true,
        // PostgreSQL: connection exceptions (08…), operator intervention (57P01 admin shutdown,
        // 57P02 crash shutdown, 57P03 cannot connect now), and 55000 for a database that does not
        // allow connections.
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P") || code == "55000"),
        _ => false,
    }
}

/// True when a database error is a unique-constraint violation (both backends).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
