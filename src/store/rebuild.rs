//! Rebuilding the views from the log alone, and verifying that the live views equal such a rebuild.
//! `scimd verify` rebuilds into a temporary database and compares tree by tree, byte by byte;
//! `scimd rebuild-views` clears the views and replays the log into them.
//!
//! A replay runs the one projection over write-back buffers ([`Buffered`]) instead of sled
//! transactions: nothing else writes to the trees meanwhile, so the transaction's conflict
//! tracking is pure cost. Each chunk of records goes to each tree in sled batches of at most
//! [`WRITE_BACK_BATCH`] writes; memory is bounded by the chunk, whatever the length of the log.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sled::IVec;

use super::codec::{Entry, LogRecord};
use super::project::{Kv, TxError, TxViews};
use super::{read, Result, Store, StoreError, Trees, VIEW_TREES};

/// Records replayed per chunk: big enough to be fast, small enough to bound memory.
const REPLAY_CHUNK: usize = 512;

/// A view tree written through a buffer: reads see the buffered writes first, then the tree;
/// [`Buffered::write_back`] applies them as one batch.
struct Buffered<'t> {
    tree: &'t sled::Tree,
    pending: RefCell<BTreeMap<Vec<u8>, Option<IVec>>>,
}

fn sled_failed(e: sled::Error) -> TxError {
    sled::transaction::ConflictableTransactionError::Abort(StoreError::Sled(e))
}

impl Kv for Buffered<'_> {
    fn get(&self, key: impl AsRef<[u8]>) -> std::result::Result<Option<IVec>, TxError> {
        if let Some(v) = self.pending.borrow().get(key.as_ref()) {
            return Ok(v.clone());
        }
        self.tree.get(key.as_ref()).map_err(sled_failed)
    }
    fn insert(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> std::result::Result<Option<IVec>, TxError> {
        let prev = self.get(key.as_ref())?;
        self.pending
            .borrow_mut()
            .insert(key.as_ref().to_vec(), Some(IVec::from(value.as_ref())));
        Ok(prev)
    }
    fn remove(&self, key: impl AsRef<[u8]>) -> std::result::Result<Option<IVec>, TxError> {
        let prev = self.get(key.as_ref())?;
        if prev.is_some() {
            self.pending
                .borrow_mut()
                .insert(key.as_ref().to_vec(), None);
        }
        Ok(prev)
    }
    fn put(
        &self,
        key: impl AsRef<[u8]>,
        value: impl AsRef<[u8]>,
    ) -> std::result::Result<(), TxError> {
        self.pending
            .borrow_mut()
            .insert(key.as_ref().to_vec(), Some(IVec::from(value.as_ref())));
        Ok(())
    }
    fn delete(&self, key: impl AsRef<[u8]>) -> std::result::Result<(), TxError> {
        // Removing a key that is not there is a no-op for sled, so no read is needed to skip it.
        self.pending
            .borrow_mut()
            .insert(key.as_ref().to_vec(), None);
        Ok(())
    }
}

/// Writes per sled batch of a write-back. sled keeps the garbage of one batch until the batch
/// ends and then falls behind on it: batches of 2,048 small writes grew a replay's memory by 3 KB
/// per write (1.3 GiB for a 200,000-user log), batches of 1,024 and less stayed flat.
const WRITE_BACK_BATCH: usize = 512;

impl Buffered<'_> {
    fn write_back(&self) -> Result<()> {
        let mut batch = sled::Batch::default();
        let mut n = 0;
        for (k, v) in std::mem::take(&mut *self.pending.borrow_mut()) {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
            n += 1;
            if n == WRITE_BACK_BATCH {
                self.tree.apply_batch(std::mem::take(&mut batch))?;
                n = 0;
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(())
    }
}

/// `meta` flag set while views are being rebuilt in place; a server refuses to start on it.
pub const META_REBUILDING: &[u8] = b"rebuilding";

/// One view tree that differs from its rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The tree.
    pub tree: &'static str,
    /// Keys present only in the live view (hex, first few).
    pub only_live: Vec<String>,
    /// Keys present only in the rebuild (hex, first few).
    pub only_rebuilt: Vec<String>,
    /// Keys whose values differ (hex, first few).
    pub changed: Vec<String>,
    /// Total number of differing keys.
    pub count: u64,
}

/// Replay every record of `src`'s log into `dst`'s views (which should be empty).
/// Returns the number of accepted events.
pub fn replay(src: &Trees, dst: &Store) -> Result<u64> {
    let mut chunk = Vec::with_capacity(REPLAY_CHUNK);
    let mut n = 0u64;
    for rec in read::log_from(src, 0) {
        let rec = rec?;
        if matches!(rec.entry, Entry::Event(_)) {
            n += 1;
        }
        chunk.push(rec);
        if chunk.len() == REPLAY_CHUNK {
            apply_chunk(dst, &chunk)?;
            chunk.clear();
        }
    }
    apply_chunk(dst, &chunk)?;
    Ok(n)
}

fn apply_chunk(dst: &Store, chunk: &[LogRecord]) -> Result<()> {
    if chunk.is_empty() {
        return Ok(());
    }
    let buffers = dst.trees.views().map(|tree| Buffered {
        tree,
        pending: RefCell::default(),
    });
    let views = TxViews::from_array(&buffers);
    for rec in chunk {
        views.record(rec).map_err(|e| match e {
            sled::transaction::ConflictableTransactionError::Abort(e) => e,
            other => StoreError::Io(format!("replay: {other:?}")),
        })?;
    }
    for b in &buffers {
        b.write_back()?;
    }
    // sled keeps what is not yet written out in memory, beyond its cache: without a flush per
    // chunk a replay's memory grows with the log.
    dst.db.flush()?;
    Ok(())
}

/// Compare the live views of `store` with a rebuild from its log. Empty = identical.
pub fn verify(store: &Store) -> Result<Vec<Difference>> {
    compare_with_rebuild(store, &Store::temporary()?)
}

/// [`verify`] with the rebuild in a scratch database on disk at `scratch_dir` (replaced if it
/// exists, removed afterwards) with `cache_mb` MiB of cache, so memory stays bounded whatever the
/// size of the directory. `scimd verify` and `scimd restore` use `<data_dir>/verify-scratch`.
pub fn verify_in(
    store: &Store,
    scratch_dir: &std::path::Path,
    cache_mb: usize,
) -> Result<Vec<Difference>> {
    let io = |e: std::io::Error| StoreError::Io(format!("{}: {e}", scratch_dir.display()));
    if scratch_dir.exists() {
        std::fs::remove_dir_all(scratch_dir).map_err(io)?;
    }
    let scratch = Store::open_with_cache(scratch_dir, cache_mb)?;
    let out = compare_with_rebuild(store, &scratch);
    drop(scratch);
    std::fs::remove_dir_all(scratch_dir).map_err(io)?;
    out
}

fn compare_with_rebuild(store: &Store, scratch: &Store) -> Result<Vec<Difference>> {
    replay(&store.trees, scratch)?;
    let mut out = Vec::new();
    for ((name, live), rebuilt) in VIEW_TREES
        .iter()
        .zip(store.trees.views())
        .zip(scratch.trees.views())
    {
        if let Some(d) = compare(name, live, rebuilt)? {
            out.push(d);
        }
    }
    Ok(out)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn compare(
    name: &'static str,
    live: &sled::Tree,
    rebuilt: &sled::Tree,
) -> Result<Option<Difference>> {
    const SHOW: usize = 5;
    let mut d = Difference {
        tree: name,
        only_live: Vec::new(),
        only_rebuilt: Vec::new(),
        changed: Vec::new(),
        count: 0,
    };
    let mut a = live.iter().peekable();
    let mut b = rebuilt.iter().peekable();
    loop {
        let order = match (a.peek(), b.peek()) {
            (None, None) => break,
            (Some(Err(_)), _) | (_, Some(Err(_))) => {
                // Surface the iterator's error.
                if let Some(Err(e)) = a.next() {
                    return Err(e.into());
                }
                if let Some(Err(e)) = b.next() {
                    return Err(e.into());
                }
                continue;
            }
            (Some(Ok(_)), None) => std::cmp::Ordering::Less,
            (None, Some(Ok(_))) => std::cmp::Ordering::Greater,
            (Some(Ok((ka, _))), Some(Ok((kb, _)))) => ka.cmp(kb),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some(Ok((k, _))) = a.next() {
                    d.count += 1;
                    if d.only_live.len() < SHOW {
                        d.only_live.push(hex(&k));
                    }
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some(Ok((k, _))) = b.next() {
                    d.count += 1;
                    if d.only_rebuilt.len() < SHOW {
                        d.only_rebuilt.push(hex(&k));
                    }
                }
            }
            std::cmp::Ordering::Equal => {
                if let (Some(Ok((k, va))), Some(Ok((_, vb)))) = (a.next(), b.next()) {
                    if va != vb {
                        d.count += 1;
                        if d.changed.len() < SHOW {
                            d.changed.push(hex(&k));
                        }
                    }
                }
            }
        }
    }
    Ok((d.count > 0).then_some(d))
}

/// Drop the views of `store` and replay its log into new ones. Marked in `meta` while running, so
/// a crash half-way is noticed at the next start instead of serving half-built views. Dropping a
/// tree frees its pages at once where clearing it removed key by key (a fifth of the time); the
/// store's handles are reopened, so nothing else may hold a clone of it meanwhile.
pub fn rebuild_in_place(store: &mut Store) -> Result<u64> {
    store.trees.meta.insert(META_REBUILDING, &[1u8][..])?;
    store.flush()?;
    for name in VIEW_TREES {
        store.db.drop_tree(name)?;
    }
    store.trees = Trees::open(&store.db)?;
    let n = replay(&store.trees.clone(), store)?;
    store.token_memo.invalidate();
    store.mark_views_current()?;
    store.trees.meta.remove(META_REBUILDING)?;
    store.flush()?;
    Ok(n)
}

/// Whether a rebuild was interrupted.
pub fn rebuild_interrupted(store: &Store) -> Result<bool> {
    Ok(store.trees.meta.contains_key(META_REBUILDING)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::project::tests::{assert_committed, expected, script};

    use crate::domain::event::{Event, GroupSnapshot, UserSnapshot};
    use crate::domain::ids::{GroupId, GroupName, UserId, UserName};
    use crate::domain::write::{Actor, RequestBody};
    use crate::store::keys;

    /// A store whose log holds three users and a group of two of them, and whose views were
    /// projected from it.
    fn projected_store() -> (Store, [UserId; 3], GroupId) {
        let store = Store::temporary().unwrap();
        let users = [UserId::random(), UserId::random(), UserId::random()];
        let group = GroupId::random();
        let user = |id: UserId, name: &str| {
            Event::UserCreated(UserSnapshot {
                id,
                user_name: UserName::try_from(name).unwrap(),
                external_id: Some(format!("ext-{name}")),
                doc: serde_json::json!({ "userName": name, "externalId": format!("ext-{name}") })
                    .to_string(),
            })
        };
        let events = [
            user(users[0], "ann"),
            user(users[1], "bob"),
            user(users[2], "cy"),
            Event::GroupCreated(GroupSnapshot {
                id: group,
                display_name: GroupName::try_from("Staff").unwrap(),
                external_id: None,
                doc: serde_json::json!({ "displayName": "Staff" }).to_string(),
            }),
            Event::MembersAdded {
                group,
                display_name: GroupName::try_from("Staff").unwrap(),
                users: vec![users[0], users[1]],
            },
        ];
        for (seq, event) in (1..).zip(events) {
            let rec = LogRecord {
                seq,
                time_ms: 1_700_000_000_000,
                actor: Actor {
                    token_id: None,
                    client: "test".into(),
                },
                request_id: format!("r{seq}"),
                client_addr: None,
                entry: Entry::Event(event),
                answered: None,
                request_body: RequestBody::NotKept,
            };
            let bytes = crate::store::codec::encode_log(&rec).unwrap();
            store.trees.log.insert(keys::seq(seq), bytes).unwrap();
        }
        replay(&store.trees.clone(), &store).unwrap();
        (store, users, group)
    }

    #[test]
    fn verify_names_every_corrupted_view_and_a_rebuild_repairs_them() {
        let (mut store, users, group) = projected_store();
        assert_eq!(verify(&store).unwrap(), Vec::new());

        // A changed user record, a lost index entry, a stray membership, a wrong kept count.
        let t = &store.trees;
        let user = t.users.get(users[2].as_bytes()).unwrap().unwrap();
        let mut altered = user.to_vec();
        *altered.last_mut().unwrap() ^= 1;
        t.users.insert(users[2].as_bytes(), altered).unwrap();
        t.idx_user_name.remove(b"bob").unwrap();
        let stray = keys::membership(group, users[2]);
        t.members.insert(stray, &[][..]).unwrap();
        t.counts
            .insert(keys::COUNT_USERS, &9u64.to_be_bytes()[..])
            .unwrap();

        // Through the on-disk scratch database `scimd verify` uses, which is removed afterwards.
        let dir = tempfile::tempdir().unwrap();
        let scratch = dir.path().join("verify-scratch");
        let found = verify_in(&store, &scratch, 8).unwrap();
        assert!(!scratch.exists());
        let by_tree = |name: &str| found.iter().find(|d| d.tree == name).cloned();
        assert_eq!(
            found.iter().map(|d| d.tree).collect::<Vec<_>>(),
            ["users", "members", "idx_user_name", "counts"]
        );
        let users_diff = by_tree("users").unwrap();
        assert_eq!(users_diff.changed, [hex(users[2].as_bytes())]);
        assert_eq!(users_diff.count, 1);
        assert_eq!(by_tree("members").unwrap().only_live, [hex(&stray)]);
        assert_eq!(
            by_tree("idx_user_name").unwrap().only_rebuilt,
            [hex(b"bob")]
        );
        assert_eq!(by_tree("counts").unwrap().changed, [hex(keys::COUNT_USERS)]);

        rebuild_in_place(&mut store).unwrap();
        assert_eq!(verify(&store).unwrap(), Vec::new());
        assert_eq!(
            store.trees.users.get(users[2].as_bytes()).unwrap(),
            Some(user)
        );
    }

    #[test]
    fn blind_writes_through_the_replay_buffer_match_the_transaction() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let tree = db.open_tree("t").unwrap();
        tree.insert("b", "old").unwrap();
        let buffered = Buffered {
            tree: &tree,
            pending: RefCell::default(),
        };
        assert_eq!(script(&buffered).unwrap(), expected());
        buffered.write_back().unwrap();
        assert_committed(&tree);
    }
}
