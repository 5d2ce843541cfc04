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
        .map(|v| codec::decode_token(&v))
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

/// Members of `group` with the `display` their client sent (if any), in id order.
pub fn member_entries(
    t: &Trees,
    group: GroupId,
) -> impl Iterator<Item = Result<(UserId, Option<String>)>> {
    t.members
        .scan_prefix(group.as_bytes())
        .filter_map(|kv| match kv {
            Ok((k, v)) => {
                keys::second_id(&k).map(|b| Ok((UserId::from_bytes(b), keys::member_display(&v))))
            }
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

/// All tokens.
pub fn tokens(t: &Trees) -> Result<Vec<(TokenId, TokenRecord)>> {
    let mut out = Vec::new();
    for kv in t.tokens.iter() {
        let (k, v) = kv?;
        if let Some(id) = TokenId::from_slice(&k) {
            out.push((id, codec::decode_token(&v)?));
        }
    }
    Ok(out)
}

/// Total number of users (`users = true`) or groups (the kept count), and the ids of entries
/// `skip..skip+take` in id order. Records are not decoded; only the keys up to the page are read.
pub fn id_page(t: &Trees, users: bool, skip: usize, take: usize) -> Result<(usize, Vec<[u8; 16]>)> {
    let tree = if users { &t.users } else { &t.groups };
    let mut ids = Vec::with_capacity(take);
    for k in tree.iter().keys().skip(skip).take(take) {
        if let Ok(id) = <[u8; 16]>::try_from(k?.as_ref()) {
            ids.push(id);
        }
    }
    let (u, g) = counts(t)?;
    Ok((if users { u } else { g }, ids))
}

/// Number of users and of groups, as the projection keeps them (O(1)).
pub fn counts(t: &Trees) -> Result<(usize, usize)> {
    let get = |k: &[u8]| -> Result<usize> {
        Ok(t.counts
            .get(k)?
            .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
            .map(u64::from_be_bytes)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0))
    };
    Ok((get(keys::COUNT_USERS)?, get(keys::COUNT_GROUPS)?))
}

/// Number of users and of groups, counted key by key (O(n): what the kept counts must equal).
pub fn counted(t: &Trees) -> (usize, usize) {
    (t.users.len(), t.groups.len())
}

/// Log records from `from` (inclusive) in sequence order.
pub fn log_from(t: &Trees, from: u64) -> impl Iterator<Item = Result<LogRecord>> {
    t.log
        .range(keys::seq(from)..)
        .map(|kv| -> Result<LogRecord> {
            let (_, v) = kv?;
            codec::decode_log(&v)
        })
}

/// The log record `seq`.
pub fn log_record(t: &Trees, seq: u64) -> Result<Option<LogRecord>> {
    t.log
        .get(keys::seq(seq))?
        .map(|v| codec::decode_log(&v))
        .transpose()
}

/// First and last sequence numbers of the log, if it has any record.
pub fn log_bounds(t: &Trees) -> Result<Option<(u64, u64)>> {
    let first = t.log.first()?.and_then(|(k, _)| keys::seq_from(&k));
    let last = t.log.last()?.and_then(|(k, _)| keys::seq_from(&k));
    Ok(first.zip(last))
}

/// Sequence numbers of the records about `id` in `lo..hi`, oldest first (reverse for newest).
pub fn resource_seqs(
    t: &Trees,
    id: &[u8; 16],
    lo: u64,
    hi: u64,
) -> impl DoubleEndedIterator<Item = Result<u64>> {
    t.log_by_resource
        .range(keys::resource_seq(id, lo)..keys::resource_seq(id, hi))
        .keys()
        .map(|k| {
            let k = k?;
            Ok(k.get(16..24)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes))
        })
}

/// Hourly counts from `hour` on: (hour, client, successes, failures).
pub fn hourly_counts_from(
    t: &Trees,
    hour: u64,
) -> impl Iterator<Item = Result<(u64, String, u64, u64)>> {
    t.stats_hourly.range(hour.to_be_bytes()..).filter_map(|kv| {
        let (k, v) = match kv {
            Ok(kv) => kv,
            Err(e) => return Some(Err(e.into())),
        };
        let hour = k
            .get(..8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)?;
        let client = String::from_utf8_lossy(k.get(8..).unwrap_or_default()).into_owned();
        let get = |r: std::ops::Range<usize>| {
            v.get(r)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map_or(0, u64::from_be_bytes)
        };
        Some(Ok((hour, client, get(0..8), get(8..16))))
    })
}

/// Every client's last logged write (ms).
pub fn client_last_writes(t: &Trees) -> Result<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for kv in t.client_last.iter() {
        let (k, v) = kv?;
        if let Ok(b) = <[u8; 8]>::try_from(v.as_ref()) {
            out.push((
                String::from_utf8_lossy(&k).into_owned(),
                i64::from_be_bytes(b),
            ));
        }
    }
    Ok(out)
}

/// When the token `id` was last used (ms), if ever.
pub fn token_last_used(t: &Trees, id: TokenId) -> Result<Option<i64>> {
    Ok(t.token_usage
        .get(id.as_bytes())?
        .and_then(|v| <[u8; 8]>::try_from(v.as_ref()).ok())
        .map(i64::from_be_bytes))
}

/// Ids of users (`users = true`) or groups after `after`, in id order.
pub fn ids_after(
    t: &Trees,
    users: bool,
    after: Option<[u8; 16]>,
) -> impl Iterator<Item = Result<[u8; 16]>> {
    let tree = if users { &t.users } else { &t.groups };
    let range = match after {
        Some(a) => tree.range((
            std::ops::Bound::Excluded(a.to_vec()),
            std::ops::Bound::Unbounded,
        )),
        None => tree.iter(),
    };
    range.keys().filter_map(|k| match k {
        Ok(k) => <[u8; 16]>::try_from(k.as_ref()).ok().map(Ok),
        Err(e) => Some(Err(e.into())),
    })
}

/// Every stored password hash (PHC strings), for audits: none of them may be a clear password.
pub fn password_hashes(t: &Trees) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in t.user_secrets.iter().values() {
        out.push(String::from_utf8_lossy(&v?).into_owned());
    }
    Ok(out)
}
