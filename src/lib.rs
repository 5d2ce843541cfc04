//! scimd: an on-prem SCIM 2.0 provisioning target. Identity providers (Entra ID, Okta, any RFC 7644
//! client) push users and groups; every write becomes an event in an append-only log in sled; views
//! projected from the log in the same transaction answer every read.
//!
//! # Layout
//! - [`scim`]: the protocol, pure: schemas as data, resource validation and rendering, filters, PATCH.
//! - [`domain`]: ids, commands, events and `decide`, the pure function holding every write rule.
//! - [`store`]: every sled call: trees, key encodings, the event codec, the append transaction,
//!   projections, rebuild and verify.
//! - [`service`]: the single writer (group commit) and the queries over the views.
//! - [`http`]: actix-web routes, extractors, and the one error→HTTP mapping.
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
pub mod http;
pub mod logging;
pub mod net;
pub mod report;
pub mod scim;
pub mod service;
pub mod store;
pub mod systemd;
pub mod tls;
