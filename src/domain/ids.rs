//! Identifiers and validated names. Built only through their constructors, so the rest of the
//! domain never re-checks a string.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why a string is not a valid identifier or name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidName(pub String);

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh random (v4) identifier.
            pub fn random() -> Self {
                Self(*uuid::Uuid::new_v4().as_bytes())
            }
            /// A fresh time-ordered (v7) identifier: 48 bits of milliseconds, then 74 random
            /// bits. Ids made later sort later, so a new row's keys go at the end of their trees.
            pub fn time_ordered() -> Self {
                Self(*uuid::Uuid::now_v7().as_bytes())
            }
            /// The 16 bytes used as a sled key.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }
            /// From 16 key bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }
            /// From a key slice; `None` unless it is exactly 16 bytes.
            pub fn from_slice(bytes: &[u8]) -> Option<Self> {
                <[u8; 16]>::try_from(bytes).ok().map(Self)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidName;
            fn try_from(s: &str) -> Result<Self, InvalidName> {
                uuid::Uuid::parse_str(s)
                    .map(|u| Self(*u.as_bytes()))
                    .map_err(|_| InvalidName(format!("'{s}' is not a valid id")))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                uuid::Uuid::from_bytes(self.0).hyphenated().fmt(f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

uuid_id!(
    /// Server-assigned id of a user: an opaque UUID, never the userName.
    UserId
);
uuid_id!(
    /// Server-assigned id of a group.
    GroupId
);
uuid_id!(
    /// Id of a bearer token (the public half of the token string).
    TokenId
);

/// Longest accepted userName, group displayName or client name, in characters.
pub const MAX_NAME_CHARS: usize = 512;

fn check_name(what: &str, s: &str) -> Result<(), InvalidName> {
    if s.trim().is_empty() {
        return Err(InvalidName(format!("{what} must not be empty")));
    }
    if s.chars().count() > MAX_NAME_CHARS {
        return Err(InvalidName(format!(
            "{what} is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    if s.chars().any(char::is_control) {
        return Err(InvalidName(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The name exactly as sent.
            pub fn as_str(&self) -> &str {
                &self.0
            }
            /// The uniqueness key: names are unique regardless of letter case.
            pub fn key(&self) -> String {
                self.0.to_lowercase()
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InvalidName;
            fn try_from(s: &str) -> Result<Self, InvalidName> {
                check_name($what, s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidName;
            fn try_from(s: String) -> Result<Self, InvalidName> {
                check_name($what, &s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

name_type!(
    /// A user's `userName`: non-empty, unique case-insensitively.
    UserName,
    "userName"
);
name_type!(
    /// A group's `displayName`: non-empty, unique case-insensitively.
    GroupName,
    "displayName"
);
name_type!(
    /// The name an admin gave a SCIM client ("Entra ID", "Okta").
    ClientName,
    "client name"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_ordered_ids_sort_in_the_order_they_were_made() {
        let ids: Vec<GroupId> = (0..1000).map(|_| GroupId::time_ordered()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        let text = ids[0].to_string();
        assert_eq!(uuid::Uuid::parse_str(&text).unwrap().get_version_num(), 7);
    }

    #[test]
    fn ids_round_trip_through_text() {
        let id = UserId::random();
        let back = UserId::try_from(id.to_string().as_str()).unwrap();
        assert_eq!(id, back);
        assert!(UserId::try_from("alice").is_err());
    }

    #[test]
    fn names_are_validated_and_keyed_case_insensitively() {
        assert_eq!(UserName::try_from("Alice@X").unwrap().key(), "alice@x");
        assert!(UserName::try_from(" ").is_err());
        assert!(UserName::try_from("a\nb").is_err());
        assert!(GroupName::try_from("x".repeat(513).as_str()).is_err());
        let json = serde_json::from_str::<ClientName>("\"\"");
        assert!(json.is_err());
    }
}
