//! The SCIM protocol, with no I/O: schemas and attribute definitions, resource values, the filter
//! parser and evaluator, PATCH, list responses, discovery documents and the protocol error type.
//! Must not import actix or sled.

pub mod discovery;
pub mod error;
pub mod filter;
pub mod list;
pub mod mask;
pub mod patch;
pub mod resource;
pub mod schema;

/// Media type of every SCIM response.
pub const CONTENT_TYPE: &str = "application/scim+json";
