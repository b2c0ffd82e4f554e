//! argon2id password hashing, always on the blocking pool.
//!
//! Each hash or verification costs ~19 MiB and tens of milliseconds of CPU;
//! doing that on an async worker would stall every stream on that thread, so
//! every call goes through `spawn_blocking`.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHasher as _};
use thiserror::Error;

use super::Password;

#[derive(Debug, Error)]
pub enum PasswordError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("the password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// Hashes and verifies passwords with argon2id at OWASP's first-row
/// parameters (m=19456 KiB, t=2, p=1, which are the `argon2` crate's defaults).
#[derive(Clone)]
pub struct PasswordHasher {
    /// A hash of a random password, verified against when the user does not
    /// exist, so that "unknown user" costs the same time as "wrong password".
    dummy_hash: Arc<str>,
}

impl PasswordHasher {
    /// Makes the dummy hash; call once at startup.
    pub async fn new() -> Result<Self, PasswordError> {
        let random = Password::for_login(&super::new_session_id());
        let dummy_hash = Self::hash_blocking_pool(random).await?;
        Ok(Self { dummy_hash: dummy_hash.into() })
    }

    /// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) to store.
    pub async fn hash(&self, password: Password) -> Result<String, PasswordError> {
        Self::hash_blocking_pool(password).await
    }

    async fn hash_blocking_pool(password: Password) -> Result<String, PasswordError> {
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            Argon2::default()
                .hash_password(password.expose().as_bytes(), &salt)
                .map(|hash| hash.to_string())
                .map_err(PasswordError::Hash)
        })
        .await?
    }

    /// Whether `password` matches `stored`; with no stored hash (unknown user)
    /// it verifies against the dummy hash and answers `false`, in the same time.
    pub async fn verify(&self, password: Password, stored: Option<String>) -> Result<bool, PasswordError> {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| self.dummy_hash.to_string());
        let matches = tokio::task::spawn_blocking(move || {
            // An unparsable stored hash is treated as a mismatch: it can only
            // come from a damaged row, and must never let anyone in.
            PasswordHash::new(&phc)
                .map(|hash| Argon2::default().verify_password(password.expose().as_bytes(), &hash).is_ok())
                .unwrap_or(false)
        })
        .await?;
        Ok(known && matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let hasher = PasswordHasher::new().await.unwrap();
        let hash = hasher.hash(Password::parse("correct horse").unwrap()).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        let ok = hasher.verify(Password::for_login("correct horse"), Some(hash.clone())).await.unwrap();
        assert!(ok);
        let prefix = hasher.verify(Password::for_login("correct hors"), Some(hash)).await.unwrap();
        assert!(!prefix, "a prefix of the password must not verify");
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let hasher = PasswordHasher::new().await.unwrap();
        let ok = hasher.verify(Password::for_login("anything"), None).await.unwrap();
        assert!(!ok);
    }
}
