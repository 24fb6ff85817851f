//! Session answers for the protocol's unit tests.

use super::messages::Known;
use crate::models::*;

pub const T0: &str = "2026-01-01T00:00:00Z";
pub const T1: &str = "2026-01-01T00:00:01Z";
pub const T2: &str = "2026-01-01T00:00:02Z";
pub const EXP: &str = "2026-01-01T00:30:00Z";
pub const EXP2: &str = "2026-01-01T00:31:00Z";

const CLIENT: ClientSettings = ClientSettings {
    sync: true,
    registration: true,
    check_interval_ms: 60_000,
    push: true,
    idle_warning_ms: 120_000,
    report_every_ms: 60_000,
};

pub fn time(rfc3339: &str) -> Timestamp {
    Timestamp::parse_rfc3339(rfc3339).expect("a valid test time")
}

fn platform(id: i64) -> PlatformView {
    PlatformView {
        id: PlatformId(id),
        kind: PlatformKind::Mastodon,
        label: format!("P{id}"),
        instance_url: "https://example.org".into(),
        handle: "@me".into(),
    }
}

pub fn signed_in(sid: &str, version: i64, pid: i64, expires: &str, at: &str) -> Known {
    Known {
        snapshot: SessionSnapshot {
            state: Some(SessionState {
                user: UserView {
                    id: UserId(7),
                    email: "a@example.org".into(),
                    display_name: "A".into(),
                    is_admin: false,
                },
                platform: Some(platform(pid)),
                platforms: vec![platform(1), platform(2)],
                session: SessionView {
                    id: PublicSessionId(sid.into()),
                    created_at: time("2026-01-01T00:00:00Z"),
                    last_seen_at: time("2026-01-01T00:00:00Z"),
                    idle_expires_at: time(expires),
                    absolute_expires_at: time("2026-01-01T12:00:00Z"),
                    version: SessionVersion(version),
                    reauth_until: time("2026-01-01T00:10:00Z"),
                },
                csrf_token: "t".into(),
                server_time: time(at),
            }),
            ended: None,
            csrf_token: "t".into(),
            server_time: time(at),
            client: CLIENT,
        },
        received_at: Some(1_000.0),
    }
}

pub fn signed_out(ended: EndReason, at: &str) -> Known {
    Known {
        snapshot: SessionSnapshot {
            state: None,
            ended: Some(ended),
            csrf_token: "t".into(),
            server_time: time(at),
            client: CLIENT,
        },
        received_at: Some(1_000.0),
    }
}
