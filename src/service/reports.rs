//! The console's and the operator's reads, as named calls on the read side: the activity report,
//! histories, charts, tokens, console accounts, and the gauges of `/metrics`. The HTTP layer and the
//! admin socket reach the store only through these (and [`Directory`]'s SCIM queries).

use crate::domain::ids::GroupId;
use crate::report::activity::{self, Item, Page, Query};
use crate::report::history::{self, History};
use crate::report::stats::{self, Stats};
use crate::store::read;

use super::error::Result;
use super::metrics::Gauges;
use super::query::Directory;
use super::tokens::{self, AuthError, Caller, TokenInfo};

impl Directory {
    /// Who a bearer token header belongs to (and note that it was used).
    pub fn authenticate(
        &self,
        header: Option<&str>,
        now_ms: i64,
    ) -> std::result::Result<Caller, AuthError> {
        tokens::authenticate(&self.store, header, now_ms)
    }

    /// The client name of token `id`, if it exists (revoked and expired ones too).
    pub fn token_client(&self, id: crate::domain::ids::TokenId) -> Option<String> {
        read::token(self.store.trees(), id)
            .ok()
            .flatten()
            .map(|r| r.name.to_string())
    }

    /// Every token, for the console and `token list`.
    pub fn tokens(&self) -> Result<Vec<TokenInfo>> {
        tokens::list(&self.store)
    }

    /// Whether `password` is that of the console account `name`.
    pub fn verify_admin(&self, name: &str, password: &str) -> Result<bool> {
        super::admins::verify(&self.store, name, password)
    }

    /// The password stamp of console account `name` (see [`super::admins::stamp`]).
    pub fn admin_stamp(&self, name: &str) -> Result<Option<u64>> {
        super::admins::stamp(&self.store, name)
    }

    /// Set the password of console account `name` (the console's "change my password").
    pub fn set_admin_password(
        &self,
        name: &str,
        password: &str,
        now_ms: i64,
    ) -> Result<std::result::Result<(), super::admins::AdminError>> {
        super::admins::set_password(&self.store, name, password, now_ms)
    }

    /// Resolve the identity filter: a UUID is that resource (and its current name); a name is
    /// the user with that userName and the group with that displayName (case-insensitive), and
    /// the name itself (for records of resources gone or never created).
    pub fn identity(&self, text: &str) -> Result<activity::Identity> {
        let t = self.store.trees();
        let text = text.trim();
        let mut identity = activity::Identity {
            query: text.to_owned(),
            ..activity::Identity::default()
        };
        if let Ok(id) = uuid::Uuid::parse_str(text) {
            identity.ids.push(id.to_string());
            let bytes = *id.as_bytes();
            let name = |doc: &str, key: &str| {
                serde_json::from_str::<serde_json::Value>(doc)
                    .ok()
                    .and_then(|d| {
                        d.get(key)
                            .and_then(serde_json::Value::as_str)
                            .map(str::to_owned)
                    })
            };
            if let Some(u) = read::user(t, crate::domain::ids::UserId::from_bytes(bytes))? {
                identity.names.extend(name(&u.doc, "userName"));
            }
            if let Some(g) = read::group(t, GroupId::from_bytes(bytes))? {
                identity.names.extend(name(&g.doc, "displayName"));
            }
            return Ok(identity);
        }
        identity.names.push(text.to_owned());
        if let Some(u) = read::user_by_name(t, text)? {
            identity.ids.push(u.to_string());
        }
        if let Some(g) = read::group_by_name(t, text)? {
            identity.ids.push(g.to_string());
        }
        Ok(identity)
    }

    /// One page of the activity report.
    pub fn activity_page(&self, q: &Query) -> Result<Page> {
        Ok(activity::page(self.store.trees(), q)?)
    }

    /// One page of the activity report for the console: members named, not only numbered.
    pub fn activity_page_named(&self, q: &Query) -> Result<Page> {
        let mut page = self.activity_page(q)?;
        for item in &mut page.items {
            self.name_members(item)?;
        }
        Ok(page)
    }

    /// Fill in the current userNames of an entry's first members.
    pub fn name_members(&self, item: &mut Item) -> Result<()> {
        let t = self.store.trees();
        item.member_names = item
            .members
            .iter()
            .take(activity::MEMBER_NAMES)
            .map(|m| {
                let Ok(id) = uuid::Uuid::parse_str(m) else {
                    return Ok(String::new());
                };
                let user = read::user(t, crate::domain::ids::UserId::from_bytes(*id.as_bytes()))?;
                Ok(user
                    .and_then(|u| serde_json::from_str::<serde_json::Value>(&u.doc).ok())
                    .and_then(|d| {
                        d.get("userName")
                            .and_then(|n| n.as_str())
                            .map(str::to_owned)
                    })
                    .unwrap_or_default())
            })
            .collect::<Result<_>>()?;
        Ok(())
    }

    /// Records after `after_seq` that match `q` (the live tail), and how far the scan read.
    pub fn activity_after(&self, q: &Query, after_seq: u64) -> Result<(Vec<Item>, u64)> {
        Ok(activity::after(self.store.trees(), q, after_seq)?)
    }

    /// The first sequence number recorded at or after `time_ms`.
    pub fn seq_at_or_after(&self, time_ms: i64) -> Result<u64> {
        Ok(activity::seq_at_or_after(self.store.trees(), time_ms)?)
    }

    /// The history of resource `id`, with its state as of `at` (a sequence number).
    pub fn history(&self, id: [u8; 16], at: Option<u64>, base_url: &str) -> Result<History> {
        let mut h = history::history(self.store.trees(), &self.reg, id, at, base_url)?;
        for item in &mut h.items {
            self.name_members(item)?;
        }
        Ok(h)
    }

    /// Failed requests of the last 24 h per client and per token, from the log.
    pub fn failures_24h(&self, now_ms: i64) -> Result<stats::Failures> {
        Ok(stats::failures_24h(self.store.trees(), now_ms)?)
    }

    /// A client's (or every client's) synchronization runs in a time range, newest first.
    pub fn runs(
        &self,
        client: Option<&str>,
        since_ms: i64,
        until_ms: i64,
        gap_ms: i64,
    ) -> Result<Vec<crate::report::runs::Run>> {
        Ok(crate::report::runs::runs(
            self.store.trees(),
            client,
            since_ms,
            until_ms,
            gap_ms,
        )?)
    }

    /// Record `seq` as the report shows it, and for a failure what to do about it.
    pub fn explain(
        &self,
        seq: u64,
        now_ms: i64,
    ) -> Result<Option<(Item, Option<crate::report::explain::Explanation>)>> {
        let t = self.store.trees();
        let Some(rec) = read::log_record(t, seq)? else {
            return Ok(None);
        };
        let item = Item::from_record(&rec);
        let why = crate::report::explain::explain(t, &item, &rec.request_body, now_ms)?;
        Ok(Some((item, why)))
    }

    /// Counts for the console's charts.
    pub fn stats(&self, now_ms: i64) -> Result<Stats> {
        Ok(stats::stats(self.store.trees(), now_ms)?)
    }

    /// The number of members of group `id` (0 when it does not exist).
    pub fn member_count(&self, id: GroupId) -> Result<u64> {
        Ok(read::group(self.store.trees(), id)?.map_or(0, |g| g.member_count))
    }

    /// Whether the store answers reads (for `/readyz`).
    pub fn readable(&self) -> bool {
        read::log_bounds(self.store.trees()).is_ok()
    }

    /// The gauges of `/metrics`; `log_records` is the writer's last durable sequence number.
    pub fn gauges(&self, log_records: u64) -> Gauges {
        let t = self.store.trees();
        let (users, groups) = read::counts(t).unwrap_or_default();
        let tokens = read::tokens(t)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(id, rec)| {
                read::token_last_used(t, id)
                    .ok()
                    .flatten()
                    .map(|ms| (id.to_string(), rec.name.to_string(), ms / 1000))
            })
            .collect();
        Gauges {
            log_records,
            users,
            groups,
            tokens,
        }
    }
}
