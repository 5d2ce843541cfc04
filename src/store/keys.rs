//! Key encodings. Integers are big-endian so range scans come back in numeric order; composite keys
//! are fixed-width ids or length-prefixed strings, so a prefix scan never matches a longer neighbour.

use crate::domain::ids::{GroupId, UserId};

/// `log` key of sequence number `seq`.
pub fn seq(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Sequence number from a `log` key.
pub fn seq_from(key: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(key).ok().map(u64::from_be_bytes)
}

/// `counts` key of the number of users.
pub const COUNT_USERS: &[u8] = b"users";

/// `counts` key of the number of groups.
pub const COUNT_GROUPS: &[u8] = b"groups";

/// `members` key: group id ++ user id.
pub fn membership(group: GroupId, user: UserId) -> [u8; 32] {
    pair(group.as_bytes(), user.as_bytes())
}

/// `member_of` key: user id ++ group id.
pub fn member_of(user: UserId, group: GroupId) -> [u8; 32] {
    pair(user.as_bytes(), group.as_bytes())
}

fn pair(a: &[u8; 16], b: &[u8; 16]) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(a);
    k[16..].copy_from_slice(b);
    k
}

/// The second id of a 32-byte composite key.
pub fn second_id(key: &[u8]) -> Option<[u8; 16]> {
    key.get(16..32).and_then(|s| <[u8; 16]>::try_from(s).ok())
}

/// Prefix of every `idx_user_external` key for `external_id`: u32 length ++ bytes.
pub fn external_prefix(external_id: &str) -> Vec<u8> {
    let bytes = external_id.as_bytes();
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut k = Vec::with_capacity(4 + bytes.len() + 16);
    k.extend_from_slice(&len.to_be_bytes());
    k.extend_from_slice(bytes);
    k
}

/// `idx_user_external` key: externalId prefix ++ user id.
pub fn external(external_id: &str, user: UserId) -> Vec<u8> {
    let mut k = external_prefix(external_id);
    k.extend_from_slice(user.as_bytes());
    k
}

/// `log_by_resource` key: resource id ++ seq.
pub fn resource_seq(id: &[u8; 16], seq: u64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..16].copy_from_slice(id);
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

/// Hour number (hours since the Unix epoch) of a time in ms.
pub fn hour_of(time_ms: i64) -> u64 {
    u64::try_from(time_ms.max(0) / 3_600_000).unwrap_or(0)
}

/// `stats_hourly` key: hour ++ client name.
pub fn hour_client(time_ms: i64, client: &str) -> Vec<u8> {
    let mut k = hour_of(time_ms).to_be_bytes().to_vec();
    k.extend_from_slice(client.as_bytes());
    k
}

/// Case-insensitive uniqueness key of a userName or displayName.
pub fn name(name: &str) -> Vec<u8> {
    name.to_lowercase().into_bytes()
}

/// The value of a `members` key: empty when the client sent no `display`, else `1` ++ the display
/// (so an empty display that was sent stays distinct from none).
pub fn member_entry(display: Option<&str>) -> Vec<u8> {
    match display {
        None => Vec::new(),
        Some(d) => std::iter::once(1u8).chain(d.bytes()).collect(),
    }
}

/// The `display` a `members` value holds (see [`member_entry`]).
pub fn member_display(value: &[u8]) -> Option<String> {
    match value {
        [1, rest @ ..] => Some(String::from_utf8_lossy(rest).into_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequence_keys_sort_numerically() {
        assert!(seq(2) < seq(10));
        assert!(seq(255) < seq(256));
        assert_eq!(seq_from(&seq(77)), Some(77));
    }

    #[test]
    fn external_prefixes_do_not_match_longer_ids() {
        let u = UserId::random();
        assert!(external("ab", u).starts_with(&external_prefix("ab")));
        assert!(!external("abc", u).starts_with(&external_prefix("ab")));
    }
}
