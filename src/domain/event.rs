//! Events: the past-tense facts the log records. Applying one to the views never fails, and each
//! carries what the activity report needs (names, attribute-level changes), so nothing is recomputed.
//!
//! Stored bytes are a contract (bincode encodes a variant by its index): add variants only at the end
//! of an enum, never reorder or remove one. `store/codec.rs` pins the encoding with golden bytes.

use serde::{Deserialize, Serialize};

use super::ids::{ClientName, GroupId, GroupName, TokenId, UserId, UserName};
use super::scope::Scope;

/// One attribute-level change: the path and the old and new values as JSON text (`None` = absent).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `userName`, `name.givenName`, `urn:…:User:department`, `emails`, …
    pub path: String,
    /// Value before, as JSON text.
    pub old: Option<String>,
    /// Value after, as JSON text.
    pub new: Option<String>,
}

/// A user as stored after an event: the facts the views are written from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSnapshot {
    /// The user.
    pub id: UserId,
    /// Its userName.
    pub user_name: UserName,
    /// Its externalId, if any.
    pub external_id: Option<String>,
    /// The whole stored document as JSON text.
    pub doc: String,
}

/// A group (without members) as stored after an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSnapshot {
    /// The group.
    pub id: GroupId,
    /// Its displayName.
    pub display_name: GroupName,
    /// Its externalId, if any.
    pub external_id: Option<String>,
    /// The whole stored document as JSON text (no members).
    pub doc: String,
}

/// Something that happened. New variants go at the end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A user was created.
    UserCreated(UserSnapshot),
    /// Attributes of a user changed (not its `active` flag).
    UserUpdated {
        /// The user after the change.
        user: UserSnapshot,
        /// What changed.
        changes: Vec<Change>,
    },
    /// `active` went to false (soft delete); other changes of the same request are included.
    UserDeactivated {
        /// The user after the change.
        user: UserSnapshot,
        /// What changed.
        changes: Vec<Change>,
    },
    /// `active` went back to true.
    UserReactivated {
        /// The user after the change.
        user: UserSnapshot,
        /// What changed.
        changes: Vec<Change>,
    },
    /// A user was deleted and removed from every group it belonged to.
    UserDeleted {
        /// The user.
        id: UserId,
        /// Its userName, for the report.
        user_name: UserName,
        /// Its externalId, for the report.
        external_id: Option<String>,
        /// The groups it was removed from.
        groups: Vec<GroupId>,
    },
    /// A group was created (members, if any, follow as `MembersAdded`).
    GroupCreated(GroupSnapshot),
    /// Attributes of a group other than its displayName changed.
    GroupUpdated {
        /// The group after the change.
        group: GroupSnapshot,
        /// What changed.
        changes: Vec<Change>,
    },
    /// A group's displayName changed (other changes of the same request are included).
    GroupRenamed {
        /// The group after the change.
        group: GroupSnapshot,
        /// What changed.
        changes: Vec<Change>,
    },
    /// Users became members of a group (only those that were not members already).
    MembersAdded {
        /// The group.
        group: GroupId,
        /// Its displayName, for the report.
        display_name: GroupName,
        /// The new members.
        users: Vec<UserId>,
    },
    /// Users stopped being members of a group (only those that were members).
    MembersRemoved {
        /// The group.
        group: GroupId,
        /// Its displayName, for the report.
        display_name: GroupName,
        /// The former members.
        users: Vec<UserId>,
    },
    /// A group was deleted with all its memberships.
    GroupDeleted {
        /// The group.
        id: GroupId,
        /// Its displayName, for the report.
        display_name: GroupName,
        /// Its externalId, for the report.
        external_id: Option<String>,
        /// The members it had.
        members: Vec<UserId>,
    },
    /// A bearer token was issued to a client; only the SHA-256 of its secret is kept.
    TokenIssued {
        /// The token.
        id: TokenId,
        /// The client it belongs to.
        name: ClientName,
        /// SHA-256 of the secret half.
        secret_sha256: [u8; 32],
    },
    /// A token was revoked; requests carrying it fail from the next one on.
    TokenRevoked {
        /// The token.
        id: TokenId,
        /// The client it belonged to.
        name: ClientName,
    },
    /// A user's password was set (`password_storage = "hash"`): only an argon2id hash is kept.
    UserPasswordSet {
        /// The user.
        id: UserId,
        /// PHC-format argon2id hash.
        hash: String,
    },
    /// A token was given an expiry (follows `TokenIssued` when the admin chose one).
    TokenExpirySet {
        /// The token.
        id: TokenId,
        /// Expiry, ms since the Unix epoch.
        expires_ms: i64,
    },
    /// Users became members of a group with the member entries the client sent (a `display`),
    /// or existing members' entries changed. Written instead of `MembersAdded` when a sent entry
    /// carries something to keep; a plain `{"value": id}` add stays `MembersAdded`.
    MembersAddedAsSent {
        /// The group.
        group: GroupId,
        /// Its displayName, for the report.
        display_name: GroupName,
        /// The members and their entries, in id order.
        members: Vec<MemberSent>,
    },
    /// A token was given scopes other than the default `scim:write` (follows `TokenIssued`; a
    /// token without this event, like every token from before scopes existed, is `scim:write`).
    TokenScopesSet {
        /// The token.
        id: TokenId,
        /// Its scopes, sorted, never empty.
        scopes: Vec<Scope>,
    },
}

impl Event {
    /// Whether the event changes the `tokens` view (what authentication reads).
    pub fn changes_tokens(&self) -> bool {
        matches!(
            self,
            Self::TokenIssued { .. }
                | Self::TokenRevoked { .. }
                | Self::TokenExpirySet { .. }
                | Self::TokenScopesSet { .. }
        )
    }
}

/// A member entry as the client sent it (see `Event::MembersAddedAsSent`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSent {
    /// The member.
    pub id: UserId,
    /// The `display` sent with it (`None`: none was sent).
    pub display: Option<String>,
}

/// What a client asked for, as recorded with a rejection. New variants go at the end.
///
/// The report and metrics name a variant in snake case (`CreateUser` → `create_user`), derived by
/// strum from the variant itself, so no table of names can drift. strum touches neither serde nor
/// the stored bytes (bincode writes the variant index).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantNames,
    strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    /// POST /Users
    CreateUser,
    /// PUT /Users/{id}
    ReplaceUser,
    /// PATCH /Users/{id}
    PatchUser,
    /// DELETE /Users/{id}
    DeleteUser,
    /// POST /Groups
    CreateGroup,
    /// PUT /Groups/{id}
    ReplaceGroup,
    /// PATCH /Groups/{id}
    PatchGroup,
    /// DELETE /Groups/{id}
    DeleteGroup,
    /// token add
    IssueToken,
    /// token revoke
    RevokeToken,
    /// An admin console sign-in.
    SignIn,
    /// SCIM requests refused by the rate limit (one aggregated record per client per minute).
    RateLimited,
    /// SCIM requests answered 401 (no, a malformed, an unknown, a revoked or an expired token):
    /// one aggregated record per address (or presented token) and minute.
    Unauthorized,
    /// SCIM reads that failed (400 `invalidFilter`, 404, …): one aggregated record per client and
    /// minute. Reads are otherwise not logged.
    ReadFailed,
}

impl Action {
    /// The name the activity report and metrics use (`create_user`, …); every name is in
    /// `<Action as strum::VariantNames>::VARIANTS`.
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// A write that was refused, with the error the client got. Views ignore it; the report shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// What was attempted.
    pub action: Action,
    /// The target id, when the request named one.
    pub target_id: Option<String>,
    /// The userName/displayName involved, when known.
    pub target_name: Option<String>,
    /// HTTP status sent.
    pub status: u16,
    /// SCIM `scimType` sent, if any.
    pub scim_type: Option<String>,
    /// SCIM `detail` sent.
    pub detail: String,
}
