//! The dev profile's demo account: one user with two platforms and a few drafts, created only
//! in an empty database.

use crate::domain::{DisplayName, DraftBody, DraftTitle, Email, Handle, InstanceUrl, Password, PlatformKind, PlatformLabel};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::platforms::NewPlatform;
use crate::sessions::{ClientMeta, SessionStart};

pub const DEMO_EMAIL: &str = "demo@switchboard.test";
/// A published, dev-only credential: the dev profile prints it so people can sign in.
pub const DEMO_PASSWORD: &str = "switchboard-demo";

/// Seeds the demo account if the database has no users. Returns whether it did. Safe when
/// several instances start at once on one database: the account's email is unique, so one
/// instance creates it and the others, finding it taken, leave it to that one.
pub async fn seed_demo(engine: &Engine) -> Result<bool> {
    if engine.user_count().await? > 0 {
        return Ok(false);
    }
    let registered = engine
        .register(
            &Email::parse(DEMO_EMAIL)?,
            Password::parse_new(DEMO_PASSWORD)?,
            &DisplayName::parse("Demo User")?,
        )
        .await;
    let user = match registered {
        Err(Error::EmailTaken) => return Ok(false),
        other => other?,
    };
    // Platforms and drafts are added through a session, the same way a person would.
    let meta = ClientMeta::default();
    let (token, session) = engine
        .start_session(user.id, meta.clone(), None, SessionStart::Registration)
        .await?;
    let platforms = [
        (
            PlatformKind::Mastodon,
            "Mastodon (personal)",
            "https://mastodon.social",
            "@demo",
            ["Weekend plans", "Thread on Rust sessions"],
        ),
        (
            PlatformKind::Pixelfed,
            "Pixelfed",
            "https://pixelfed.social",
            "@demo.photos",
            ["Sunset over the bay", "Street photography set"],
        ),
    ];
    for (kind, label, url, handle, drafts) in platforms {
        let platform = engine
            .add_platform(
                &session,
                NewPlatform {
                    kind,
                    label: PlatformLabel::parse(label)?,
                    instance_url: InstanceUrl::parse(url)?,
                    handle: Handle::parse(handle)?,
                },
            )
            .await?;
        engine.switch_platform(&session, &meta, platform.id, None).await?;
        for title in drafts {
            engine
                .add_draft(&session, DraftTitle::parse(title)?, DraftBody::parse("Written by the demo seed.")?)
                .await?;
        }
    }
    engine.logout(&token, &meta).await?;
    Ok(true)
}
