//! Console accounts: argon2id password hashes in the `admins` tree, checked in constant work
//! whether or not the account exists (so timing does not reveal account names), and the first
//! account created with a random password on first start.

use rand::Rng;

use crate::store::codec::AdminRecord;
use crate::store::Store;

use super::error::Result;
use super::passwords;

/// Name of the account created on first start.
pub const INITIAL_ADMIN: &str = "admin";
/// Shortest password `admin set-password` accepts.
pub const MIN_PASSWORD_CHARS: usize = 12;

/// Why a password cannot be set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    /// Names are 1–64 characters of letters, digits, `.`, `_`, `-`, `@`.
    #[error("admin names are 1-64 letters, digits, '.', '_', '-' or '@'")]
    BadName,
    /// Too short.
    #[error("the password must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    /// Hashing failed.
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-_@".contains(c))
}

/// Set (or create) the account `name` with `password`.
pub fn set_password(
    store: &Store,
    name: &str,
    password: &str,
    now_ms: i64,
) -> Result<Result<(), AdminError>> {
    if !valid_name(name) {
        return Ok(Err(AdminError::BadName));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Ok(Err(AdminError::TooShort));
    }
    let hash = match passwords::hash(password) {
        Ok(h) => h,
        Err(e) => return Ok(Err(AdminError::Hash(e))),
    };
    let created_ms = store.admin(name)?.map_or(now_ms, |r| r.created_ms);
    store.put_admin(
        name,
        &AdminRecord {
            hash,
            created_ms,
            updated_ms: now_ms,
        },
    )?;
    Ok(Ok(()))
}

/// A real argon2id hash of a string nobody uses, so a missing account still runs argon2.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$NQPZ2idlNPckWyeD8AgyFA$DZ7MtIZXm/kzjrmrvbVCkcX89CCPi9l6R3e4mtERXGk";

/// Whether `name`/`password` are a valid sign-in. Unknown names cost the same work as known ones.
pub fn verify(store: &Store, name: &str, password: &str) -> Result<bool> {
    let rec = if valid_name(name) {
        store.admin(name)?
    } else {
        None
    };
    let ok = passwords::verify(password, rec.as_ref().map_or(DECOY, |r| r.hash.as_str()));
    Ok(ok && rec.is_some())
}

/// The account's password stamp: it changes with every password set (each hash has a fresh salt),
/// so a session that remembers it at sign-in notices a change made anywhere. `None`: no account.
pub fn stamp(store: &Store, name: &str) -> Result<Option<u64>> {
    use sha2::Digest;
    Ok(store.admin(name)?.map(|r| {
        let d = sha2::Sha256::digest(r.hash.as_bytes());
        u64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
    }))
}

/// On first start (no account at all), create [`INITIAL_ADMIN`] with a random password and
/// return the password, to be shown once.
pub fn ensure_initial(store: &Store, now_ms: i64) -> Result<Option<String>> {
    if store.has_admins()? {
        return Ok(None);
    }
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    let password: String = (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    match set_password(store, INITIAL_ADMIN, &password, now_ms)? {
        Ok(()) => Ok(Some(password)),
        Err(e) => {
            tracing::error!(error = %e, "cannot create the initial admin account");
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_are_created_once_and_verified() {
        let store = Store::temporary().unwrap();
        let pw = ensure_initial(&store, 1).unwrap().unwrap();
        assert_eq!(pw.len(), 20);
        assert!(ensure_initial(&store, 2).unwrap().is_none());
        assert!(verify(&store, "admin", &pw).unwrap());
        assert!(!verify(&store, "admin", "wrong password!").unwrap());
        assert!(!verify(&store, "nobody", &pw).unwrap());
        // The decoy is a real argon2id hash, so unknown names cost the same work.
        assert!(argon2::password_hash::PasswordHash::new(DECOY).is_ok());
        assert_eq!(
            set_password(&store, "ops", "short", 3).unwrap(),
            Err(AdminError::TooShort)
        );
        assert_eq!(
            set_password(&store, "a b", "long enough pass", 3).unwrap(),
            Err(AdminError::BadName)
        );
        set_password(&store, "admin", "a new long password", 4)
            .unwrap()
            .unwrap();
        assert!(verify(&store, "admin", "a new long password").unwrap());
        assert!(!verify(&store, "admin", &pw).unwrap());
        assert_eq!(store.admin("admin").unwrap().unwrap().created_ms, 1);
        let before = stamp(&store, "admin").unwrap().unwrap();
        set_password(&store, "admin", "a new long password", 4)
            .unwrap()
            .unwrap();
        assert_ne!(
            stamp(&store, "admin").unwrap(),
            Some(before),
            "same password, new salt"
        );
        assert_eq!(stamp(&store, "nobody").unwrap(), None);
    }
}
