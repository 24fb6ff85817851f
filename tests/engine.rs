//! The session engine against real databases: every test runs on a fresh SQLite file and on a
//! fresh PostgreSQL schema.

use std::sync::Arc;
use std::time::Duration;
use switchboard::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, Password, PlatformKind, PlatformLabel};
use switchboard::platforms::{NewPlatform, Platform};
use switchboard::sessions::Session;
use switchboard::testing::TestDatabase;
use switchboard::token::SessionToken;
use switchboard::{ClientMeta, Db, Engine, Error, ManualClock, PoolSettings, SessionPolicy, Timestamp};

struct Harness {
    engine: Engine,
    clock: Arc<ManualClock>,
    db: Db,
    _database: TestDatabase,
}

async fn harness(database: TestDatabase) -> Harness {
    let db = database.connect(&PoolSettings::default()).await;
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let engine = Engine::new(db.clone(), SessionPolicy::default(), clock.clone());
    Harness {
        engine,
        clock,
        db,
        _database: database,
    }
}

const PASSWORD: &str = "correct horse battery";

impl Harness {
    async fn user(&self, email: &str) -> i64 {
        self.engine
            .register(
                &Email::parse(email).unwrap(),
                Password::parse_new(PASSWORD).unwrap(),
                &DisplayName::parse("Test").unwrap(),
                false,
            )
            .await
            .unwrap()
            .id
    }

    async fn login(&self, email: &str) -> (SessionToken, Session) {
        let (token, state) = self
            .engine
            .login(email, Password::parse_attempt(PASSWORD).unwrap(), ClientMeta::default(), None)
            .await
            .unwrap();
        (token, state.session)
    }

    async fn platform(&self, session: &Session, label: &str) -> Platform {
        let new = NewPlatform {
            kind: PlatformKind::Mastodon,
            label: PlatformLabel::parse(label).unwrap(),
            instance_url: InstanceUrl::parse("https://mastodon.social").unwrap(),
            handle: Handle::parse("@me").unwrap(),
        };
        self.engine.add_platform(session, new).await.unwrap()
    }

    async fn fresh(&self, token: &SessionToken) -> Session {
        self.engine.authenticate(token).await.unwrap()
    }

    async fn draft(&self, session: &Session, title: &str) -> Result<switchboard::drafts::Draft, Error> {
        self.engine
            .add_draft(session, DraftTitle::parse(title).unwrap(), DraftBody::parse("body").unwrap())
            .await
    }
}

async fn register_login_logout(db: TestDatabase) {
    let h = harness(db).await;
    h.user("alice@example.org").await;
    let (token, session) = h.login("Alice@Example.org").await;
    assert_eq!(h.engine.authenticate(&token).await.unwrap().public_id, session.public_id);
    assert_ne!(session.public_id, token.expose(), "the public id is not the token");
    h.engine.logout(&token).await.unwrap();
    assert!(matches!(h.engine.authenticate(&token).await, Err(Error::SessionRevoked)));
    h.engine.logout(&token).await.expect("logout is idempotent");
}

async fn duplicate_email_is_refused(db: TestDatabase) {
    let h = harness(db).await;
    h.user("bob@example.org").await;
    let again = h
        .engine
        .register(
            &Email::parse("BOB@example.org").unwrap(),
            Password::parse_new(PASSWORD).unwrap(),
            &DisplayName::parse("B").unwrap(),
            false,
        )
        .await;
    assert!(matches!(again, Err(Error::EmailTaken)), "{again:?}");
}

async fn unknown_email_and_wrong_password_look_the_same(db: TestDatabase) {
    let h = harness(db).await;
    h.user("carol@example.org").await;
    // A wrong password, an unknown email and a malformed one.
    for (email, password) in [
        ("carol@example.org", "nope nope nope"),
        ("nobody@example.org", PASSWORD),
        ("not an email", PASSWORD),
    ] {
        let result = h
            .engine
            .login(email, Password::parse_attempt(password).unwrap(), ClientMeta::default(), None)
            .await;
        let err = result.err().expect("must fail");
        assert!(matches!(err, Error::InvalidCredentials), "{err:?}");
        assert_eq!(err.to_string(), Error::InvalidCredentials.to_string());
    }
}

async fn login_rotates_the_token(db: TestDatabase) {
    let h = harness(db).await;
    h.user("dave@example.org").await;
    let (old, _) = h.login("dave@example.org").await;
    let (new, _) = h
        .engine
        .login(
            "dave@example.org",
            Password::parse_attempt(PASSWORD).unwrap(),
            ClientMeta::default(),
            Some(&old),
        )
        .await
        .unwrap();
    assert_ne!(old, new);
    assert!(matches!(h.engine.authenticate(&old).await, Err(Error::SessionRevoked)));
    assert!(h.engine.authenticate(&new).await.is_ok());
}

async fn idle_timeout_is_enforced(db: TestDatabase) {
    let h = harness(db).await;
    h.user("erin@example.org").await;
    let (token, _) = h.login("erin@example.org").await;
    h.clock.advance(Duration::from_secs(29 * 60));
    h.fresh(&token).await; // activity pushes the idle deadline
    h.clock.advance(Duration::from_secs(29 * 60));
    h.fresh(&token).await;
    h.clock.advance(Duration::from_secs(31 * 60));
    assert!(matches!(h.engine.authenticate(&token).await, Err(Error::SessionExpired)));
    assert!(
        matches!(h.engine.authenticate(&token).await, Err(Error::SessionExpired)),
        "stays expired"
    );
}

async fn absolute_lifetime_is_enforced(db: TestDatabase) {
    let h = harness(db).await;
    h.user("fay@example.org").await;
    let (token, session) = h.login("fay@example.org").await;
    let mut elapsed = Duration::ZERO;
    while elapsed < Duration::from_secs(12 * 3600 - 20 * 60) {
        h.clock.advance(Duration::from_secs(20 * 60));
        elapsed += Duration::from_secs(20 * 60);
        let s = h.fresh(&token).await;
        assert!(s.idle_expires_at <= session.absolute_expires_at);
    }
    h.clock.advance(Duration::from_secs(20 * 60));
    assert!(matches!(h.engine.authenticate(&token).await, Err(Error::SessionExpired)));
}

async fn reads_do_not_write_on_every_hit(db: TestDatabase) {
    let h = harness(db).await;
    h.user("gus@example.org").await;
    let (token, session) = h.login("gus@example.org").await;
    h.clock.advance(Duration::from_secs(30));
    assert_eq!(
        h.fresh(&token).await.last_seen_at,
        session.last_seen_at,
        "within the touch interval nothing is written"
    );
    h.clock.advance(Duration::from_secs(31));
    let touched = h.fresh(&token).await;
    assert_eq!(touched.last_seen_at, h.clock_now());
    let stored: i64 = sqlx::query_scalar("SELECT last_seen_at FROM sessions WHERE id = $1")
        .bind(session.id)
        .fetch_one(h.db.reader())
        .await
        .unwrap();
    assert_eq!(stored, h.clock_now().millis());
}

async fn background_checks_do_not_keep_a_session_alive(db: TestDatabase) {
    let h = harness(db).await;
    h.user("ivy@example.org").await;
    let (token, session) = h.login("ivy@example.org").await;
    for _ in 0..5 {
        h.clock.advance(Duration::from_secs(5 * 60));
        let peeked = h.engine.peek(&token).await.unwrap();
        assert_eq!(peeked.last_seen_at, session.last_seen_at, "a peek is not activity");
    }
    // 25 minutes of peeks, then "Stay signed in": the idle deadline restarts from now.
    let extended = h.engine.extend(&h.engine.peek(&token).await.unwrap()).await.unwrap();
    assert_eq!(extended.session.last_seen_at, h.clock_now());
    assert_eq!(extended.session.version, session.version, "extending is not a state change");
    h.clock.advance(Duration::from_secs(29 * 60));
    assert!(h.engine.peek(&token).await.is_ok(), "alive 29 min after the extension");
    h.clock.advance(Duration::from_secs(2 * 60));
    assert!(
        matches!(h.engine.peek(&token).await, Err(Error::SessionExpired)),
        "peeks still end an expired session"
    );
    assert!(
        matches!(h.engine.extend(&extended.session).await, Err(Error::SessionRevoked)),
        "an ended session cannot be extended"
    );
}

impl Harness {
    fn clock_now(&self) -> Timestamp {
        use switchboard::Clock;
        self.clock.now()
    }
}

async fn first_platform_becomes_active_and_removal_moves_on(db: TestDatabase) {
    let h = harness(db).await;
    h.user("hal@example.org").await;
    let (token, session) = h.login("hal@example.org").await;
    assert_eq!(session.active_platform_id, None);
    let a = h.platform(&session, "A").await;
    let s = h.fresh(&token).await;
    assert_eq!(s.active_platform_id, Some(a.id));
    let b = h.platform(&s, "B").await;
    assert_eq!(
        h.fresh(&token).await.active_platform_id,
        Some(a.id),
        "adding a second keeps the active one"
    );
    let before = h.fresh(&token).await.version;
    h.engine.remove_platform(&s, a.id).await.unwrap();
    let s = h.fresh(&token).await;
    assert_eq!(s.active_platform_id, Some(b.id));
    assert!(s.version > before, "the move is a new version");
    h.engine.remove_platform(&s, b.id).await.unwrap();
    assert_eq!(h.fresh(&token).await.active_platform_id, None);
    assert!(matches!(h.engine.remove_platform(&s, b.id).await, Err(Error::NotFound(_))));
    let renamed = h.platform(&s, "C").await;
    let renamed = h
        .engine
        .rename_platform(&s, renamed.id, PlatformLabel::parse("C2").unwrap())
        .await
        .unwrap();
    assert_eq!(renamed.label, "C2");
}

async fn switch_is_a_compare_and_set(db: TestDatabase) {
    let h = harness(db).await;
    h.user("ida@example.org").await;
    h.user("jon@example.org").await;
    let (token, s) = h.login("ida@example.org").await;
    let (_, other) = h.login("jon@example.org").await;
    let a = h.platform(&s, "A").await;
    let b = h.platform(&s, "B").await;
    let foreign = h.platform(&other, "J").await;
    let s = h.fresh(&token).await;

    let switched = h.engine.switch_platform(&s, b.id, Some(s.version)).await.unwrap();
    assert_eq!(switched.platform.as_ref().map(|p| p.id), Some(b.id));
    assert_eq!(switched.session.version, s.version + 1);

    match h.engine.switch_platform(&s, a.id, Some(s.version)).await {
        Err(Error::VersionConflict { expected, current }) => {
            assert_eq!(expected, s.version);
            assert_eq!(current.session.version, s.version + 1);
            assert_eq!(
                current.platform.map(|p| p.id),
                Some(b.id),
                "the conflict carries the state that won"
            );
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(matches!(
        h.engine.switch_platform(&s, foreign.id, None).await,
        Err(Error::NotFound("platform"))
    ));
    assert!(matches!(
        h.engine.switch_platform(&s, 999_999, None).await,
        Err(Error::NotFound("platform"))
    ));
    assert!(matches!(
        h.engine.switch_platform(&s, 0, None).await,
        Err(Error::Invalid { field: "platform_id", .. })
    ));
    let unconditional = h.engine.switch_platform(&s, a.id, None).await.unwrap();
    assert_eq!(unconditional.session.version, s.version + 2);
}

async fn concurrent_switches_lose_no_update(db: TestDatabase) {
    let h = harness(db).await;
    h.user("kim@example.org").await;
    let (token, s) = h.login("kim@example.org").await;
    let platforms = [h.platform(&s, "A").await, h.platform(&s, "B").await, h.platform(&s, "C").await];
    let start = h.fresh(&token).await;

    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (engine, session, target) = (h.engine.clone(), start.clone(), platforms[i % 3].id);
            tokio::spawn(async move { engine.switch_platform(&session, target, None).await })
        })
        .collect();
    let mut states = Vec::new();
    for t in tasks {
        states.push(t.await.unwrap().expect("unconditional switches all succeed"));
    }
    let end = h.engine.state_of(&h.fresh(&token).await).await.unwrap();
    assert_eq!(end.session.version, start.version + 50, "every switch counted exactly once");
    let newest = states.iter().max_by_key(|s| s.session.version).unwrap();
    assert_eq!(newest.session.version, end.session.version);
    assert_eq!(newest.platform, end.platform, "the stored platform is the last committed one");

    // With the version check, exactly one of many racers wins.
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (engine, session, target) = (h.engine.clone(), end.session.clone(), platforms[i % 3].id);
            tokio::spawn(async move { engine.switch_platform(&session, target, Some(session.version)).await })
        })
        .collect();
    let mut winners = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(state) => winners.push(state),
            Err(Error::VersionConflict { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(winners.len(), 1);
    let last = h.engine.state_of(&h.fresh(&token).await).await.unwrap();
    assert_eq!(last.session.version, end.session.version + 1);
    assert_eq!(last.platform, winners[0].platform);
}

async fn logout_racing_switches_stays_dead(db: TestDatabase) {
    let h = harness(db).await;
    h.user("lee@example.org").await;
    let (token, s) = h.login("lee@example.org").await;
    let a = h.platform(&s, "A").await;
    let b = h.platform(&s, "B").await;
    let s = h.fresh(&token).await;
    let mut tasks = Vec::new();
    for i in 0..30 {
        let (engine, session, target) = (h.engine.clone(), s.clone(), if i % 2 == 0 { a.id } else { b.id });
        tasks.push(tokio::spawn(async move {
            engine.switch_platform(&session, target, None).await.map(|_| ())
        }));
        if i == 10 {
            let (engine, token) = (h.engine.clone(), token.clone());
            tasks.push(tokio::spawn(async move { engine.logout(&token).await }));
        }
    }
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) | Err(Error::SessionRevoked) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert!(matches!(h.engine.authenticate(&token).await, Err(Error::SessionRevoked)));
    assert!(matches!(h.engine.switch_platform(&s, a.id, None).await, Err(Error::SessionRevoked)));
    assert!(
        matches!(h.engine.authenticate(&token).await, Err(Error::SessionRevoked)),
        "a late switch does not revive it"
    );
}

async fn transaction_scope_rolls_back_on_error(db: TestDatabase) {
    let h = harness(db).await;
    let before = h.engine.user_count().await.unwrap();
    let result: Result<(), Error> =
        h.db.transaction(|c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO users (email, display_name, password_hash, created_at) VALUES ('x@y.org', 'x', 'h', 0)")
                    .execute(&mut *c)
                    .await?;
                // An early return with `?` on a failing statement.
                sqlx::query("INSERT INTO no_such_table VALUES (1)").execute(&mut *c).await?;
                Ok(())
            })
        })
        .await;
    assert!(matches!(result, Err(Error::Internal(_))));
    assert_eq!(h.engine.user_count().await.unwrap(), before, "the first insert was rolled back");

    let explicit: Result<(), Error> =
        h.db.transaction(|c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO users (email, display_name, password_hash, created_at) VALUES ('z@y.org', 'z', 'h', 0)")
                    .execute(&mut *c)
                    .await?;
                Err(Error::invalid("test", "domain error after a write"))
            })
        })
        .await;
    assert!(explicit.is_err());
    assert_eq!(h.engine.user_count().await.unwrap(), before);

    let ok: Result<i64, Error> =
        h.db.transaction(|c| {
            Box::pin(async move {
                sqlx::query("INSERT INTO users (email, display_name, password_hash, created_at) VALUES ('w@y.org', 'w', 'h', 0)")
                    .execute(&mut *c)
                    .await?;
                Ok(1)
            })
        })
        .await;
    assert_eq!(ok.unwrap(), 1);
    assert_eq!(h.engine.user_count().await.unwrap(), before + 1, "success commits");
}

async fn drafts_never_leak(db: TestDatabase) {
    let h = harness(db).await;
    h.user("mia@example.org").await;
    h.user("ned@example.org").await;
    let (mia_token, mia) = h.login("mia@example.org").await;
    let (_, ned) = h.login("ned@example.org").await;
    assert!(matches!(h.draft(&mia, "before any platform").await, Err(Error::NoActivePlatform)));
    let p1 = h.platform(&mia, "P1").await;
    let p2 = h.platform(&mia, "P2").await;
    h.platform(&ned, "N1").await;
    let mia = h.fresh(&mia_token).await;
    let on_p1 = h.draft(&mia, "on p1").await.unwrap();
    assert_eq!(on_p1.platform_id, p1.id);
    let ned_draft = h
        .draft(&h.engine.authenticate(&h.login("ned@example.org").await.0).await.unwrap(), "ned's")
        .await
        .unwrap();

    let mia = h.engine.switch_platform(&mia, p2.id, None).await.unwrap().session;
    assert!(h.engine.drafts(&mia).await.unwrap().is_empty(), "p2 shows none of p1's drafts");
    let on_p2 = h.draft(&mia, "on p2").await.unwrap();
    assert_eq!(
        h.engine.drafts(&mia).await.unwrap().iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![on_p2.id]
    );
    let t = || DraftTitle::parse("hijack").unwrap();
    assert!(matches!(
        h.engine.edit_draft(&mia, on_p1.id, t(), DraftBody::parse("").unwrap()).await,
        Err(Error::NotFound("draft"))
    ));
    assert!(matches!(h.engine.delete_draft(&mia, on_p1.id).await, Err(Error::NotFound("draft"))));
    assert!(matches!(
        h.engine.edit_draft(&mia, ned_draft.id, t(), DraftBody::parse("").unwrap()).await,
        Err(Error::NotFound("draft"))
    ));
    assert!(matches!(
        h.engine.delete_draft(&mia, ned_draft.id).await,
        Err(Error::NotFound("draft"))
    ));

    let mia = h.engine.switch_platform(&mia, p1.id, None).await.unwrap().session;
    let edited = h
        .engine
        .edit_draft(
            &mia,
            on_p1.id,
            DraftTitle::parse("edited").unwrap(),
            DraftBody::parse("new").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!((edited.title.as_str(), edited.body.as_str()), ("edited", "new"));
    h.engine.delete_draft(&mia, on_p1.id).await.unwrap();
    assert!(h.engine.drafts(&mia).await.unwrap().is_empty());
    // Ned's draft survived all of it.
    let (ned_token, _) = h.login("ned@example.org").await;
    let ned = h.fresh(&ned_token).await;
    assert_eq!(h.engine.drafts(&ned).await.unwrap().len(), 1);
}

async fn exhausted_pool_is_unavailable_not_a_hang(db: TestDatabase) {
    let settings = PoolSettings {
        max_connections: 1,
        acquire_timeout: Duration::from_millis(200),
        ..PoolSettings::default()
    };
    let store = db.connect(&settings).await;
    let engine = Engine::new(store.clone(), SessionPolicy::default(), Arc::new(ManualClock::new(Timestamp(0))));
    let held = store.reader().acquire().await.unwrap();
    let started = std::time::Instant::now();
    assert!(matches!(engine.user_count().await, Err(Error::Unavailable)));
    assert!(started.elapsed() < Duration::from_secs(3));
    drop(held);
    assert_eq!(engine.user_count().await.unwrap(), 0);
}

async fn migrations_are_idempotent(db: TestDatabase) {
    let h = harness(db).await;
    h.db.migrate().await.expect("a second run applies nothing and succeeds");
    let a = switchboard::csrf::CsrfKey::load_or_create(&h.db).await.unwrap();
    let b = switchboard::csrf::CsrfKey::load_or_create(&h.db).await.unwrap();
    let binding = switchboard::csrf::CsrfBinding::Session("x");
    assert_eq!(a.token_for(binding), b.token_for(binding), "every instance shares one CSRF key");
}

async fn sweep_expires_and_purges(db: TestDatabase) {
    let h = harness(db).await;
    h.user("ola@example.org").await;
    let (stale, _) = h.login("ola@example.org").await;
    h.clock.advance(Duration::from_secs(20 * 60));
    let (live, _) = h.login("ola@example.org").await;
    h.clock.advance(Duration::from_secs(15 * 60));
    let report = h.engine.sweep_sessions(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(report, switchboard::sessions::SweepReport { expired: 1, deleted: 0 });
    assert!(matches!(h.engine.authenticate(&stale).await, Err(Error::SessionExpired)));
    assert!(h.engine.authenticate(&live).await.is_ok());
    h.clock.advance(Duration::from_secs(2 * 3600));
    let report = h.engine.sweep_sessions(Duration::from_secs(3600)).await.unwrap();
    assert_eq!(
        report,
        switchboard::sessions::SweepReport { expired: 1, deleted: 1 },
        "the live one idled out; the old one is purged"
    );
    assert!(
        matches!(h.engine.authenticate(&stale).await, Err(Error::Unauthenticated)),
        "purged sessions are simply unknown"
    );
}

switchboard::on_both_backends!(
    background_checks_do_not_keep_a_session_alive,
    register_login_logout,
    duplicate_email_is_refused,
    unknown_email_and_wrong_password_look_the_same,
    login_rotates_the_token,
    idle_timeout_is_enforced,
    absolute_lifetime_is_enforced,
    reads_do_not_write_on_every_hit,
    first_platform_becomes_active_and_removal_moves_on,
    switch_is_a_compare_and_set,
    concurrent_switches_lose_no_update,
    logout_racing_switches_stays_dead,
    transaction_scope_rolls_back_on_error,
    drafts_never_leak,
    exhausted_pool_is_unavailable_not_a_hang,
    migrations_are_idempotent,
    sweep_expires_and_purges,
);
