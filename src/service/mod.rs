//! The service layer: the single writer (queue + group commit), queries over the views, and tokens.
//! Must not import actix.

pub mod admins;
pub mod commands;
pub mod error;
pub mod metrics;
pub mod passwords;
pub mod query;
pub mod reports;
pub mod tokens;
pub mod usage;
pub mod writer;

pub use error::{Result, ServiceError};
