//! Device cookies (OWASP's "device cookie" pattern against lock-out): a successful sign-in sets a
//! signed cookie naming a random device id and an expiry, bound to the account by the signature.
//! A later sign-in to that account presenting it is throttled under the device id alone (see
//! [`super::throttle`]), so a flood of wrong guesses from strangers, which locks the account for
//! every other browser, does not lock out the admin's own.
//!
//! The value is `<device id>.<expiry ms>.<HMAC-SHA256(key, "v1|id|expiry|account")>` in hex; the
//! key is kept in `<data_dir>/console-device.key` (owner-only), so cookies survive restarts.

use std::path::Path;

use rand::RngCore;
use ring::hmac;

/// Name of the cookie; sent only to the sign-in endpoint.
pub const COOKIE: &str = "scimd_device";
/// Path the cookie is scoped to.
pub const COOKIE_PATH: &str = "/admin/api/login";
/// How long a device cookie lasts.
pub const LIFETIME_MS: i64 = 30 * 24 * 3600 * 1000;
/// The key file's name in the data directory.
pub const KEY_FILE: &str = "console-device.key";

/// The signing key.
#[derive(Debug)]
pub struct DeviceKey(hmac::Key);

impl Default for DeviceKey {
    /// A random key (cookies die with the process).
    fn default() -> Self {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        Self::from_secret(&secret)
    }
}

impl DeviceKey {
    /// A key from its secret bytes.
    pub fn from_secret(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The key in `dir`, created (0600) on first use.
    pub fn load_or_create(dir: &Path) -> std::io::Result<Self> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = dir.join(KEY_FILE);
        match std::fs::read(&path) {
            Ok(secret) if secret.len() >= 32 => return Ok(Self::from_secret(&secret)),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)?;
        f.write_all(&secret)?;
        f.sync_all()?;
        Ok(Self::from_secret(&secret))
    }

    fn tag(&self, id: &str, expires_ms: i64, account: &str) -> hmac::Tag {
        let msg = format!("v1|{id}|{expires_ms}|{}", account.to_ascii_lowercase());
        hmac::sign(&self.0, msg.as_bytes())
    }

    /// A new cookie value for `account`.
    pub fn issue(&self, account: &str, now_ms: i64) -> String {
        let mut raw = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let id = hex::encode(raw);
        let expires = now_ms.saturating_add(LIFETIME_MS);
        let tag = self.tag(&id, expires, account);
        format!("{id}.{expires}.{}", hex::encode(tag.as_ref()))
    }

    /// The device id of a valid, unexpired cookie for `account`.
    pub fn check(&self, value: &str, account: &str, now_ms: i64) -> Option<String> {
        let mut parts = value.splitn(3, '.');
        let (id, expires, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if id.len() != 32 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let expires: i64 = expires.parse().ok()?;
        if expires <= now_ms {
            return None;
        }
        let mac = hex::decode(mac).ok()?;
        let msg = format!("v1|{id}|{expires}|{}", account.to_ascii_lowercase());
        hmac::verify(&self.0, msg.as_bytes(), &mac).ok()?;
        Some(id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_bound_to_their_account_key_and_expiry() {
        let k = DeviceKey::default();
        let c = k.issue("admin", 1_000);
        let id = k.check(&c, "admin", 2_000).unwrap();
        assert_eq!(id.len(), 32);
        assert_eq!(k.check(&c, "ADMIN", 2_000).as_deref(), Some(id.as_str()));
        assert!(k.check(&c, "ops", 2_000).is_none());
        assert!(k.check(&c, "admin", 1_000 + LIFETIME_MS).is_none());
        assert!(DeviceKey::default().check(&c, "admin", 2_000).is_none());
        let mut forged = c.clone();
        forged.replace_range(0..1, if c.starts_with('0') { "1" } else { "0" });
        assert!(k.check(&forged, "admin", 2_000).is_none());
        for junk in ["", "a.b.c", "..", &format!("{}.x.y", "0".repeat(32))] {
            assert!(k.check(junk, "admin", 2_000).is_none(), "{junk}");
        }
    }

    #[test]
    fn the_key_file_is_owner_only_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = DeviceKey::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let c = a.issue("admin", 0);
        let b = DeviceKey::load_or_create(dir.path()).unwrap();
        assert!(b.check(&c, "admin", 1).is_some());
    }
}
