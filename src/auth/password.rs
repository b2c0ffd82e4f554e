//! argon2id password hashing, always on the blocking pool.
//!
//! Each hash or verification costs ~19 MiB and tens of milliseconds of CPU;
//! doing that on an async worker would stall every stream on that thread, so
//! every call goes through `spawn_blocking`, and a semaphore of about one
//! permit per core keeps a login storm from running hundreds at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, PasswordHasher as _};
use thiserror::Error;
use tokio::sync::Semaphore;

use super::Password;

#[derive(Debug, Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
    #[error("password hashing has stopped")]
    Closed(#[from] tokio::sync::AcquireError),
}

/// The outcome of checking a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Wrong,
    /// Right; `rehash` when the stored hash is weaker than today's parameters.
    Right {
        rehash: bool,
    },
}

/// Hashes and verifies passwords with argon2id at OWASP's first-row
/// parameters (m=19456 KiB, t=2, p=1, which are the `argon2` crate's defaults).
#[derive(Clone)]
pub struct PasswordHasher {
    /// A hash of a random password, verified against when the user does not
    /// exist, so that "unknown user" costs the same time as "wrong password".
    dummy_hash: Arc<str>,
    /// Bounds the hashes running at once (each holds ~19 MiB).
    permits: Arc<Semaphore>,
    /// Hashes running now, and the most ever seen at once.
    running: Arc<(AtomicUsize, AtomicUsize)>,
}

/// Counts one running hash for as long as it lives.
struct Running<'a>(&'a (AtomicUsize, AtomicUsize));

impl<'a> Running<'a> {
    fn start(counts: &'a (AtomicUsize, AtomicUsize)) -> Self {
        let now = counts.0.fetch_add(1, Ordering::SeqCst) + 1;
        counts.1.fetch_max(now, Ordering::SeqCst);
        Running(counts)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl PasswordHasher {
    /// Makes the dummy hash; call once at startup. `concurrency` 0 means
    /// one permit per core but one (at least one): a burst of logins then
    /// never takes every core from message delivery (the login-storm
    /// benchmark on 2 cores: +10.0 ms delivery p99 with 2 permits, +8.8 ms
    /// with 1).
    pub async fn new(concurrency: usize) -> Result<Self, PasswordError> {
        let concurrency = match concurrency {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
            n => n,
        };
        let permits = Arc::new(Semaphore::new(concurrency));
        let mut hasher = Self { dummy_hash: Arc::from(""), permits, running: Arc::default() };
        let random = Password::for_login(&super::new_session_id());
        hasher.dummy_hash = hasher.hash(random).await?.into();
        Ok(hasher)
    }

    /// The most hashes or verifications that have run at the same time.
    pub fn peak_concurrency(&self) -> usize {
        self.running.1.load(Ordering::SeqCst)
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) to store.
    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        let _permit = self.permits.acquire().await?;
        let running = self.running.clone();
        tokio::task::spawn_blocking(move || {
            let _running = Running::start(&running);
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(PasswordError::Hash)
        })
        .await?
    }

    /// Checks `password` against `stored`; with no stored hash (unknown user)
    /// it verifies against the dummy hash and answers `Wrong`, in the same time.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<Verdict, PasswordError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let _permit = self.permits.acquire().await?;
        let running = self.running.clone();
        let verdict = tokio::task::spawn_blocking(move || {
            let _running = Running::start(&running);
            // An unparsable stored hash is a mismatch: it can only come from
            // a damaged row, and must never let anyone in.
            let Ok(hash) = PasswordHash::new(&phc) else {
                return Verdict::Wrong;
            };
            // `verify_password` reads the parameters from the PHC string, so
            // older, weaker hashes still verify (and are then upgraded).
            match Argon2::default().verify_password(password.expose().as_bytes(), &hash) {
                Ok(()) => Verdict::Right { rehash: is_weaker_than_default(&hash) },
                Err(_) => Verdict::Wrong,
            }
        })
        .await?;
        Ok(if known { verdict } else { Verdict::Wrong })
    }
}

/// Whether a stored hash uses another algorithm or weaker parameters than
/// the ones new hashes get.
fn is_weaker_than_default(hash: &PasswordHash<'_>) -> bool {
    let default = Params::default();
    let Ok(params) = Params::try_from(hash) else {
        return true;
    };
    hash.algorithm != Algorithm::Argon2id.ident()
        || params.m_cost() < default.m_cost()
        || params.t_cost() < default.t_cost()
        || params.p_cost() < default.p_cost()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::new(0).await.unwrap();
        let hash = hasher.hash(Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        let ok = hasher.verify(Password::for_login("correct horse"), Some(hash.clone())).await.unwrap();
        assert_eq!(ok, Verdict::Right { rehash: false });
        let prefix = hasher.verify(Password::for_login("correct hors"), Some(hash)).await.unwrap();
        assert_eq!(prefix, Verdict::Wrong, "a prefix of the password must not verify");
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = PasswordHasher::new(1).await.unwrap();
        let verdict = hasher.verify(Password::for_login("anything"), None).await.unwrap();
        assert_eq!(verdict, Verdict::Wrong);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_hashes_run_at_once_than_there_are_permits() {
        let hasher = PasswordHasher::new(2).await.unwrap();
        let hashes = (0..8).map(|_| hasher.hash(Password::for_login("correct horse")));
        rocket::futures::future::join_all(hashes).await;
        assert_eq!(hasher.peak_concurrency(), 2);
    }

    #[tokio::test]
    async fn a_weaker_stored_hash_verifies_and_asks_for_a_rehash() {
        let hasher = PasswordHasher::new(1).await.unwrap();
        let weak = Argon2::new(Algorithm::Argon2id, argon2::Version::V0x13, Params::new(4096, 1, 1, None).unwrap())
            .hash_password(b"correct horse", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        let verdict = hasher.verify(Password::for_login("correct horse"), Some(weak)).await.unwrap();
        assert_eq!(verdict, Verdict::Right { rehash: true });
    }
}
