//! What a bearer token may do. Identity providers get `scim:write` (which implies reading), an app
//! that only reads users and groups gets `scim:read`, a consumer of the change feed `events:read`
//! (the feed and its snapshot, nothing of the SCIM API).
//!
//! Stored inside token records and `TokenScopesSet` events (bincode writes the variant index): new
//! scopes go at the END, never reorder one. The wire names come from strum, one table.

use serde::{Deserialize, Serialize};

/// One permission of a token.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::EnumIter,
)]
pub enum Scope {
    /// The whole SCIM API: reads and writes (identity providers).
    #[strum(serialize = "scim:write")]
    ScimWrite,
    /// SCIM reads only: GET, `.search`, discovery. Writes are 403.
    #[strum(serialize = "scim:read")]
    ScimRead,
    /// The change feed (`/events`, `/events/snapshot`) only.
    #[strum(serialize = "events:read")]
    EventsRead,
}

/// The scopes of every token issued before scopes existed, and of a token issued without any named.
pub const DEFAULT_SCOPES: [Scope; 1] = [Scope::ScimWrite];

impl Scope {
    /// The wire name (`scim:write`, …).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every wire name, for help texts and error messages.
    pub fn names() -> &'static [&'static str] {
        <Self as strum::VariantNames>::VARIANTS
    }
}

impl Scopes {
    /// Every scope name a token can have (the console offers these).
    pub fn names_known() -> &'static [&'static str] {
        Scope::names()
    }
}

/// A token's scopes: sorted, without repeats, never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Scopes(Vec<Scope>);

impl Default for Scopes {
    fn default() -> Self {
        Self(DEFAULT_SCOPES.to_vec())
    }
}

/// A scope list that cannot be a token's (empty, or a name scimd does not know).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidScopes(pub String);

impl Scopes {
    /// Normalise a list (sort, dedupe); `None` when it is empty.
    pub fn new(mut list: Vec<Scope>) -> Option<Self> {
        list.sort_unstable();
        list.dedup();
        (!list.is_empty()).then_some(Self(list))
    }

    /// Parse wire names; an empty list means the default (`scim:write`).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Self, InvalidScopes> {
        if names.is_empty() {
            return Ok(Self::default());
        }
        let list = names
            .iter()
            .map(|n| {
                n.as_ref().trim().parse::<Scope>().map_err(|_| {
                    InvalidScopes(format!(
                        "unknown scope '{}' (known: {})",
                        n.as_ref(),
                        Scope::names().join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(list).ok_or_else(|| InvalidScopes("a token needs at least one scope".into()))
    }

    /// The scopes, sorted.
    pub fn as_slice(&self) -> &[Scope] {
        &self.0
    }

    /// Wire names, sorted as stored.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|s| s.name()).collect()
    }

    /// May read SCIM resources and discovery documents.
    pub fn scim_read(&self) -> bool {
        self.0
            .iter()
            .any(|s| matches!(s, Scope::ScimWrite | Scope::ScimRead))
    }

    /// May create, change and delete SCIM resources.
    pub fn scim_write(&self) -> bool {
        self.0.contains(&Scope::ScimWrite)
    }

    /// May read the change feed.
    pub fn events_read(&self) -> bool {
        self.0.contains(&Scope::EventsRead)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_imply() {
        let s = Scopes::parse(&["events:read", "scim:read", "events:read"]).unwrap();
        assert_eq!(s.names(), ["scim:read", "events:read"]);
        assert!(s.scim_read() && !s.scim_write() && s.events_read());
        let w = Scopes::parse::<&str>(&[]).unwrap();
        assert_eq!(w, Scopes::default());
        assert!(w.scim_read() && w.scim_write() && !w.events_read());
        let e = Scopes::parse(&["events:read"]).unwrap();
        assert!(!e.scim_read() && !e.scim_write());
        assert!(Scopes::parse(&["scim:admin"])
            .unwrap_err()
            .0
            .contains("scim:write, scim:read, events:read"));
        assert!(Scopes::new(Vec::new()).is_none());
    }
}
