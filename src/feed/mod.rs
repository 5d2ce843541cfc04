//! The change feed: the accepted changes of the log as Security Event Tokens in the SCIM profile
//! (RFC 9967, claims of RFC 8417), read by sequence number behind an opaque cursor; the snapshot
//! of the current users and groups a consumer starts from; the signing key of signed SETs.
//!
//! Reads the log (and, for the snapshot, the views) through `store::read`; it never writes and
//! is never on the write path. Must not import actix.
//!
//! - [`set`]: one log record → at most one SET (which events, full or notice).
//! - [`cursor`]: the opaque cursor and its checks (410 when the log cannot serve it).
//! - [`page`]: the records after a cursor, as SETs, up to the durable end of the log.
//! - [`snapshot`]: every user and group as of one cursor.
//! - [`sign`]: the ES256 key, compact JWS of a SET, and its JWKS.
//! - [`push`]: one webhook delivery (RFC 8935) with its HMAC-SHA256 signature header.

pub mod cursor;
pub mod page;
pub mod push;
pub mod set;
pub mod sign;
pub mod snapshot;

/// Failures of the feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// 400 `invalidValue`: a cursor scimd did not make.
    #[error("'{0}' is not a cursor of this feed")]
    BadCursor(String),
    /// 410: the cursor points before the oldest retained record or past the end of this log.
    #[error("{0}")]
    Gone(String),
    /// 500: reading the store failed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// 500: signing failed.
    #[error("cannot sign: {0}")]
    Sign(String),
}

/// Result of the feed layer.
pub type Result<T, E = FeedError> = std::result::Result<T, E>;
