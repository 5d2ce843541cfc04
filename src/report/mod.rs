//! The activity report: what happened, when, through which token, with what result — read from the
//! log (by sequence number) and its indexes, never from the views. Must not import actix.
//!
//! - [`activity`]: the feed, newest first, with filters and bounded work per page; exports.
//! - [`history`]: every record of one user or group, and its state as of any past point.
//! - [`stats`]: actions per hour and per day, and per-client synchronization details.
//! - [`explain`]: failure detail with a plain-language hint.
//! - [`runs`]: a client's records grouped into synchronization runs.

pub mod activity;
pub mod explain;
pub mod history;
pub mod runs;
pub mod stats;
