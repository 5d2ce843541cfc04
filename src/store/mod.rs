//! Storage: every sled call lives in this module.
//!
//! Layout (see ARCHITECTURE.md): `log` (seq → [`codec::LogRecord`]) is the source of truth; `users`,
//! `groups`, `members`, `member_of`, the three indexes and `tokens` are views projected from it in the
//! same transaction that appends to it ([`append`]). `token_usage` (last-used times) and `meta` are not
//! views: they are bookkeeping that a rebuild leaves alone.
//!
//! Must not import actix.

pub mod append;
pub mod backup;
pub mod codec;
pub mod error;
pub mod feed;
pub mod keys;
pub mod memory;
pub mod project;
pub mod read;
pub mod rebuild;
pub mod token_memo;

#[cfg(test)]
mod decide_tests;

use std::path::Path;

pub use error::{Result, StoreError};

/// Names of the view trees, in the order [`Trees::views`] lists them.
pub const VIEW_TREES: [&str; 13] = [
    "users",
    "groups",
    "members",
    "member_of",
    "idx_user_name",
    "idx_user_external",
    "idx_group_name",
    "tokens",
    "user_secrets",
    "log_by_resource",
    "stats_hourly",
    "client_last",
    "counts",
];

/// The open trees of one database.
#[derive(Clone, Debug)]
pub struct Trees {
    /// seq → log record.
    pub(in crate::store) log: sled::Tree,
    /// user id → user record.
    pub(in crate::store) users: sled::Tree,
    /// group id → group record.
    pub(in crate::store) groups: sled::Tree,
    /// group id ++ user id → ().
    pub(in crate::store) members: sled::Tree,
    /// user id ++ group id → ().
    pub(in crate::store) member_of: sled::Tree,
    /// lowercase userName → user id.
    pub(in crate::store) idx_user_name: sled::Tree,
    /// externalId (length-prefixed) ++ user id → ().
    pub(in crate::store) idx_user_external: sled::Tree,
    /// lowercase displayName → group id.
    pub(in crate::store) idx_group_name: sled::Tree,
    /// token id → token record.
    pub(in crate::store) tokens: sled::Tree,
    /// user id → argon2id password hash (only with `password_storage = "hash"`).
    pub(in crate::store) user_secrets: sled::Tree,
    /// resource id ++ seq → (): every log record about a user, group or token, for histories.
    pub(in crate::store) log_by_resource: sled::Tree,
    /// hour (u64) ++ client name → successes, failures (u64 each): the activity charts.
    pub(in crate::store) stats_hourly: sled::Tree,
    /// client name → time of its last logged write (ms).
    pub(in crate::store) client_last: sled::Tree,
    /// `users` / `groups` → how many there are (u64): totals and gauges without counting keys.
    pub(in crate::store) counts: sled::Tree,
    /// token id → last used (ms, big-endian); not a view.
    pub(in crate::store) token_usage: sled::Tree,
    /// name → value: format version and other bookkeeping.
    pub(in crate::store) meta: sled::Tree,
    /// admin name → admin record (console accounts; not a view).
    pub(in crate::store) admins: sled::Tree,
    /// subscription id → webhook record (subscription and delivery state; not a view).
    pub(in crate::store) webhooks: sled::Tree,
}

impl Trees {
    pub(in crate::store) fn open(db: &sled::Db) -> Result<Self> {
        Ok(Self {
            log: db.open_tree("log")?,
            users: db.open_tree("users")?,
            groups: db.open_tree("groups")?,
            members: db.open_tree("members")?,
            member_of: db.open_tree("member_of")?,
            idx_user_name: db.open_tree("idx_user_name")?,
            idx_user_external: db.open_tree("idx_user_external")?,
            idx_group_name: db.open_tree("idx_group_name")?,
            tokens: db.open_tree("tokens")?,
            user_secrets: db.open_tree("user_secrets")?,
            log_by_resource: db.open_tree("log_by_resource")?,
            stats_hourly: db.open_tree("stats_hourly")?,
            client_last: db.open_tree("client_last")?,
            counts: db.open_tree("counts")?,
            token_usage: db.open_tree("token_usage")?,
            meta: db.open_tree("meta")?,
            admins: db.open_tree("admins")?,
            webhooks: db.open_tree("webhooks")?,
        })
    }

    /// The view trees, in [`VIEW_TREES`] order.
    pub fn views(&self) -> [&sled::Tree; 13] {
        [
            &self.users,
            &self.groups,
            &self.members,
            &self.member_of,
            &self.idx_user_name,
            &self.idx_user_external,
            &self.idx_group_name,
            &self.tokens,
            &self.user_secrets,
            &self.log_by_resource,
            &self.stats_hourly,
            &self.client_last,
            &self.counts,
        ]
    }
}

/// An open database.
#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
    /// Its trees; private to the store (others pass [`Store::trees`] to the named reads).
    trees: Trees,
    /// Fault injection: when set, every flush fails (tests of the writer's cold path).
    fail_flushes: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// What authentication reads on every request, kept in memory (see [`token_memo`]).
    token_memo: std::sync::Arc<token_memo::TokenMemo>,
}

/// `meta` key holding the stored-format number.
const META_FORMAT: &[u8] = b"format";

/// `meta` key holding the version of the projection the views were built with.
const META_VIEWS: &[u8] = b"views";

/// Version of the projection. Raised when the same log projects into different views (2: a
/// deletion's membership cascade is indexed in `log_by_resource` under every resource it changes;
/// 3: the `counts` view keeps the number of users and groups, and token records are written at
/// format 2, with their scopes, so `verify` compares like with like; 4: view records are stored
/// compressed, see [`codec`], likewise); views built by an older version are rebuilt from the log
/// at the next start.
pub const VIEWS_VERSION: u16 = 4;

/// Default page cache (`cache_mb`), MiB: at 200,000 users and a 100,000-member group the server
/// stays under 256 MiB resident with it (64 gave 303 MiB for 10–15% more lookups).
pub const DEFAULT_CACHE_MB: usize = 32;

impl Store {
    /// Open (or create) the database in `dir` with the default cache. Refuses data written by a
    /// newer scimd.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with_cache(dir, DEFAULT_CACHE_MB)
    }

    /// Open (or create) the database in `dir` with `cache_mb` MiB of page cache.
    pub fn open_with_cache(dir: &Path, cache_mb: usize) -> Result<Self> {
        let db = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(u64::try_from(cache_mb.saturating_mul(1 << 20)).unwrap_or(u64::MAX))
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.kind() == std::io::ErrorKind::WouldBlock => {
                    StoreError::Locked(dir.display().to_string())
                }
                sled::Error::Io(ref io) if io.to_string().contains("lock") => {
                    StoreError::Locked(dir.display().to_string())
                }
                other => StoreError::Sled(other),
            })?;
        Self::init(db)
    }

    /// A throwaway database (tests, `verify`'s scratch space), with the default cache: it lives
    /// in a temporary file that is deleted when it is dropped, so its memory stays bounded.
    pub fn temporary() -> Result<Self> {
        Self::init(
            sled::Config::new()
                .temporary(true)
                .cache_capacity(u64::try_from(DEFAULT_CACHE_MB << 20).unwrap_or(u64::MAX))
                .open()?,
        )
    }

    fn init(db: sled::Db) -> Result<Self> {
        let trees = Trees::open(&db)?;
        match trees.meta.get(META_FORMAT)? {
            None => {
                trees
                    .meta
                    .insert(META_FORMAT, &codec::DATA_FORMAT.to_be_bytes())?;
                // A new database: its (empty) views are as current as this binary.
                if trees.log.is_empty() {
                    trees
                        .meta
                        .insert(META_VIEWS, &VIEWS_VERSION.to_be_bytes())?;
                }
            }
            Some(v) => {
                let found = <[u8; 2]>::try_from(v.as_ref())
                    .map(u16::from_be_bytes)
                    .map_err(|_| StoreError::Decode {
                        what: "format number",
                        detail: "not two bytes".into(),
                    })?;
                if found > codec::DATA_FORMAT {
                    return Err(StoreError::NewerFormat {
                        what: "the data directory",
                        found,
                        supported: codec::DATA_FORMAT,
                    });
                }
                if found < codec::DATA_FORMAT {
                    // Older records stay as they are (they are upcast on read); from now on the
                    // directory holds newer ones, which an older scimd must refuse.
                    trees
                        .meta
                        .insert(META_FORMAT, &codec::DATA_FORMAT.to_be_bytes())?;
                }
            }
        }
        Ok(Self {
            db,
            trees,
            fail_flushes: std::sync::Arc::default(),
            token_memo: std::sync::Arc::default(),
        })
    }

    /// Make everything written so far durable. The writer calls this once per batch.
    pub fn flush(&self) -> Result<()> {
        if self.fail_flushes.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(StoreError::Io("injected flush failure".into()));
        }
        self.db.flush()?;
        Ok(())
    }

    /// The trees, as an opaque handle for the named reads of [`read`] and the report.
    pub fn trees(&self) -> &Trees {
        &self.trees
    }

    /// Make every later [`Store::flush`] of this store (and its clones) fail, as a dying disk would.
    /// Only tests call this: it exercises what the writer does when durability is lost.
    pub fn fail_flushes(&self) {
        self.fail_flushes
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// Record that token `id` was used at `now_ms`, at most once per `resolution_ms` (last-used
    /// times are bookkeeping, not events: they are flushed with the next batch or sled's timer).
    pub fn touch_token(
        &self,
        id: crate::domain::ids::TokenId,
        now_ms: i64,
        resolution_ms: i64,
    ) -> Result<()> {
        let remembered = self.token_memo.last_used(id);
        let last = match remembered {
            Some(l) => Some(l),
            None => read::token_last_used(&self.trees, id)?,
        };
        if last.is_none_or(|l| now_ms - l >= resolution_ms) {
            self.trees
                .token_usage
                .insert(id.as_bytes(), &now_ms.to_be_bytes())?;
            self.token_memo.note_used(id, now_ms);
        } else if let (None, Some(l)) = (remembered, last) {
            self.token_memo.note_used(id, l);
        }
        Ok(())
    }

    /// The record of token `id`, as the `tokens` view holds it (from memory when it was read
    /// since the last token event: authentication asks on every request).
    pub fn token(&self, id: crate::domain::ids::TokenId) -> Result<Option<codec::TokenRecord>> {
        if let Some(rec) = self.token_memo.get(id) {
            return Ok(Some(rec));
        }
        let generation = self.token_memo.generation();
        let rec = read::token(&self.trees, id)?;
        if let Some(r) = &rec {
            self.token_memo.keep(id, r, generation);
        }
        Ok(rec)
    }

    /// The console account `name`.
    pub fn admin(&self, name: &str) -> Result<Option<codec::AdminRecord>> {
        self.trees
            .admins
            .get(name.as_bytes())?
            .map(|v| codec::decode("admin record", &v))
            .transpose()
    }

    /// Create or update the console account `name`, durably.
    pub fn put_admin(&self, name: &str, rec: &codec::AdminRecord) -> Result<()> {
        self.trees
            .admins
            .insert(name.as_bytes(), codec::encode("admin record", rec)?)?;
        self.flush()
    }

    /// Whether any console account exists.
    pub fn has_admins(&self) -> Result<bool> {
        Ok(!self.trees.admins.is_empty())
    }

    /// Whether the views were built by an older projection (and must be rebuilt from the log).
    /// A database from before the views version was recorded counts as version 1.
    pub fn views_outdated(&self) -> Result<bool> {
        let found = self
            .trees
            .meta
            .get(META_VIEWS)?
            .and_then(|v| <[u8; 2]>::try_from(v.as_ref()).ok())
            .map_or(1, u16::from_be_bytes);
        Ok(found < VIEWS_VERSION)
    }

    /// Record that the views are those of this binary's projection (after a rebuild).
    pub(crate) fn mark_views_current(&self) -> Result<()> {
        self.trees
            .meta
            .insert(META_VIEWS, &VIEWS_VERSION.to_be_bytes())?;
        Ok(())
    }

    /// The sequence number the next log record gets.
    pub fn next_seq(&self) -> Result<u64> {
        Ok(match self.trees.log.last()? {
            Some((k, _)) => keys::seq_from(&k).map_or(1, |s| s + 1),
            None => 1,
        })
    }
}
