use super::*;
use crate::clock::Timestamp;
use crate::domain::{DisplayName, Email};
use crate::ids::{PublicSessionId, SessionId, SessionVersion};

fn user(id: i64) -> User {
    User {
        id: UserId::parse(id).unwrap(),
        email: Email::parse(&format!("u{id}@example.org")).unwrap(),
        display_name: DisplayName::parse("U").unwrap(),
        is_admin: false,
        disabled: false,
    }
}

fn session(user_id: i64) -> Session {
    Session {
        id: SessionId::from_raw(user_id * 100),
        public_id: PublicSessionId::new_unchecked(format!("{user_id:0>22}")),
        user_id: UserId::parse(user_id).unwrap(),
        active_platform_id: Some(PlatformId::parse(user_id + 1).unwrap()),
        version: SessionVersion::parse(3).unwrap(),
        created_at: Timestamp(10),
        last_seen_at: Timestamp(20),
        idle_expires_at: Timestamp(30),
        absolute_expires_at: Timestamp(40),
        ip: Some("203.0.113.7".into()),
        user_agent: Some("Firefox/140".into()),
        reauthenticated_at: Timestamp(15),
        flagged_at: Some(Timestamp(25)),
    }
}

/// A token hash as the database keeps it: 64 hex digits.
fn hash(name: &str) -> String {
    let mut hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    hex.extend(std::iter::repeat_n('0', 64 - hex.len()));
    hex
}

fn serving(settings: CacheSettings) -> SessionCache {
    let cache = SessionCache::new(settings);
    cache.serve(true);
    cache
}

fn keep(cache: &SessionCache, name: &str, user_id: i64) {
    let since = cache.epoch().unwrap();
    cache.keep_session(&hash(name), since, session(user_id), user(user_id), Some("v1.ab".into()));
}

fn hit(cache: &SessionCache, name: &str) -> Option<CachedSession> {
    cache.session(&hash(name))
}

fn user_id(id: i64) -> UserId {
    UserId::parse(id).unwrap()
}

#[test]
fn a_hit_gives_back_what_was_kept() {
    let cache = serving(CacheSettings::default());
    keep(&cache, "a1", 1);
    let found = hit(&cache, "a1").unwrap();
    assert_eq!(found.session, session(1));
    assert_eq!(found.user, user(1));
    assert_eq!(found.fingerprint.as_deref(), Some("v1.ab"));
    assert!(cache.session("not a hash").is_none() && !cache.holds("not a hash"));
    assert_eq!(key(&"A".repeat(64)), Some([0xAA; 32]), "hex of either case");
    assert_eq!(key(&"g".repeat(64)), None);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses), (1, 1));
}

/// Times come back to the millisecond, from a session's first moment to 34 years on; a session
/// with a time outside that is read from the database instead of kept wrong.
#[test]
fn times_come_back_exactly_or_the_session_is_not_kept() {
    let cache = serving(CacheSettings::default());
    let mut unflagged = session(1);
    unflagged.flagged_at = None;
    unflagged.created_at = Timestamp(1_800_000_000_123);
    unflagged.last_seen_at = unflagged.created_at;
    unflagged.reauthenticated_at = unflagged.created_at;
    unflagged.idle_expires_at = Timestamp(unflagged.created_at.millis() + (1 << 40) - 2);
    unflagged.absolute_expires_at = unflagged.idle_expires_at;
    let since = cache.epoch().unwrap();
    cache.keep_session(&hash("u1"), since, unflagged.clone(), user(1), None);
    assert_eq!(hit(&cache, "u1").unwrap().session, unflagged);

    let mut flagged_when_it_began = unflagged.clone();
    flagged_when_it_began.flagged_at = Some(flagged_when_it_began.created_at);
    cache.keep_session(&hash("u2"), since, flagged_when_it_began.clone(), user(1), None);
    assert_eq!(hit(&cache, "u2").unwrap().session, flagged_when_it_began);

    let mut too_long = unflagged.clone();
    too_long.absolute_expires_at = Timestamp(too_long.created_at.millis() + (1 << 40));
    let mut before_it_began = unflagged;
    before_it_began.last_seen_at = Timestamp(before_it_began.created_at.millis() - 1);
    for (name, odd) in [("u3", too_long), ("u4", before_it_began)] {
        cache.keep_session(&hash(name), since, odd, user(1), None);
        assert!(hit(&cache, name).is_none() && !cache.holds(&hash(name)), "{name} is not kept");
    }
}

/// Sessions taken out from anywhere in the list (the last one moves into the gap) leave every
/// other one found where it is.
#[test]
fn every_session_is_found_after_others_are_taken_out() {
    let cache = serving(CacheSettings::default());
    for i in 0..600 {
        keep(&cache, &format!("s{i}"), 1 + i % 7);
    }
    let mut state = cache.state();
    for i in (0..600).step_by(3) {
        state.remove(&key(&hash(&format!("s{i}"))).unwrap());
    }
    let at = state.sessions.position(&key(&hash("s1")).unwrap()).unwrap();
    let taken = state.sessions.remove_at(at).unwrap();
    state.release(taken);
    assert_eq!(state.sessions.len(), 399);
    for i in 0..600 {
        let key = key(&hash(&format!("s{i}"))).unwrap();
        match state.sessions.position(&key) {
            Some(at) => {
                assert!(i % 3 != 0 && i != 1, "s{i} was taken out");
                assert_eq!(state.sessions.get(at).unwrap().key, key, "s{i} is where the table says");
            }
            None => assert!(i % 3 == 0 || i == 1, "s{i} was lost"),
        }
    }
    let sessions: u32 = state.owners.values().map(|owner| owner.sessions).sum();
    assert_eq!(sessions, 399, "each user's entry counts what is left of theirs");
}

#[test]
fn forgetting_a_user_drops_only_their_entries() {
    let cache = serving(CacheSettings::default());
    keep(&cache, "a1", 1);
    keep(&cache, "a2", 1);
    keep(&cache, "b1", 2);
    let since = cache.epoch().unwrap();
    cache.keep_platforms(user_id(1), since, &[]);
    cache.forget_user(user_id(1));
    assert!(hit(&cache, "a1").is_none() && hit(&cache, "a2").is_none());
    assert!(cache.platforms(user_id(1)).is_none());
    assert_eq!(hit(&cache, "b1").unwrap().user.id.get(), 2);
    assert_eq!(cache.stats().sessions, 1, "what was found forgotten was freed");
}

/// A forgotten user's sessions are not served even while the map still holds them, and a
/// session kept for them afterwards is served on its own.
#[test]
fn a_forgotten_users_sessions_are_not_served_while_still_held() {
    let cache = serving(CacheSettings::default());
    keep(&cache, "a1", 1);
    cache.forget_user(user_id(1));
    keep(&cache, "a2", 1);
    assert!(cache.holds(&hash("a1")), "still held");
    assert!(hit(&cache, "a1").is_none(), "but not served");
    assert!(hit(&cache, "a2").is_some());
}

#[test]
fn a_read_that_raced_a_write_is_not_kept() {
    let cache = serving(CacheSettings::default());
    let since = cache.epoch().unwrap();
    // A write to anyone lands while the read is under way.
    cache.forget_user(user_id(9));
    cache.keep_session(&hash("a1"), since, session(1), user(1), None);
    keep(&cache, "a2", 1);
    cache.keep_platforms(user_id(1), since, &[]);
    assert!(hit(&cache, "a1").is_none());
    assert!(cache.platforms(user_id(1)).is_none());
}

#[test]
fn a_cache_that_cannot_hear_serves_and_keeps_nothing_and_restarts_empty() {
    let cache = serving(CacheSettings::default());
    keep(&cache, "a1", 1);
    let since = cache.epoch().unwrap();
    cache.serve(false);
    assert!(cache.epoch().is_none());
    assert!(hit(&cache, "a1").is_none());
    cache.keep_session(&hash("a2"), since, session(1), user(1), None);
    cache.serve(true);
    assert!(hit(&cache, "a1").is_none(), "what was held before is gone");
    assert!(hit(&cache, "a2").is_none(), "what was read while deaf was not kept");
    let disabled = SessionCache::disabled();
    disabled.serve(true);
    assert!(disabled.epoch().is_none());
}

#[test]
fn forgetting_everything_refuses_reads_under_way_and_keeps_later_ones() {
    let cache = serving(CacheSettings::default());
    keep(&cache, "old", 1);
    let since = cache.epoch().unwrap();
    cache.forget_all();
    cache.keep_session(&hash("midway"), since, session(1), user(1), None);
    keep(&cache, "new", 1);
    assert!(hit(&cache, "old").is_none() && hit(&cache, "midway").is_none());
    assert!(hit(&cache, "new").is_some());
    cache.forget_user(user_id(1));
    assert!(hit(&cache, "new").is_none(), "the write to user 1 found the new entry");
}

#[test]
fn a_full_cache_keeps_its_bound_and_what_is_in_use() {
    let cache = serving(CacheSettings {
        capacity: 10,
        ..CacheSettings::default()
    });
    for i in 0..200 {
        keep(&cache, &format!("h{i}"), 1 + i % 50);
        // One session is read all along: it is never the least recently served.
        if i % 5 == 0 {
            keep(&cache, "busy", 99);
        }
        assert!(hit(&cache, "busy").is_some(), "the busy session survived {i} others");
    }
    let state = cache.state();
    assert_eq!(state.sessions.len(), 10);
    let sessions: u32 = state.owners.values().map(|owner| owner.sessions).sum();
    assert_eq!(sessions, 10, "each user's entry counts their sessions");
    assert!(state.owners.len() <= 10, "users without a session are let go");
    assert_eq!(state.text.len(), 3, "one address, one user agent and one fingerprint, shared");
}

#[test]
fn shared_text_is_let_go_with_its_last_session() {
    let cache = serving(CacheSettings::default());
    keep(&cache, "a1", 1);
    keep(&cache, "a2", 2);
    assert_eq!(cache.state().text.len(), 3);
    cache.forget_user(user_id(1));
    cache.forget_user(user_id(2));
    assert!(hit(&cache, "a1").is_none() && hit(&cache, "a2").is_none());
    let state = cache.state();
    assert!(state.sessions.is_empty() && state.owners.is_empty() && state.text.is_empty());
}

#[test]
fn nothing_is_served_past_its_time_to_live() {
    let cache = serving(CacheSettings {
        ttl: Duration::ZERO,
        ..CacheSettings::default()
    });
    keep(&cache, "a1", 1);
    cache.keep_platforms(user_id(1), cache.epoch().unwrap(), &[]);
    assert!(hit(&cache, "a1").is_none());
    assert!(cache.platforms(user_id(1)).is_none());
}

/// What was kept together leaves together only within a fifth of the time to live.
#[test]
fn what_is_kept_together_expires_spread_over_a_fifth_of_its_time_to_live() {
    let cache = serving(CacheSettings {
        ttl: Duration::from_secs(300),
        ..CacheSettings::default()
    });
    for i in 0..1000 {
        keep(&cache, &format!("h{i}"), i + 1);
    }
    let state = cache.state();
    let expiries: HashSet<u32> = state.sessions.values().map(|kept| kept.expires_at).collect();
    let (first, last) = (*expiries.iter().min().unwrap(), *expiries.iter().max().unwrap());
    assert!(first >= 240 && last <= 300, "within the last fifth: {first}..={last}");
    assert!(expiries.len() > 50, "spread over many seconds: {}", expiries.len());
}

#[test]
fn platforms_are_kept_alongside_their_users_sessions() {
    let cache = serving(CacheSettings {
        capacity: 1,
        ..CacheSettings::default()
    });
    let since = cache.epoch().unwrap();
    cache.keep_platforms(user_id(1), since, &[]);
    assert!(cache.platforms(user_id(1)).is_none(), "no session of theirs is kept");
    keep(&cache, "a1", 1);
    cache.keep_platforms(user_id(1), since, &[]);
    assert!(cache.platforms(user_id(1)).is_some());
    keep(&cache, "b1", 2);
    assert!(cache.platforms(user_id(1)).is_none(), "their last session made room");
}

#[test]
fn accounts_and_platforms_come_back_as_they_were_kept() {
    use crate::domain::{Handle, InstanceUrl, PlatformKind, PlatformLabel};
    let cache = serving(CacheSettings::default());
    let since = cache.epoch().unwrap();
    let mut owner = user(1);
    owner.display_name = DisplayName::parse("Zoë 🦀 Ünïcode").unwrap();
    owner.is_admin = true;
    cache.keep_session(&hash("z1"), since, session(1), owner.clone(), None);
    let platform = |id: i64, kind: PlatformKind, label: &str| Platform {
        id: PlatformId::parse(id).unwrap(),
        kind,
        label: PlatformLabel::parse(label).unwrap(),
        instance_url: InstanceUrl::parse("https://pixelfed.example").unwrap(),
        handle: Handle::parse("@zoë").unwrap(),
        created_at: Timestamp(-5),
    };
    let platforms = vec![
        platform(1, PlatformKind::Mastodon, "Home"),
        platform(i64::MAX, PlatformKind::Pixelfed, "Photos ✨"),
        platform(3, PlatformKind::Other, "x"),
    ];
    cache.keep_platforms(user_id(1), since, &platforms);
    let found = cache.session(&hash("z1")).unwrap();
    assert_eq!(found.user, owner);
    assert_eq!(found.session, session(1));
    assert_eq!(cache.platforms(user_id(1)).unwrap(), platforms);

    // The account read again, changed, with another session: the platforms stay with it.
    owner.is_admin = false;
    owner.disabled = true;
    let mut bare = session(1);
    (bare.active_platform_id, bare.flagged_at, bare.ip, bare.user_agent) = (None, None, None, None);
    cache.keep_session(&hash("z2"), cache.epoch().unwrap(), bare.clone(), owner.clone(), None);
    let found = cache.session(&hash("z2")).unwrap();
    assert_eq!((found.user, found.session), (owner, bare));
    assert_eq!(cache.platforms(user_id(1)).unwrap(), platforms);
}

#[test]
fn subscribers_hear_what_is_forgotten() {
    let cache = serving(CacheSettings::default());
    let mut changes = cache.subscribe().unwrap();
    cache.forget_user(user_id(7));
    cache.forget_all();
    assert_eq!(changes.try_recv().unwrap(), Changed::User(user_id(7)));
    assert_eq!(changes.try_recv().unwrap(), Changed::Anyone);
    assert!(changes.try_recv().is_err());
    assert!(SessionCache::disabled().subscribe().is_none(), "an off cache hears nothing");
}
