//! What the API returns: shared by the server (which builds them from engine types) and the
//! browser (which reads them). Times are RFC 3339 strings in UTC.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserView {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformView {
    pub id: i64,
    /// `mastodon`, `pixelfed` or `other`.
    pub kind: String,
    pub label: String,
    pub instance_url: String,
    pub handle: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// The session's public id: not the token, safe to show.
    pub id: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub idle_expires_at: String,
    pub absolute_expires_at: String,
    /// Grows with every change to the session (switch, platform change, logout).
    pub version: i64,
}

/// The body of `GET /api/session_state`, and of every call that changes the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionState {
    pub user: UserView,
    pub platform: Option<PlatformView>,
    pub platforms: Vec<PlatformView>,
    pub session: SessionView,
    pub csrf_token: String,
    /// The server's clock when this state was read, so clients can order states and correct skew.
    pub server_time: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DraftView {
    pub id: i64,
    pub platform_id: i64,
    pub title: String,
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

/// What the app itself reads to render: the state when signed in, else why not, and always the
/// caller's current CSRF token. Unlike `GET /api/session_state` it answers 200 when signed out,
/// so the app never provokes 401s (and their console noise) for a normal signed-out page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionSnapshot {
    pub state: Option<SessionState>,
    /// Why `state` is `None`: `unauthenticated`, `session_expired` or `session_revoked` from the
    /// server; `logged_out` when a tab of this browser signed out.
    pub ended: Option<String>,
    pub csrf_token: String,
    /// The server's clock when this answer was made: orders answers about different sessions.
    pub server_time: String,
    pub client: ClientSettings,
}

/// Server settings the browser side follows (from the server's configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSettings {
    /// Tabs keep each other in step (`features.cross_tab_sync`).
    pub sync: bool,
    /// How often the leader tab checks the session with the server (`sync_check_interval`).
    pub check_interval_ms: u64,
    /// How long before the idle timeout the warning shows (`idle_warning`).
    pub idle_warning_ms: u64,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            sync: true,
            check_interval_ms: 60_000,
            idle_warning_ms: 120_000,
        }
    }
}

/// `next` if it is a path on this site (`/…`, not `//host` or `/\host`), else `None`: where to
/// go after signing in, never somewhere else.
pub fn local_path(next: Option<&str>) -> Option<&str> {
    let next = next?;
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && next.len() <= 512
        && !next.chars().any(|c| c.is_control() || c == '\\');
    ok.then_some(next)
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        for good in ["/", "/platforms", "/?x=1#y"] {
            assert_eq!(local_path(Some(good)), Some(good), "{good}");
        }
        for bad in [
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            "/a\nb",
            "/a\\b",
        ] {
            assert_eq!(local_path(Some(bad)), None, "{bad:?}");
        }
        assert_eq!(local_path(None), None);
    }
}
