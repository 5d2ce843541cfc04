//! The domain: ids and validated names, commands, events, and `decide`, the pure function holding
//! every write rule. Must not import actix or sled.

pub mod command;
pub mod decide;
pub mod error;
pub mod event;
pub mod ids;
pub mod scope;
pub mod write;
