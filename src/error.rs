//! The engine's one error type. Each variant has a stable code; the HTTP layer maps codes to
//! status codes in one place.

use crate::sessions::SessionState;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value a client sent is not acceptable. `field` names it.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// Unknown email or wrong password: deliberately the same error.
    #[error("the email or password is not correct")]
    InvalidCredentials,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("no valid session")]
    Unauthenticated,
    #[error("the session has expired")]
    SessionExpired,
    #[error("the session has ended")]
    SessionRevoked,
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A compare-and-set lost: carries the state that won, so the client can settle on it.
    #[error("the session changed since version {expected}; current version is {}", current.session.version)]
    VersionConflict { expected: i64, current: Box<SessionState> },
    #[error("no platform is active; add or choose one first")]
    NoActivePlatform,
    #[error("{0}")]
    LimitReached(String),
    /// The store could not be reached in time (pool exhausted or database down).
    #[error("the service is busy; try again shortly")]
    Unavailable,
    /// Our fault. The message is for logs, never for clients.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field,
            message: message.into(),
        }
    }

    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Invalid { .. } => "invalid_input",
            Error::InvalidCredentials => "invalid_credentials",
            Error::EmailTaken => "email_taken",
            Error::Unauthenticated => "unauthenticated",
            Error::SessionExpired => "session_expired",
            Error::SessionRevoked => "session_revoked",
            Error::NotFound(_) => "not_found",
            Error::VersionConflict { .. } => "version_conflict",
            Error::NoActivePlatform => "no_active_platform",
            Error::LimitReached(_) => "limit_reached",
            Error::Unavailable => "unavailable",
            Error::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => Error::Unavailable,
            other => Error::Internal(other.to_string()),
        }
    }
}

/// True when a database error is a unique-constraint violation (both backends).
pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db.is_unique_violation(),
        _ => false,
    }
}
