//! Storage failures. None of these is the client's fault: `http/error.rs` answers 500 (or 503) and logs
//! the detail with the request id; the client never sees it.

/// Result alias for the storage layer.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What can go wrong below the views.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled reported an I/O or corruption problem.
    #[error("storage error: {0}")]
    Sled(#[from] sled::Error),
    /// A stored record could not be decoded (corruption, or a bug in the codec).
    #[error("cannot decode {what}: {detail}")]
    Decode {
        /// Which kind of record.
        what: &'static str,
        /// The codec's message.
        detail: String,
    },
    /// A record carries a format number this binary does not know (written by a newer scimd).
    #[error(
        "{what} has format {found}, newer than this scimd understands ({supported}); upgrade scimd"
    )]
    NewerFormat {
        /// Which kind of record.
        what: &'static str,
        /// Format found.
        found: u16,
        /// Newest format this binary reads.
        supported: u16,
    },
    /// A record could not be encoded (a bug: every stored type is encodable).
    #[error("cannot encode {what}: {detail}")]
    Encode {
        /// Which kind of record.
        what: &'static str,
        /// The codec's message.
        detail: String,
    },
    /// The database is held by another process (a running scimd).
    #[error("the data directory {0} is in use by another process (is scimd running? use its admin socket)")]
    Locked(String),
    /// A filesystem problem around the database (creating or replacing directories).
    #[error("{0}")]
    Io(String),
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => Self::Sled(e),
        }
    }
}
