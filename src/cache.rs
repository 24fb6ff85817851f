//! The session cache: what the hot path reads from memory instead of the database.
//!
//! Two bounded maps: live sessions with their user, by token hash, and each user's platforms.
//! Every entry belongs to one user, and entries are forgotten by user: a write to a user's
//! sessions, account or platforms drops all of that user's entries. How writes are heard of
//! (this process, another process on the same SQLite file, another instance on the same
//! PostgreSQL) is the store's business (`store`); this module only keeps and forgets.
//!
//! Three rules keep it from lying:
//! - An entry is served only while its user's index names it (the index maps each user to the
//!   fills that may be served). A fill is indexed only if nothing was forgotten while it was
//!   being read (the [`Epoch`], checked under the index's lock), and forgetting a user takes
//!   their index entry out before anything else: a read that raced a write never lands, and
//!   whatever the maps still hold, or when they drop it, nothing forgotten is served. Forgetting
//!   everything starts a new generation, and an entry of an older one is never served.
//! - A cache that cannot hear about writes (the PostgreSQL listener is down) serves nothing and
//!   keeps nothing, and starts empty when it hears again ([`SessionCache::serve`]).
//! - Deadlines are checked against the clock on every hit by the engine, and a cached
//!   `last_seen_at` is never later than the stored one, so a hit never outlives its session.
//!
//! What is forgotten is also told to [`SessionCache::subscribe`]rs: the server pushes it to
//! browsers (`GET /api/session_events`), so a change on any device or instance reaches the
//! user's open tabs at once.

use crate::ids::UserId;
use crate::model::{Platform, Session, User};
use moka::notification::RemovalCause;
use moka::sync::Cache;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How much is kept and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Most sessions kept (each user's platforms are kept alongside, up to the same number).
    pub capacity: u64,
    /// The longest an entry is served before it is read again, whatever was heard.
    pub ttl: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            capacity: 100_000,
            ttl: Duration::from_secs(300),
        }
    }
}

/// A live session as read, with what the engine checks on every hit.
#[derive(Debug)]
pub(crate) struct CachedSession {
    pub session: Session,
    pub user: User,
    /// The stored fingerprint, encoded.
    pub fingerprint: Option<String>,
    /// Which fill put it here: it is served only while its user's index names this fill.
    fill: u64,
    generation: u64,
}

#[derive(Debug)]
struct CachedPlatforms {
    platforms: Arc<Vec<Platform>>,
    fill: u64,
    generation: u64,
}

/// When a read from the database began: what it read is kept only if nothing was forgotten
/// since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epoch {
    epoch: u64,
    generation: u64,
}

/// What of one user's may be served: their sessions (token hash → fill) and their platforms'
/// fill.
#[derive(Debug, Default)]
struct Indexed {
    sessions: HashMap<String, u64>,
    platforms: Option<u64>,
}

type Index = Arc<Mutex<HashMap<UserId, Indexed>>>;

fn lock(index: &Index) -> std::sync::MutexGuard<'_, HashMap<UserId, Indexed>> {
    index.lock().unwrap_or_else(|e| e.into_inner())
}

/// What changed, as told to subscribers: everything of one user's, or possibly anyone's (the
/// cache started over: check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    User(UserId),
    Anyone,
}

/// Changes not yet read by a subscriber beyond this are dropped, and it is told it lagged.
const CHANGE_BACKLOG: usize = 1024;

/// Counters for health and metrics.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CacheStats {
    /// Whether hits are served (on, and hearing about writes).
    pub serving: bool,
    pub sessions: u64,
    pub hits: u64,
    pub misses: u64,
    /// Users forgotten because something of theirs changed.
    pub invalidations: u64,
}

/// See the module documentation.
pub struct SessionCache {
    sessions: Cache<String, Arc<CachedSession>>,
    /// Each user's platforms, with the fill and generation they were read in.
    platforms: Cache<UserId, Arc<CachedPlatforms>>,
    by_user: Index,
    epoch: AtomicU64,
    generation: AtomicU64,
    fills: AtomicU64,
    serving: AtomicBool,
    enabled: bool,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    changes: tokio::sync::broadcast::Sender<Changed>,
}

impl std::fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCache").field("stats", &self.stats()).finish()
    }
}

impl SessionCache {
    /// A cache that keeps nothing (the CLI, and the server with `cache.enabled = false`).
    pub fn disabled() -> Self {
        Self::build(
            CacheSettings {
                capacity: 0,
                ..CacheSettings::default()
            },
            false,
        )
    }

    /// A cache of this size. It serves nothing until [`SessionCache::serve`] says it can hear
    /// about writes.
    pub fn new(settings: CacheSettings) -> Self {
        Self::build(settings, true)
    }

    fn build(settings: CacheSettings, enabled: bool) -> Self {
        let by_user: Index = Arc::default();
        let index = by_user.clone();
        let sessions = Cache::builder()
            .max_capacity(settings.capacity)
            .time_to_live(settings.ttl)
            .eviction_listener(move |key: Arc<String>, value: Arc<CachedSession>, cause| {
                // Only this fill's index entry: a replaced entry's key stays indexed for the
                // new one, and `forget_user` has already taken its keys out.
                if cause != RemovalCause::Replaced {
                    unindex(&index, value.user.id, |kept| {
                        if kept.sessions.get(key.as_str()) == Some(&value.fill) {
                            kept.sessions.remove(key.as_str());
                        }
                    });
                }
            })
            .build();
        let index = by_user.clone();
        let platforms = Cache::builder()
            .max_capacity(settings.capacity)
            .time_to_live(settings.ttl)
            .eviction_listener(move |user: Arc<UserId>, value: Arc<CachedPlatforms>, cause| {
                if cause != RemovalCause::Replaced {
                    unindex(&index, *user, |kept| {
                        if kept.platforms == Some(value.fill) {
                            kept.platforms = None;
                        }
                    });
                }
            })
            .build();
        Self {
            sessions,
            platforms,
            by_user,
            epoch: AtomicU64::new(0),
            generation: AtomicU64::new(0),
            fills: AtomicU64::new(0),
            serving: AtomicBool::new(false),
            enabled,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            changes: tokio::sync::broadcast::channel(CHANGE_BACKLOG).0,
        }
    }

    /// Every change heard from now on (`None` when the cache is off: nothing is heard).
    pub fn subscribe(&self) -> Option<tokio::sync::broadcast::Receiver<Changed>> {
        self.enabled.then(|| self.changes.subscribe())
    }

    pub fn subscribers(&self) -> usize {
        self.changes.receiver_count()
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn serving(&self) -> bool {
        self.serving.load(SeqCst)
    }

    /// Starts or stops serving. Either way the cache is emptied: what it held may have missed a
    /// write while it could not hear (stopping), and nothing read before may be kept (starting).
    pub fn serve(&self, on: bool) {
        if !self.enabled {
            return;
        }
        if on {
            self.forget_all();
            self.serving.store(true, SeqCst);
        } else {
            self.serving.store(false, SeqCst);
            self.forget_all();
        }
    }

    /// Marks the start of a database read whose result may be kept; `None` when nothing is kept.
    pub(crate) fn epoch(&self) -> Option<Epoch> {
        self.serving().then(|| Epoch {
            epoch: self.epoch.load(SeqCst),
            generation: self.generation.load(SeqCst),
        })
    }

    pub(crate) fn session(&self, token_hash: &str) -> Option<Arc<CachedSession>> {
        if !self.serving() {
            return None;
        }
        let generation = self.generation.load(SeqCst);
        let found = self.sessions.get(token_hash).filter(|hit| {
            hit.generation == generation
                && lock(&self.by_user).get(&hit.user.id).and_then(|kept| kept.sessions.get(token_hash)) == Some(&hit.fill)
        });
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, SeqCst);
        found
    }

    /// Whether a session may be cached under this hash (a cheap look before the store is asked
    /// to catch up with writes).
    pub(crate) fn holds(&self, token_hash: &str) -> bool {
        self.serving() && self.sessions.contains_key(token_hash)
    }

    /// Keeps a live session read since `since`, unless something was forgotten meanwhile.
    pub(crate) fn keep_session(&self, token_hash: &str, since: Epoch, session: Session, user: User, fingerprint: Option<String>) {
        if !self.current(since) {
            return;
        }
        let user_id = user.id;
        let fill = self.fills.fetch_add(1, SeqCst);
        let entry = CachedSession {
            session,
            user,
            fingerprint,
            fill,
            generation: since.generation,
        };
        self.sessions.insert(token_hash.to_owned(), Arc::new(entry));
        if !self.index(user_id, since, |kept| {
            kept.sessions.insert(token_hash.to_owned(), fill);
        }) {
            self.sessions.invalidate(token_hash);
        }
    }

    pub(crate) fn platforms(&self, user: UserId) -> Option<Arc<Vec<Platform>>> {
        if !self.serving() {
            return None;
        }
        let generation = self.generation.load(SeqCst);
        let hit = self.platforms.get(&user)?;
        let indexed = lock(&self.by_user).get(&user).and_then(|kept| kept.platforms) == Some(hit.fill);
        (hit.generation == generation && indexed).then(|| hit.platforms.clone())
    }

    /// Keeps a user's platforms read since `since`, unless something was forgotten meanwhile.
    pub(crate) fn keep_platforms(&self, user: UserId, since: Epoch, platforms: Vec<Platform>) {
        if !self.current(since) {
            return;
        }
        let fill = self.fills.fetch_add(1, SeqCst);
        let entry = CachedPlatforms {
            platforms: Arc::new(platforms),
            fill,
            generation: since.generation,
        };
        self.platforms.insert(user, Arc::new(entry));
        if !self.index(user, since, |kept| kept.platforms = Some(fill)) {
            self.platforms.invalidate(&user);
        }
    }

    /// Names a fill in `user`'s index (with `add`), so that it may be served, if nothing was
    /// forgotten since its read began. Checked under the lock a forget takes after moving the
    /// epoch: either the forget comes first and the fill is refused, or the forget finds it.
    fn index(&self, user: UserId, since: Epoch, add: impl FnOnce(&mut Indexed)) -> bool {
        let mut index = lock(&self.by_user);
        let current = self.current(since);
        if current {
            add(index.entry(user).or_default());
        }
        current
    }

    fn current(&self, since: Epoch) -> bool {
        self.serving() && self.epoch.load(SeqCst) == since.epoch && self.generation.load(SeqCst) == since.generation
    }

    /// Drops everything of `user`'s: their sessions and platforms.
    pub fn forget_user(&self, user: UserId) {
        if !self.enabled {
            return;
        }
        self.epoch.fetch_add(1, SeqCst);
        self.invalidations.fetch_add(1, SeqCst);
        let kept = lock(&self.by_user).remove(&user);
        for key in kept.into_iter().flat_map(|kept| kept.sessions.into_keys()) {
            self.sessions.invalidate(&key);
        }
        self.platforms.invalidate(&user);
        let _ = self.changes.send(Changed::User(user));
    }

    /// Drops everything: a new generation begins, and nothing of an older one is served.
    pub fn forget_all(&self) {
        self.new_generation();
        self.drop_old_generations();
        let _ = self.changes.send(Changed::Anyone);
    }

    fn new_generation(&self) {
        self.generation.fetch_add(1, SeqCst);
        self.epoch.fetch_add(1, SeqCst);
    }

    /// Lets the old entries leave memory, and the index, as the cache gets to them. The index is
    /// not cleared here: a read that began in the new generation may already be in it.
    fn drop_old_generations(&self) {
        self.sessions.invalidate_all();
        self.platforms.invalidate_all();
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            serving: self.serving(),
            sessions: self.sessions.entry_count(),
            hits: self.hits.load(SeqCst),
            misses: self.misses.load(SeqCst),
            invalidations: self.invalidations.load(SeqCst),
        }
    }
}

/// Takes what `forget` names out of `user`'s index, and the user once nothing of theirs is left.
fn unindex(index: &Index, user: UserId, forget: impl FnOnce(&mut Indexed)) {
    let mut index = lock(index);
    if let Some(kept) = index.get_mut(&user) {
        forget(kept);
        if kept.sessions.is_empty() && kept.platforms.is_none() {
            index.remove(&user);
        }
    }
}

#[cfg(test)]
mod tests {
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
            public_id: PublicSessionId::new_unchecked(format!("p{user_id}")),
            user_id: UserId::parse(user_id).unwrap(),
            active_platform_id: None,
            version: SessionVersion::parse(1).unwrap(),
            created_at: Timestamp(0),
            last_seen_at: Timestamp(0),
            idle_expires_at: Timestamp(1),
            absolute_expires_at: Timestamp(1),
            ip: None,
            user_agent: None,
            reauthenticated_at: Timestamp(0),
            flagged_at: None,
        }
    }

    fn serving(settings: CacheSettings) -> SessionCache {
        let cache = SessionCache::new(settings);
        cache.serve(true);
        cache
    }

    fn keep(cache: &SessionCache, hash: &str, user_id: i64) {
        let since = cache.epoch().unwrap();
        cache.keep_session(hash, since, session(user_id), user(user_id), None);
    }

    #[test]
    fn forgetting_a_user_drops_only_their_entries() {
        let cache = serving(CacheSettings::default());
        keep(&cache, "a1", 1);
        keep(&cache, "a2", 1);
        keep(&cache, "b1", 2);
        let since = cache.epoch().unwrap();
        cache.keep_platforms(UserId::parse(1).unwrap(), since, Vec::new());
        cache.forget_user(UserId::parse(1).unwrap());
        assert!(cache.session("a1").is_none() && cache.session("a2").is_none());
        assert!(cache.platforms(UserId::parse(1).unwrap()).is_none());
        assert_eq!(cache.session("b1").unwrap().user.id.get(), 2);
    }

    #[test]
    fn a_read_that_raced_a_write_is_not_kept() {
        let cache = serving(CacheSettings::default());
        let since = cache.epoch().unwrap();
        // A write to anyone lands while the read is under way.
        cache.forget_user(UserId::parse(9).unwrap());
        cache.keep_session("a1", since, session(1), user(1), None);
        cache.keep_platforms(UserId::parse(1).unwrap(), since, Vec::new());
        assert!(cache.session("a1").is_none());
        assert!(cache.platforms(UserId::parse(1).unwrap()).is_none());
    }

    #[test]
    fn a_cache_that_cannot_hear_serves_and_keeps_nothing_and_restarts_empty() {
        let cache = serving(CacheSettings::default());
        keep(&cache, "a1", 1);
        let since = cache.epoch().unwrap();
        cache.serve(false);
        assert!(cache.epoch().is_none());
        assert!(cache.session("a1").is_none());
        cache.keep_session("a2", since, session(1), user(1), None);
        cache.serve(true);
        assert!(cache.session("a1").is_none(), "what was held before is gone");
        assert!(cache.session("a2").is_none(), "what was read while deaf was not kept");
        let disabled = SessionCache::disabled();
        disabled.serve(true);
        assert!(disabled.epoch().is_none());
    }

    #[test]
    fn evicted_entries_leave_the_index_but_a_refill_stays_indexed() {
        let cache = serving(CacheSettings {
            capacity: 10,
            ..CacheSettings::default()
        });
        for i in 0..200 {
            keep(&cache, &format!("h{i}"), 1 + i % 3);
        }
        cache.sessions.run_pending_tasks();
        let indexed: usize = cache.by_user.lock().unwrap().values().map(|kept| kept.sessions.len()).sum();
        assert!(indexed <= 10 + 1, "the index follows evictions: {indexed} keys for ≤ 10 entries");
        // Whatever survived is still forgotten with its user.
        for u in 1..=3 {
            cache.forget_user(UserId::parse(u).unwrap());
        }
        cache.sessions.run_pending_tasks();
        assert_eq!(cache.sessions.iter().count(), 0);
    }

    /// Whatever the maps still hold, or however late they drop it, only what the index names is
    /// served: an entry whose index entry is gone (its user forgotten while the map had not yet
    /// let go of it) is a miss.
    #[test]
    fn only_what_the_index_names_is_served() {
        let cache = serving(CacheSettings::default());
        keep(&cache, "a1", 1);
        let since = cache.epoch().unwrap();
        cache.keep_platforms(UserId::parse(1).unwrap(), since, Vec::new());
        assert!(cache.session("a1").is_some() && cache.platforms(UserId::parse(1).unwrap()).is_some());
        lock(&cache.by_user).clear();
        assert!(cache.sessions.contains_key("a1"), "the map still holds it");
        assert!(cache.session("a1").is_none(), "an unindexed session is not served");
        assert!(
            cache.platforms(UserId::parse(1).unwrap()).is_none(),
            "unindexed platforms are not served"
        );
    }

    #[test]
    fn subscribers_hear_what_is_forgotten() {
        let cache = serving(CacheSettings::default());
        let mut changes = cache.subscribe().unwrap();
        cache.forget_user(UserId::parse(7).unwrap());
        cache.forget_all();
        assert_eq!(changes.try_recv().unwrap(), Changed::User(UserId::parse(7).unwrap()));
        assert_eq!(changes.try_recv().unwrap(), Changed::Anyone);
        assert!(changes.try_recv().is_err());
        assert!(SessionCache::disabled().subscribe().is_none(), "an off cache hears nothing");
    }

    /// Forgetting everything, step by step, with reads kept around each step: what was kept
    /// before the old entries were dropped is gone, what is kept after is served, and a write
    /// to its user still finds it (the index is never cleared wholesale: a read that began in
    /// the new generation may already be in it; clearing it there once let such an entry
    /// outlive a write, about once in 45 runs of the engine's rollback test under load).
    #[test]
    fn reads_kept_around_forgetting_everything() {
        let cache = serving(CacheSettings::default());
        keep(&cache, "old", 1);
        cache.new_generation();
        keep(&cache, "midway", 1);
        cache.drop_old_generations();
        keep(&cache, "new", 1);
        cache.sessions.run_pending_tasks();
        assert!(cache.session("old").is_none() && cache.session("midway").is_none());
        assert!(cache.session("new").is_some());
        cache.forget_user(UserId::parse(1).unwrap());
        assert!(cache.session("new").is_none(), "the write to user 1 found the new entry");
    }
}
