//! The one error shape every API answer uses:
//! `{"error": {"code": "...", "message": "...", "field"?: "...", "current"?: {session state}}}`.
//! `code` is stable; `status_for` maps it to the HTTP status in one place.

use crate::models::SessionState;
use serde::{Deserialize, Serialize};
use server_fn::codec::JsonEncoding;
use server_fn::error::{FromServerFnError, ServerFnErrorErr};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", .error.message)]
pub struct ApiError {
    pub error: ErrorBody,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub code: String,
    pub message: String,
    /// The input field at fault, for `invalid_input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The session's current state, for `version_conflict`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current: Option<Box<SessionState>>,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        Self {
            error: ErrorBody {
                code: code.to_owned(),
                message: message.into(),
                field: None,
                current: None,
            },
        }
    }

    pub fn code(&self) -> &str {
        &self.error.code
    }

    pub fn message(&self) -> &str {
        &self.error.message
    }

    pub fn status(&self) -> u16 {
        status_for(self.code())
    }

    /// True when the answer means "you are not signed in (any more)".
    pub fn is_auth_failure(&self) -> bool {
        matches!(self.code(), "unauthenticated" | "session_expired" | "session_revoked")
    }
}

/// The HTTP status for each stable error code.
pub fn status_for(code: &str) -> u16 {
    match code {
        "bad_request" => 400,
        "unauthenticated" | "session_expired" | "session_revoked" | "invalid_credentials" => 401,
        "csrf_failed" | "registration_closed" | "forbidden" => 403,
        "not_found" => 404,
        "method_not_allowed" => 405,
        "version_conflict" | "email_taken" | "no_active_platform" | "limit_reached" => 409,
        "payload_too_large" => 413,
        "unsupported_media_type" => 415,
        "invalid_input" => 422,
        "unavailable" => 503,
        _ => 500,
    }
}

impl FromServerFnError for ApiError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let err = match value {
            ServerFnErrorErr::Args(m) | ServerFnErrorErr::MissingArg(m) => {
                ApiError::new("bad_request", format!("the request's fields are not valid: {m}"))
            }
            ServerFnErrorErr::UnsupportedRequestMethod(m) => ApiError::new("method_not_allowed", m),
            ServerFnErrorErr::Registration(m) => ApiError::new("not_found", m),
            ServerFnErrorErr::Request(m) => ApiError::new("network_error", format!("the server could not be reached: {m}")),
            ServerFnErrorErr::Deserialization(m) => ApiError::new("bad_response", format!("the server's answer was not understood: {m}")),
            ServerFnErrorErr::Serialization(m)
            | ServerFnErrorErr::Response(m)
            | ServerFnErrorErr::ServerError(m)
            | ServerFnErrorErr::MiddlewareError(m) => ApiError::new("internal", m),
        };
        #[cfg(feature = "ssr")]
        crate::ssr::respond_with_status(&err);
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_client_or_server_statuses() {
        for code in [
            "bad_request",
            "unauthenticated",
            "csrf_failed",
            "not_found",
            "version_conflict",
            "invalid_input",
            "payload_too_large",
        ] {
            assert!((400..500).contains(&status_for(code)), "{code}");
        }
        assert_eq!(status_for("unavailable"), 503);
        assert_eq!(status_for("anything else"), 500);
    }

    #[test]
    fn the_json_shape_is_stable() {
        let json = serde_json::to_value(ApiError::new("csrf_failed", "no token")).unwrap();
        assert_eq!(json, serde_json::json!({"error": {"code": "csrf_failed", "message": "no token"}}));
    }

    #[test]
    fn argument_errors_are_bad_requests() {
        let e = ApiError::from_server_fn_error(ServerFnErrorErr::Args("platform_id: invalid digit".into()));
        assert_eq!(e.status(), 400);
    }
}
