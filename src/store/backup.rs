//! Backups: the log (the source of truth) and the console accounts, with a SHA-256 checksum;
//! restoring writes them into an empty data directory and rebuilds the views from the log.
//!
//! File layout (version 2): one JSON header line, then `L` ++ u32 length ++ stored log record (as
//! kept in the `log` tree, format number included) per record, `A` ++ u32 ++ name ++ u32 ++ stored
//! admin record per console account, `W` ++ u32 ++ subscription id ++ u32 ++ stored webhook
//! record per webhook subscription (with its delivery cursor), `K` ++ u32 ++ the feed's signing
//! key when it has one, then `E` ++ the SHA-256 of every byte before the checksum (the `E`
//! included). Version 1 (no `W`, no `K`) still restores. The log is
//! append-only, so copying records 1..=N while the writer appends is a consistent snapshot.

use std::io::{Read, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{keys, rebuild, Result, Store, StoreError};

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// Always `scimd-backup`.
    pub format: String,
    /// Layout version.
    pub version: u32,
    /// Log records.
    pub log_records: u64,
    /// Console accounts.
    pub admins: u64,
    /// Webhook subscriptions (version 2).
    #[serde(default)]
    pub webhooks: u64,
}

/// Layout version this binary writes.
const VERSION: u32 = 2;

/// Hashes everything written through it.
struct Hashing<W> {
    inner: W,
    hash: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn io(e: std::io::Error) -> StoreError {
    StoreError::Io(format!("backup: {e}"))
}

fn len32(n: usize) -> Result<[u8; 4]> {
    u32::try_from(n)
        .map(u32::to_be_bytes)
        .map_err(|_| StoreError::Io("backup: record larger than 4 GiB".into()))
}

/// Write a backup of `store` to `out`.
pub fn write(store: &Store, out: impl Write) -> Result<Summary> {
    let t = &store.trees;
    // Subscriptions first: their cursors are at most the log's end now, so none points past the
    // records this backup holds (a restored subscription would skip the new records there).
    let webhooks: Vec<(sled::IVec, sled::IVec)> =
        t.webhooks.iter().collect::<std::result::Result<_, _>>()?;
    let signing_key = t.meta.get(super::feed::META_SIGNING_KEY)?;
    let last = super::read::log_bounds(t)?.map_or(0, |(_, l)| l);
    let admins: Vec<(sled::IVec, sled::IVec)> =
        t.admins.iter().collect::<std::result::Result<_, _>>()?;
    let summary = Summary {
        format: "scimd-backup".into(),
        version: VERSION,
        log_records: last,
        admins: u64::try_from(admins.len()).unwrap_or(u64::MAX),
        webhooks: u64::try_from(webhooks.len()).unwrap_or(u64::MAX),
    };
    let mut w = Hashing {
        inner: std::io::BufWriter::new(out),
        hash: Sha256::new(),
    };
    let header = serde_json::to_string(&summary).map_err(|e| StoreError::Io(e.to_string()))?;
    w.write_all(header.as_bytes()).map_err(io)?;
    w.write_all(b"\n").map_err(io)?;
    for kv in t.log.range(..=keys::seq(last)) {
        let (_, v) = kv?;
        w.write_all(b"L").map_err(io)?;
        w.write_all(&len32(v.len())?).map_err(io)?;
        w.write_all(&v).map_err(io)?;
    }
    for (name, rec) in &admins {
        w.write_all(b"A").map_err(io)?;
        w.write_all(&len32(name.len())?).map_err(io)?;
        w.write_all(name).map_err(io)?;
        w.write_all(&len32(rec.len())?).map_err(io)?;
        w.write_all(rec).map_err(io)?;
    }
    for (id, rec) in &webhooks {
        w.write_all(b"W").map_err(io)?;
        w.write_all(&len32(id.len())?).map_err(io)?;
        w.write_all(id).map_err(io)?;
        w.write_all(&len32(rec.len())?).map_err(io)?;
        w.write_all(rec).map_err(io)?;
    }
    if let Some(key) = &signing_key {
        w.write_all(b"K").map_err(io)?;
        w.write_all(&len32(key.len())?).map_err(io)?;
        w.write_all(key).map_err(io)?;
    }
    // The end tag is covered by the checksum; the checksum itself is not.
    w.write_all(b"E").map_err(io)?;
    let digest = w.hash.clone().finalize();
    w.inner.write_all(&digest).map_err(io)?;
    w.inner.flush().map_err(io)?;
    Ok(summary)
}

/// Remove everything inside `dir` but keep the directory (the service user may not be allowed to
/// recreate it, e.g. under /var/lib).
pub fn clear_dir(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry.map_err(io)?.path();
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| StoreError::Io(format!("clearing {}: {e}", path.display())))?;
    }
    Ok(())
}

/// Whether `dir` holds anything.
pub fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map_or(true, |mut d| d.next().is_none())
}

/// Restore a backup into `dir` (which must be empty or absent), verify it and rebuild the views.
/// Returns the open store (sled releases its lock lazily, so reopening at once could fail). On
/// any error the directory is emptied again.
pub fn restore(input: impl Read, dir: &Path) -> Result<(Summary, Store)> {
    std::fs::create_dir_all(dir).map_err(io)?;
    let store = Store::open(dir)?;
    let result = read_into(input, Some(&store)).and_then(|summary| {
        rebuild::replay(&store.trees.clone(), &store)?;
        store.flush()?;
        Ok(summary)
    });
    match result {
        Ok(summary) => Ok((summary, store)),
        Err(e) => {
            drop(store);
            let _ = clear_dir(dir);
            Err(e)
        }
    }
}

/// Largest block accepted from a backup (a corrupt length must not allocate gigabytes).
const MAX_BLOCK: usize = 256 * 1024 * 1024;

/// Reads tagged blocks while hashing every byte.
struct Blocks<R> {
    r: R,
    hash: Sha256,
}

impl<R: Read> Blocks<R> {
    fn exact(&mut self, buf: &mut [u8]) -> Result<()> {
        self.r
            .read_exact(buf)
            .map_err(|e| StoreError::Io(format!("backup is truncated: {e}")))?;
        self.hash.update(&*buf);
        Ok(())
    }

    fn block(&mut self) -> Result<Vec<u8>> {
        let mut len = [0u8; 4];
        self.exact(&mut len)?;
        let len = usize::try_from(u32::from_be_bytes(len)).unwrap_or(usize::MAX);
        if len > MAX_BLOCK {
            return Err(StoreError::Io(
                "backup: a block is implausibly large; the file is damaged".into(),
            ));
        }
        let mut buf = vec![0u8; len];
        self.exact(&mut buf)?;
        Ok(buf)
    }
}

/// Read a whole backup and check its checksum and records without writing anything.
pub fn check(input: impl Read) -> Result<Summary> {
    read_into(input, None)
}

fn read_into(input: impl Read, store: Option<&Store>) -> Result<Summary> {
    let mut r = std::io::BufReader::new(input);
    let mut hash = Sha256::new();
    let mut header = Vec::new();
    std::io::BufRead::read_until(&mut r, b'\n', &mut header).map_err(io)?;
    hash.update(&header);
    let summary: Summary = serde_json::from_slice(&header)
        .map_err(|e| StoreError::Io(format!("not a scimd backup (bad header: {e})")))?;
    if summary.format != "scimd-backup" {
        return Err(StoreError::Io("not a scimd backup".into()));
    }
    if !(1..=VERSION).contains(&summary.version) {
        return Err(StoreError::NewerFormat {
            what: "the backup",
            found: u16::try_from(summary.version).unwrap_or(u16::MAX),
            supported: 2,
        });
    }
    let mut src = Blocks { r, hash };
    let (mut records, mut admins, mut webhooks) = (0u64, 0u64, 0u64);
    loop {
        let mut tag = [0u8; 1];
        src.exact(&mut tag)?;
        match tag[0] {
            b'L' => {
                let rec = src.block()?;
                // Decoding checks the format number and the record (an older format is upcast).
                let decoded = super::codec::decode_log(&rec)?;
                records += 1;
                if decoded.seq != records {
                    return Err(StoreError::Io(format!(
                        "backup: record {records} carries sequence number {}",
                        decoded.seq
                    )));
                }
                if let Some(store) = store {
                    store.trees.log.insert(keys::seq(decoded.seq), rec)?;
                }
            }
            b'A' => {
                let name = src.block()?;
                let rec = src.block()?;
                let _: super::codec::AdminRecord = super::codec::decode("admin record", &rec)?;
                if let Some(store) = store {
                    store.trees.admins.insert(name, rec)?;
                }
                admins += 1;
            }
            b'W' if summary.version >= 2 => {
                let id = src.block()?;
                let rec = src.block()?;
                let _: super::codec::WebhookRecord = super::codec::decode("webhook record", &rec)?;
                if id.len() != 16 {
                    return Err(StoreError::Io(
                        "backup: a webhook id is not 16 bytes".into(),
                    ));
                }
                if let Some(store) = store {
                    store.trees.webhooks.insert(id, rec)?;
                }
                webhooks += 1;
            }
            b'K' if summary.version >= 2 => {
                let key = src.block()?;
                if let Some(store) = store {
                    store
                        .trees
                        .meta
                        .insert(super::feed::META_SIGNING_KEY, key)?;
                }
            }
            b'E' => break,
            other => {
                return Err(StoreError::Io(format!(
                    "backup: unexpected block tag {other}"
                )))
            }
        }
    }
    let Blocks { mut r, hash } = src;
    let expected = hash.finalize();
    let mut digest = [0u8; 32];
    r.read_exact(&mut digest)
        .map_err(|e| StoreError::Io(format!("backup is truncated: {e}")))?;
    if digest[..] != expected[..] {
        return Err(StoreError::Io(
            "backup checksum mismatch: the file is damaged".into(),
        ));
    }
    if records != summary.log_records || admins != summary.admins || webhooks != summary.webhooks {
        return Err(StoreError::Io(
            "backup: the header does not match the content".into(),
        ));
    }
    Ok(summary)
}
