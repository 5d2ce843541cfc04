//! Storage of the change feed's own state (not views; a rebuild leaves it alone): the signing key
//! of signed SETs, kept in `meta` so that it survives restarts and receivers' cached JWKS stay valid.

use super::{Result, Store};

/// `meta` key of the feed's ES256 signing key (PKCS#8).
const META_SIGNING_KEY: &[u8] = b"feed_signing_key";

impl Store {
    /// The feed's signing key; made by `make` and stored (durably) the first time it is asked for.
    pub fn feed_signing_key(
        &self,
        make: impl FnOnce() -> std::result::Result<Vec<u8>, String>,
    ) -> Result<Vec<u8>> {
        if let Some(v) = self.trees.meta.get(META_SIGNING_KEY)? {
            return Ok(v.to_vec());
        }
        let key = make().map_err(super::StoreError::Io)?;
        // Two first callers at once: the first key stored wins, both use it.
        let stored = self.trees.meta.compare_and_swap(
            META_SIGNING_KEY,
            None::<&[u8]>,
            Some(key.as_slice()),
        )?;
        self.flush()?;
        Ok(match stored {
            Ok(()) => key,
            Err(e) => e.current.map_or(key, |c| c.to_vec()),
        })
    }
}
