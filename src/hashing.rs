//! Password hashing (argon2id), bounded. Each hash takes tens of milliseconds of one core and
//! 19 MiB of memory, so a flood of logins could take every core and grow memory without limit.
//! Here at most [`HashLimits::concurrency`] hashes run at once and at most
//! [`HashLimits::queue`] more wait; any further request is refused at once with
//! [`Error::Busy`], which costs nothing.

use crate::domain::Password;
use crate::error::{Error, Result};
use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::{Arc, OnceLock};
use tokio::sync::Semaphore;

/// How much password hashing may happen at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashLimits {
    /// Hashes running at once (default: the machine's cores).
    pub concurrency: usize,
    /// Hashes waiting for a turn; beyond this, `Busy`.
    pub queue: usize,
}

impl Default for HashLimits {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            concurrency: cores,
            queue: 4 * cores,
        }
    }
}

/// The bounded hasher. Cheap to clone; clones share the limits.
#[derive(Clone)]
pub struct Hasher {
    running: Arc<Semaphore>,
    admitted: Arc<Semaphore>,
}

impl Hasher {
    pub fn new(limits: HashLimits) -> Self {
        Self {
            running: Arc::new(Semaphore::new(limits.concurrency.max(1))),
            admitted: Arc::new(Semaphore::new(limits.concurrency.max(1) + limits.queue)),
        }
    }

    /// Runs `work` on the blocking pool when a hasher is free; `Busy` at once when the queue is
    /// full. The permits travel with the work, so a caller that gives up (the client went away)
    /// still counts until its hash is done.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let admitted = Arc::clone(&self.admitted).try_acquire_owned().map_err(|_| Error::Busy)?;
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| Error::Internal("the hasher is closed".into()))?;
        tokio::task::spawn_blocking(move || {
            let _permits = (admitted, running);
            work()
        })
        .await
        .map_err(|e| Error::Internal(e.to_string()))?
    }

    /// A new hash of `password`, for storing.
    pub async fn hash(&self, password: Password) -> Result<String> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| Error::Internal(format!("password hashing failed: {e}")))
        })
        .await
    }

    /// Whether `password` matches the stored `hash`. With no hash (an unknown account) a decoy
    /// is checked instead, so the answer takes the same time either way, and is `false`.
    pub async fn verify(&self, password: Password, hash: Option<String>) -> Result<bool> {
        self.run(move || {
            let known = hash.is_some() && password.is_plausible();
            let hash = hash.unwrap_or_else(|| decoy_hash().to_owned());
            let parsed = PasswordHash::new(&hash).map_err(|e| Error::Internal(format!("stored hash unreadable: {e}")))?;
            let ok = Argon2::default().verify_password(password.expose().as_bytes(), &parsed).is_ok();
            Ok(known && ok)
        })
        .await
    }
}

/// A hash to verify against when the email is unknown, so both failures take the same time.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(b"decoy password, never valid", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_queue_the_answer_is_busy_at_once() {
        let hasher = Hasher::new(HashLimits { concurrency: 1, queue: 1 });
        // Hold both places: one running, one waiting.
        let gate = Arc::new(std::sync::Barrier::new(2));
        let held = {
            let gate = Arc::clone(&gate);
            let h = hasher.clone();
            tokio::spawn(async move { h.run(move || Ok(gate.wait())).await })
        };
        let queued = {
            let h = hasher.clone();
            tokio::spawn(async move { h.run(|| Ok(())).await })
        };
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let started = std::time::Instant::now();
        let refused = hasher.run(|| Ok(())).await;
        assert!(matches!(refused, Err(Error::Busy)), "{refused:?}");
        assert!(started.elapsed() < std::time::Duration::from_millis(20), "refused at once");
        gate.wait();
        held.await.unwrap().unwrap();
        queued.await.unwrap().unwrap();
        assert!(hasher.run(|| Ok(())).await.is_ok(), "free again");
    }
}
