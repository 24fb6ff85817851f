//! The session cache: what the hot path reads from memory instead of the database.
//!
//! Two bounded maps: live sessions with their user, by token hash, and each user's platforms.
//! Every entry belongs to one user, and entries are forgotten by user: a write to a user's
//! sessions, account or platforms drops all of that user's entries. How writes are heard of
//! (this process, another process on the same SQLite file, another instance on the same
//! PostgreSQL) is the store's business (`store`); this module only keeps and forgets.
//!
//! Three rules keep it from lying:
//! - An entry read from the database is kept only if nothing was forgotten while it was being
//!   read (the [`Epoch`]): a read that raced a write never lands. Forgetting everything starts a
//!   new generation, and an entry of an older one is never served, however the removal of the
//!   old entries interleaves with new reads.
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
    /// Which fill put it here (the index forgets an evicted entry only if it is still this one).
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

/// Each user's cached sessions: token hash → fill.
type Index = Arc<Mutex<HashMap<UserId, HashMap<String, u64>>>>;

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
    /// Each user's platforms, with the generation they were read in.
    platforms: Cache<UserId, (u64, Arc<Vec<Platform>>)>,
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
                    unindex(&index, value.user.id, &key, value.fill);
                }
            })
            .build();
        let platforms = Cache::builder().max_capacity(settings.capacity).time_to_live(settings.ttl).build();
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
        let found = self.sessions.get(token_hash).filter(|hit| hit.generation == generation);
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
        let key = token_hash.to_owned();
        let entry = CachedSession {
            session,
            user,
            fingerprint,
            fill,
            generation: since.generation,
        };
        self.sessions.insert(key.clone(), Arc::new(entry));
        self.by_user
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(user_id)
            .or_default()
            .insert(key.clone(), fill);
        // A forget that ran between the check above and the index entry could not see this one.
        if !self.current(since) {
            self.sessions.invalidate(&key);
        }
    }

    pub(crate) fn platforms(&self, user: UserId) -> Option<Arc<Vec<Platform>>> {
        if !self.serving() {
            return None;
        }
        let generation = self.generation.load(SeqCst);
        self.platforms
            .get(&user)
            .and_then(|(kept, platforms)| (kept == generation).then_some(platforms))
    }

    /// Keeps a user's platforms read since `since`, unless something was forgotten meanwhile.
    pub(crate) fn keep_platforms(&self, user: UserId, since: Epoch, platforms: Vec<Platform>) {
        if !self.current(since) {
            return;
        }
        self.platforms.insert(user, (since.generation, Arc::new(platforms)));
        if !self.current(since) {
            self.platforms.invalidate(&user);
        }
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
        let keys = self.by_user.lock().unwrap_or_else(|e| e.into_inner()).remove(&user);
        for key in keys.into_iter().flatten().map(|(key, _)| key) {
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

fn unindex(index: &Index, user: UserId, key: &str, fill: u64) {
    let mut index = index.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(keys) = index.get_mut(&user) {
        if keys.get(key) == Some(&fill) {
            keys.remove(key);
        }
        if keys.is_empty() {
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
        let indexed: usize = cache.by_user.lock().unwrap().values().map(HashMap::len).sum();
        assert!(indexed <= 10 + 1, "the index follows evictions: {indexed} keys for ≤ 10 entries");
        // Whatever survived is still forgotten with its user.
        for u in 1..=3 {
            cache.forget_user(UserId::parse(u).unwrap());
        }
        cache.sessions.run_pending_tasks();
        assert_eq!(cache.sessions.iter().count(), 0);
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
