//! What the engine stores and answers: users, sessions, platforms, drafts, and the state a page
//! needs. A leaf module (ids, parsed values and times only), so errors can carry a state without
//! an import circle.

use crate::clock::Timestamp;
use crate::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, PlatformKind, PlatformLabel};
use crate::ids::{DraftId, PlatformId, PublicSessionId, SessionId, SessionVersion, UserId};

/// Where a request came from, recorded on the session.
#[derive(Debug, Clone, Default)]
pub struct ClientMeta {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// Only hashed into the session's fingerprint; never stored.
    pub accept_language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub is_admin: bool,
    /// A disabled account cannot sign in and has no live sessions.
    pub disabled: bool,
}

/// A live session as the engine sees it. `id` is internal; `public_id` is what clients see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub public_id: PublicSessionId,
    pub user_id: UserId,
    pub active_platform_id: Option<PlatformId>,
    pub version: SessionVersion,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// `last_seen_at + idle_timeout`, capped by the absolute deadline (computed by the policy).
    pub idle_expires_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// When a password was last entered in this session (login, registration, re-authentication).
    pub reauthenticated_at: Timestamp,
    /// When another session of the user ended as suspicious (fingerprint drift), until a password
    /// is entered in this one.
    pub flagged_at: Option<Timestamp>,
}

/// Why a session ended, as stored in `sessions.end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The user signed out in this session (or signed out everywhere from it).
    Logout,
    /// A newer login from the same browser, or a password change in it, replaced it.
    Rotated,
    /// It passed its idle or absolute deadline.
    Expired,
    /// Its user ended it from another session (one session, all others, or everywhere).
    RevokedByUser,
    /// An administrator ended it.
    RevokedByAdmin,
    /// The user had too many sessions and this was the least recently used.
    Evicted,
    /// The user changed their password and asked for their other sessions to end.
    PasswordChanged,
    /// An administrator disabled the account.
    UserDisabled,
    /// It was used from a client too unlike the one it began on (fingerprint drift).
    Suspicious,
}

impl EndReason {
    pub const ALL: [EndReason; 9] = [
        EndReason::Logout,
        EndReason::Rotated,
        EndReason::Expired,
        EndReason::RevokedByUser,
        EndReason::RevokedByAdmin,
        EndReason::Evicted,
        EndReason::PasswordChanged,
        EndReason::UserDisabled,
        EndReason::Suspicious,
    ];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Rotated => "rotated",
            EndReason::Expired => "expired",
            EndReason::RevokedByUser => "revoked_by_user",
            EndReason::RevokedByAdmin => "revoked_by_admin",
            EndReason::Evicted => "evicted",
            EndReason::PasswordChanged => "password_changed",
            EndReason::UserDisabled => "user_disabled",
            EndReason::Suspicious => "suspicious",
        }
    }

    pub fn from_stored(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub id: PlatformId,
    pub kind: PlatformKind,
    pub label: PlatformLabel,
    pub instance_url: InstanceUrl,
    pub handle: Handle,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    pub id: DraftId,
    pub platform_id: PlatformId,
    pub title: DraftTitle,
    pub body: DraftBody,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Everything a page or client needs about the current session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionState {
    pub user: User,
    pub session: Session,
    /// The active platform, if any (one of `platforms`).
    pub platform: Option<Platform>,
    pub platforms: Vec<Platform>,
}

#[cfg(test)]
mod tests {
    use super::EndReason;

    #[test]
    fn end_reasons_round_trip_through_their_stored_text() {
        for r in EndReason::ALL {
            assert_eq!(EndReason::from_stored(r.as_str()), Some(r));
        }
        assert_eq!(EndReason::from_stored("revoked"), None);
        assert_eq!(EndReason::ALL.len(), 9);
    }
}

stored_enum! {
    /// What was detected.
    pub enum AlertKind {
        FailedLoginsForAccount = "failed_logins_for_account",
        FailedLoginsFromAddress = "failed_logins_from_address",
        EndedTokenUsed = "ended_token_used",
        ManyNewSessions = "many_new_sessions",
        CsrfFailures = "csrf_failures",
        SessionDisowned = "session_disowned",
        /// A session was used from a client unlike the one it began on.
        FingerprintDrift = "fingerprint_drift",
        /// Alert rules (conditions, raised once and cleared): failed logins across all
        /// accounts past a rate.
        FailedLoginRate = "failed_login_rate",
        /// An instance's answers with a 5xx status past a rate.
        ServerErrorRate = "server_error_rate",
        /// An instance's database pool had no free connection.
        PoolSaturated = "pool_saturated",
        /// An instance's cleanup has not completed a run for three intervals.
        CleanupStalled = "cleanup_stalled",
        /// An instance's session cache does not hear other writers (PostgreSQL's listener).
        ListenerDown = "listener_down",
    }
}

stored_enum! {
    /// How much an alert matters.
    pub enum Severity {
        Info = "info",
        Warning = "warning",
        Critical = "critical",
    }
}

/// A raised alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub id: i64,
    pub at: Timestamp,
    pub kind: AlertKind,
    pub severity: Severity,
    pub user: Option<UserId>,
    pub session: Option<PublicSessionId>,
    pub ip: Option<String>,
    /// What was seen, as a JSON object (counts, the window, the attempted email, …).
    pub evidence: String,
    /// When the condition it reports ended (alert rules' alerts only; detectors' are never
    /// cleared).
    pub cleared_at: Option<Timestamp>,
}
