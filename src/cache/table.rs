//! The kept sessions by token hash: a dense list (so that a few can be picked at random to make
//! room) and a hash table of positions in it. This is what `IndexMap` does, less what a key that
//! is itself a hash does not need: no hash is stored beside each entry (it is made from the key's
//! own bytes when wanted) and positions are `u32`s instead of `usize`s.

use super::{Kept, Key};
use hashbrown::HashTable;

#[derive(Debug, Default)]
pub(super) struct Sessions {
    kept: Vec<Kept>,
    positions: HashTable<u32>,
}

/// The table's hash of a key. A key is a SHA-256, so any eight of its bytes would do; two words
/// are mixed so that keys that are not (tests' made-up ones) spread as well.
fn hash(key: &Key) -> u64 {
    let word = |at: usize| u64::from_le_bytes(key[at..at + 8].try_into().expect("eight bytes"));
    (word(0) ^ word(8).rotate_left(32)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

impl Sessions {
    /// The most sessions held: positions are `u32`s.
    pub const MAX: usize = u32::MAX as usize;

    pub fn len(&self) -> usize {
        self.kept.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    pub fn position(&self, key: &Key) -> Option<usize> {
        let kept = &self.kept;
        let found = self.positions.find(hash(key), |&at| kept[at as usize].key == *key)?;
        Some(*found as usize)
    }

    pub fn get(&self, at: usize) -> Option<&Kept> {
        self.kept.get(at)
    }

    pub fn get_mut(&mut self, at: usize) -> Option<&mut Kept> {
        self.kept.get_mut(at)
    }

    #[cfg(test)]
    pub fn values(&self) -> impl Iterator<Item = &Kept> {
        self.kept.iter()
    }

    /// Adds a session whose key is not held (the caller removed it first), unless [`Self::MAX`]
    /// are held.
    pub fn insert(&mut self, kept: Kept) {
        if self.kept.len() >= Self::MAX {
            return;
        }
        let at = self.kept.len() as u32;
        let hashed = hash(&kept.key);
        self.kept.push(kept);
        let kept = &self.kept;
        self.positions.insert_unique(hashed, at, |&other| hash(&kept[other as usize].key));
    }

    pub fn remove_at(&mut self, at: usize) -> Option<Kept> {
        let hashed = hash(&self.kept.get(at)?.key);
        self.positions.find_entry(hashed, |&other| other as usize == at).ok()?.remove();
        Some(self.take(at))
    }

    /// Takes the session at `at` (already out of the table) out of the list; the last one moves
    /// into its place, and its position in the table with it.
    fn take(&mut self, at: usize) -> Kept {
        let last = self.kept.len() - 1;
        if at != last {
            let moved = hash(&self.kept[last].key);
            if let Some(position) = self.positions.find_mut(moved, |&other| other as usize == last) {
                *position = at as u32;
            }
        }
        self.kept.swap_remove(at)
    }
}
