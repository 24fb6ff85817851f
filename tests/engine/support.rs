//! The harness every engine test starts from: an engine on a fresh database with a manual clock.

use std::sync::Arc;
use switchboard::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, Password, PlatformKind, PlatformLabel};
use switchboard::platforms::NewPlatform;
use switchboard::testing::TestDatabase;
use switchboard::token::SessionToken;
use switchboard::{
    ClientMeta, Clock, Db, Draft, Engine, Error, ManualClock, Platform, PoolSettings, Session, SessionPolicy, Timestamp, UserId,
};

pub const PASSWORD: &str = "correct horse battery";

pub struct Harness {
    pub engine: Engine,
    pub clock: Arc<ManualClock>,
    pub db: Db,
    database: TestDatabase,
}

pub async fn harness(database: TestDatabase) -> Harness {
    harness_with(database, SessionPolicy::default()).await
}

pub async fn harness_with(database: TestDatabase, policy: SessionPolicy) -> Harness {
    let db = database.connect(&PoolSettings::default()).await;
    let clock = Arc::new(ManualClock::new(Timestamp(1_800_000_000_000)));
    let engine = Engine::new(db.clone(), policy, clock.clone());
    Harness {
        engine,
        clock,
        db,
        database,
    }
}

/// Where a test's requests come from.
pub fn meta() -> ClientMeta {
    ClientMeta {
        ip: Some("127.0.0.1".into()),
        user_agent: Some("engine tests".into()),
        accept_language: None,
    }
}

pub fn attempt(password: &str) -> Password {
    Password::parse_attempt(password).unwrap()
}

impl Harness {
    /// The database under test, to connect to it again (as another instance would).
    pub fn database(&self) -> &TestDatabase {
        &self.database
    }

    pub async fn user(&self, email: &str) -> UserId {
        self.engine
            .register(
                &Email::parse(email).unwrap(),
                Password::parse_new(PASSWORD).unwrap(),
                &DisplayName::parse("Test").unwrap(),
            )
            .await
            .unwrap()
            .id
    }

    pub async fn login(&self, email: &str) -> (SessionToken, Session) {
        self.login_with(email, PASSWORD).await
    }

    pub async fn login_with(&self, email: &str, password: &str) -> (SessionToken, Session) {
        let (token, state) = self.engine.login(email, attempt(password), meta(), None).await.unwrap();
        (token, state.session)
    }

    pub async fn platform(&self, session: &Session, label: &str) -> Platform {
        let new = NewPlatform {
            kind: PlatformKind::Mastodon,
            label: PlatformLabel::parse(label).unwrap(),
            instance_url: InstanceUrl::parse("https://mastodon.social").unwrap(),
            handle: Handle::parse("@me").unwrap(),
        };
        self.engine.add_platform(session, new).await.unwrap()
    }

    /// The session behind `token` as a request would find it now.
    pub async fn fresh(&self, token: &SessionToken) -> Session {
        self.engine.authenticate(token, &meta()).await.unwrap()
    }

    pub async fn draft(&self, session: &Session, title: &str) -> Result<Draft, Error> {
        self.engine
            .add_draft(session, DraftTitle::parse(title).unwrap(), DraftBody::parse("body").unwrap())
            .await
    }

    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }
}
