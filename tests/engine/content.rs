//! Platforms and the drafts scoped to them.

use crate::support::*;
use switchboard::domain::{DraftBody, DraftTitle, PlatformLabel};
use switchboard::testing::TestDatabase;
use switchboard::{Entity, Error};

async fn first_platform_becomes_active_and_removal_moves_on(db: TestDatabase) {
    let h = harness(db).await;
    h.user("hal@example.org").await;
    let (token, session) = h.login("hal@example.org").await;
    assert_eq!(session.active_platform_id, None);
    let a = h.platform(&session, "A").await;
    let s = h.fresh(&token).await;
    assert_eq!(s.active_platform_id, Some(a.id));
    let (other_token, _) = h.login("hal@example.org").await;
    let before = (h.fresh(&token).await.version, h.fresh(&other_token).await.version);
    let b = h.platform(&s, "B").await;
    assert_eq!(
        h.fresh(&token).await.active_platform_id,
        Some(a.id),
        "adding a second keeps the active one"
    );
    // The platform list is part of every live session's state: each one, on any device, has a
    // new version, so its tabs take the new list.
    let after = (h.fresh(&token).await.version, h.fresh(&other_token).await.version);
    assert!(after.0 > before.0 && after.1 > before.1, "{before:?} -> {after:?}");
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
    assert_eq!(renamed.label.as_str(), "C2");
    let before = h.fresh(&other_token).await.version;
    h.engine
        .rename_platform(&s, renamed.id, PlatformLabel::parse("C3").unwrap())
        .await
        .unwrap();
    assert!(h.fresh(&other_token).await.version > before, "a rename is a new version");
    let nowhere = switchboard::PlatformId::parse(i64::MAX).unwrap();
    let before = h.fresh(&other_token).await.version;
    let unknown = h.engine.rename_platform(&s, nowhere, PlatformLabel::parse("gone").unwrap()).await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
    assert_eq!(h.fresh(&other_token).await.version, before, "nothing renamed, nothing new");
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
        .draft(
            &h.engine.authenticate(&h.login("ned@example.org").await.0, &meta()).await.unwrap(),
            "ned's",
        )
        .await
        .unwrap();

    let mia = h.engine.switch_platform(&mia, &meta(), p2.id, None).await.unwrap().session;
    assert!(h.engine.drafts(&mia).await.unwrap().is_empty(), "p2 shows none of p1's drafts");
    let on_p2 = h.draft(&mia, "on p2").await.unwrap();
    assert_eq!(
        h.engine.drafts(&mia).await.unwrap().iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![on_p2.id]
    );
    let t = || DraftTitle::parse("hijack").unwrap();
    assert!(matches!(
        h.engine.edit_draft(&mia, on_p1.id, t(), DraftBody::parse("").unwrap()).await,
        Err(Error::NotFound(Entity::Draft))
    ));
    assert!(matches!(
        h.engine.delete_draft(&mia, on_p1.id).await,
        Err(Error::NotFound(Entity::Draft))
    ));
    assert!(matches!(
        h.engine.edit_draft(&mia, ned_draft.id, t(), DraftBody::parse("").unwrap()).await,
        Err(Error::NotFound(Entity::Draft))
    ));
    assert!(matches!(
        h.engine.delete_draft(&mia, ned_draft.id).await,
        Err(Error::NotFound(Entity::Draft))
    ));

    let mia = h.engine.switch_platform(&mia, &meta(), p1.id, None).await.unwrap().session;
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

switchboard::on_both_backends!(first_platform_becomes_active_and_removal_moves_on, drafts_never_leak,);
