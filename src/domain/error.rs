//! Why `decide` refuses a command. Each variant's status and `scimType` are fixed here, because the
//! log records them with the rejection; `http/error.rs` writes them out.

use crate::scim::error::ScimError;
use crate::scim::schema::ResourceKind;

/// A refused command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The request itself is wrong: status and `scimType` come from the protocol error.
    #[error(transparent)]
    Invalid(#[from] ScimError),
    /// 404, no `scimType`: the target does not exist.
    #[error("{} {id} not found", kind.as_str())]
    NotFound {
        /// Users or Groups.
        kind: ResourceKind,
        /// The id as sent.
        id: String,
    },
    /// 404, no `scimType`: the token does not exist.
    #[error("token {0} not found")]
    TokenNotFound(String),
    /// 409 `uniqueness`: a userName or displayName is taken (case-insensitively).
    #[error("{0}")]
    Uniqueness(String),
    /// 412, no `scimType`: `If-Match` does not match `meta.version`.
    #[error("{0}")]
    PreconditionFailed(String),
    /// 401, no `scimType`: an admin console sign-in with a wrong name or password.
    #[error("{0}")]
    SignInFailed(String),
    /// 429, no `scimType`: requests refused by a rate limit, recorded as one refusal per client
    /// and minute that says how many (the requests themselves were answered at once).
    #[error("{0}")]
    RateLimited(String),
    /// Requests refused before they could become writes (401, a failed read), recorded as one
    /// refusal per client (or address), kind and minute with the status they got and a count.
    #[error("{detail}")]
    Aggregated {
        /// The status the requests got.
        status: u16,
        /// Their `scimType`, if any.
        scim_type: Option<&'static str>,
        /// How many, since when, and one example request line.
        detail: String,
    },
}

impl Rejection {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        match self {
            Self::Invalid(e) => e.status(),
            Self::NotFound { .. } | Self::TokenNotFound(_) => 404,
            Self::Uniqueness(_) => 409,
            Self::PreconditionFailed(_) => 412,
            Self::SignInFailed(_) => 401,
            Self::RateLimited(_) => 429,
            Self::Aggregated { status, .. } => *status,
        }
    }

    /// The SCIM `scimType`, if the status has one.
    pub fn scim_type(&self) -> Option<&'static str> {
        match self {
            Self::Invalid(e) => Some(e.scim_type()),
            Self::Uniqueness(_) => Some("uniqueness"),
            Self::NotFound { .. }
            | Self::TokenNotFound(_)
            | Self::PreconditionFailed(_)
            | Self::SignInFailed(_)
            | Self::RateLimited(_) => None,
            Self::Aggregated { scim_type, .. } => *scim_type,
        }
    }
}
