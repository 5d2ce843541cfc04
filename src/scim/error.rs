//! The protocol-level error: what a SCIM request got wrong, in RFC 7644 §3.12 terms.
//!
//! Every parser and validator in `scim/` returns [`ScimError`]; the HTTP status it becomes is decided
//! once, by [`ScimError::status`], and written out by `http/error.rs`.

/// Result alias for the protocol layer.
pub type Result<T, E = ScimError> = std::result::Result<T, E>;

/// A request the protocol rejects. Each variant names its status and `scimType`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScimError {
    /// 400 `invalidFilter`: the filter cannot be parsed or names what the schema does not have.
    #[error("{0}")]
    InvalidFilter(String),
    /// 400 `invalidSyntax`: the body is not valid JSON or not the shape the operation expects.
    #[error("{0}")]
    InvalidSyntax(String),
    /// 400 `invalidValue`: a value has the wrong type, is out of range, is missing when required,
    /// or is not allowed.
    #[error("{0}")]
    InvalidValue(String),
    /// 400 `invalidSyntax`: a body (a POST/PUT resource, a PATCH value) names an attribute,
    /// sub-attribute or extension schema the schemas do not define. The message "did not conform
    /// to the request schema" (RFC 7644 §3.12): its structure is wrong, not one of its values, so
    /// this is not `invalidValue`. A PATCH `path` naming one is [`ScimError::InvalidPath`].
    #[error("{0}")]
    UnknownAttribute(String),
    /// 400 `invalidPath`: a PATCH `path` is malformed or names an unknown attribute.
    #[error("{0}")]
    InvalidPath(String),
    /// 400 `noTarget`: a PATCH path with a filter matched nothing where a target is required.
    #[error("{0}")]
    NoTarget(String),
    /// 400 `mutability`: an attempt to change a readOnly or immutable attribute.
    #[error("{0}")]
    Mutability(String),
    /// 400 `tooMany`: the request asks for more than the server allows (filter size, page size).
    #[error("{0}")]
    TooMany(String),
    /// 400 `invalidCursor` (RFC 9865): the cursor is not one this server issued.
    #[error("{0}")]
    InvalidCursor(String),
    /// 413 `tooMany`: a bulk request carries more operations than `bulk.maxOperations`.
    #[error("{0}")]
    TooManyOperations(String),
    /// 413 `tooLarge`: the body exceeds the configured limit.
    #[error("{0}")]
    TooLarge(String),
}

impl ScimError {
    /// The RFC 7644 `scimType` keyword.
    pub fn scim_type(&self) -> &'static str {
        match self {
            Self::InvalidFilter(_) => "invalidFilter",
            Self::InvalidSyntax(_) => "invalidSyntax",
            Self::InvalidValue(_) => "invalidValue",
            Self::UnknownAttribute(_) => "invalidSyntax",
            Self::InvalidPath(_) => "invalidPath",
            Self::NoTarget(_) => "noTarget",
            Self::Mutability(_) => "mutability",
            Self::TooMany(_) => "tooMany",
            Self::InvalidCursor(_) => "invalidCursor",
            Self::TooLarge(_) => "tooLarge",
            Self::TooManyOperations(_) => "tooMany",
        }
    }

    /// The HTTP status: every protocol error is a client error (RFC 7644 §3.12).
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidFilter(_)
            | Self::InvalidSyntax(_)
            | Self::InvalidValue(_)
            | Self::UnknownAttribute(_)
            | Self::InvalidPath(_)
            | Self::NoTarget(_)
            | Self::Mutability(_)
            | Self::TooMany(_)
            | Self::InvalidCursor(_) => 400,
            Self::TooLarge(_) | Self::TooManyOperations(_) => 413,
        }
    }

    /// The human-readable `detail`.
    pub fn detail(&self) -> &str {
        match self {
            Self::InvalidFilter(d)
            | Self::InvalidSyntax(d)
            | Self::InvalidValue(d)
            | Self::UnknownAttribute(d)
            | Self::InvalidPath(d)
            | Self::NoTarget(d)
            | Self::Mutability(d)
            | Self::TooMany(d)
            | Self::InvalidCursor(d)
            | Self::TooLarge(d)
            | Self::TooManyOperations(d) => d,
        }
    }
}
