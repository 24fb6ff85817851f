//! The one error shape every API answer uses:
//! `{"error": {"code": "...", "message": "...", "field"?: "...", "current"?: {session state}}}`.
//! `code` is an [`ErrorCode`]: stable, snake_case on the wire, and the only thing that decides the
//! HTTP status ([`ErrorCode::status`]; the server's request layer applies it).

use crate::models::{text_enum, SessionState};
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

text_enum! {
    /// Every error code a client can meet, as it is written on the wire. docs/API.md lists them
    /// with their statuses.
    pub enum ErrorCode {
        BadRequest = "bad_request",
        Unauthenticated = "unauthenticated",
        SessionExpired = "session_expired",
        SessionRevoked = "session_revoked",
        InvalidCredentials = "invalid_credentials",
        CsrfFailed = "csrf_failed",
        RegistrationClosed = "registration_closed",
        Forbidden = "forbidden",
        ReauthenticationRequired = "reauthentication_required",
        NotFound = "not_found",
        MethodNotAllowed = "method_not_allowed",
        VersionConflict = "version_conflict",
        EmailTaken = "email_taken",
        NoActivePlatform = "no_active_platform",
        LimitReached = "limit_reached",
        TooManySessions = "too_many_sessions",
        RequestTimeout = "request_timeout",
        PayloadTooLarge = "payload_too_large",
        UnsupportedMediaType = "unsupported_media_type",
        InvalidInput = "invalid_input",
        TooManyAttempts = "too_many_attempts",
        Internal = "internal",
        Unavailable = "unavailable",
        /// The server is at capacity (password hashing); try again after `Retry-After`.
        Busy = "busy",
        /// Browser only: the request did not reach the server. Never sent by the server.
        NetworkError = "network_error",
        /// Browser only: the server's answer could not be read. Never sent by the server.
        BadResponse = "bad_response",
        /// Browser only: a code this build does not know (a newer server). Never sent by the
        /// server.
        Unknown = "unknown",
    }
    unknown = Unknown,
}

impl ErrorCode {
    /// The HTTP status of an answer with this code.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::Unauthenticated | ErrorCode::SessionExpired | ErrorCode::SessionRevoked | ErrorCode::InvalidCredentials => 401,
            ErrorCode::CsrfFailed | ErrorCode::RegistrationClosed | ErrorCode::Forbidden | ErrorCode::ReauthenticationRequired => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::VersionConflict
            | ErrorCode::EmailTaken
            | ErrorCode::NoActivePlatform
            | ErrorCode::LimitReached
            | ErrorCode::TooManySessions => 409,
            ErrorCode::RequestTimeout => 408,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidInput => 422,
            ErrorCode::TooManyAttempts => 429,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
            ErrorCode::BadResponse => 502,
            ErrorCode::Unavailable | ErrorCode::Busy | ErrorCode::NetworkError => 503,
        }
    }

    /// True when the answer means "you are not signed in (any more)".
    pub fn is_auth_failure(self) -> bool {
        matches!(
            self,
            ErrorCode::Unauthenticated | ErrorCode::SessionExpired | ErrorCode::SessionRevoked
        )
    }

    /// True when the session the request carried has ended (its cookie is dead).
    pub fn ends_session(self) -> bool {
        matches!(self, ErrorCode::SessionExpired | ErrorCode::SessionRevoked)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[error("{}", .error.message)]
pub struct ApiError {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// The input field at fault, for `invalid_input` and `bad_request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The session's current state, for `version_conflict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Box<SessionState>>,
    /// Seconds to wait before trying again, for `too_many_attempts` and `busy` (also sent as the
    /// `Retry-After` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            error: ErrorBody {
                code,
                message: message.into(),
                field: None,
                current: None,
                retry_after: None,
            },
        }
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.error.retry_after = Some(seconds);
        self
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.error.field = Some(field.into());
        self
    }

    pub fn code(&self) -> ErrorCode {
        self.error.code
    }

    pub fn message(&self) -> &str {
        &self.error.message
    }

    pub fn status(&self) -> u16 {
        self.code().status()
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                ApiError::new(ErrorCode::BadRequest, format!("the request's fields are not valid: {m}"))
            }
            ServerFnErrorErr::UnsupportedRequestMethod(m) => ApiError::new(ErrorCode::MethodNotAllowed, m),
            ServerFnErrorErr::Registration(m) => ApiError::new(ErrorCode::NotFound, m),
            ServerFnErrorErr::Request(m) => ApiError::new(ErrorCode::NetworkError, format!("the server could not be reached: {m}")),
            ServerFnErrorErr::Deserialization(m) => {
                ApiError::new(ErrorCode::BadResponse, format!("the server's answer was not understood: {m}"))
            }
            ServerFnErrorErr::Serialization(m)
            | ServerFnErrorErr::Response(m)
            | ServerFnErrorErr::ServerError(m)
            | ServerFnErrorErr::MiddlewareError(m) => ApiError::new(ErrorCode::Internal, m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_4xx_and_our_faults_5xx() {
        for code in [
            ErrorCode::BadRequest,
            ErrorCode::Unauthenticated,
            ErrorCode::CsrfFailed,
            ErrorCode::NotFound,
            ErrorCode::VersionConflict,
            ErrorCode::InvalidInput,
            ErrorCode::PayloadTooLarge,
        ] {
            assert!((400..500).contains(&code.status()), "{code:?}");
        }
        assert_eq!(ErrorCode::Unavailable.status(), 503);
        assert_eq!(ErrorCode::Internal.status(), 500);
    }

    #[test]
    fn the_json_shape_is_stable() {
        let json = serde_json::to_value(ApiError::new(ErrorCode::CsrfFailed, "no token")).unwrap();
        assert_eq!(json, serde_json::json!({"error": {"code": "csrf_failed", "message": "no token"}}));
        let back: ApiError = serde_json::from_value(serde_json::json!({"error": {"code": "from_the_future", "message": "m"}})).unwrap();
        assert_eq!(
            back.code(),
            ErrorCode::Unknown,
            "an unknown code is still an error the browser can show"
        );
    }

    #[test]
    fn argument_errors_are_bad_requests() {
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::Args("platform_id: invalid digit".into()));
        assert_eq!(e.status(), 400);
    }
}
