//! User passwords sent by identity providers (Okta sends one on create even without password sync).
//! scimd never stores them in clear: by default it drops them; with `password_storage = "hash"`
//! it keeps an argon2id hash (PHC string) in the `user_secrets` view. Never returned by the API.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

/// What to do with passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordStorage {
    /// Accept and drop (the default: scimd does not authenticate users).
    #[default]
    Discard,
    /// Keep an argon2id hash.
    Hash,
}

impl PasswordStorage {
    /// Parse the configuration value.
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "discard" => Some(Self::Discard),
            "hash" => Some(Self::Hash),
            _ => None,
        }
    }
}

/// Hash a password with argon2id and a random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches a stored hash.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_are_salted() {
        let a = hash("s3cret!").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert!(verify("s3cret!", &a));
        assert!(!verify("S3cret!", &a));
        assert_ne!(a, hash("s3cret!").unwrap());
        assert_eq!(PasswordStorage::parse("HASH"), Some(PasswordStorage::Hash));
        assert_eq!(PasswordStorage::parse("keep"), None);
    }
}
