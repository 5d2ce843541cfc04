//! In-memory view trees: the same [`TxViews`] the append transaction projects into, kept in
//! `BTreeMap`s. A history replays one resource's records into a fresh set (so "state as of N" comes
//! from the one projection), and the given/when/then tests of `decide` project their given events
//! into one and decide against it.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sled::IVec;

use crate::domain::decide::{GroupState, TokenState, UserState, Views};
use crate::domain::ids::{GroupId, TokenId, UserId};

use super::codec::{self, LogRecord, TokenRecord};
use super::project::{Kv, TxError, TxViews};
use super::{keys, StoreError};

/// One in-memory tree.
#[derive(Debug, Default)]
pub struct MemTree(RefCell<BTreeMap<Vec<u8>, IVec>>);

impl Kv for MemTree {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        Ok(self.0.borrow().get(key.as_ref()).cloned())
    }
    fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<IVec>, TxError> {
        Ok(self
            .0
            .borrow_mut()
            .insert(key.as_ref().to_vec(), IVec::from(value.as_ref())))
    }
    fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        Ok(self.0.borrow_mut().remove(key.as_ref()))
    }
    fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.insert(key, value).map(drop)
    }
    fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), TxError> {
        self.remove(key).map(drop)
    }
}

impl MemTree {
    /// The second ids of every key starting with `prefix` (memberships), in key order.
    fn second_ids(&self, prefix: &[u8; 16]) -> Vec<[u8; 16]> {
        self.0
            .borrow()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter_map(|(k, _)| keys::second_id(k))
            .collect()
    }

    /// Every key, in order (for comparisons in tests).
    pub fn keys(&self) -> Vec<Vec<u8>> {
        self.0.borrow().keys().cloned().collect()
    }
}

/// A full set of in-memory view trees, in `VIEW_TREES` order.
#[derive(Debug, Default)]
pub struct MemViews {
    trees: [MemTree; 13],
}

fn failed(e: TxError) -> StoreError {
    match e {
        sled::transaction::ConflictableTransactionError::Abort(e) => e,
        other => StoreError::Io(format!("in-memory projection: {other:?}")),
    }
}

impl MemViews {
    /// The projection's handle on these trees.
    pub fn views(&self) -> TxViews<'_, MemTree> {
        TxViews::from_array(&self.trees)
    }

    /// Project one log record, exactly as the append transaction does.
    pub fn record(&self, rec: &LogRecord) -> super::Result<()> {
        self.views().record(rec).map_err(failed)
    }

    /// The user row `id`.
    pub fn user(&self, id: UserId) -> super::Result<Option<UserState>> {
        self.views()
            .user_record(id)
            .map_err(failed)?
            .map(super::append::user_state)
            .transpose()
    }

    /// The group row `id`.
    pub fn group(&self, id: GroupId) -> super::Result<Option<GroupState>> {
        self.views()
            .group_record(id)
            .map_err(failed)?
            .map(super::append::group_state)
            .transpose()
    }

    /// The groups of `user`, in id order.
    pub fn groups_of(&self, user: UserId) -> Vec<GroupId> {
        self.views()
            .member_of
            .second_ids(user.as_bytes())
            .into_iter()
            .map(GroupId::from_bytes)
            .collect()
    }

    /// The members of `group`, in id order.
    pub fn members_of(&self, group: GroupId) -> Vec<UserId> {
        self.views()
            .members
            .second_ids(group.as_bytes())
            .into_iter()
            .map(UserId::from_bytes)
            .collect()
    }

    /// Every key of every tree, by tree (for comparisons in tests).
    pub fn dump(&self) -> Vec<Vec<Vec<u8>>> {
        self.trees.iter().map(MemTree::keys).collect()
    }
}

impl Views for MemViews {
    type Error = StoreError;

    fn user(&self, id: UserId) -> Result<Option<UserState>, StoreError> {
        MemViews::user(self, id)
    }

    fn user_exists(&self, id: UserId) -> Result<bool, StoreError> {
        Ok(self
            .views()
            .users
            .get(id.as_bytes())
            .map_err(failed)?
            .is_some())
    }

    fn user_by_name(&self, key: &str) -> Result<Option<UserId>, StoreError> {
        Ok(self
            .views()
            .idx_user_name
            .get(key.as_bytes())
            .map_err(failed)?
            .and_then(|v| UserId::from_slice(&v)))
    }

    fn group(&self, id: GroupId) -> Result<Option<GroupState>, StoreError> {
        MemViews::group(self, id)
    }

    fn group_by_name(&self, key: &str) -> Result<Option<GroupId>, StoreError> {
        Ok(self
            .views()
            .idx_group_name
            .get(key.as_bytes())
            .map_err(failed)?
            .and_then(|v| GroupId::from_slice(&v)))
    }

    fn member(&self, group: GroupId, user: UserId) -> Result<Option<Option<String>>, StoreError> {
        Ok(self
            .views()
            .members
            .get(keys::membership(group, user))
            .map_err(failed)?
            .map(|v| keys::member_display(&v)))
    }

    fn groups_of(&self, user: UserId) -> Result<Vec<GroupId>, StoreError> {
        Ok(MemViews::groups_of(self, user))
    }

    fn members_of(&self, group: GroupId) -> Result<Vec<UserId>, StoreError> {
        Ok(MemViews::members_of(self, group))
    }

    fn token(&self, id: TokenId) -> Result<Option<TokenState>, StoreError> {
        match self.views().tokens.get(id.as_bytes()).map_err(failed)? {
            None => Ok(None),
            Some(v) => {
                let rec: TokenRecord = codec::decode_token(&v)?;
                Ok(Some(TokenState {
                    name: rec.name,
                    revoked: rec.revoked_ms.is_some(),
                }))
            }
        }
    }
}
