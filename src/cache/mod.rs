//! The session cache: what the hot path reads from memory instead of the database.
//!
//! Live sessions by token hash, each user's account and platforms once for all their sessions,
//! all in one map under one lock. Entries are forgotten by user: a write to a user's sessions,
//! account or platforms drops everything of that user's. How writes are heard of (this process,
//! another process on the same SQLite file, another instance on the same PostgreSQL) is the
//! store's business (`store`); this module only keeps and forgets.
//!
//! Three rules keep it from lying:
//! - A read from the database is kept only if nothing was forgotten while it was under way: its
//!   [`Epoch`] is checked under the lock, and forgetting moves the epoch before it takes the
//!   lock. A read that raced a write never lands. Forgetting a user drops their account entry,
//!   and a session is served only with the account entry it was kept with, so every session of
//!   theirs is gone at once, whenever the map gets round to freeing it.
//! - A cache that cannot hear about writes (the PostgreSQL listener is down) serves nothing and
//!   keeps nothing, and starts empty when it hears again ([`SessionCache::serve`]).
//! - Deadlines are checked against the clock on every hit by the engine, and a cached
//!   `last_seen_at` is never later than the stored one, so a hit never outlives its session.
//!
//! What is forgotten is also told to [`SessionCache::subscribe`]rs: the server pushes it to
//! browsers (`GET /api/session_events`), so a change on any device or instance reaches the
//! user's open tabs at once.
//!
//! Memory is what bounds the design (see docs/BENCHMARKS.md): a session is kept as fixed-size
//! fields under its token hash as 32 raw bytes, its user agent and fingerprint are shared with
//! every session that has the same, and its user's account and platforms are kept once. When
//! full, the least recently used of a few sessions picked at random makes room (as Redis does).

use crate::ids::{PlatformId, UserId};
use crate::model::{Platform, Session, User};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod entries;
mod packed;
mod table;

use entries::{Kept, Owner, Shared};

/// How much is kept and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSettings {
    /// Most sessions kept (their users' accounts and platforms are kept alongside).
    pub capacity: u64,
    /// The longest an entry is served before it is read again, whatever was heard (each
    /// entry's is up to a fifth shorter, at random).
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
    pub fingerprint: Option<Shared>,
}

/// When a read from the database began: what it read is kept only if nothing was forgotten
/// since.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Epoch(u64);

/// What changed, as told to subscribers: everything of one user's, or possibly anyone's (the
/// cache started over: check).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Changed {
    User(UserId),
    Anyone,
}

/// Changes not yet read by a subscriber beyond this are dropped, and it is told it lagged.
const CHANGE_BACKLOG: usize = 1024;

/// How many sessions are looked at to pick the one that makes room.
const EVICTION_SAMPLE: usize = 8;

/// Counters for health and metrics.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CacheStats {
    /// Whether hits are served (on, and hearing about writes).
    pub serving: bool,
    /// Sessions held (some may belong to users forgotten since, not yet freed).
    pub sessions: u64,
    pub hits: u64,
    pub misses: u64,
    /// Users forgotten because something of theirs changed.
    pub invalidations: u64,
    /// SQLite: times the change log was read because a commit (by any connection) moved
    /// `PRAGMA data_version`. Always 0 on PostgreSQL, where changes are pushed.
    pub log_reads: u64,
}

/// A token hash as raw bytes (the database keeps it as 64 hex digits).
type Key = [u8; 32];

fn key(token_hash: &str) -> Option<Key> {
    crate::token::unhex32(token_hash)
}

#[derive(Debug, Default)]
struct State {
    sessions: table::Sessions,
    owners: HashMap<UserId, Owner>,
    /// Addresses, user agents and fingerprints, once each.
    text: HashSet<Shared>,
    entries: u64,
    /// Counts sessions kept and served, to tell which was served least recently (it wraps
    /// after 4 billion, which only makes an eviction choice around then poorer).
    ticks: u32,
    /// For picking sessions at random (xorshift).
    random: u64,
}

impl State {
    fn share(&mut self, text: Option<&str>) -> Option<Shared> {
        let text = text?;
        if let Some(shared) = self.text.get(text) {
            return Some(shared.clone());
        }
        let shared = Shared(Arc::new(text.into()));
        self.text.insert(shared.clone());
        Some(shared)
    }

    /// Lets go of text no kept session uses any more.
    fn unshare(&mut self, text: Option<Shared>) {
        if let Some(text) = text {
            // Held by the set and by `text`: nothing else.
            if Arc::strong_count(&text.0) == 2 {
                self.text.remove(&*text);
            }
        }
    }

    /// The owner a session was kept with, if it is still its user's.
    fn owner(&self, kept: &Kept) -> Option<&Owner> {
        self.owners.get(&kept.user_id).filter(|owner| owner.entry == kept.owner)
    }

    /// Frees a session no longer held, and its user's entry once nothing of theirs is.
    fn release(&mut self, kept: Kept) {
        if let Some(owner) = self.owners.get_mut(&kept.user_id).filter(|owner| owner.entry == kept.owner) {
            owner.sessions -= 1;
            if owner.sessions == 0 {
                self.owners.remove(&kept.user_id);
            }
        }
        self.unshare(kept.ip);
        self.unshare(kept.user_agent);
        self.unshare(kept.fingerprint);
    }

    fn remove(&mut self, key: &Key) {
        if let Some(at) = self.sessions.position(key) {
            self.remove_at(at);
        }
    }

    fn remove_at(&mut self, at: usize) {
        if let Some(kept) = self.sessions.remove_at(at) {
            self.release(kept);
        }
    }

    /// Makes room for one more: of a few sessions picked at random, the one whose user was
    /// forgotten, or else the one served least recently, goes.
    fn make_room(&mut self) {
        let len = self.sessions.len();
        let mut picks = [0; EVICTION_SAMPLE];
        for pick in &mut picks {
            *pick = (self.random() % len.max(1) as u64) as usize;
        }
        let victim = picks[..EVICTION_SAMPLE.min(len)].iter().copied().min_by_key(|&at| {
            let kept = self.sessions.get(at).expect("in range");
            // Sessions of forgotten users first, then the least recently served.
            self.owner(kept)
                .map_or(0, |_| 1 + u64::from(u32::MAX - self.ticks.wrapping_sub(kept.used_at)))
        });
        if let Some(at) = victim {
            self.remove_at(at);
        }
    }

    fn random(&mut self) -> u64 {
        self.random ^= self.random << 13;
        self.random ^= self.random >> 7;
        self.random ^= self.random << 17;
        self.random
    }

    fn clear(&mut self) {
        *self = Self {
            entries: self.entries,
            ticks: self.ticks,
            random: self.random,
            ..Self::default()
        };
    }
}

/// See the module documentation.
pub struct SessionCache {
    state: Mutex<State>,
    settings: CacheSettings,
    began: Instant,
    epoch: AtomicU64,
    serving: AtomicBool,
    enabled: bool,
    hits: AtomicU64,
    misses: AtomicU64,
    invalidations: AtomicU64,
    log_reads: AtomicU64,
    changes: tokio::sync::broadcast::Sender<Changed>,
    /// Told how long each notification took from the write to this instance ([`SessionCache::on_notification_lag`]).
    lag: std::sync::OnceLock<Box<dyn Fn(std::time::Duration) + Send + Sync>>,
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
        let state = State {
            random: 0x9E37_79B9_7F4A_7C15,
            ..State::default()
        };
        Self {
            state: Mutex::new(state),
            settings,
            began: Instant::now(),
            epoch: AtomicU64::new(0),
            serving: AtomicBool::new(false),
            enabled,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
            log_reads: AtomicU64::new(0),
            changes: tokio::sync::broadcast::channel(CHANGE_BACKLOG).0,
            lag: std::sync::OnceLock::new(),
        }
    }

    /// PostgreSQL: `observe` is told, for every notification heard, how long it took from the
    /// write (the statement's time on the database's clock) to this instance (its clock): the
    /// time a revoked session could still be served from this instance's memory. Set once (the
    /// server's `/metrics`); later calls are ignored.
    pub fn on_notification_lag(&self, observe: impl Fn(std::time::Duration) + Send + Sync + 'static) {
        let _ = self.lag.set(Box::new(observe));
    }

    /// A notification written at `sent_ms` (milliseconds since the Unix epoch) was heard now.
    pub(crate) fn heard(&self, sent_ms: i64) {
        if let Some(observe) = self.lag.get() {
            let now_us = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as i64);
            // Clocks of two machines can disagree: a notification from the future took no time.
            let lag_us = (now_us - sent_ms * 1000).max(0);
            observe(std::time::Duration::from_micros(lag_us as u64));
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Seconds since the cache began.
    fn now(&self) -> u32 {
        u32::try_from(self.began.elapsed().as_secs()).unwrap_or(u32::MAX)
    }

    /// When what is kept `now` stops being served: after the time to live less up to a fifth of
    /// it, at random, so that what was kept together (everything, in a server's first minutes)
    /// is not all read again from the database in the same second.
    fn expiry(&self, state: &mut State, now: u32) -> u32 {
        let ttl = u32::try_from(self.settings.ttl.as_secs()).unwrap_or(u32::MAX);
        let spread = state.random() % (u64::from(ttl / 5) + 1);
        now.saturating_add(ttl - spread as u32)
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
        self.serving().then(|| Epoch(self.epoch.load(SeqCst)))
    }

    fn current(&self, since: Epoch) -> bool {
        self.serving() && self.epoch.load(SeqCst) == since.0
    }

    pub(crate) fn session(&self, token_hash: &str) -> Option<CachedSession> {
        let found = self.find(token_hash);
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, SeqCst);
        found
    }

    fn find(&self, token_hash: &str) -> Option<CachedSession> {
        let key = key(token_hash).filter(|_| self.serving())?;
        let now = self.now();
        let mut state = self.state();
        let at = state.sessions.position(&key)?;
        let kept = state.sessions.get(at)?;
        let user = state
            .owner(kept)
            .filter(|_| now < kept.expires_at)
            .and_then(|owner| packed::user(kept.user_id, owner.account()));
        let Some(user) = user else {
            state.remove_at(at);
            return None;
        };
        let found = CachedSession {
            session: kept.session(),
            user,
            fingerprint: kept.fingerprint.clone(),
        };
        state.ticks = state.ticks.wrapping_add(1);
        let tick = state.ticks;
        if let Some(kept) = state.sessions.get_mut(at) {
            kept.used_at = tick;
        }
        Some(found)
    }

    /// Whether a session may be cached under this hash (a cheap look before the store is asked
    /// to catch up with writes).
    pub(crate) fn holds(&self, token_hash: &str) -> bool {
        self.serving() && key(token_hash).is_some_and(|key| self.state().sessions.position(&key).is_some())
    }

    /// Keeps a live session read since `since`, unless something was forgotten meanwhile.
    pub(crate) fn keep_session(&self, token_hash: &str, since: Epoch, session: Session, user: User, fingerprint: Option<String>) {
        if self.settings.capacity == 0 {
            return;
        }
        let (Some(key), Ok(public_id), Some(packed_user), Some(times)) = (
            key(token_hash),
            session.public_id.as_str().as_bytes().try_into(),
            packed::pack_user(&user),
            Kept::times(&session),
        ) else {
            return;
        };
        let now = self.now();
        let mut state = self.state();
        // Under the lock a forget takes after moving the epoch: either the forget came first
        // and this read is refused, or the forget will find what it keeps.
        if !self.current(since) {
            return;
        }
        state.remove(&key);
        if state.sessions.len() as u64 >= self.settings.capacity.min(table::Sessions::MAX as u64) {
            state.make_room();
        }
        state.entries += 1;
        state.ticks = state.ticks.wrapping_add(1);
        let (fresh, tick) = (state.entries, state.ticks);
        let owner = state.owners.entry(user.id).or_insert_with(|| Owner {
            packed: Box::default(),
            platforms_at: None,
            platforms_expire_at: 0,
            sessions: 0,
            entry: fresh,
        });
        if owner.account() != &*packed_user {
            owner.repack(Some(&packed_user), None);
        }
        owner.sessions += 1;
        let owner = owner.entry;
        let kept = Kept {
            key,
            id: session.id,
            public_id,
            user_id: session.user_id,
            active_platform_id: session.active_platform_id.map_or(0, PlatformId::get),
            version: session.version,
            created_at: session.created_at,
            times,
            ip: state.share(session.ip.as_deref()),
            user_agent: state.share(session.user_agent.as_deref()),
            fingerprint: state.share(fingerprint.as_deref()),
            owner,
            expires_at: self.expiry(&mut state, now),
            used_at: tick,
        };
        state.sessions.insert(kept);
    }

    pub(crate) fn platforms(&self, user: UserId) -> Option<Vec<Platform>> {
        if !self.serving() {
            return None;
        }
        let now = self.now();
        let state = self.state();
        let owner = state.owners.get(&user).filter(|owner| now < owner.platforms_expire_at)?;
        packed::platforms(owner.platforms()?)
    }

    /// Keeps a user's platforms read since `since`, unless something was forgotten meanwhile.
    /// They are kept alongside the user's cached sessions, and only while there are any.
    pub(crate) fn keep_platforms(&self, user: UserId, since: Epoch, platforms: &[Platform]) {
        let Some(platforms) = packed::pack_platforms(platforms) else {
            return;
        };
        let now = self.now();
        let mut state = self.state();
        if !self.current(since) {
            return;
        }
        let expires_at = self.expiry(&mut state, now);
        if let Some(owner) = state.owners.get_mut(&user) {
            owner.repack(None, Some(&platforms));
            owner.platforms_expire_at = expires_at;
        }
    }

    /// Drops everything of `user`'s: their sessions and platforms.
    pub fn forget_user(&self, user: UserId) {
        if !self.enabled {
            return;
        }
        self.epoch.fetch_add(1, SeqCst);
        self.invalidations.fetch_add(1, SeqCst);
        // Their sessions are no longer served; each is freed when it is next looked up or
        // makes room.
        self.state().owners.remove(&user);
        let _ = self.changes.send(Changed::User(user));
    }

    /// Counts a read of SQLite's change log (see [`CacheStats::log_reads`]).
    pub(crate) fn count_log_read(&self) {
        self.log_reads.fetch_add(1, SeqCst);
    }

    /// Drops everything.
    pub fn forget_all(&self) {
        self.epoch.fetch_add(1, SeqCst);
        self.state().clear();
        let _ = self.changes.send(Changed::Anyone);
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            serving: self.serving(),
            sessions: self.state().sessions.len() as u64,
            hits: self.hits.load(SeqCst),
            misses: self.misses.load(SeqCst),
            invalidations: self.invalidations.load(SeqCst),
            log_reads: self.log_reads.load(SeqCst),
        }
    }
}

#[cfg(test)]
mod tests;
