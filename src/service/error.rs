//! Errors of the service layer: a refused request (the client's problem) or a failure below it.

use crate::domain::error::Rejection;
use crate::store::StoreError;

/// Result alias for the service layer.
pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// What a service call can end in besides success.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request was refused: 4xx with the rejection's status and `scimType`.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// Storage failed: 500, details only in the log.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer is not running (shutting down): 503.
    #[error("the writer is not running")]
    WriterGone,
}

impl From<crate::scim::error::ScimError> for ServiceError {
    fn from(e: crate::scim::error::ScimError) -> Self {
        Self::Rejected(Rejection::Invalid(e))
    }
}

/// A failure that is a bug or an impossible state, reported as a storage failure (500, logged).
pub fn internal(what: &str) -> StoreError {
    StoreError::Io(format!("internal: {what}"))
}
