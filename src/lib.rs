//! scimd: an on-prem SCIM 2.0 provisioning target. Identity providers (Entra ID, Okta, any RFC 7644
//! client) push users and groups; every write becomes an event in an append-only log in sled; views
//! projected from the log in the same transaction answer every read.
//!
//! # Layout
//! - [`scim`]: the protocol, pure: schemas as data, resource validation and rendering, filters, PATCH.
//! - [`domain`]: ids, commands, events, the write envelope and what a write hands back, and
//!   `decide`, the pure function holding every write rule.
//! - [`store`]: every sled call: trees (private to it), key encodings, the event codec, the append
//!   transaction that also reads back what it wrote, the one projection (over sled or in-memory
//!   trees), rebuild and verify.
//! - [`service`]: the write service (`commands`: the one door for every write), the single writer
//!   (group commit), the queries over the views and the named reads of the console.
//! - [`feed`]: the change feed: SETs (RFC 9967) from log records, cursors, the snapshot, signing.
//! - [`report`]: the activity feed, histories (replayed through the store's projection), charts.
//! - [`http`]: actix-web routes, extractors, and the one error→HTTP mapping; it talks to `service`
//!   only, never to `store`.
//! - [`net`]: names `config` and `http` share (address blocks, the SCIM mount path), so neither
//!   imports the other.
//! - [`config`], [`tls`], [`control`], [`app`], [`cli`]: thin wiring for the binary.
//!
//! Dependencies point inward: `scim` and `domain` import neither actix nor sled; only `store` names
//! sled and only `http` (and the wiring) names actix. Errors are a `thiserror` enum per layer;
//! `anyhow` appears only in the wiring.

pub mod app;
pub mod cli;
pub mod config;
pub mod control;
pub mod domain;
pub mod feed;
pub mod http;
pub mod logging;
pub mod net;
pub mod report;
pub mod scim;
pub mod service;
pub mod store;
pub mod systemd;
pub mod tls;
