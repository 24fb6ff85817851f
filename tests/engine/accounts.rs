//! Accounts and signing in: registration, credentials that fail alike, logout, rotation.

use crate::support::*;
use switchboard::domain::{DisplayName, Email, Password};
use switchboard::testing::TestDatabase;
use switchboard::{ClientMeta, EndReason, Error};

async fn register_login_logout(db: TestDatabase) {
    let h = harness(db).await;
    h.user("alice@example.org").await;
    let (token, session) = h.login("Alice@Example.org").await;
    assert_eq!(h.engine.authenticate(&token, &meta()).await.unwrap().public_id, session.public_id);
    assert_ne!(session.public_id.as_str(), token.expose(), "the public id is not the token");
    h.engine.logout(&token, &meta()).await.unwrap();
    assert!(matches!(
        h.engine.authenticate(&token, &meta()).await,
        Err(Error::SessionEnded(EndReason::Logout))
    ));
    h.engine.logout(&token, &meta()).await.expect("logout is idempotent");
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
        let result = h.engine.login(email, attempt(password), ClientMeta::default(), None).await;
        let err = result.expect_err("must fail");
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
        .login("dave@example.org", attempt(PASSWORD), ClientMeta::default(), Some(&old))
        .await
        .unwrap();
    assert_ne!(old, new);
    assert!(matches!(
        h.engine.authenticate(&old, &meta()).await,
        Err(Error::SessionEnded(EndReason::Rotated))
    ));
    assert!(h.engine.authenticate(&new, &meta()).await.is_ok());
}

switchboard::on_both_backends!(
    register_login_logout,
    duplicate_email_is_refused,
    unknown_email_and_wrong_password_look_the_same,
    login_rotates_the_token,
);
