//! The activity feed. Items are built from log records alone (events carry the facts), newest
//! first. A page reads at most [`SCAN_LIMIT`] records whatever the filters, so even a filter that
//! matches nothing answers quickly on a log of millions; `next` then tells where to continue.

use serde::Serialize;
use serde_json::Value;

use crate::domain::event::{Action, Change, Event};
use crate::scim::resource::format_time_ms;
use crate::store::codec::{Entry, LogRecord};
use crate::store::{Result, Trees};

/// Most records examined to answer one page.
pub const SCAN_LIMIT: u64 = 20_000;
/// Largest page.
pub const MAX_LIMIT: usize = 500;

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// Sequence number.
    pub seq: u64,
    /// When (RFC 3339, UTC).
    pub time: String,
    /// Client name of the token (or `cli`, or `admin console`).
    pub client: String,
    /// Token id, if a token made the request.
    pub token_id: Option<String>,
    /// Request id.
    pub request_id: String,
    /// Client address.
    pub client_addr: Option<String>,
    /// What happened (`user_created`, …) or was attempted (`create_user`, …).
    pub action: &'static str,
    /// `User`, `Group`, `Token`, `Admin`.
    pub resource_type: Option<&'static str>,
    /// The resource's id.
    pub resource_id: Option<String>,
    /// Its userName / displayName / client name.
    pub resource_name: Option<String>,
    /// `success` or `failure`.
    pub outcome: &'static str,
    /// HTTP status the client got.
    pub status: u16,
    /// SCIM `scimType`, for failures.
    pub scim_type: Option<String>,
    /// SCIM `detail`, for failures.
    pub detail: Option<String>,
    /// Attribute-level changes.
    pub changes: Vec<ChangeItem>,
    /// Users added or removed (membership events).
    pub members: Vec<String>,
    /// How many requests the record stands for: 1, or for an aggregated refusal (`rate_limited`,
    /// `unauthorized`, `read_failed`) the count its detail begins with.
    pub count: u64,
    /// The current userNames of the first [`MEMBER_NAMES`] `members` (empty for a user that no
    /// longer exists), filled in for the console's pages; absent in exports.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub member_names: Vec<String>,
}

/// How many members of an entry get their names looked up for the console.
pub const MEMBER_NAMES: usize = 200;

/// One attribute-level change, values as JSON values (absent: `null`/missing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangeItem {
    /// Attribute path.
    pub path: String,
    /// Before (`None`: the attribute was absent).
    pub old: Option<Value>,
    /// After (`None`: the attribute is absent now).
    pub new: Option<Value>,
}

/// An event's change set for the report: the JSON texts the log keeps, as the values they hold.
fn changes(c: &[Change]) -> Vec<ChangeItem> {
    let value = |text: &Option<String>| {
        text.as_ref()
            .map(|t| serde_json::from_str(t).unwrap_or_else(|_| Value::String(t.clone())))
    };
    c.iter()
        .map(|c| ChangeItem {
            path: c.path.clone(),
            old: value(&c.old),
            new: value(&c.new),
        })
        .collect()
}

/// The report's name of an attempted action.
pub fn action_name(a: Action) -> &'static str {
    a.name()
}

fn action_type(a: Action) -> &'static str {
    match a {
        Action::CreateUser | Action::ReplaceUser | Action::PatchUser | Action::DeleteUser => "User",
        Action::CreateGroup | Action::ReplaceGroup | Action::PatchGroup | Action::DeleteGroup => {
            "Group"
        }
        Action::IssueToken | Action::RevokeToken => "Token",
        Action::SignIn => "Admin",
        // Requests of any kind: the record names the client, not a resource.
        Action::RateLimited | Action::Unauthorized | Action::ReadFailed => "Client",
    }
}

/// What happened, as the report names it: one variant per kind of [`Event`], named in snake case
/// by strum (`UserCreated` → `user_created`). A report-side enum, so the names stay out of the
/// stored [`Event`]; [`EventKind::of`] matches every event variant, so a new one does not compile
/// until it has a name here. The order is the console's order of choices.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, strum::IntoStaticStr, strum::VariantNames, strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum EventKind {
    /// [`Event::UserCreated`]
    UserCreated,
    /// [`Event::UserUpdated`]
    UserUpdated,
    /// [`Event::UserDeactivated`]
    UserDeactivated,
    /// [`Event::UserReactivated`]
    UserReactivated,
    /// [`Event::UserDeleted`]
    UserDeleted,
    /// [`Event::UserPasswordSet`]
    UserPasswordSet,
    /// [`Event::GroupCreated`]
    GroupCreated,
    /// [`Event::GroupUpdated`]
    GroupUpdated,
    /// [`Event::GroupRenamed`]
    GroupRenamed,
    /// [`Event::MembersAdded`]
    MembersAdded,
    /// [`Event::MembersRemoved`]
    MembersRemoved,
    /// [`Event::GroupDeleted`]
    GroupDeleted,
    /// [`Event::TokenIssued`]
    TokenIssued,
    /// [`Event::TokenRevoked`]
    TokenRevoked,
    /// [`Event::TokenExpirySet`]
    TokenExpirySet,
    /// [`Event::TokenScopesSet`]
    TokenScopesSet,
}

impl EventKind {
    /// The kind of an event.
    pub fn of(e: &Event) -> Self {
        match e {
            Event::UserCreated(_) => Self::UserCreated,
            Event::UserUpdated { .. } => Self::UserUpdated,
            Event::UserDeactivated { .. } => Self::UserDeactivated,
            Event::UserReactivated { .. } => Self::UserReactivated,
            Event::UserDeleted { .. } => Self::UserDeleted,
            Event::UserPasswordSet { .. } => Self::UserPasswordSet,
            Event::GroupCreated(_) => Self::GroupCreated,
            Event::GroupUpdated { .. } => Self::GroupUpdated,
            Event::GroupRenamed { .. } => Self::GroupRenamed,
            // Members that joined with the entries their client sent are still members added.
            Event::MembersAdded { .. } | Event::MembersAddedAsSent { .. } => Self::MembersAdded,
            Event::MembersRemoved { .. } => Self::MembersRemoved,
            Event::GroupDeleted { .. } => Self::GroupDeleted,
            Event::TokenIssued { .. } => Self::TokenIssued,
            Event::TokenRevoked { .. } => Self::TokenRevoked,
            Event::TokenExpirySet { .. } => Self::TokenExpirySet,
            Event::TokenScopesSet { .. } => Self::TokenScopesSet,
        }
    }

    /// The report's name (`user_created`, …).
    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The names of accepted changes, in the console's order ([`EventKind`]).
pub const CHANGE_ACTIONS: &[&str] = <EventKind as strum::VariantNames>::VARIANTS;
/// The names of attempts recorded with a rejection ([`Action`]).
pub const ATTEMPT_ACTIONS: &[&str] = <Action as strum::VariantNames>::VARIANTS;

/// Every action name the feed can show (for the filter's choices and validation): the changes,
/// then the attempts. Derived from the two enums, never listed by hand.
pub static ACTIONS: std::sync::LazyLock<Vec<&'static str>> = std::sync::LazyLock::new(|| {
    CHANGE_ACTIONS
        .iter()
        .chain(ATTEMPT_ACTIONS)
        .copied()
        .collect()
});

impl Item {
    /// The report line for a log record.
    pub fn from_record(rec: &LogRecord) -> Self {
        let mut item = Item {
            seq: rec.seq,
            time: format_time_ms(rec.time_ms),
            client: rec.actor.client.clone(),
            token_id: rec.actor.token_id.map(|t| t.to_string()),
            request_id: rec.request_id.clone(),
            client_addr: rec.client_addr.clone(),
            action: "",
            resource_type: None,
            resource_id: None,
            resource_name: None,
            outcome: "success",
            status: 200,
            scim_type: None,
            detail: None,
            changes: Vec::new(),
            members: Vec::new(),
            count: 1,
            member_names: Vec::new(),
        };
        let user = |i: &mut Item, id: String, name: Option<String>| {
            i.resource_type = Some("User");
            i.resource_id = Some(id);
            i.resource_name = name;
        };
        let group = |i: &mut Item, id: String, name: Option<String>| {
            i.resource_type = Some("Group");
            i.resource_id = Some(id);
            i.resource_name = name;
        };
        match &rec.entry {
            Entry::Event(e) => {
                item.action = EventKind::of(e).name();
                match e {
                    Event::UserCreated(u) => {
                        item.status = 201;
                        user(&mut item, u.id.to_string(), Some(u.user_name.to_string()));
                    }
                    Event::UserUpdated {
                        user: u,
                        changes: c,
                    }
                    | Event::UserDeactivated {
                        user: u,
                        changes: c,
                    }
                    | Event::UserReactivated {
                        user: u,
                        changes: c,
                    } => {
                        item.changes = changes(c);
                        user(&mut item, u.id.to_string(), Some(u.user_name.to_string()));
                    }
                    Event::UserDeleted { id, user_name, .. } => {
                        item.status = 204;
                        user(&mut item, id.to_string(), Some(user_name.to_string()));
                    }
                    Event::UserPasswordSet { id, .. } => {
                        user(&mut item, id.to_string(), None);
                    }
                    Event::GroupCreated(g) => {
                        item.status = 201;
                        group(
                            &mut item,
                            g.id.to_string(),
                            Some(g.display_name.to_string()),
                        );
                    }
                    Event::GroupUpdated {
                        group: g,
                        changes: c,
                    }
                    | Event::GroupRenamed {
                        group: g,
                        changes: c,
                    } => {
                        item.changes = changes(c);
                        group(
                            &mut item,
                            g.id.to_string(),
                            Some(g.display_name.to_string()),
                        );
                    }
                    Event::MembersAdded {
                        group: g,
                        display_name,
                        users,
                    }
                    | Event::MembersRemoved {
                        group: g,
                        display_name,
                        users,
                    } => {
                        item.members = users.iter().map(ToString::to_string).collect();
                        group(&mut item, g.to_string(), Some(display_name.to_string()));
                    }
                    Event::MembersAddedAsSent {
                        group: g,
                        display_name,
                        members,
                    } => {
                        item.members = members.iter().map(|m| m.id.to_string()).collect();
                        group(&mut item, g.to_string(), Some(display_name.to_string()));
                    }
                    Event::GroupDeleted {
                        id, display_name, ..
                    } => {
                        item.status = 204;
                        group(&mut item, id.to_string(), Some(display_name.to_string()));
                    }
                    Event::TokenIssued { id, name, .. } | Event::TokenRevoked { id, name } => {
                        item.resource_type = Some("Token");
                        item.resource_id = Some(id.to_string());
                        item.resource_name = Some(name.to_string());
                    }
                    Event::TokenExpirySet { id, expires_ms } => {
                        item.resource_type = Some("Token");
                        item.resource_id = Some(id.to_string());
                        item.changes = vec![ChangeItem {
                            path: "expires".into(),
                            old: None,
                            new: Some(Value::String(format_time_ms(*expires_ms))),
                        }];
                    }
                    Event::TokenScopesSet { id, scopes } => {
                        item.resource_type = Some("Token");
                        item.resource_id = Some(id.to_string());
                        item.changes = vec![ChangeItem {
                            path: "scopes".into(),
                            old: None,
                            new: Some(Value::Array(
                                scopes.iter().map(|s| Value::from(s.name())).collect(),
                            )),
                        }];
                    }
                }
            }
            Entry::Rejected(r) => {
                item.action = action_name(r.action);
                item.resource_type = Some(action_type(r.action));
                item.resource_id = r.target_id.clone();
                item.resource_name = r.target_name.clone();
                item.outcome = "failure";
                item.status = r.status;
                item.scim_type = r.scim_type.clone();
                item.detail = Some(r.detail.clone());
                if matches!(
                    r.action,
                    Action::RateLimited | Action::Unauthorized | Action::ReadFailed
                ) {
                    item.count = aggregated_count(&r.detail);
                }
            }
        }
        // What the client actually got, where the record knows it (format 2 on); older records
        // keep the status the write kind implies.
        if let Some(status) = rec.answered {
            item.status = status;
        }
        item
    }
}

/// The count an aggregated refusal's detail begins with (`"7 requests refused …"`; the service
/// writes it so); 1 when there is none.
fn aggregated_count(detail: &str) -> u64 {
    detail
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1)
}

/// Which records a page wants.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Page size (clamped to [`MAX_LIMIT`]; 0 means the default of 50).
    pub limit: usize,
    /// Only records with a smaller sequence number (the previous page's `next`).
    pub before: Option<u64>,
    /// Not before this time (ms).
    pub since_ms: Option<i64>,
    /// Not after this time (ms).
    pub until_ms: Option<i64>,
    /// Client name (case-insensitive).
    pub client: Option<String>,
    /// Action name.
    pub action: Option<String>,
    /// `success` or `failure`.
    pub outcome: Option<String>,
    /// Only records about this user, group or token.
    pub resource: Option<[u8; 16]>,
    /// Text searched in the resource name, detail, client and request id (case-insensitive).
    pub text: Option<String>,
    /// Every record about one user or group, found by name or id (see [`Identity`]).
    pub identity: Option<Identity>,
}

/// A user or group as the identity filter resolved it: its ids (a name may be both a user's and
/// a group's) and its names. A record is about it when it names one of the ids as its resource
/// or among the members it changed (a membership event of a group), or carries one of the names
/// (a refused create has no id yet).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Identity {
    /// What the admin typed.
    pub query: String,
    /// The resource ids (UUID text).
    pub ids: Vec<String>,
    /// The names (userName or displayName).
    pub names: Vec<String>,
}

impl Identity {
    /// Whether `item` is about this identity.
    pub fn matches(&self, item: &Item) -> bool {
        item.resource_id
            .as_ref()
            .is_some_and(|id| self.ids.iter().any(|i| i.eq_ignore_ascii_case(id)))
            || item
                .members
                .iter()
                .any(|m| self.ids.iter().any(|i| i.eq_ignore_ascii_case(m)))
            || item
                .resource_name
                .as_ref()
                .is_some_and(|n| self.names.iter().any(|x| x.eq_ignore_ascii_case(n)))
    }
}

/// A page of the feed.
#[derive(Debug, Clone, Serialize)]
pub struct Page {
    /// Newest first.
    pub items: Vec<Item>,
    /// Where the next (older) page starts; `None` at the beginning of the log.
    pub next: Option<u64>,
    /// How many records were read to answer (bounded by [`SCAN_LIMIT`]).
    pub scanned: u64,
    /// The identity filter as resolved, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
}

impl Query {
    /// Whether `item` passes the filters that are not ranges.
    pub fn matches(&self, item: &Item) -> bool {
        let eq =
            |a: &Option<String>, b: &str| a.as_deref().is_none_or(|a| a.eq_ignore_ascii_case(b));
        eq(&self.client, &item.client)
            && self.identity.as_ref().is_none_or(|i| i.matches(item))
            && eq(&self.action, item.action)
            && eq(&self.outcome, item.outcome)
            && self.text.as_deref().is_none_or(|q| {
                let q = q.to_lowercase();
                [
                    item.resource_name.as_deref(),
                    item.detail.as_deref(),
                    Some(item.client.as_str()),
                    Some(item.request_id.as_str()),
                    item.resource_id.as_deref(),
                ]
                .into_iter()
                .flatten()
                .any(|s| s.to_lowercase().contains(&q))
            })
    }
}

use crate::store::read::{log_bounds as bounds, log_record as record_at};

/// The first sequence number whose time is at or after `time_ms` (times never go backwards along
/// the log, so this is a binary search: a handful of reads on any log size).
pub fn seq_at_or_after(t: &Trees, time_ms: i64) -> Result<u64> {
    let Some((mut lo, last)) = bounds(t)? else {
        return Ok(1);
    };
    let mut hi = last + 1;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let time = record_at(t, mid)?.map_or(i64::MAX, |r| r.time_ms);
        if time < time_ms {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(lo)
}

/// One page of the feed, newest first.
pub fn page(t: &Trees, q: &Query) -> Result<Page> {
    let limit = match q.limit {
        0 => 50,
        n => n.min(MAX_LIMIT),
    };
    let Some((first, last)) = bounds(t)? else {
        return Ok(Page {
            items: Vec::new(),
            next: None,
            scanned: 0,
            identity: q.identity.clone(),
        });
    };
    let mut hi = last + 1;
    if let Some(b) = q.before {
        hi = hi.min(b);
    }
    if let Some(until) = q.until_ms {
        hi = hi.min(seq_at_or_after(t, until.saturating_add(1))?);
    }
    let lo = match q.since_ms {
        Some(since) => seq_at_or_after(t, since)?.max(first),
        None => first,
    };
    let mut items = Vec::new();
    let mut scanned = 0u64;
    let mut next = None;
    if lo >= hi {
        return Ok(Page {
            items,
            next,
            scanned,
            identity: q.identity.clone(),
        });
    }
    // Newest first, either along the whole log or along one resource's index.
    let seqs: Box<dyn Iterator<Item = Result<u64>>> = match q.resource {
        Some(id) => Box::new(crate::store::read::resource_seqs(t, &id, lo, hi).rev()),
        None => Box::new((lo..hi).rev().map(Ok)),
    };
    for seq in seqs {
        let seq = seq?;
        if items.len() == limit || scanned >= SCAN_LIMIT {
            next = Some(seq + 1);
            break;
        }
        scanned += 1;
        let Some(rec) = record_at(t, seq)? else {
            continue;
        };
        let item = Item::from_record(&rec);
        if q.matches(&item) {
            items.push(item);
        }
    }
    // `next` is exclusive: the page after starts below the last record looked at.
    Ok(Page {
        items,
        next: next.filter(|n| *n > lo),
        scanned,
        identity: q.identity.clone(),
    })
}

/// Records after `after_seq` (oldest first) that pass the filters, reading at most
/// [`SCAN_LIMIT`] records: the live tail. Also returns the last sequence number read, where the
/// next call continues.
pub fn after(t: &Trees, q: &Query, after_seq: u64) -> Result<(Vec<Item>, u64)> {
    let mut out = Vec::new();
    let mut last = after_seq;
    for rec in crate::store::read::log_from(t, after_seq + 1)
        .take(usize::try_from(SCAN_LIMIT).unwrap_or(usize::MAX))
    {
        let rec = rec?;
        last = rec.seq;
        let item = Item::from_record(&rec);
        let in_resource = q.resource.is_none_or(|id| {
            let id = uuid::Uuid::from_bytes(id).to_string();
            item.resource_id.as_deref() == Some(id.as_str()) || item.members.contains(&id)
        });
        if in_resource && q.matches(&item) {
            out.push(item);
        }
    }
    Ok((out, last))
}

/// Write every log record, oldest first, as NDJSON report items (`scimd export-log`).
pub fn export_log(t: &Trees, out: &mut dyn std::io::Write) -> Result<u64> {
    let mut n = 0;
    for rec in crate::store::read::log_from(t, 0) {
        let line = Item::from_record(&rec?).to_ndjson();
        out.write_all(line.as_bytes())
            .map_err(|e| crate::store::StoreError::Io(format!("export: {e}")))?;
        n += 1;
    }
    Ok(n)
}

/// The CSV header line of an export.
pub const CSV_HEADER: &str = "seq,time,client,token_id,request_id,client_addr,action,resource_type,resource_id,resource_name,outcome,status,scim_type,detail,changes,members\n";

/// Characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection list).
const FORMULA_START: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

fn csv_field(s: &str) -> String {
    // Quote always; double inner quotes. A leading formula character is neutralised so a
    // spreadsheet never executes data an identity provider sent; a NUL (which some readers take
    // for the end of the cell, making what follows it the start of one) becomes U+FFFD.
    let mut s = s.replace('"', "\"\"").replace('\0', "\u{fffd}");
    if s.starts_with(FORMULA_START) {
        s.insert(0, '\'');
    }
    format!("\"{s}\"")
}

impl Item {
    /// One CSV line (with newline).
    pub fn to_csv(&self) -> String {
        let changes = serde_json::to_string(&self.changes).unwrap_or_default();
        let members = self.members.join(" ");
        let fields = [
            self.seq.to_string(),
            self.time.clone(),
            self.client.clone(),
            self.token_id.clone().unwrap_or_default(),
            self.request_id.clone(),
            self.client_addr.clone().unwrap_or_default(),
            self.action.to_owned(),
            self.resource_type.unwrap_or_default().to_owned(),
            self.resource_id.clone().unwrap_or_default(),
            self.resource_name.clone().unwrap_or_default(),
            self.outcome.to_owned(),
            self.status.to_string(),
            self.scim_type.clone().unwrap_or_default(),
            self.detail.clone().unwrap_or_default(),
            changes,
            members,
        ];
        let mut line = fields
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
        line.push('\n');
        line
    }

    /// One NDJSON line (with newline).
    pub fn to_ndjson(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;
    use crate::domain::event::{GroupSnapshot, Rejected, UserSnapshot};
    use crate::domain::ids::{ClientName, GroupId, GroupName, TokenId, UserId, UserName};
    use crate::store::codec::Actor;

    fn record(entry: Entry) -> LogRecord {
        LogRecord {
            seq: 1,
            time_ms: 1_767_225_600_000,
            actor: Actor {
                token_id: None,
                client: "Okta".into(),
            },
            request_id: "r1".into(),
            client_addr: None,
            entry,
            answered: None,
            request_body: crate::domain::write::RequestBody::NotKept,
        }
    }

    /// One event of each kind (exhaustive: a new kind needs a sample here).
    fn sample(kind: EventKind) -> Event {
        let user = UserSnapshot {
            id: UserId::from_bytes([1; 16]),
            user_name: UserName::try_from("alice").unwrap(),
            external_id: None,
            doc: "{}".into(),
        };
        let group = GroupSnapshot {
            id: GroupId::from_bytes([2; 16]),
            display_name: GroupName::try_from("Sales").unwrap(),
            external_id: None,
            doc: "{}".into(),
        };
        let (gid, gname) = (group.id, group.display_name.clone());
        let token = TokenId::from_bytes([3; 16]);
        let client = ClientName::try_from("Okta").unwrap();
        let users = vec![user.id];
        match kind {
            EventKind::UserCreated => Event::UserCreated(user),
            EventKind::UserUpdated => Event::UserUpdated {
                user,
                changes: vec![],
            },
            EventKind::UserDeactivated => Event::UserDeactivated {
                user,
                changes: vec![],
            },
            EventKind::UserReactivated => Event::UserReactivated {
                user,
                changes: vec![],
            },
            EventKind::UserDeleted => Event::UserDeleted {
                id: user.id,
                user_name: user.user_name,
                external_id: None,
                groups: vec![],
            },
            EventKind::UserPasswordSet => Event::UserPasswordSet {
                id: user.id,
                hash: "$argon2id$…".into(),
            },
            EventKind::GroupCreated => Event::GroupCreated(group),
            EventKind::GroupUpdated => Event::GroupUpdated {
                group,
                changes: vec![],
            },
            EventKind::GroupRenamed => Event::GroupRenamed {
                group,
                changes: vec![],
            },
            EventKind::MembersAdded => Event::MembersAdded {
                group: gid,
                display_name: gname,
                users,
            },
            EventKind::MembersRemoved => Event::MembersRemoved {
                group: gid,
                display_name: gname,
                users,
            },
            EventKind::GroupDeleted => Event::GroupDeleted {
                id: gid,
                display_name: gname,
                external_id: None,
                members: users,
            },
            EventKind::TokenIssued => Event::TokenIssued {
                id: token,
                name: client,
                secret_sha256: [0; 32],
            },
            EventKind::TokenRevoked => Event::TokenRevoked {
                id: token,
                name: client,
            },
            EventKind::TokenExpirySet => Event::TokenExpirySet {
                id: token,
                expires_ms: 1_767_225_600_000,
            },
            EventKind::TokenScopesSet => Event::TokenScopesSet {
                id: token,
                scopes: vec![crate::domain::scope::Scope::EventsRead],
            },
        }
    }

    #[test]
    fn every_name_the_feed_produces_is_listed() {
        let mut produced = Vec::new();
        for kind in EventKind::iter() {
            let event = sample(kind);
            assert_eq!(EventKind::of(&event), kind);
            let item = Item::from_record(&record(Entry::Event(event)));
            assert_eq!(item.action, kind.name());
            assert_eq!(item.outcome, "success");
            produced.push(item.action);
        }
        for action in Action::iter() {
            let item = Item::from_record(&record(Entry::Rejected(Rejected {
                action,
                target_id: None,
                target_name: None,
                status: 409,
                scim_type: None,
                detail: "no".into(),
            })));
            assert_eq!(item.action, action.name());
            assert_eq!(item.outcome, "failure");
            produced.push(item.action);
        }
        assert_eq!(produced, *ACTIONS, "the list is the feed's names, in order");
        assert!(ACTIONS.contains(&"token_expiry_set"));
    }

    /// The names are an interface (filter links, exports, metrics labels): renaming a variant
    /// must not rename them by accident.
    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_neutralised() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx=1", "\rx=1"] {
            let cell = csv_field(bad);
            assert!(cell.starts_with("\"'"), "{bad:?} -> {cell:?}");
        }
        assert_eq!(csv_field("a\0=b"), "\"a\u{fffd}=b\"");
        assert_eq!(csv_field("\0=cmd"), "\"\u{fffd}=cmd\"");
        assert_eq!(csv_field("plain \"q\""), "\"plain \"\"q\"\"\"");
    }

    #[test]
    fn the_names_are_pinned() {
        assert_eq!(
            CHANGE_ACTIONS,
            [
                "user_created",
                "user_updated",
                "user_deactivated",
                "user_reactivated",
                "user_deleted",
                "user_password_set",
                "group_created",
                "group_updated",
                "group_renamed",
                "members_added",
                "members_removed",
                "group_deleted",
                "token_issued",
                "token_revoked",
                "token_expiry_set",
                "token_scopes_set",
            ]
        );
        assert_eq!(
            ATTEMPT_ACTIONS,
            [
                "create_user",
                "replace_user",
                "patch_user",
                "delete_user",
                "create_group",
                "replace_group",
                "patch_group",
                "delete_group",
                "issue_token",
                "revoke_token",
                "sign_in",
                "rate_limited",
                "unauthorized",
                "read_failed",
            ]
        );
        assert_eq!(Action::SignIn.name(), "sign_in");
        assert_eq!(ACTIONS.len(), 30);
    }
}
