//! What the API answers: shared by the server (which builds them from engine types in
//! `auth::ssr`) and the browser (which reads them). Serde only, no sqlx: they compile to WASM.
//! `docs/API.md` is their contract.

pub mod ids;
mod text_enum;
pub mod time;

pub(crate) use text_enum::text_enum;

pub use ids::{DraftId, PlatformId, PublicSessionId, SessionVersion, UserId};
pub use time::Timestamp;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct UserView {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
}

text_enum! {
    /// What kind of service a platform connection is.
    pub enum PlatformKind {
        Mastodon = "mastodon",
        Pixelfed = "pixelfed",
        Other = "other",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlatformView {
    pub id: PlatformId,
    pub kind: PlatformKind,
    pub label: String,
    pub instance_url: String,
    pub handle: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionView {
    /// The session's public id: not the token, safe to show.
    pub id: PublicSessionId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub idle_expires_at: Timestamp,
    pub absolute_expires_at: Timestamp,
    pub version: SessionVersion,
    /// Until when a password entered in this session counts as recent (admin actions and
    /// password changes need that; see `POST /api/reauthenticate`).
    pub reauth_until: Timestamp,
}

/// The body of `GET /api/session_state`, and of every call that changes the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionState {
    pub user: UserView,
    pub platform: Option<PlatformView>,
    pub platforms: Vec<PlatformView>,
    pub session: SessionView,
    pub csrf_token: String,
    /// The server's clock when this state was read, so clients can order states and correct skew.
    pub server_time: Timestamp,
}

impl SessionState {
    pub fn platform_id(&self) -> Option<PlatformId> {
        self.platform.as_ref().map(|p| p.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DraftView {
    pub id: DraftId,
    pub platform_id: PlatformId,
    pub title: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

text_enum! {
    /// Why there is no session: the `ended` field of a signed-out answer. The wire twin of the
    /// engine's `EndReason` (which says why a stored session ended); the login page, the guards
    /// and the tab protocol all speak this one.
    pub enum EndReason {
        /// No session: never signed in, or the server does not know the cookie.
        Unauthenticated = "unauthenticated",
        /// A tab of this browser signed out.
        LoggedOut = "logged_out",
        /// The session passed its idle or absolute deadline.
        SessionExpired = "session_expired",
        /// The session was ended (signed out elsewhere, replaced by a newer login).
        SessionRevoked = "session_revoked",
    }
}

impl EndReason {
    /// What the login page says to someone sent there because their session ended.
    pub fn message(self) -> Option<&'static str> {
        match self {
            EndReason::Unauthenticated => None,
            EndReason::LoggedOut => Some("You signed out."),
            EndReason::SessionExpired => Some("Your session expired after a period of inactivity. Sign in again to continue."),
            EndReason::SessionRevoked => Some("Your session was ended. Sign in again to continue."),
        }
    }
}

/// What the app itself reads to render: the state when signed in, else why not, and always the
/// caller's current CSRF token. Unlike `GET /api/session_state` it answers 200 when signed out,
/// so the app never provokes 401s (and their console noise) for a normal signed-out page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionSnapshot {
    pub state: Option<SessionState>,
    /// Why `state` is `None`.
    pub ended: Option<EndReason>,
    pub csrf_token: String,
    /// The server's clock when this answer was made: orders answers about different sessions.
    pub server_time: Timestamp,
    pub client: ClientSettings,
}

impl SessionSnapshot {
    /// A signed-in answer, as a server function that changed the session returns it.
    pub fn signed_in(state: SessionState, client: ClientSettings) -> Self {
        Self {
            csrf_token: state.csrf_token.clone(),
            server_time: state.server_time,
            ended: None,
            state: Some(state),
            client,
        }
    }
}

/// Server settings the browser side follows (from the server's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ClientSettings {
    /// Tabs keep each other in step (`features.cross_tab_sync`).
    pub sync: bool,
    /// Visitors may create accounts (`features.registration`): the app links to `/register`.
    pub registration: bool,
    /// How often the leader tab checks the session with the server (`sync_check_interval`).
    pub check_interval_ms: u64,
    /// How long before the idle timeout the warning shows (`idle_warning`).
    pub idle_warning_ms: u64,
    /// The server pushes session changes (`GET /api/session_events`; on with the session cache,
    /// `cache.enabled`): the leader tab holds the stream.
    pub push: bool,
    /// How often at most the leader tab reports its sync figures with a check
    /// (`metrics.client_report_interval`; 0: never).
    pub report_every_ms: u64,
}

/// The device a session was started from, read from its user agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceView {
    /// Browser family and major version, e.g. `Firefox 128`.
    pub browser: String,
    /// e.g. `Linux`, `Mac OSX`, `Windows 10`.
    pub os: String,
}

/// One live session, as the Sessions page and the admin pages list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionInfo {
    pub public_id: PublicSessionId,
    pub device: DeviceView,
    /// The raw user agent the device was read from.
    pub user_agent: Option<String>,
    pub ip: Option<String>,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The label of its active platform, if any.
    pub active_platform: Option<String>,
    /// The session this answer was asked from.
    pub current: bool,
    /// When another session of the account was ended as suspicious (used from a different
    /// browser on a different network); cleared when the password is entered in this session.
    /// Until then its sensitive actions need the password again.
    #[serde(default)]
    pub flagged_at: Option<Timestamp>,
}

/// The answer to `POST /api/revoke_other_sessions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Revoked {
    /// How many sessions ended.
    pub ended: u64,
}

/// The answer to `POST /api/reauthenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Reauthenticated {
    /// Until when sensitive actions are allowed without entering the password again.
    pub until: Timestamp,
}

/// One audit record, as users (their own) and administrators (all) read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEventView {
    pub id: i64,
    pub at: Timestamp,
    /// `login_succeeded`, `session_revoked`, … (docs/API.md lists them).
    pub kind: String,
    pub actor_user_id: Option<UserId>,
    pub subject_user_id: Option<UserId>,
    pub session_public_id: Option<PublicSessionId>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// `ok` or `refused`.
    pub outcome: String,
    pub detail: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEventsPage {
    pub events: Vec<AuditEventView>,
    /// Pass as `before_id` for the next (older) page; `None` on the last page.
    pub next_before_id: Option<i64>,
}

/// An account as an administrator sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdminUserView {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
    pub disabled: bool,
    pub created_at: Timestamp,
    pub live_sessions: u64,
}

/// One account with its live sessions, for administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AdminUserDetail {
    pub user: AdminUserView,
    pub sessions: Vec<SessionInfo>,
}
