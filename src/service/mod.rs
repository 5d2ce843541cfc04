//! The service layer: the write service ([`commands`]: every write goes through it), the single
//! writer (queue + group commit), queries over the views, the console's named reads ([`reports`]),
//! tokens, console accounts and rate limits. The HTTP layer and the admin socket reach the store only through
//! here. Must not import actix.

pub mod admins;
pub mod commands;
pub mod error;
pub mod feed;
pub mod metrics;
pub mod passwords;
pub mod query;
pub mod ratelimit;
pub mod reports;
pub mod tokens;
pub mod usage;
pub mod webhooks;
pub mod writer;

pub use error::{Result, ServiceError};
