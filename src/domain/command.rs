//! Commands: what a client asks the writer to do, already parsed and validated at the boundary.
//! Ids of new resources are made before the command reaches the writer (sled may re-run a
//! transaction closure, and `decide` is pure).

use crate::scim::patch::{MemberOp, PatchOperation};
use crate::scim::resource::Parsed;

use super::error::Rejection;
use super::event::Action;
use super::ids::{ClientName, GroupId, TokenId, UserId};

/// An `If-Match` precondition (RFC 7232), checked against `meta.version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: the resource must exist.
    Any,
    /// One of these versions; an empty list (unparseable header) never matches.
    Versions(Vec<u64>),
}

impl IfMatch {
    /// Parse a header value: `*`, or a comma-separated list of `W/"7"` / `"7"` entity tags.
    pub fn parse(header: &str) -> Self {
        if header.trim() == "*" {
            return Self::Any;
        }
        Self::Versions(
            header
                .split(',')
                .filter_map(|tag| {
                    let t = tag.trim();
                    let t = t.strip_prefix("W/").unwrap_or(t);
                    t.strip_prefix('"')?.strip_suffix('"')?.parse().ok()
                })
                .collect(),
        )
    }

    /// Whether a resource at `version` satisfies the precondition.
    pub fn matches(&self, version: u64) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(v) => v.contains(&version),
        }
    }
}

/// A write request. Imperative names; `decide` turns each into events or a rejection.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// POST /Users.
    CreateUser {
        /// Id chosen for the new user.
        id: UserId,
        /// The validated body.
        input: Parsed,
        /// Hash of the password sent, when passwords are kept.
        password_hash: Option<String>,
    },
    /// PUT /Users/{id}.
    ReplaceUser {
        /// Target.
        id: UserId,
        /// The validated body.
        input: Parsed,
        /// Precondition.
        if_match: Option<IfMatch>,
        /// Hash of the password sent, when passwords are kept.
        password_hash: Option<String>,
    },
    /// PATCH /Users/{id}.
    PatchUser {
        /// Target.
        id: UserId,
        /// The operations, in order.
        ops: Vec<PatchOperation>,
        /// Precondition.
        if_match: Option<IfMatch>,
        /// Hash of the password set by the operations, when passwords are kept.
        password_hash: Option<String>,
    },
    /// DELETE /Users/{id}.
    DeleteUser {
        /// Target.
        id: UserId,
        /// Precondition.
        if_match: Option<IfMatch>,
    },
    /// POST /Groups.
    CreateGroup {
        /// Id chosen for the new group.
        id: GroupId,
        /// The validated body (members split out).
        input: Parsed,
    },
    /// PUT /Groups/{id}. Members are replaced only when the body has `members`.
    ReplaceGroup {
        /// Target.
        id: GroupId,
        /// The validated body.
        input: Parsed,
        /// Precondition.
        if_match: Option<IfMatch>,
    },
    /// PATCH /Groups/{id}: attribute operations and membership operations, each in request order.
    PatchGroup {
        /// Target.
        id: GroupId,
        /// Operations on attributes other than `members`.
        ops: Vec<PatchOperation>,
        /// Operations on `members`.
        members: Vec<MemberOp>,
        /// Precondition.
        if_match: Option<IfMatch>,
    },
    /// DELETE /Groups/{id}.
    DeleteGroup {
        /// Target.
        id: GroupId,
        /// Precondition.
        if_match: Option<IfMatch>,
    },
    /// Issue a bearer token to a client.
    IssueToken {
        /// The token's id.
        id: TokenId,
        /// The client.
        name: ClientName,
        /// SHA-256 of the secret.
        secret_sha256: [u8; 32],
        /// When it stops working, ms since the Unix epoch (`None`: never; Entra quarantines a job
        /// whose token expires, so that is the default).
        expires_ms: Option<i64>,
        /// What it may do.
        scopes: crate::domain::scope::Scopes,
    },
    /// Revoke a token.
    RevokeToken {
        /// The token.
        id: TokenId,
    },
    /// A write refused before it became a command (malformed body, unknown id): recorded so the
    /// activity report shows it like any other rejection.
    Refused {
        /// What was attempted.
        action: Action,
        /// The id the request named, if any.
        target_id: Option<String>,
        /// Why it was refused.
        rejection: Rejection,
    },
}

impl Command {
    /// The action recorded with a rejection.
    pub fn action(&self) -> Action {
        match self {
            Self::CreateUser { .. } => Action::CreateUser,
            Self::ReplaceUser { .. } => Action::ReplaceUser,
            Self::PatchUser { .. } => Action::PatchUser,
            Self::DeleteUser { .. } => Action::DeleteUser,
            Self::CreateGroup { .. } => Action::CreateGroup,
            Self::ReplaceGroup { .. } => Action::ReplaceGroup,
            Self::PatchGroup { .. } => Action::PatchGroup,
            Self::DeleteGroup { .. } => Action::DeleteGroup,
            Self::IssueToken { .. } => Action::IssueToken,
            Self::RevokeToken { .. } => Action::RevokeToken,
            Self::Refused { action, .. } => *action,
        }
    }

    /// The id the command targets (for creates: the id it would have had).
    pub fn target_id(&self) -> Option<String> {
        Some(match self {
            Self::CreateUser { id, .. }
            | Self::ReplaceUser { id, .. }
            | Self::PatchUser { id, .. }
            | Self::DeleteUser { id, .. } => id.to_string(),
            Self::CreateGroup { id, .. }
            | Self::ReplaceGroup { id, .. }
            | Self::PatchGroup { id, .. }
            | Self::DeleteGroup { id, .. } => id.to_string(),
            Self::IssueToken { id, .. } | Self::RevokeToken { id } => id.to_string(),
            Self::Refused { target_id, .. } => return target_id.clone(),
        })
    }

    /// The membership lists deciding this command reads beyond point reads: all groups of a user,
    /// all members of a group. The store fetches them however it can (sled cannot scan inside a
    /// transaction); `decide` reads nothing else of that kind.
    pub fn reads(&self) -> Reads {
        let all_members = |id: &GroupId| Reads {
            groups_of: None,
            members_of: Some(*id),
        };
        match self {
            Self::DeleteUser { id, .. } => Reads {
                groups_of: Some(*id),
                members_of: None,
            },
            Self::DeleteGroup { id, .. } => all_members(id),
            Self::ReplaceGroup { id, input, .. } if input.members.is_some() => all_members(id),
            Self::PatchGroup { id, members, .. }
                if members.iter().any(crate::domain::decide::reads_all_members) =>
            {
                all_members(id)
            }
            Self::CreateUser { .. }
            | Self::ReplaceUser { .. }
            | Self::PatchUser { .. }
            | Self::CreateGroup { .. }
            | Self::ReplaceGroup { .. }
            | Self::PatchGroup { .. }
            | Self::IssueToken { .. }
            | Self::RevokeToken { .. }
            | Self::Refused { .. } => Reads::default(),
        }
    }
}

/// Membership lists a decision reads (see [`Command::reads`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reads {
    /// Every group of this user.
    pub groups_of: Option<UserId>,
    /// Every member of this group.
    pub members_of: Option<GroupId>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_parses_weak_and_strong_tags() {
        assert!(IfMatch::parse("W/\"7\"").matches(7));
        assert!(IfMatch::parse("\"3\", W/\"7\"").matches(3));
        assert!(!IfMatch::parse("W/\"7\"").matches(8));
        assert!(!IfMatch::parse("garbage").matches(1));
        assert!(IfMatch::parse(" * ").matches(99));
    }
}
