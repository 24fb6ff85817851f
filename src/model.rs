//! What the engine stores and answers: users, sessions, platforms, drafts, and the state a page
//! needs. A leaf module (ids, parsed values and times only), so errors can carry a state without
//! an import circle.

use crate::clock::Timestamp;
use crate::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, PlatformKind, PlatformLabel};
use crate::ids::{DraftId, PlatformId, PublicSessionId, SessionId, SessionVersion, UserId};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub display_name: DisplayName,
    pub is_admin: bool,
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
}

/// Why a session ended, as stored in `sessions.end_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The user signed out.
    Logout,
    /// A newer login from the same browser replaced it.
    Rotated,
    /// It passed its idle or absolute deadline.
    Expired,
}

impl EndReason {
    pub const ALL: [EndReason; 3] = [EndReason::Logout, EndReason::Rotated, EndReason::Expired];

    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Logout => "logout",
            EndReason::Rotated => "rotated",
            EndReason::Expired => "expired",
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
    }
}
