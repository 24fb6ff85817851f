//! Accountable sessions: listing and ending them, limits, password changes, administrators, and
//! the audit record each of those leaves.

use crate::support::*;
use std::time::Duration;
use switchboard::audit::{AuditFilter, AuditKind, Outcome};
use switchboard::domain::{Email, Password};
use switchboard::testing::TestDatabase;
use switchboard::{EndReason, Entity, Error, SessionPolicy, UserId, WhenFull};

fn new_password(p: &str) -> Password {
    Password::parse_new(p).unwrap()
}

/// The kinds of the audit rows about `user`, oldest first.
async fn kinds_of(h: &Harness, user: UserId) -> Vec<(AuditKind, Outcome, Option<UserId>)> {
    let filter = AuditFilter {
        user: Some(user),
        ..AuditFilter::default()
    };
    let mut events = h.engine.audit_events(&filter, 1000).await.unwrap();
    events.reverse();
    events.into_iter().map(|e| (e.entry.kind, e.entry.outcome, e.entry.actor)).collect()
}

async fn own_sessions_are_listed_and_ended(db: TestDatabase) {
    let h = harness(db).await;
    let ann = h.user("ann@example.org").await;
    let bob = h.user("bob@example.org").await;
    let (t1, s1) = h.login("ann@example.org").await;
    let (t2, s2) = h.login("ann@example.org").await;
    let (t3, s3) = h.login("ann@example.org").await;
    let (_, b1) = h.login("bob@example.org").await;

    let listed: Vec<_> = h.engine.sessions_of(ann).await.unwrap().into_iter().map(|s| s.public_id).collect();
    assert_eq!(listed.len(), 3);
    for s in [&s1, &s2, &s3] {
        assert!(listed.contains(&s.public_id));
    }

    // Another user's session is not found, exactly like one that does not exist.
    assert!(matches!(
        h.engine.revoke_own_session(&s1, &meta(), &b1.public_id).await,
        Err(Error::NotFound(Entity::Session))
    ));
    assert!(h.engine.authenticate(&h.login("bob@example.org").await.0, &meta()).await.is_ok());

    h.engine.revoke_own_session(&s1, &meta(), &s2.public_id).await.unwrap();
    assert!(matches!(
        h.engine.authenticate(&t2, &meta()).await,
        Err(Error::SessionEnded(EndReason::RevokedByUser))
    ));
    assert!(
        matches!(
            h.engine.revoke_own_session(&s1, &meta(), &s2.public_id).await,
            Err(Error::NotFound(Entity::Session))
        ),
        "an ended session cannot be ended again"
    );

    assert_eq!(h.engine.revoke_other_sessions(&s1, &meta()).await.unwrap(), 1);
    assert!(matches!(
        h.engine.authenticate(&t3, &meta()).await,
        Err(Error::SessionEnded(EndReason::RevokedByUser))
    ));
    assert!(h.engine.authenticate(&t1, &meta()).await.is_ok(), "the caller's own session stays");

    let (t4, _) = h.login("ann@example.org").await;
    assert_eq!(h.engine.sign_out_everywhere(&s1, &meta()).await.unwrap(), 1);
    assert!(matches!(
        h.engine.authenticate(&t1, &meta()).await,
        Err(Error::SessionEnded(EndReason::Logout))
    ));
    assert!(matches!(
        h.engine.authenticate(&t4, &meta()).await,
        Err(Error::SessionEnded(EndReason::RevokedByUser))
    ));
    assert!(h.engine.sessions_of(ann).await.unwrap().is_empty());
    assert_eq!(h.engine.sessions_of(bob).await.unwrap().len(), 2, "bob's sessions are untouched");
}

async fn the_oldest_session_is_evicted_or_the_login_refused(db: TestDatabase) {
    let policy = SessionPolicy {
        max_per_user: 3,
        ..SessionPolicy::default()
    };
    let h = harness_with(db, policy.clone()).await;
    let cy = h.user("cy@example.org").await;
    let mut tokens = Vec::new();
    for _ in 0..3 {
        tokens.push(h.login("cy@example.org").await.0);
        h.clock.advance(Duration::from_secs(1));
    }
    // Use the first one, so the second is now the least recently used.
    h.clock.advance(Duration::from_secs(120));
    h.fresh(&tokens[0]).await;
    h.login("cy@example.org").await;
    assert!(matches!(
        h.engine.authenticate(&tokens[1], &meta()).await,
        Err(Error::SessionEnded(EndReason::Evicted))
    ));
    assert!(h.engine.authenticate(&tokens[0], &meta()).await.is_ok());
    assert_eq!(h.engine.sessions_of(cy).await.unwrap().len(), 3);
    let evictions = kinds_of(&h, cy)
        .await
        .into_iter()
        .filter(|(k, _, _)| *k == AuditKind::SessionRevoked)
        .count();
    assert_eq!(evictions, 1);

    let refusing = harness_with(
        TestDatabase::sqlite().await,
        SessionPolicy {
            max_per_user: 2,
            when_full: WhenFull::Refuse,
            ..policy
        },
    )
    .await;
    refusing.user("dee@example.org").await;
    refusing.login("dee@example.org").await;
    refusing.login("dee@example.org").await;
    let third = refusing.engine.login("dee@example.org", attempt(PASSWORD), meta(), None).await;
    assert!(matches!(third, Err(Error::TooManySessions)), "{third:?}");
}

async fn a_password_change_rotates_and_ends_the_others(db: TestDatabase) {
    let h = harness(db).await;
    let eve = h.user("eve@example.org").await;
    let (other, _) = h.login("eve@example.org").await;
    let (token, session) = h.login("eve@example.org").await;

    let wrong = h
        .engine
        .change_password(
            &session,
            &meta(),
            &token,
            attempt("not it at all"),
            new_password("a brand new password"),
            true,
        )
        .await;
    assert!(
        matches!(wrong, Err(Error::Invalid(ref p)) if p.field == "current_password"),
        "{wrong:?}"
    );

    let (new_token, state) = h
        .engine
        .change_password(
            &session,
            &meta(),
            &token,
            attempt(PASSWORD),
            new_password("a brand new password"),
            true,
        )
        .await
        .unwrap();
    assert_ne!(state.session.public_id, session.public_id, "the session is rotated");
    assert!(matches!(
        h.engine.authenticate(&token, &meta()).await,
        Err(Error::SessionEnded(EndReason::Rotated))
    ));
    assert!(matches!(
        h.engine.authenticate(&other, &meta()).await,
        Err(Error::SessionEnded(EndReason::PasswordChanged))
    ));
    assert!(h.engine.authenticate(&new_token, &meta()).await.is_ok());
    assert!(matches!(
        h.engine.login("eve@example.org", attempt(PASSWORD), meta(), None).await,
        Err(Error::InvalidCredentials)
    ));
    h.login_with("eve@example.org", "a brand new password").await;

    // Without ending the others, they stay.
    let (kept, _) = h.login_with("eve@example.org", "a brand new password").await;
    let (token, session) = h.login_with("eve@example.org", "a brand new password").await;
    h.engine
        .change_password(
            &session,
            &meta(),
            &token,
            attempt("a brand new password"),
            new_password("yet another password"),
            false,
        )
        .await
        .unwrap();
    assert!(h.engine.authenticate(&kept, &meta()).await.is_ok());

    let kinds = kinds_of(&h, eve).await;
    assert_eq!(
        kinds
            .iter()
            .filter(|(k, o, _)| *k == AuditKind::PasswordChanged && *o == Outcome::Ok)
            .count(),
        2
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|(k, o, _)| *k == AuditKind::PasswordChanged && *o == Outcome::Refused)
            .count(),
        1,
        "the wrong current password is recorded as refused"
    );
}

async fn sensitive_actions_need_a_recent_password(db: TestDatabase) {
    let h = harness(db).await;
    h.user("fay@example.org").await;
    let (token, _) = h.login("fay@example.org").await;
    h.clock.advance(Duration::from_secs(11 * 60));
    let session = h.fresh(&token).await;
    let late = h
        .engine
        .change_password(
            &session,
            &meta(),
            &token,
            attempt(PASSWORD),
            new_password("a brand new password"),
            true,
        )
        .await;
    assert!(matches!(late, Err(Error::ReauthenticationRequired)), "{late:?}");
    assert!(matches!(
        h.engine.reauthenticate(&session, &meta(), attempt("wrong password")).await,
        Err(Error::Invalid(_))
    ));
    let until = h.engine.reauthenticate(&session, &meta(), attempt(PASSWORD)).await.unwrap();
    assert_eq!(until, h.now().plus(Duration::from_secs(600)));
    let session = h.fresh(&token).await;
    h.engine
        .change_password(
            &session,
            &meta(),
            &token,
            attempt(PASSWORD),
            new_password("a brand new password"),
            true,
        )
        .await
        .expect("recent again after re-authenticating");
}

async fn administrators_end_sessions_and_disable_accounts(db: TestDatabase) {
    let h = harness(db).await;
    let root = h.user("root@example.org").await;
    let gus = h.user("gus@example.org").await;
    let (_, not_yet) = h.login("root@example.org").await;
    assert!(matches!(h.engine.users_overview(&not_yet, &meta()).await, Err(Error::Forbidden)));
    h.engine.set_admin(&Email::parse("root@example.org").unwrap(), true).await.unwrap();
    let (_, admin) = h.login("root@example.org").await;
    let (g1, gs1) = h.login("gus@example.org").await;
    let (g2, _) = h.login("gus@example.org").await;

    let overview = h.engine.users_overview(&admin, &meta()).await.unwrap();
    let gus_row = overview.iter().find(|u| u.user.id == gus).unwrap();
    assert_eq!(gus_row.live_sessions, 2);
    let (_, sessions) = h.engine.user_sessions_for_admin(&admin, &meta(), gus).await.unwrap();
    assert_eq!(sessions.len(), 2);

    let (_, gus_session) = h.login("gus@example.org").await;
    assert!(
        matches!(
            h.engine.admin_revoke_session(&gus_session, &meta(), &gs1.public_id).await,
            Err(Error::Forbidden)
        ),
        "a user is no admin"
    );
    h.engine.admin_revoke_session(&admin, &meta(), &gs1.public_id).await.unwrap();
    assert!(matches!(
        h.engine.authenticate(&g1, &meta()).await,
        Err(Error::SessionEnded(EndReason::RevokedByAdmin))
    ));

    assert!(matches!(
        h.engine.set_disabled(&admin, &meta(), root, true).await,
        Err(Error::Invalid(_))
    ));
    let disabled = h.engine.set_disabled(&admin, &meta(), gus, true).await.unwrap();
    assert!(disabled.disabled);
    assert!(matches!(
        h.engine.authenticate(&g2, &meta()).await,
        Err(Error::SessionEnded(EndReason::UserDisabled))
    ));
    assert!(h.engine.sessions_of(gus).await.unwrap().is_empty(), "every session ended at once");
    let refused = h.engine.login("gus@example.org", attempt(PASSWORD), meta(), None).await;
    let unknown = h.engine.login("nobody@example.org", attempt(PASSWORD), meta(), None).await;
    assert_eq!(
        refused.unwrap_err().to_string(),
        unknown.unwrap_err().to_string(),
        "a disabled account answers like a wrong password"
    );
    h.engine.set_disabled(&admin, &meta(), gus, false).await.unwrap();
    h.login("gus@example.org").await;

    // Admin actions need a recent password too; reading does not.
    let (admin_token, _) = (h.login("root@example.org").await.0, ());
    h.clock.advance(Duration::from_secs(11 * 60));
    let stale = h.fresh(&admin_token).await;
    let (_, target) = h.login("gus@example.org").await;
    assert!(matches!(
        h.engine.admin_revoke_session(&stale, &meta(), &target.public_id).await,
        Err(Error::ReauthenticationRequired)
    ));
    assert!(matches!(
        h.engine.set_disabled(&stale, &meta(), gus, true).await,
        Err(Error::ReauthenticationRequired)
    ));
    assert!(h.engine.users_overview(&stale, &meta()).await.is_ok());
}

async fn removing_a_platform_moves_only_the_sessions_on_it(db: TestDatabase) {
    let h = harness(db).await;
    h.user("hal@example.org").await;
    let (t1, s1) = h.login("hal@example.org").await;
    let a = h.platform(&s1, "A").await;
    let b = h.platform(&s1, "B").await;
    let c = h.platform(&s1, "C").await;
    let (t2, s2) = h.login("hal@example.org").await;
    h.engine.switch_platform(&h.fresh(&t1).await, &meta(), b.id, None).await.unwrap();
    h.engine.switch_platform(&s2, &meta(), c.id, None).await.unwrap();
    let (before1, before2) = (h.fresh(&t1).await.version, h.fresh(&t2).await.version);

    h.engine.remove_platform(&h.fresh(&t1).await, b.id).await.unwrap();
    let (after1, after2) = (h.fresh(&t1).await, h.fresh(&t2).await);
    assert_eq!(after1.active_platform_id, Some(a.id), "moved to the first remaining one");
    assert!(after1.version > before1);
    assert_eq!(after2.active_platform_id, Some(c.id), "a session on another platform keeps it");
    assert!(after2.version > before2, "its platform list changed: a new version");
}

async fn every_lifecycle_event_leaves_one_audit_row(db: TestDatabase) {
    let h = harness(db).await;
    let ivy = h.user("ivy@example.org").await;
    let root = h.user("root@example.org").await;
    h.engine.set_admin(&Email::parse("root@example.org").unwrap(), true).await.unwrap();
    let _ = h.engine.login("ivy@example.org", attempt("wrong password"), meta(), None).await;
    let (t1, s1) = h.login("ivy@example.org").await;
    let p = h.platform(&s1, "P").await;
    let q = h.platform(&s1, "Q").await;
    h.engine.switch_platform(&h.fresh(&t1).await, &meta(), q.id, None).await.unwrap();
    let _ = p;
    h.engine.extend(&h.fresh(&t1).await, &meta()).await.unwrap();
    let (t2, _) = h
        .engine
        .login("ivy@example.org", attempt(PASSWORD), meta(), Some(&t1))
        .await
        .unwrap();
    h.engine.logout(&t2, &meta()).await.unwrap();
    let (_, s3) = h.login("ivy@example.org").await;
    h.clock.advance(Duration::from_secs(31 * 60));
    assert!(h.engine.authenticate(&h.login("ivy@example.org").await.0, &meta()).await.is_ok());
    let _ = s3;
    let (_, admin) = h.login("root@example.org").await;
    h.engine.set_disabled(&admin, &meta(), ivy, true).await.unwrap();
    h.engine.set_disabled(&admin, &meta(), ivy, false).await.unwrap();

    let got = kinds_of(&h, ivy).await;
    use AuditKind::*;
    let expected = [
        (LoginFailed, Outcome::Refused, None),
        (LoginSucceeded, Outcome::Ok, Some(ivy)),
        (PlatformSwitched, Outcome::Ok, Some(ivy)),
        (SessionExtended, Outcome::Ok, Some(ivy)),
        (SessionRotated, Outcome::Ok, Some(ivy)),
        (LoginSucceeded, Outcome::Ok, Some(ivy)),
        (Logout, Outcome::Ok, Some(ivy)),
        (LoginSucceeded, Outcome::Ok, Some(ivy)),
        (LoginSucceeded, Outcome::Ok, Some(ivy)),
        (SessionRevoked, Outcome::Ok, Some(root)),
        (UserDisabled, Outcome::Ok, Some(root)),
        (UserEnabled, Outcome::Ok, Some(root)),
    ];
    assert_eq!(got, expected);
    // The session left idle for 31 minutes was past its deadline (so disabling did not count it
    // live); the sweep records its expiry, with the system as actor.
    let report = h.engine.sweep_sessions(Duration::from_secs(3600), 1000).await.unwrap();
    assert_eq!(report.expired, 1);
    assert_eq!(kinds_of(&h, ivy).await.last(), Some(&(SessionExpired, Outcome::Ok, None)));
    let events = h.engine.audit_events(&AuditFilter::default(), 1000).await.unwrap();
    assert!(events
        .iter()
        .all(|e| e.entry.detail.as_deref().is_none_or(|d| !d.contains(PASSWORD))));
    let failed = events.iter().find(|e| e.entry.kind == LoginFailed).unwrap();
    assert_eq!(
        failed.entry.detail.as_deref(),
        Some("ivy@example.org"),
        "the attempted email, normalised"
    );
    assert_eq!(failed.entry.subject, Some(ivy));
    assert_eq!(failed.entry.ip.as_deref(), Some("127.0.0.1"));
    let disabled_revocation = events.iter().find(|e| e.entry.kind == SessionRevoked).unwrap();
    assert_eq!(disabled_revocation.entry.detail.as_deref(), Some("user_disabled"));
    assert!(disabled_revocation.entry.session.is_some(), "names the session by its public id");
}

async fn expiry_is_recorded_by_whoever_finds_it(db: TestDatabase) {
    let h = harness(db).await;
    let jo = h.user("jo@example.org").await;
    let (found, _) = h.login("jo@example.org").await;
    h.login("jo@example.org").await;
    h.clock.advance(Duration::from_secs(31 * 60));
    assert!(matches!(
        h.engine.authenticate(&found, &meta()).await,
        Err(Error::SessionEnded(EndReason::Expired))
    ));
    assert_eq!(h.engine.sweep_sessions(Duration::from_secs(3600), 1000).await.unwrap().expired, 1);
    let expiries = kinds_of(&h, jo)
        .await
        .into_iter()
        .filter(|(k, _, _)| *k == AuditKind::SessionExpired)
        .count();
    assert_eq!(expiries, 2, "one by the request that found it, one by the sweep");
}

async fn the_audit_log_is_append_only(db: TestDatabase) {
    let h = harness(db).await;
    h.user("kim@example.org").await;
    h.login("kim@example.org").await;
    h.clock.advance(Duration::from_secs(100 * 86_400));
    h.login("kim@example.org").await;
    let all = h.engine.audit_events(&AuditFilter::default(), 1000).await.unwrap();
    assert_eq!(all.len(), 2);

    let update = sqlx::query("UPDATE audit_events SET kind = 'logout'").execute(h.db.writer()).await;
    assert!(update.is_err(), "rows cannot be changed");
    let delete = sqlx::query("DELETE FROM audit_events").execute(h.db.writer()).await;
    assert!(delete.is_err(), "rows cannot be deleted outside the sweep");
    assert_eq!(h.engine.audit_events(&AuditFilter::default(), 1000).await.unwrap(), all);

    assert_eq!(
        h.engine.sweep_audit(Duration::from_secs(90 * 86_400), 1000).await.unwrap(),
        1,
        "the 100-day-old row goes"
    );
    let left = h.engine.audit_events(&AuditFilter::default(), 1000).await.unwrap();
    assert_eq!(left, all[..1]);
    let back = sqlx::query("UPDATE audit_retention SET delete_before = 0")
        .execute(h.db.writer())
        .await;
    assert!(back.is_err(), "the cut-off only moves forward");
}

switchboard::on_both_backends!(
    own_sessions_are_listed_and_ended,
    the_oldest_session_is_evicted_or_the_login_refused,
    a_password_change_rotates_and_ends_the_others,
    sensitive_actions_need_a_recent_password,
    administrators_end_sessions_and_disable_accounts,
    removing_a_platform_moves_only_the_sessions_on_it,
    every_lifecycle_event_leaves_one_audit_row,
    expiry_is_recorded_by_whoever_finds_it,
    the_audit_log_is_append_only,
);
