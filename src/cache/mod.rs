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

use crate::clock::Timestamp;
use crate::ids::{PlatformId, PublicSessionId, SessionId, SessionVersion, UserId};
use crate::model::{Platform, Session, User};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

mod packed;
mod table;

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
}

/// A token hash as raw bytes (the database keeps it as 64 hex digits).
type Key = [u8; 32];

fn key(token_hash: &str) -> Option<Key> {
    crate::token::unhex32(token_hash)
}

/// Text kept once for every session that has the same (an address, a user agent, a
/// fingerprint), behind a thin pointer: 8 bytes in each session instead of 16.
#[derive(Debug, Clone)]
pub(crate) struct Shared(Arc<Box<str>>);

impl std::ops::Deref for Shared {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Shared {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::hash::Hash for Shared {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        str::hash(&self.0, state);
    }
}

impl PartialEq for Shared {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}

impl Eq for Shared {}

/// A kept session: the fields of [`Session`] at a fixed size (no platform as an impossible
/// value, times as offsets), the shared text shared. 160 bytes.
#[derive(Debug)]
struct Kept {
    key: Key,
    id: SessionId,
    public_id: [u8; PublicSessionId::LEN],
    user_id: UserId,
    /// 0: none (ids are positive).
    active_platform_id: i64,
    version: SessionVersion,
    created_at: Timestamp,
    /// The session's other times as offsets from `created_at` ([`Offset`]): last seen, the idle
    /// and absolute deadlines, reauthenticated and flagged ([`NOT_FLAGGED`]: not flagged).
    times: [Offset; 5],
    ip: Option<Shared>,
    user_agent: Option<Shared>,
    fingerprint: Option<Shared>,
    /// The account entry it was kept with: served only while that entry is its user's.
    owner: u64,
    /// When it stops being served, in seconds since the cache began ([`SessionCache::expiry`]).
    expires_at: u32,
    /// When it was last kept or served, in [`State::ticks`].
    used_at: u32,
}

/// Milliseconds after a session began, in five bytes: up to 34 years (a time outside that is
/// not kept: the session is read from the database instead).
type Offset = [u8; 5];

const NOT_FLAGGED: Offset = [0xff; 5];

fn offset(from: Timestamp, at: Timestamp) -> Option<Offset> {
    let millis = at.millis().checked_sub(from.millis())?;
    let offset: Offset = millis.to_le_bytes()[..5].try_into().ok()?;
    (0..1 << 40).contains(&millis).then_some(offset).filter(|&o| o != NOT_FLAGGED)
}

fn at(from: Timestamp, offset: Offset) -> Timestamp {
    let mut millis = [0; 8];
    millis[..5].copy_from_slice(&offset);
    Timestamp(from.millis() + i64::from_le_bytes(millis))
}

impl Kept {
    fn times(session: &Session) -> Option<[Offset; 5]> {
        let from = session.created_at;
        Some([
            offset(from, session.last_seen_at)?,
            offset(from, session.idle_expires_at)?,
            offset(from, session.absolute_expires_at)?,
            offset(from, session.reauthenticated_at)?,
            session.flagged_at.map_or(Some(NOT_FLAGGED), |at| offset(from, at))?,
        ])
    }

    fn session(&self) -> Session {
        let public_id = String::from_utf8_lossy(&self.public_id).into_owned();
        let [last_seen_at, idle_expires_at, absolute_expires_at, reauthenticated_at, flagged_at] =
            self.times.map(|offset| at(self.created_at, offset));
        Session {
            id: self.id,
            public_id: PublicSessionId::new_unchecked(public_id),
            user_id: self.user_id,
            active_platform_id: PlatformId::parse(self.active_platform_id).ok(),
            version: self.version,
            created_at: self.created_at,
            last_seen_at,
            idle_expires_at,
            absolute_expires_at,
            ip: self.ip.as_deref().map(str::to_owned),
            user_agent: self.user_agent.as_deref().map(str::to_owned),
            reauthenticated_at,
            flagged_at: Some(flagged_at).filter(|_| self.times[4] != NOT_FLAGGED),
        }
    }
}

/// A user's account and platforms, kept while any of their sessions is, packed into bytes
/// ([`packed`]): one allocation instead of one per text, a quarter of the memory.
#[derive(Debug)]
struct Owner {
    /// The account, then (if kept) the platforms.
    packed: Box<[u8]>,
    /// Where the platforms begin; `None` if they are not kept.
    platforms_at: Option<u16>,
    /// When the platforms stop being served.
    platforms_expire_at: u32,
    /// Sessions kept with this entry.
    sessions: u32,
    /// Which account entry this is (a number never used before): sessions kept with another
    /// are not served.
    entry: u64,
}

impl Owner {
    fn account(&self) -> &[u8] {
        &self.packed[..self.platforms_at.map_or(self.packed.len(), usize::from)]
    }

    fn platforms(&self) -> Option<&[u8]> {
        Some(&self.packed[usize::from(self.platforms_at?)..])
    }

    /// Replaces the account, or the platforms, or both (each as packed), keeping what is not
    /// given, in one new allocation.
    fn repack(&mut self, account: Option<&[u8]>, platforms: Option<&[u8]>) {
        let account = account.unwrap_or(self.account());
        let platforms = platforms.or(self.platforms());
        // A packed account fits in a `u16` (`packed::pack_user`).
        let at = platforms.map(|_| account.len() as u16);
        self.packed = [account, platforms.unwrap_or_default()].concat().into_boxed_slice();
        self.platforms_at = at;
    }
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
        if let Some(kept) = self.sessions.remove(key) {
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
        if let Some(kept) = victim.and_then(|at| self.sessions.remove_at(at)) {
            self.release(kept);
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
            changes: tokio::sync::broadcast::channel(CHANGE_BACKLOG).0,
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
            state.remove(&key);
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
        }
    }
}

#[cfg(test)]
mod tests;
