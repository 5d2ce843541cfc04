//! Rebuilding the views from the log alone, and verifying that the live views equal such a rebuild.
//! `scimd verify` rebuilds into a temporary database and compares tree by tree, byte by byte;
//! `scimd rebuild-views` clears the views and replays the log into them.

use sled::transaction::TransactionalTree;
use sled::Transactional;

use super::codec::{Entry, LogRecord};
use super::project::TxViews;
use super::{read, Result, Store, StoreError, Trees, VIEW_TREES};

/// Events replayed per transaction: big enough to be fast, small enough to bound memory.
const REPLAY_CHUNK: usize = 2048;

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
    let trees: Vec<sled::Tree> = dst.trees.views().into_iter().cloned().collect();
    trees[..]
        .transaction(|tx: &Vec<TransactionalTree>| {
            let views = TxViews::from_slice(tx).ok_or_else(|| {
                sled::transaction::ConflictableTransactionError::Abort(StoreError::Io(
                    "internal: view trees out of step with VIEW_TREES".into(),
                ))
            })?;
            for rec in chunk {
                views.record(rec)?;
            }
            Ok(())
        })
        .map_err(StoreError::from)
}

/// Compare the live views of `store` with a rebuild from its log. Empty = identical.
pub fn verify(store: &Store) -> Result<Vec<Difference>> {
    let scratch = Store::temporary()?;
    replay(&store.trees, &scratch)?;
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

/// Clear the views of `store` and replay its log into them. Marked in `meta` while running, so a
/// crash half-way is noticed at the next start instead of serving half-built views.
pub fn rebuild_in_place(store: &Store) -> Result<u64> {
    store.trees.meta.insert(META_REBUILDING, &[1u8][..])?;
    store.flush()?;
    for t in store.trees.views() {
        t.clear()?;
    }
    let n = replay(&store.trees.clone(), store)?;
    store.mark_views_current()?;
    store.trees.meta.remove(META_REBUILDING)?;
    store.flush()?;
    Ok(n)
}

/// Whether a rebuild was interrupted.
pub fn rebuild_interrupted(store: &Store) -> Result<bool> {
    Ok(store.trees.meta.contains_key(META_REBUILDING)?)
}
