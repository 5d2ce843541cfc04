//! Projections: how one event changes the views. Dumb by design: the event carries the facts, this
//! code writes them by key, and it never rejects (rules live in `domain::decide`).
//!
//! This is the one projection: it runs live inside the append transaction, during `rebuild-views`
//! and `verify`, and over in-memory trees ([`super::memory`]) when a history replays one resource's
//! records or a test projects its given events, so all of them produce the same rows.

use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use sled::IVec;

use crate::domain::event::{Event, GroupSnapshot, UserSnapshot};
use crate::domain::ids::{GroupId, UserId};

use super::codec::{self, GroupRecord, TokenRecord, UserRecord};
use super::keys;
use super::StoreError;

/// Transaction error type used throughout the write path.
pub type TxError = ConflictableTransactionError<StoreError>;

/// The point operations a projection needs from a tree: those of sled's transactional tree, which
/// the in-memory trees of [`super::memory`] provide too.
pub trait Kv {
    /// The value at `key`.
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError>;
    /// Set `key` to `value`, returning the previous value.
    fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<IVec>, TxError>;
    /// Remove `key`, returning the previous value.
    fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError>;
    /// Set `key` to `value` without reading what it held. Most writes of a projection do not
    /// look at the previous value, and reading it is a tree walk (and, for a key not in the
    /// cache, a page read) per write: `insert` and `remove` are for the few that do.
    fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxError>;
    /// Remove `key` without reading what it held (see [`Kv::put`]).
    fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), TxError>;
}

impl Kv for TransactionalTree {
    fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        Ok(TransactionalTree::get(self, key.as_ref())?)
    }
    fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> Result<Option<IVec>, TxError> {
        Ok(TransactionalTree::insert(
            self,
            key.as_ref(),
            value.as_ref(),
        )?)
    }
    fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
        Ok(TransactionalTree::remove(self, key.as_ref())?)
    }
    fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxError> {
        TransactionalTree::set(self, key.as_ref(), value.as_ref());
        Ok(())
    }
    fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), TxError> {
        TransactionalTree::unset(self, key.as_ref());
        Ok(())
    }
}

/// The view trees one projection writes: those of a transaction, or in-memory ones.
pub struct TxViews<'a, T: Kv = TransactionalTree> {
    /// users
    pub users: &'a T,
    /// groups
    pub groups: &'a T,
    /// members
    pub members: &'a T,
    /// member_of
    pub member_of: &'a T,
    /// idx_user_name
    pub idx_user_name: &'a T,
    /// idx_user_external
    pub idx_user_external: &'a T,
    /// idx_group_name
    pub idx_group_name: &'a T,
    /// tokens
    pub tokens: &'a T,
    /// user_secrets
    pub user_secrets: &'a T,
    /// log_by_resource
    pub log_by_resource: &'a T,
    /// stats_hourly
    pub stats_hourly: &'a T,
    /// client_last
    pub client_last: &'a T,
    /// counts
    pub counts: &'a T,
}

impl<'a, T: Kv> TxViews<'a, T> {
    /// The view trees of a transaction over [`super::Trees::views`] (in `VIEW_TREES` order).
    pub fn from_slice(tx: &'a [T]) -> Option<Self> {
        <&[T; 13]>::try_from(tx).ok().map(Self::from_array)
    }

    /// The view trees, in `VIEW_TREES` order.
    pub fn from_array(trees: &'a [T; 13]) -> Self {
        let [users, groups, members, member_of, idx_user_name, idx_user_external, idx_group_name, tokens, user_secrets, log_by_resource, stats_hourly, client_last, counts] =
            trees;
        Self {
            users,
            groups,
            members,
            member_of,
            idx_user_name,
            idx_user_external,
            idx_group_name,
            tokens,
            user_secrets,
            log_by_resource,
            stats_hourly,
            client_last,
            counts,
        }
    }
}

fn abort(e: StoreError) -> TxError {
    ConflictableTransactionError::Abort(e)
}

/// Decode inside a transaction (a failure aborts it).
pub fn tx_decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, TxError> {
    codec::decode(what, bytes).map_err(abort)
}

/// [`codec::decode_token`] inside a transaction.
pub fn tx_decode_token(bytes: &[u8]) -> Result<TokenRecord, TxError> {
    codec::decode_token(bytes).map_err(abort)
}

fn tx_encode<T: serde::Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>, TxError> {
    codec::encode(what, value).map_err(abort)
}

impl<T: Kv> TxViews<'_, T> {
    /// The user record `id`, if any.
    pub fn user_record(&self, id: UserId) -> Result<Option<UserRecord>, TxError> {
        self.users
            .get(id.as_bytes())?
            .map(|v| tx_decode("user record", &v))
            .transpose()
    }

    /// The group record `id`, if any.
    pub fn group_record(&self, id: GroupId) -> Result<Option<GroupRecord>, TxError> {
        self.groups
            .get(id.as_bytes())?
            .map(|v| tx_decode("group record", &v))
            .transpose()
    }

    /// Add `delta` to the kept count `what` (`COUNT_USERS` or `COUNT_GROUPS`).
    fn count(&self, what: &[u8], delta: i64) -> Result<(), TxError> {
        let now = self
            .counts
            .get(what)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map_or(0, u64::from_be_bytes);
        let next = now.saturating_add_signed(delta);
        self.counts.put(what, &next.to_be_bytes()[..])?;
        Ok(())
    }

    fn put_user(&self, id: UserId, rec: &UserRecord) -> Result<(), TxError> {
        self.users
            .put(id.as_bytes(), tx_encode("user record", rec)?)?;
        Ok(())
    }

    fn put_group(&self, id: GroupId, rec: &GroupRecord) -> Result<(), TxError> {
        self.groups
            .put(id.as_bytes(), tx_encode("group record", rec)?)?;
        Ok(())
    }

    /// Write `user` (created, or changed from `old`) and keep the indexes in step with its names.
    fn write_user(
        &self,
        user: &UserSnapshot,
        old: Option<UserRecord>,
        seq: u64,
        time_ms: i64,
    ) -> Result<(), TxError> {
        if old.is_none() {
            self.count(keys::COUNT_USERS, 1)?;
        }
        // Most updates keep the names, and rewriting an unchanged index entry is not free: at a
        // large directory it dirties (and first pages in) a random leaf of each index per write.
        let (old_name, old_ext) = old
            .as_ref()
            .map_or((None, None), |o| names_of(&o.doc, "userName"));
        let name = keys::name(user.user_name.as_str());
        let old_name = old_name.map(|n| keys::name(&n));
        if old_name.as_ref() != Some(&name) {
            if let Some(old_name) = old_name {
                self.idx_user_name.delete(old_name)?;
            }
            self.idx_user_name.put(name, &user.id.as_bytes()[..])?;
        }
        if old_ext != user.external_id {
            if let Some(ext) = old_ext {
                self.idx_user_external
                    .delete(keys::external(&ext, user.id))?;
            }
            if let Some(ext) = &user.external_id {
                self.idx_user_external
                    .put(keys::external(ext, user.id), &[][..])?;
            }
        }
        self.put_user(
            user.id,
            &UserRecord {
                doc: user.doc.clone(),
                created_ms: old.as_ref().map_or(time_ms, |o| o.created_ms),
                last_modified_ms: time_ms,
                version: seq,
            },
        )
    }

    /// Write `group` (created, or changed from `old`) and keep the name index in step.
    fn write_group(
        &self,
        group: &GroupSnapshot,
        old: Option<GroupRecord>,
        seq: u64,
        time_ms: i64,
    ) -> Result<(), TxError> {
        if old.is_none() {
            self.count(keys::COUNT_GROUPS, 1)?;
        }
        // As for users: an unchanged name keeps its index entry untouched.
        let old_name = old
            .as_ref()
            .and_then(|o| names_of(&o.doc, "displayName").0)
            .map(|n| keys::name(&n));
        let name = keys::name(group.display_name.as_str());
        if old_name.as_ref() != Some(&name) {
            if let Some(old_name) = old_name {
                self.idx_group_name.delete(old_name)?;
            }
            self.idx_group_name.put(name, &group.id.as_bytes()[..])?;
        }
        self.put_group(
            group.id,
            &GroupRecord {
                doc: group.doc.clone(),
                created_ms: old.as_ref().map_or(time_ms, |o| o.created_ms),
                last_modified_ms: time_ms,
                version: seq,
                member_count: old.as_ref().map_or(0, |o| o.member_count),
            },
        )
    }

    /// Bump a group's version and adjust its member count after a membership change.
    fn touch_group(
        &self,
        id: GroupId,
        added: u64,
        removed: u64,
        seq: u64,
        time_ms: i64,
    ) -> Result<(), TxError> {
        if let Some(mut rec) = self.group_record(id)? {
            rec.member_count = rec
                .member_count
                .saturating_add(added)
                .saturating_sub(removed);
            rec.version = seq;
            rec.last_modified_ms = time_ms;
            self.put_group(id, &rec)?;
        }
        Ok(())
    }

    /// Apply one event. Never rejects: a fact that no longer fits (a member of a vanished group) is
    /// written as far as it applies.
    pub fn apply(&self, event: &Event, seq: u64, time_ms: i64) -> Result<(), TxError> {
        match event {
            // A created resource's id is new (made before its command was decided), so there is
            // no row to read first.
            Event::UserCreated(user) => self.write_user(user, None, seq, time_ms),
            Event::UserUpdated { user, .. }
            | Event::UserDeactivated { user, .. }
            | Event::UserReactivated { user, .. } => {
                let old = self.user_record(user.id)?;
                self.write_user(user, old, seq, time_ms)
            }
            Event::UserDeleted {
                id,
                user_name,
                external_id,
                groups,
            } => {
                if self.users.remove(id.as_bytes())?.is_some() {
                    self.count(keys::COUNT_USERS, -1)?;
                }
                self.user_secrets.delete(id.as_bytes())?;
                self.idx_user_name.delete(keys::name(user_name.as_str()))?;
                if let Some(ext) = external_id {
                    self.idx_user_external.delete(keys::external(ext, *id))?;
                }
                for g in groups {
                    let was = self.members.remove(&keys::membership(*g, *id)[..])?;
                    self.member_of.delete(&keys::member_of(*id, *g)[..])?;
                    if was.is_some() {
                        self.touch_group(*g, 0, 1, seq, time_ms)?;
                    }
                }
                Ok(())
            }
            Event::GroupCreated(group) => self.write_group(group, None, seq, time_ms),
            Event::GroupUpdated { group, .. } | Event::GroupRenamed { group, .. } => {
                let old = self.group_record(group.id)?;
                self.write_group(group, old, seq, time_ms)
            }
            Event::MembersAdded { group, users, .. } => {
                let mut n = 0;
                for u in users {
                    let prev = self
                        .members
                        .insert(&keys::membership(*group, *u)[..], &[][..])?;
                    self.member_of
                        .put(&keys::member_of(*u, *group)[..], &[][..])?;
                    if prev.is_none() {
                        n += 1;
                    }
                }
                self.touch_group(*group, n, 0, seq, time_ms)
            }
            Event::MembersAddedAsSent { group, members, .. } => {
                let mut n = 0;
                for m in members {
                    let prev = self.members.insert(
                        keys::membership(*group, m.id),
                        keys::member_entry(m.display.as_deref()),
                    )?;
                    self.member_of.put(keys::member_of(m.id, *group), [])?;
                    if prev.is_none() {
                        n += 1;
                    }
                }
                self.touch_group(*group, n, 0, seq, time_ms)
            }
            Event::MembersRemoved { group, users, .. } => {
                let mut n = 0;
                for u in users {
                    let prev = self.members.remove(&keys::membership(*group, *u)[..])?;
                    self.member_of.delete(&keys::member_of(*u, *group)[..])?;
                    if prev.is_some() {
                        n += 1;
                    }
                }
                self.touch_group(*group, 0, n, seq, time_ms)
            }
            Event::GroupDeleted {
                id,
                display_name,
                members,
                ..
            } => {
                if self.groups.remove(id.as_bytes())?.is_some() {
                    self.count(keys::COUNT_GROUPS, -1)?;
                }
                self.idx_group_name
                    .delete(keys::name(display_name.as_str()))?;
                for u in members {
                    self.members.delete(&keys::membership(*id, *u)[..])?;
                    self.member_of.delete(&keys::member_of(*u, *id)[..])?;
                }
                Ok(())
            }
            Event::TokenIssued {
                id,
                name,
                secret_sha256,
            } => {
                let rec = TokenRecord {
                    name: name.clone(),
                    secret_sha256: *secret_sha256,
                    created_ms: time_ms,
                    revoked_ms: None,
                    expires_ms: None,
                    scopes: crate::domain::scope::DEFAULT_SCOPES.to_vec(),
                };
                self.tokens
                    .put(id.as_bytes(), codec::encode_token(&rec).map_err(abort)?)?;
                Ok(())
            }
            Event::UserPasswordSet { id, hash } => {
                if let Some(mut rec) = self.user_record(*id)? {
                    self.user_secrets.put(id.as_bytes(), hash.as_bytes())?;
                    rec.version = seq;
                    rec.last_modified_ms = time_ms;
                    self.put_user(*id, &rec)?;
                }
                Ok(())
            }
            Event::TokenExpirySet { id, expires_ms } => {
                if let Some(v) = self.tokens.get(id.as_bytes())? {
                    let mut rec: TokenRecord = codec::decode_token(&v).map_err(abort)?;
                    rec.expires_ms = Some(*expires_ms);
                    self.tokens
                        .put(id.as_bytes(), codec::encode_token(&rec).map_err(abort)?)?;
                }
                Ok(())
            }
            Event::TokenScopesSet { id, scopes } => {
                if let Some(v) = self.tokens.get(id.as_bytes())? {
                    let mut rec: TokenRecord = codec::decode_token(&v).map_err(abort)?;
                    rec.scopes.clone_from(scopes);
                    self.tokens
                        .put(id.as_bytes(), codec::encode_token(&rec).map_err(abort)?)?;
                }
                Ok(())
            }
            Event::TokenRevoked { id, .. } => {
                if let Some(v) = self.tokens.get(id.as_bytes())? {
                    let mut rec: TokenRecord = codec::decode_token(&v).map_err(abort)?;
                    rec.revoked_ms = Some(time_ms);
                    self.tokens
                        .put(id.as_bytes(), codec::encode_token(&rec).map_err(abort)?)?;
                }
                Ok(())
            }
        }
    }
}

impl<T: Kv> TxViews<'_, T> {
    /// Everything a log record changes in the views: the event's projection (if accepted), the
    /// per-resource history index, the hourly counts and the client's last write. Live appends and
    /// rebuilds both come through here, so both produce the same bytes.
    pub fn record(&self, rec: &super::codec::LogRecord) -> Result<(), TxError> {
        use super::codec::Entry;
        let success = matches!(rec.entry, Entry::Event(_));
        if let Entry::Event(e) = &rec.entry {
            self.apply(e, rec.seq, rec.time_ms)?;
        }
        for id in super::codec::resources_of(&rec.entry) {
            self.log_by_resource
                .put(&keys::resource_seq(&id, rec.seq)[..], &[][..])?;
        }
        let key = keys::hour_client(rec.time_ms, &rec.actor.client);
        let mut counts = self
            .stats_hourly
            .get(&key)?
            .and_then(|v| <[u8; 16]>::try_from(v.as_ref()).ok())
            .unwrap_or([0; 16]);
        let slot = if success { 0..8 } else { 8..16 };
        let n = counts
            .get(slot.clone())
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_be_bytes);
        counts[slot].copy_from_slice(&(n + 1).to_be_bytes());
        self.stats_hourly.put(key, &counts[..])?;
        self.client_last
            .put(rec.actor.client.as_bytes(), &rec.time_ms.to_be_bytes()[..])?;
        Ok(())
    }
}

/// The name attribute (`userName` or `displayName`) and externalId of a stored document (JSON
/// text).
fn names_of(doc: &str, name_attr: &str) -> (Option<String>, Option<String>) {
    let n = codec::DocNames::of(doc);
    let name = if name_attr == "userName" {
        n.user_name
    } else {
        n.display_name
    };
    (name, n.external_id)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// The same writes through `Kv` — a mix of reading and blind ones, removals of keys that are
    /// not there included — in the order a projection makes them.
    pub(in crate::store) fn script<T: Kv>(t: &T) -> Result<Vec<Option<IVec>>, TxError> {
        let mut seen = vec![t.insert("a", "1")?];
        t.put("b", "2")?;
        t.put("a", "3")?;
        t.delete("missing")?;
        t.delete("b")?;
        t.put("c", "4")?;
        seen.push(t.remove("c")?);
        t.put("c", "5")?;
        seen.extend([t.get("a")?, t.get("b")?, t.get("c")?, t.get("missing")?]);
        Ok(seen)
    }

    /// What [`script`] reads.
    pub(in crate::store) fn expected() -> Vec<Option<IVec>> {
        let v = |s: &str| Some(IVec::from(s));
        vec![None, v("4"), v("3"), None, v("5"), None]
    }

    #[test]
    fn blind_writes_in_a_transaction_read_back_and_commit_like_reading_ones() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        let seen = tree
            .transaction(script)
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        assert_eq!(seen, expected());
        assert_committed(&tree);
    }

    /// What a sled tree holds after [`script`] was committed to it.
    pub(in crate::store) fn assert_committed(tree: &sled::Tree) {
        let committed: Vec<(IVec, IVec)> = tree.iter().map(Result::unwrap).collect();
        assert_eq!(
            committed,
            vec![
                (IVec::from("a"), IVec::from("3")),
                (IVec::from("c"), IVec::from("5"))
            ]
        );
    }

    /// An in-memory tree that counts the writes made to it.
    #[derive(Default)]
    struct Counted(super::super::memory::MemTree, std::cell::Cell<usize>);

    impl Kv for Counted {
        fn get(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
            self.0.get(key)
        }
        fn insert(
            &self,
            key: impl AsRef<[u8]>,
            value: impl AsRef<[u8]>,
        ) -> Result<Option<IVec>, TxError> {
            self.1.set(self.1.get() + 1);
            self.0.insert(key, value)
        }
        fn remove(&self, key: impl AsRef<[u8]>) -> Result<Option<IVec>, TxError> {
            self.1.set(self.1.get() + 1);
            self.0.remove(key)
        }
        fn put(&self, key: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Result<(), TxError> {
            self.1.set(self.1.get() + 1);
            self.0.put(key, value)
        }
        fn delete(&self, key: impl AsRef<[u8]>) -> Result<(), TxError> {
            self.1.set(self.1.get() + 1);
            self.0.delete(key)
        }
    }

    fn user(id: UserId, name: &str, ext: Option<&str>) -> UserSnapshot {
        let mut doc = serde_json::json!({ "userName": name });
        if let Some(ext) = ext {
            doc["externalId"] = ext.into();
        }
        UserSnapshot {
            id,
            user_name: crate::domain::ids::UserName::try_from(name).unwrap(),
            external_id: ext.map(str::to_owned),
            doc: doc.to_string(),
        }
    }

    fn group(id: GroupId, name: &str) -> GroupSnapshot {
        GroupSnapshot {
            id,
            display_name: crate::domain::ids::GroupName::try_from(name).unwrap(),
            external_id: None,
            doc: serde_json::json!({ "displayName": name }).to_string(),
        }
    }

    #[test]
    fn updates_that_keep_the_names_leave_the_name_indexes_untouched() {
        let trees: [Counted; 13] = Default::default();
        let v = TxViews::from_array(&trees);
        let writes = |t: &Counted| t.1.get();
        let (u, g) = (UserId::random(), GroupId::random());
        let updated = |user| Event::UserUpdated {
            user,
            changes: Vec::new(),
        };
        v.apply(&Event::UserCreated(user(u, "Ann", Some("e1"))), 1, 0)
            .unwrap();
        v.apply(&Event::GroupCreated(group(g, "Staff")), 2, 0)
            .unwrap();
        let before = [v.idx_user_name, v.idx_user_external, v.idx_group_name].map(writes);

        // Same names (the userName in another case is the same index key): no index write.
        v.apply(&updated(user(u, "ANN", Some("e1"))), 3, 0).unwrap();
        let renamed = |group| Event::GroupRenamed {
            group,
            changes: Vec::new(),
        };
        v.apply(&renamed(group(g, "STAFF")), 4, 0).unwrap();
        let after = [v.idx_user_name, v.idx_user_external, v.idx_group_name].map(writes);
        assert_eq!(before, after);

        // Changed names move their entries.
        v.apply(&updated(user(u, "Bob", None)), 5, 0).unwrap();
        v.apply(&renamed(group(g, "Crew")), 6, 0).unwrap();
        assert_eq!(v.idx_user_name.0.keys(), vec![b"bob".to_vec()]);
        assert!(v.idx_user_external.0.keys().is_empty());
        assert_eq!(v.idx_group_name.0.keys(), vec![b"crew".to_vec()]);
        v.apply(&updated(user(u, "Bob", Some("e2"))), 7, 0).unwrap();
        assert_eq!(v.idx_user_external.0.keys(), vec![keys::external("e2", u)]);
        assert_eq!(v.users.0.keys(), vec![u.as_bytes().to_vec()]);
    }

    #[test]
    fn blind_writes_in_memory_trees_match_the_transaction() {
        let t = super::super::memory::MemTree::default();
        assert_eq!(script(&t).unwrap(), expected());
        assert_eq!(t.keys(), vec![b"a".to_vec(), b"c".to_vec()]);
    }
}
