//! The token records and last-use times authentication needs on every SCIM request, kept in
//! memory: two sled reads per request cost more than the lookup they guard, and every sled read
//! waits while the writer's transaction commits. The `tokens` view stays the truth: an entry is
//! a copy of it, dropped whenever a batch appends a token event (issue, revoke, expiry, scopes),
//! so a revocation applies to the very next request.
//!
//! A reader that missed copies what it read only if no token event was appended meanwhile (the
//! generation did not move), so a copy read before a revocation never outlives it.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use crate::domain::ids::TokenId;

use super::codec::TokenRecord;

/// At most this many tokens are kept (an appliance has a handful; misses are never kept, so
/// guessed ids cannot grow it).
const MAX_ENTRIES: usize = 4096;

/// See the module header.
#[derive(Debug, Default)]
pub struct TokenMemo {
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    generation: u64,
    records: HashMap<TokenId, TokenRecord>,
    /// The last use written to `token_usage`, per token.
    last_used: HashMap<TokenId, i64>,
}

impl TokenMemo {
    /// The kept copy of `id`'s record.
    pub fn get(&self, id: TokenId) -> Option<TokenRecord> {
        self.read().records.get(&id).cloned()
    }

    /// The generation to pass to [`TokenMemo::keep`] after reading the view.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Keep `rec`, read from the view at `generation`, unless a token event came since.
    pub fn keep(&self, id: TokenId, rec: &TokenRecord, generation: u64) {
        let mut inner = self.write();
        if inner.generation == generation && inner.records.len() < MAX_ENTRIES {
            inner.records.insert(id, rec.clone());
        }
    }

    /// Forget every kept record: the `tokens` view changed.
    pub fn invalidate(&self) {
        let mut inner = self.write();
        inner.generation += 1;
        inner.records.clear();
    }

    /// The last use written for `id`, if this process wrote or read one.
    pub fn last_used(&self, id: TokenId) -> Option<i64> {
        self.read().last_used.get(&id).copied()
    }

    /// Note the last use written for `id`.
    pub fn note_used(&self, id: TokenId, at_ms: i64) {
        let mut inner = self.write();
        if inner.last_used.len() < MAX_ENTRIES || inner.last_used.contains_key(&id) {
            inner.last_used.insert(id, at_ms);
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ClientName;
    use crate::domain::scope::DEFAULT_SCOPES;

    fn rec() -> TokenRecord {
        TokenRecord {
            name: ClientName::try_from("Entra ID").unwrap(),
            secret_sha256: [7; 32],
            created_ms: 1,
            revoked_ms: None,
            expires_ms: None,
            scopes: DEFAULT_SCOPES.to_vec(),
        }
    }

    #[test]
    fn a_copy_read_before_an_invalidation_is_not_kept() {
        let memo = TokenMemo::default();
        let id = TokenId::random();
        let seen = memo.generation();
        memo.invalidate();
        memo.keep(id, &rec(), seen);
        assert_eq!(memo.get(id), None);
        memo.keep(id, &rec(), memo.generation());
        assert_eq!(memo.get(id), Some(rec()));
        memo.invalidate();
        assert_eq!(memo.get(id), None);
    }
}
