//! Storage of the change feed's own state (not views; a rebuild leaves it alone): the signing key
//! of signed SETs, kept in `meta` so that it survives restarts and receivers' cached JWKS stay valid,
//! and the webhook subscriptions with their delivery state (`webhooks`). Backups carry both.

use super::codec::{self, WebhookRecord};
use super::{Result, Store};

/// `meta` key of the feed's ES256 signing key (PKCS#8).
pub(super) const META_SIGNING_KEY: &[u8] = b"feed_signing_key";

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

impl Store {
    /// Every webhook subscription, by id.
    pub fn webhooks(&self) -> Result<Vec<([u8; 16], WebhookRecord)>> {
        let mut out = Vec::new();
        for kv in self.trees.webhooks.iter() {
            let (k, v) = kv?;
            if let Ok(id) = <[u8; 16]>::try_from(k.as_ref()) {
                out.push((id, codec::decode("webhook record", &v)?));
            }
        }
        Ok(out)
    }

    /// The webhook subscription `id`.
    pub fn webhook(&self, id: [u8; 16]) -> Result<Option<WebhookRecord>> {
        self.trees
            .webhooks
            .get(id)?
            .map(|v| codec::decode("webhook record", &v))
            .transpose()
    }

    /// Store a subscription's record. Delivery progress is not flushed on its own: a cursor lost
    /// in a crash only means a SET is delivered again (at least once); the writer's next group
    /// commit or sled's timer makes it durable. Admin changes call [`Store::flush`] themselves.
    pub fn put_webhook(&self, id: [u8; 16], rec: &WebhookRecord) -> Result<()> {
        self.trees
            .webhooks
            .insert(id, codec::encode("webhook record", rec)?)?;
        Ok(())
    }

    /// Remove a subscription; whether it existed.
    pub fn remove_webhook(&self, id: [u8; 16]) -> Result<bool> {
        Ok(self.trees.webhooks.remove(id)?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::codec::WebhookState;

    fn hook() -> WebhookRecord {
        WebhookRecord {
            url: "https://app.example.com/hook".into(),
            secret: "s".repeat(20),
            events: vec!["prov:delete".into()],
            resource_types: vec!["User".into()],
            full: false,
            created_ms: 1,
            state: WebhookState::Paused,
            cursor: 7,
            last_delivered_ms: Some(2),
            last_error: Some("HTTP 500".into()),
            failing_since_ms: None,
            attempts: 0,
            delivered: 3,
            failures: 1,
        }
    }

    /// The signing key is made once and kept; subscriptions and the key travel in a backup.
    #[test]
    fn the_key_and_the_subscriptions_survive_a_backup_and_restore() {
        let store = Store::temporary().unwrap();
        let key = store.feed_signing_key(|| Ok(vec![1, 2, 3])).unwrap();
        assert_eq!(key, [1, 2, 3]);
        let again = store
            .feed_signing_key(|| Err("must not be made twice".into()))
            .unwrap();
        assert_eq!(again, key);
        store.put_webhook([9; 16], &hook()).unwrap();
        assert_eq!(store.webhook([9; 16]).unwrap(), Some(hook()));
        let mut file = Vec::new();
        let summary = crate::store::backup::write(&store, &mut file).unwrap();
        assert_eq!((summary.version, summary.webhooks), (2, 1));
        let dir = tempfile::tempdir().unwrap();
        let (_, restored) = crate::store::backup::restore(file.as_slice(), dir.path()).unwrap();
        assert_eq!(restored.webhooks().unwrap(), vec![([9; 16], hook())]);
        let kept = restored
            .feed_signing_key(|| Err("the restored key is used".into()))
            .unwrap();
        assert_eq!(kept, key);
        assert!(restored.remove_webhook([9; 16]).unwrap());
        assert!(!restored.remove_webhook([9; 16]).unwrap());
    }
}
