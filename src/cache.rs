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
use indexmap::IndexMap;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

/// A kept session: the fields of [`Session`] at a fixed size (no platform or no flag as an
/// impossible value), the shared text shared.
#[derive(Debug)]
struct Kept {
    id: SessionId,
    public_id: [u8; PublicSessionId::LEN],
    user_id: UserId,
    /// 0: none (ids are positive).
    active_platform_id: i64,
    version: SessionVersion,
    created_at: Timestamp,
    last_seen_at: Timestamp,
    idle_expires_at: Timestamp,
    absolute_expires_at: Timestamp,
    reauthenticated_at: Timestamp,
    /// [`NOT_FLAGGED`]: not flagged.
    flagged_at: Timestamp,
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

const NOT_FLAGGED: Timestamp = Timestamp(i64::MIN);

impl Kept {
    fn session(&self) -> Session {
        let public_id = String::from_utf8_lossy(&self.public_id).into_owned();
        Session {
            id: self.id,
            public_id: PublicSessionId::new_unchecked(public_id),
            user_id: self.user_id,
            active_platform_id: PlatformId::parse(self.active_platform_id).ok(),
            version: self.version,
            created_at: self.created_at,
            last_seen_at: self.last_seen_at,
            idle_expires_at: self.idle_expires_at,
            absolute_expires_at: self.absolute_expires_at,
            ip: self.ip.as_deref().map(str::to_owned),
            user_agent: self.user_agent.as_deref().map(str::to_owned),
            reauthenticated_at: self.reauthenticated_at,
            flagged_at: Some(self.flagged_at).filter(|&at| at != NOT_FLAGGED),
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

    /// Keeps `account` and `platforms` (each as packed), in one allocation.
    fn set(&mut self, account: &[u8], platforms: Option<&[u8]>) {
        let Ok(at) = u16::try_from(account.len()) else {
            // No account packs this long; if one did, it would be kept without its platforms.
            self.packed = account.into();
            self.platforms_at = None;
            return;
        };
        let mut packed = Vec::with_capacity(account.len() + platforms.map_or(0, <[u8]>::len));
        packed.extend_from_slice(account);
        packed.extend_from_slice(platforms.unwrap_or_default());
        self.packed = packed.into_boxed_slice();
        self.platforms_at = platforms.map(|_| at);
    }
}

#[derive(Debug, Default)]
struct State {
    sessions: IndexMap<Key, Kept>,
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
        if let Some(kept) = self.sessions.swap_remove(key) {
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
            let (_, kept) = self.sessions.get_index(at).expect("in range");
            // Sessions of forgotten users first, then the least recently served.
            self.owner(kept)
                .map_or(0, |_| 1 + u64::from(u32::MAX - self.ticks.wrapping_sub(kept.used_at)))
        });
        if let Some((_, kept)) = victim.and_then(|at| self.sessions.swap_remove_index(at)) {
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
        let at = state.sessions.get_index_of(&key)?;
        let (_, kept) = state.sessions.get_index(at)?;
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
        if let Some((_, kept)) = state.sessions.get_index_mut(at) {
            kept.used_at = tick;
        }
        Some(found)
    }

    /// Whether a session may be cached under this hash (a cheap look before the store is asked
    /// to catch up with writes).
    pub(crate) fn holds(&self, token_hash: &str) -> bool {
        self.serving() && key(token_hash).is_some_and(|key| self.state().sessions.contains_key(&key))
    }

    /// Keeps a live session read since `since`, unless something was forgotten meanwhile.
    pub(crate) fn keep_session(&self, token_hash: &str, since: Epoch, session: Session, user: User, fingerprint: Option<String>) {
        let (Some(key), Ok(public_id), Some(packed_user)) = (
            key(token_hash),
            session.public_id.as_str().as_bytes().try_into(),
            packed::pack_user(&user),
        ) else {
            return;
        };
        if self.settings.capacity == 0 {
            return;
        }
        let now = self.now();
        let mut state = self.state();
        // Under the lock a forget takes after moving the epoch: either the forget came first
        // and this read is refused, or the forget will find what it keeps.
        if !self.current(since) {
            return;
        }
        state.remove(&key);
        if state.sessions.len() as u64 >= self.settings.capacity {
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
            let platforms = owner.platforms().map(<[u8]>::to_vec);
            owner.set(&packed_user, platforms.as_deref());
        }
        owner.sessions += 1;
        let owner = owner.entry;
        let kept = Kept {
            id: session.id,
            public_id,
            user_id: session.user_id,
            active_platform_id: session.active_platform_id.map_or(0, PlatformId::get),
            version: session.version,
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            idle_expires_at: session.idle_expires_at,
            absolute_expires_at: session.absolute_expires_at,
            reauthenticated_at: session.reauthenticated_at,
            flagged_at: session.flagged_at.unwrap_or(NOT_FLAGGED),
            ip: state.share(session.ip.as_deref()),
            user_agent: state.share(session.user_agent.as_deref()),
            fingerprint: state.share(fingerprint.as_deref()),
            owner,
            expires_at: self.expiry(&mut state, now),
            used_at: tick,
        };
        state.sessions.insert(key, kept);
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
            let account = owner.account().to_vec();
            owner.set(&account, Some(&platforms));
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

/// Accounts and platforms as bytes: each text as its length (two bytes) and its UTF-8, each
/// number as eight bytes. Only this process writes and reads them, so what is read was parsed
/// when it was written; bytes that do not read back (which cannot happen) are a miss, never an
/// error.
mod packed {
    use crate::clock::Timestamp;
    use crate::domain::{DisplayName, Email, Handle, InstanceUrl, PlatformKind, PlatformLabel};
    use crate::ids::{PlatformId, UserId};
    use crate::model::{Platform, User};

    #[derive(Default)]
    struct Packer(Vec<u8>);

    impl Packer {
        fn byte(&mut self, b: u8) {
            self.0.push(b);
        }

        fn int(&mut self, n: i64) {
            self.0.extend_from_slice(&n.to_le_bytes());
        }

        /// `None` if the text is too long to pack (no kept value is).
        fn text(&mut self, text: &str) -> Option<()> {
            self.0.extend_from_slice(&u16::try_from(text.len()).ok()?.to_le_bytes());
            self.0.extend_from_slice(text.as_bytes());
            Some(())
        }

        fn done(self) -> Box<[u8]> {
            self.0.into_boxed_slice()
        }
    }

    struct Unpacker<'a>(&'a [u8]);

    impl<'a> Unpacker<'a> {
        fn take(&mut self, n: usize) -> Option<&'a [u8]> {
            let (head, rest) = self.0.split_at_checked(n)?;
            self.0 = rest;
            Some(head)
        }

        fn byte(&mut self) -> Option<u8> {
            Some(self.take(1)?[0])
        }

        fn int(&mut self) -> Option<i64> {
            Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
        }

        fn text(&mut self) -> Option<&'a str> {
            let len = u16::from_le_bytes(self.take(2)?.try_into().ok()?);
            std::str::from_utf8(self.take(usize::from(len))?).ok()
        }
    }

    const ADMIN: u8 = 1;
    const DISABLED: u8 = 2;

    pub(super) fn pack_user(user: &User) -> Option<Box<[u8]>> {
        let mut p = Packer(Vec::with_capacity(5 + user.email.as_str().len() + user.display_name.as_str().len()));
        p.byte(if user.is_admin { ADMIN } else { 0 } | if user.disabled { DISABLED } else { 0 });
        p.text(user.email.as_str())?;
        p.text(user.display_name.as_str())?;
        Some(p.done())
    }

    pub(super) fn user(id: UserId, bytes: &[u8]) -> Option<User> {
        let mut u = Unpacker(bytes);
        let flags = u.byte()?;
        Some(User {
            id,
            email: Email::parsed_before(u.text()?),
            display_name: DisplayName::parsed_before(u.text()?),
            is_admin: flags & ADMIN != 0,
            disabled: flags & DISABLED != 0,
        })
    }

    const KINDS: [PlatformKind; 3] = [PlatformKind::Mastodon, PlatformKind::Pixelfed, PlatformKind::Other];

    pub(super) fn pack_platforms(platforms: &[Platform]) -> Option<Box<[u8]>> {
        let size: usize = platforms
            .iter()
            .map(|p| 23 + p.label.as_str().len() + p.instance_url.as_str().len() + p.handle.as_str().len())
            .sum();
        let mut p = Packer(Vec::with_capacity(size));
        for platform in platforms {
            p.int(platform.id.get());
            p.int(platform.created_at.millis());
            p.byte(KINDS.iter().position(|&k| k == platform.kind)? as u8);
            p.text(platform.label.as_str())?;
            p.text(platform.instance_url.as_str())?;
            p.text(platform.handle.as_str())?;
        }
        Some(p.done())
    }

    pub(super) fn platforms(bytes: &[u8]) -> Option<Vec<Platform>> {
        let mut u = Unpacker(bytes);
        let mut platforms = Vec::new();
        while !u.0.is_empty() {
            platforms.push(Platform {
                id: PlatformId::parse(u.int()?).ok()?,
                created_at: Timestamp(u.int()?),
                kind: *KINDS.get(usize::from(u.byte()?))?,
                label: PlatformLabel::parsed_before(u.text()?),
                instance_url: InstanceUrl::parsed_before(u.text()?),
                handle: Handle::parsed_before(u.text()?),
            });
        }
        Some(platforms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{DisplayName, Email};

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
}
