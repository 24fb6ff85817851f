//! What the cache keeps: a session at a fixed size ([`Kept`]), text shared among sessions
//! ([`Shared`]), and each user's account and platforms packed into bytes once ([`Owner`]).

use super::Key;
use crate::clock::Timestamp;
use crate::ids::{PlatformId, PublicSessionId, SessionId, SessionVersion, UserId};
use crate::model::Session;
use std::sync::Arc;

/// Text kept once for every session that has the same (an address, a user agent, a
/// fingerprint), behind a thin pointer: 8 bytes in each session instead of 16.
#[derive(Debug, Clone)]
pub(crate) struct Shared(pub(super) Arc<Box<str>>);

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
pub(super) struct Kept {
    pub(super) key: Key,
    pub(super) id: SessionId,
    pub(super) public_id: [u8; PublicSessionId::LEN],
    pub(super) user_id: UserId,
    /// 0: none (ids are positive).
    pub(super) active_platform_id: i64,
    pub(super) version: SessionVersion,
    pub(super) created_at: Timestamp,
    /// The session's other times as offsets from `created_at` ([`Offset`]): last seen, the idle
    /// and absolute deadlines, reauthenticated and flagged ([`NOT_FLAGGED`]: not flagged).
    pub(super) times: [Offset; 5],
    pub(super) ip: Option<Shared>,
    pub(super) user_agent: Option<Shared>,
    pub(super) fingerprint: Option<Shared>,
    /// The account entry it was kept with: served only while that entry is its user's.
    pub(super) owner: u64,
    /// When it stops being served, in seconds since the cache began ([`SessionCache::expiry`]).
    pub(super) expires_at: u32,
    /// When it was last kept or served, in [`State::ticks`].
    pub(super) used_at: u32,
}

/// Milliseconds after a session began, in five bytes: up to 34 years (a time outside that is
/// not kept: the session is read from the database instead).
pub(super) type Offset = [u8; 5];

pub(super) const NOT_FLAGGED: Offset = [0xff; 5];

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
    pub(super) fn times(session: &Session) -> Option<[Offset; 5]> {
        let from = session.created_at;
        Some([
            offset(from, session.last_seen_at)?,
            offset(from, session.idle_expires_at)?,
            offset(from, session.absolute_expires_at)?,
            offset(from, session.reauthenticated_at)?,
            session.flagged_at.map_or(Some(NOT_FLAGGED), |at| offset(from, at))?,
        ])
    }

    pub(super) fn session(&self) -> Session {
        let public_id = String::from_utf8_lossy(&self.public_id).into_owned();
        let [last_seen_at, idle_expires_at, absolute_expires_at, reauthenticated_at, flagged_at] = self.times;
        let at = |offset| at(self.created_at, offset);
        Session {
            id: self.id,
            public_id: PublicSessionId::new_unchecked(public_id),
            user_id: self.user_id,
            active_platform_id: PlatformId::parse(self.active_platform_id).ok(),
            version: self.version,
            created_at: self.created_at,
            last_seen_at: at(last_seen_at),
            idle_expires_at: at(idle_expires_at),
            absolute_expires_at: at(absolute_expires_at),
            ip: self.ip.as_deref().map(str::to_owned),
            user_agent: self.user_agent.as_deref().map(str::to_owned),
            reauthenticated_at: at(reauthenticated_at),
            flagged_at: (flagged_at != NOT_FLAGGED).then(|| at(flagged_at)),
        }
    }
}

/// A user's account and platforms, kept while any of their sessions is, packed into bytes
/// ([`super::packed`]): one allocation instead of one per text, a quarter of the memory.
#[derive(Debug)]
pub(super) struct Owner {
    /// The account, then (if kept) the platforms.
    pub(super) packed: Box<[u8]>,
    /// Where the platforms begin; `None` if they are not kept.
    pub(super) platforms_at: Option<u16>,
    /// When the platforms stop being served.
    pub(super) platforms_expire_at: u32,
    /// Sessions kept with this entry.
    pub(super) sessions: u32,
    /// Which account entry this is (a number never used before): sessions kept with another
    /// are not served.
    pub(super) entry: u64,
}

impl Owner {
    pub(super) fn account(&self) -> &[u8] {
        &self.packed[..self.platforms_at.map_or(self.packed.len(), usize::from)]
    }

    pub(super) fn platforms(&self) -> Option<&[u8]> {
        Some(&self.packed[usize::from(self.platforms_at?)..])
    }

    /// Replaces the account, or the platforms, or both (each as packed), keeping what is not
    /// given, in one new allocation.
    pub(super) fn repack(&mut self, account: Option<&[u8]>, platforms: Option<&[u8]>) {
        let account = account.unwrap_or(self.account());
        let platforms = platforms.or(self.platforms());
        // A packed account fits in a `u16` (`packed::pack_user`).
        let at = platforms.map(|_| account.len() as u16);
        self.packed = [account, platforms.unwrap_or_default()].concat().into_boxed_slice();
        self.platforms_at = at;
    }
}
