//! Reads of the committed views (never the log): point lookups, index lookups and ordered scans.
//! Everything a SCIM GET needs, and the membership scans the writer's scan-commands use.

use crate::domain::ids::{GroupId, TokenId, UserId};

use super::codec::{self, GroupRecord, LogRecord, TokenRecord, UserRecord};
use super::{keys, Result, Trees};

/// The user `id`.
pub fn user(t: &Trees, id: UserId) -> Result<Option<UserRecord>> {
    t.users
        .get(id.as_bytes())?
        .map(|v| codec::decode("user record", &v))
        .transpose()
}

/// The group `id`.
pub fn group(t: &Trees, id: GroupId) -> Result<Option<GroupRecord>> {
    t.groups
        .get(id.as_bytes())?
        .map(|v| codec::decode("group record", &v))
        .transpose()
}

/// The token `id`.
pub fn token(t: &Trees, id: TokenId) -> Result<Option<TokenRecord>> {
    t.tokens
        .get(id.as_bytes())?
        .map(|v| codec::decode("token record", &v))
        .transpose()
}

/// The user whose userName is `name` in any letter case.
pub fn user_by_name(t: &Trees, name: &str) -> Result<Option<UserId>> {
    Ok(t.idx_user_name
        .get(keys::name(name))?
        .and_then(|v| UserId::from_slice(&v)))
}

/// The group whose displayName is `name` in any letter case.
pub fn group_by_name(t: &Trees, name: &str) -> Result<Option<GroupId>> {
    Ok(t.idx_group_name
        .get(keys::name(name))?
        .and_then(|v| GroupId::from_slice(&v)))
}

/// Users whose externalId is exactly `external_id`.
pub fn users_by_external(t: &Trees, external_id: &str) -> Result<Vec<UserId>> {
    let prefix = keys::external_prefix(external_id);
    let mut out = Vec::new();
    for kv in t.idx_user_external.scan_prefix(&prefix) {
        let (k, _) = kv?;
        if let Some(id) = k.get(prefix.len()..).and_then(UserId::from_slice) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Whether `user` is a member of `group`.
pub fn is_member(t: &Trees, group: GroupId, user: UserId) -> Result<bool> {
    Ok(t.members.contains_key(&keys::membership(group, user)[..])?)
}

/// Members of `group`, in id order, streamed from the `members` tree.
pub fn members_of(t: &Trees, group: GroupId) -> impl Iterator<Item = Result<UserId>> {
    t.members
        .scan_prefix(group.as_bytes())
        .filter_map(|kv| match kv {
            Ok((k, _)) => keys::second_id(&k).map(|b| Ok(UserId::from_bytes(b))),
            Err(e) => Some(Err(e.into())),
        })
}

/// Groups of `user`, in id order.
pub fn groups_of(t: &Trees, user: UserId) -> Result<Vec<GroupId>> {
    let mut out = Vec::new();
    for kv in t.member_of.scan_prefix(user.as_bytes()) {
        let (k, _) = kv?;
        if let Some(b) = keys::second_id(&k) {
            out.push(GroupId::from_bytes(b));
        }
    }
    Ok(out)
}

/// All users in id order, starting after `after` (exclusive) when given.
pub fn users_from(
    t: &Trees,
    after: Option<UserId>,
) -> impl Iterator<Item = Result<(UserId, UserRecord)>> {
    let range = match after {
        Some(a) => t.users.range((
            std::ops::Bound::Excluded(a.as_bytes().to_vec()),
            std::ops::Bound::Unbounded,
        )),
        None => t.users.iter(),
    };
    range.filter_map(|kv| match kv {
        Ok((k, v)) => {
            UserId::from_slice(&k).map(|id| codec::decode("user record", &v).map(|rec| (id, rec)))
        }
        Err(e) => Some(Err(e.into())),
    })
}

/// All groups in id order, starting after `after` (exclusive) when given.
pub fn groups_from(
    t: &Trees,
    after: Option<GroupId>,
) -> impl Iterator<Item = Result<(GroupId, GroupRecord)>> {
    let range = match after {
        Some(a) => t.groups.range((
            std::ops::Bound::Excluded(a.as_bytes().to_vec()),
            std::ops::Bound::Unbounded,
        )),
        None => t.groups.iter(),
    };
    range.filter_map(|kv| match kv {
        Ok((k, v)) => {
            GroupId::from_slice(&k).map(|id| codec::decode("group record", &v).map(|rec| (id, rec)))
        }
        Err(e) => Some(Err(e.into())),
    })
}

/// All tokens.
pub fn tokens(t: &Trees) -> Result<Vec<(TokenId, TokenRecord)>> {
    let mut out = Vec::new();
    for kv in t.tokens.iter() {
        let (k, v) = kv?;
        if let Some(id) = TokenId::from_slice(&k) {
            out.push((id, codec::decode("token record", &v)?));
        }
    }
    Ok(out)
}

/// Total number of users (`users = true`) or groups, and the ids of entries `skip..skip+take` in id
/// order. Records are not decoded.
pub fn id_page(t: &Trees, users: bool, skip: usize, take: usize) -> Result<(usize, Vec<[u8; 16]>)> {
    let tree = if users { &t.users } else { &t.groups };
    let mut total = 0;
    let mut ids = Vec::with_capacity(take);
    for k in tree.iter().keys() {
        let k = k?;
        if total >= skip && ids.len() < take {
            if let Ok(id) = <[u8; 16]>::try_from(k.as_ref()) {
                ids.push(id);
            }
        }
        total += 1;
    }
    Ok((total, ids))
}

/// Number of users and of groups (O(n): for the CLI and tests, not for request paths).
pub fn counts(t: &Trees) -> (usize, usize) {
    (t.users.len(), t.groups.len())
}

/// Log records from `from` (inclusive) in sequence order.
pub fn log_from(t: &Trees, from: u64) -> impl Iterator<Item = Result<LogRecord>> {
    t.log
        .range(keys::seq(from)..)
        .map(|kv| -> Result<LogRecord> {
            let (_, v) = kv?;
            codec::decode("log record", &v)
        })
}
