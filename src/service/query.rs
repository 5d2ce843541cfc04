//! Queries: every SCIM read, answered from the views (never the log).
//!
//! Filters are planned: an `eq` on `id`, `userName`, `externalId`, group `displayName` or
//! `members` (alone or inside an `and`) reads an index to get a few candidates; anything else streams
//! over the view in id order. Either way the whole filter is then evaluated on each candidate, so the
//! plan can only make a query faster, never change its answer.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::domain::error::Rejection;
use crate::domain::ids::{GroupId, UserId};
use crate::domain::write::{Link, Row, Written};
use crate::scim::error::ScimError;
use crate::scim::filter::{self, AttrTypes, CompareOp, Filter};
use crate::scim::list::{list_response, Paging};
use crate::scim::resource::{render, Document, Meta, Projection};
use crate::scim::schema::{Registry, ResourceKind};
use crate::store::codec::{GroupRecord, UserRecord};
use crate::store::{read, Store, StoreError};

use super::error::Result;

/// The read side.
#[derive(Clone, Debug)]
pub struct Directory {
    pub(super) store: Store,
    pub(super) reg: Arc<Registry>,
}

/// A list request's parameters.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// `filter`
    pub filter: Option<String>,
    /// `startIndex`
    pub start_index: Option<String>,
    /// `count`
    pub count: Option<String>,
    /// `attributes`
    pub attributes: Option<String>,
    /// `excludedAttributes`
    pub excluded_attributes: Option<String>,
    /// `sortBy`
    pub sort_by: Option<String>,
    /// `sortOrder`
    pub sort_order: Option<String>,
    /// `cursor` (RFC 9865); `Some("")` asks for the first page in cursor mode.
    pub cursor: Option<String>,
}

/// One rendered resource and its version (for `ETag`).
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The JSON body.
    pub body: Value,
    /// Its meta.
    pub meta: Meta,
}

fn parse_doc(doc: &str) -> Result<Document> {
    serde_json::from_str(doc).map_err(|e| {
        StoreError::Decode {
            what: "stored document",
            detail: e.to_string(),
        }
        .into()
    })
}

/// A page of members: (id, display name) pairs and the id to continue after.
pub type MembersPage = (Vec<(String, Option<String>)>, Option<String>);

/// Matching resources in id order: raw id and rendered body.
type Matches<'s> = Box<dyn Iterator<Item = Result<([u8; 16], Value)>> + 's>;

/// Where candidates for a list come from.
enum Plan {
    /// These ids (from an index), to be checked against the whole filter.
    Ids(Vec<[u8; 16]>),
    /// Every resource, in id order.
    Scan,
}

/// A user as SCIM shows it; `groups` (when shown) become the readOnly `groups` attribute.
fn render_user_row(
    reg: &Registry,
    id: UserId,
    doc: Document,
    meta: Meta,
    groups: Option<&[Link]>,
    base_url: &str,
) -> Rendered {
    let mut body = render(
        reg,
        ResourceKind::User,
        &id.to_string(),
        doc,
        &meta,
        base_url,
    );
    if let Some(groups) = groups.filter(|g| !g.is_empty()) {
        let groups = groups
            .iter()
            .map(|l| {
                let g = GroupId::from_bytes(l.id);
                json!({
                    "value": g.to_string(),
                    "$ref": format!("{base_url}/Groups/{g}"),
                    "display": l.display,
                    "type": "direct",
                })
            })
            .collect();
        body.insert("groups".into(), Value::Array(groups));
    }
    Rendered {
        body: Value::Object(body),
        meta,
    }
}

/// A group as SCIM shows it; `members` (when shown) from the membership rows.
fn render_group_row(
    reg: &Registry,
    id: GroupId,
    doc: Document,
    meta: Meta,
    members: Option<&[Link]>,
    base_url: &str,
) -> Rendered {
    let mut body = render(
        reg,
        ResourceKind::Group,
        &id.to_string(),
        doc,
        &meta,
        base_url,
    );
    if let Some(members) = members {
        let members = members.iter().map(|l| member_json(l, base_url)).collect();
        body.insert("members".into(), Value::Array(members));
    }
    Rendered {
        body: Value::Object(body),
        meta,
    }
}

/// [`member_json`] written straight into `out`, byte for byte the same, without building and
/// dropping a small JSON tree per member of a streamed group.
fn push_member_json(out: &mut String, l: &Link, escaped_base_url: &str) {
    use std::fmt::Write;
    let u = UserId::from_bytes(l.id);
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "{{\"value\":\"{u}\",\"$ref\":\"{escaped_base_url}/Users/{u}\",\"type\":\"User\""
    );
    if let Some(d) = &l.display {
        out.push_str(",\"display\":");
        out.push_str(&Value::from(d.as_str()).to_string());
    }
    out.push('}');
}

/// `text` as the inside of a JSON string (no quotes).
fn json_string_inside(text: &str) -> String {
    let quoted = Value::from(text).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// One member entry as SCIM shows it (a `display` only where its client sent one).
fn member_json(l: &Link, base_url: &str) -> Value {
    let u = UserId::from_bytes(l.id);
    let mut m = json!({
        "value": u.to_string(),
        "$ref": format!("{base_url}/Users/{u}"),
        "type": "User",
    });
    if let Some(d) = &l.display {
        m["display"] = json!(d);
    }
    m
}

/// Groups with more members than this are answered as a stream (see [`Directory::group_stream`]).
pub const STREAM_MEMBERS_ABOVE: u64 = 1000;

/// Member entries serialised per streamed chunk.
const STREAM_CHUNK: usize = 1000;

/// A group answer whose member list follows as a stream: the bytes are exactly those of the
/// whole rendered body, produced a chunk at a time from the `members` view, so the server's memory
/// for it does not grow with the group.
pub struct GroupStream {
    /// The group's meta (for `ETag`).
    pub meta: Meta,
    /// The body in chunks: the group without its members, then the members, then the end.
    pub chunks: Box<dyn Iterator<Item = Result<String>> + Send>,
}

impl Directory {
    /// A read side over `store`.
    pub fn new(store: Store, reg: Arc<Registry>) -> Self {
        Self { store, reg }
    }

    /// The schema registry.
    pub fn registry(&self) -> &Registry {
        &self.reg
    }

    fn not_found(kind: ResourceKind, id: &str) -> Rejection {
        Rejection::NotFound {
            kind,
            id: id.to_owned(),
        }
    }

    /// `GET /{kind}/{id}`.
    pub fn get(
        &self,
        kind: ResourceKind,
        id: &str,
        projection: &Projection,
        base_url: &str,
    ) -> Result<Rendered> {
        let Ok(raw) = UserId::try_from(id) else {
            return Err(Self::not_found(kind, id).into());
        };
        let bytes = *raw.as_bytes();
        self.load(kind, bytes, projection, base_url, false)?
            .ok_or_else(|| Self::not_found(kind, id).into())
    }

    /// Render one resource by raw id; `with_all` forces memberships in (for filter evaluation).
    fn load(
        &self,
        kind: ResourceKind,
        id: [u8; 16],
        projection: &Projection,
        base_url: &str,
        with_all: bool,
    ) -> Result<Option<Rendered>> {
        let t = self.store.trees();
        match kind {
            ResourceKind::User => {
                let uid = UserId::from_bytes(id);
                let Some(rec) = read::user(t, uid)? else {
                    return Ok(None);
                };
                Ok(Some(
                    self.render_user(uid, &rec, projection, base_url, with_all)?,
                ))
            }
            ResourceKind::Group => {
                let gid = GroupId::from_bytes(id);
                let Some(rec) = read::group(t, gid)? else {
                    return Ok(None);
                };
                Ok(Some(
                    self.render_group(gid, &rec, projection, base_url, with_all)?,
                ))
            }
        }
    }

    fn render_user(
        &self,
        id: UserId,
        rec: &UserRecord,
        projection: &Projection,
        base_url: &str,
        with_all: bool,
    ) -> Result<Rendered> {
        let doc = parse_doc(&rec.doc)?;
        let groups = if with_all || projection.wants("groups") {
            Some(self.user_groups(id)?)
        } else {
            None
        };
        Ok(render_user_row(
            &self.reg,
            id,
            doc,
            rec.meta(),
            groups.as_deref(),
            base_url,
        ))
    }

    /// A user's groups with their names, in id order.
    fn user_groups(&self, id: UserId) -> Result<Vec<Link>> {
        let t = self.store.trees();
        let mut out = Vec::new();
        for g in read::groups_of(t, id)? {
            let display = read::group(t, g)?.and_then(|r| r.shown_name());
            out.push(Link {
                id: *g.as_bytes(),
                display,
            });
        }
        Ok(out)
    }

    fn render_group(
        &self,
        id: GroupId,
        rec: &GroupRecord,
        projection: &Projection,
        base_url: &str,
        with_all: bool,
    ) -> Result<Rendered> {
        let doc = parse_doc(&rec.doc)?;
        let members = if with_all || projection.wants("members") {
            let t = self.store.trees();
            let mut members = Vec::new();
            // Members as their clients sent them: a `display` only where one was sent.
            for entry in read::member_entries(t, id) {
                let (u, display) = entry?;
                members.push(Link {
                    id: *u.as_bytes(),
                    display,
                });
            }
            Some(members)
        } else {
            None
        };
        Ok(render_group_row(
            &self.reg,
            id,
            doc,
            rec.meta(),
            members.as_deref(),
            base_url,
        ))
    }

    /// Render what a write wrote, with the response's projection. `None`: the target is gone
    /// (a delete).
    pub fn render_written(
        &self,
        written: Written,
        projection: &Projection,
        base_url: &str,
    ) -> Option<Rendered> {
        let (kind, mut r) = match written.row {
            Row::User { state, groups } => (
                ResourceKind::User,
                render_user_row(
                    &self.reg,
                    UserId::from_bytes(written.id),
                    state.doc,
                    state.meta,
                    groups.as_deref(),
                    base_url,
                ),
            ),
            Row::Group { state, members } => (
                ResourceKind::Group,
                render_group_row(
                    &self.reg,
                    GroupId::from_bytes(written.id),
                    state.doc,
                    state.meta,
                    members.as_deref(),
                    base_url,
                ),
            ),
            Row::None => return None,
        };
        if let Value::Object(m) = &mut r.body {
            projection.apply(&self.reg, kind, m);
        }
        Some(r)
    }

    /// One page of a group's members in id order, after `after`: (id, display name) and the id to
    /// continue after when more follow. Large groups are read a page at a time.
    pub fn members_page(
        &self,
        group: GroupId,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<MembersPage> {
        let t = self.store.trees();
        let mut out = Vec::with_capacity(limit);
        let mut next = None;
        for u in read::members_of(t, group) {
            let u = u?;
            if after.is_some_and(|a| u <= a) {
                continue;
            }
            if out.len() == limit {
                next = out
                    .last()
                    .map(|(id, _): &(String, Option<String>)| id.clone());
                break;
            }
            let display = read::user(t, u)?.and_then(|r| r.shown_name());
            out.push((u.to_string(), display));
        }
        Ok((out, next))
    }

    /// `GET /Groups/{id}` with every attribute (no `attributes`/`excludedAttributes`) of a group
    /// with more than [`STREAM_MEMBERS_ABOVE`] members, as a stream. `None`: render it whole.
    pub fn group_stream(&self, id: &str, base_url: &str) -> Result<Option<GroupStream>> {
        let Ok(gid) = GroupId::try_from(id) else {
            return Ok(None);
        };
        let t = self.store.trees();
        let Some(rec) = read::group(t, gid)? else {
            return Ok(None);
        };
        if rec.member_count <= STREAM_MEMBERS_ABOVE {
            return Ok(None);
        }
        let doc = parse_doc(&rec.doc)?;
        let meta = rec.meta();
        let mut head = render_group_row(&self.reg, gid, doc, meta, None, base_url).body;
        // The default projection, as the whole rendering applies it (an extension attribute
        // returned only on request, or never, stays out of the stream too).
        if let Value::Object(m) = &mut head {
            Projection::parse(&self.reg, ResourceKind::Group, None, None)?.apply(
                &self.reg,
                ResourceKind::Group,
                m,
            );
        }
        // The members go last, where the whole rendering puts them.
        let mut head = head.to_string();
        head.pop();
        head.push_str(if head.len() > 1 {
            ",\"members\":["
        } else {
            "\"members\":["
        });
        let base = json_string_inside(base_url);
        let mut entries = read::member_entries(t, gid);
        let mut first = true;
        let mut done = false;
        let rest = std::iter::from_fn(move || {
            if done {
                return None;
            }
            let mut chunk = String::with_capacity(STREAM_CHUNK * 128);
            for _ in 0..STREAM_CHUNK {
                match entries.next() {
                    Some(Ok((u, display))) => {
                        if !first {
                            chunk.push(',');
                        }
                        first = false;
                        let link = Link {
                            id: *u.as_bytes(),
                            display,
                        };
                        push_member_json(&mut chunk, &link, &base);
                    }
                    Some(Err(e)) => {
                        done = true;
                        return Some(Err(e.into()));
                    }
                    None => {
                        done = true;
                        chunk.push_str("]}");
                        break;
                    }
                }
            }
            Some(Ok(chunk))
        });
        Ok(Some(GroupStream {
            meta,
            chunks: Box::new(std::iter::once(Ok(head)).chain(rest)),
        }))
    }

    /// Render a resource for a response: load it and apply the projection.
    pub fn get_projected(
        &self,
        kind: ResourceKind,
        id: &str,
        projection: &Projection,
        base_url: &str,
    ) -> Result<Rendered> {
        let mut r = self.get(kind, id, projection, base_url)?;
        if let Value::Object(m) = &mut r.body {
            projection.apply(&self.reg, kind, m);
        }
        Ok(r)
    }

    /// `GET /{kind}` (and `POST /{kind}/.search`): filter, sort, index or cursor paging, projection.
    pub fn list(&self, kind: ResourceKind, q: &ListQuery, base_url: &str) -> Result<Value> {
        self.list_with(kind, q, base_url, true)
    }

    /// [`Directory::list`], optionally without index planning (every resource is evaluated): the
    /// tests use it to prove the plan never changes an answer.
    pub fn list_with(
        &self,
        kind: ResourceKind,
        q: &ListQuery,
        base_url: &str,
        use_indexes: bool,
    ) -> Result<Value> {
        let projection = Projection::parse(
            &self.reg,
            kind,
            q.attributes.as_deref(),
            q.excluded_attributes.as_deref(),
        )?;
        let paging = Paging::parse(q.start_index.as_deref(), q.count.as_deref())?;
        let types = self.reg.types(kind);
        let filter = match q.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                let f = filter::parse_filter(text).map_err(|e| ScimError::InvalidFilter(e.0))?;
                f.check(&types).map_err(|e| ScimError::InvalidFilter(e.0))?;
                Some(f)
            }
        };
        let sort = match q.sort_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(by) => Some(SortKey::parse(
                &self.reg,
                kind,
                by,
                q.sort_order.as_deref(),
            )?),
        };
        if let Some(cursor) = &q.cursor {
            if q.start_index.is_some() {
                return Err(ScimError::InvalidValue(
                    "use either 'cursor' or 'startIndex', not both".into(),
                )
                .into());
            }
            if sort.is_some() {
                return Err(ScimError::InvalidValue(
                    "cursor paging follows the stable id order; 'sortBy' cannot be combined with 'cursor'"
                        .into(),
                )
                .into());
            }
            let after = Cursor::decode(cursor)?;
            return self.cursor_page(
                kind,
                filter.as_ref(),
                after,
                &paging,
                &projection,
                base_url,
                use_indexes,
            );
        }
        if filter.is_none() && sort.is_none() {
            // No filter, no sort: count keys and render only the page, decoding nothing else.
            let (total, ids) = read::id_page(
                self.store.trees(),
                kind == ResourceKind::User,
                paging.skip(),
                paging.count,
            )?;
            let resources = self.finish_page(kind, ids, &projection, base_url)?;
            return Ok(list_response(total, paging.start_index, resources));
        }
        if let (Some(f), None, true) = (&filter, &sort, use_indexes) {
            if let Plan::Ids(ids) = self.plan(kind, f)? {
                return self.indexed_page(kind, f, ids, &paging, &projection, base_url);
            }
        }
        let mut total = 0usize;
        let mut page = Vec::new();
        match &sort {
            None => {
                for r in self.matching(kind, filter.as_ref(), None, use_indexes)? {
                    let id = r?;
                    total += 1;
                    if total > paging.skip() && page.len() < paging.count {
                        page.push(id);
                    }
                }
            }
            Some(key) => {
                // Sorting needs every match: O(matches) memory for keys, pages rendered after.
                let mut keyed = Vec::new();
                for r in
                    self.matching_rendered(kind, filter.as_ref(), None, use_indexes, base_url)?
                {
                    let (id, body) = r?;
                    keyed.push((key.value(&types, &body), id));
                }
                keyed.sort_by(|a, b| key.compare(&a.0, &b.0).then_with(|| a.1.cmp(&b.1)));
                total = keyed.len();
                page = keyed
                    .into_iter()
                    .skip(paging.skip())
                    .take(paging.count)
                    .map(|(_, id)| id)
                    .collect();
            }
        }
        let resources = self.finish_page(kind, page, &projection, base_url)?;
        Ok(list_response(total, paging.start_index, resources))
    }

    /// A page of an indexed lookup (Entra's `userName eq`, `displayName eq`): its few candidates
    /// are each read and rendered once, with what the page shows, and the filter is checked on
    /// that rendering (memberships included when it names them), instead of rendering a match for
    /// the filter and again for the page.
    fn indexed_page(
        &self,
        kind: ResourceKind,
        filter: &Filter,
        mut ids: Vec<[u8; 16]>,
        paging: &Paging,
        projection: &Projection,
        base_url: &str,
    ) -> Result<Value> {
        let types = self.reg.types(kind);
        let with_all = mentions(filter, &types, kind);
        ids.sort_unstable();
        ids.dedup();
        let mut total = 0usize;
        let mut resources = Vec::new();
        for id in ids {
            let Some(r) = self.load(kind, id, projection, base_url, with_all)? else {
                continue;
            };
            if !filter.matches(&r.body, &types) {
                continue;
            }
            total += 1;
            if total > paging.skip() && resources.len() < paging.count {
                let mut body = r.body;
                if let Value::Object(m) = &mut body {
                    projection.apply(&self.reg, kind, m);
                }
                resources.push(body);
            }
        }
        Ok(list_response(total, paging.start_index, resources))
    }

    /// `POST /.search` at the root: Users then Groups, each evaluated with the filter where it
    /// applies (a filter naming `members` matches no user). Index paging only, no sort.
    pub fn search_all(&self, q: &ListQuery, base_url: &str) -> Result<Value> {
        if q.cursor.is_some() || q.sort_by.is_some() {
            return Err(ScimError::InvalidValue(
                "a search at the root supports neither 'cursor' nor 'sortBy'; search /Users/.search or /Groups/.search"
                    .into(),
            )
            .into());
        }
        let paging = Paging::parse(q.start_index.as_deref(), q.count.as_deref())?;
        let parsed = match q.filter.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => {
                Some(filter::parse_filter(text).map_err(|e| ScimError::InvalidFilter(e.0))?)
            }
        };
        let kinds = [ResourceKind::User, ResourceKind::Group];
        let mut applicable = Vec::new();
        let mut first_error = None;
        for kind in kinds {
            match &parsed {
                Some(f) => match f.check(&self.reg.types(kind)) {
                    Ok(()) => applicable.push(kind),
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                },
                None => applicable.push(kind),
            }
        }
        if applicable.is_empty() {
            let e = first_error.map(|e| e.0).unwrap_or_default();
            return Err(ScimError::InvalidFilter(e).into());
        }
        let mut total = 0usize;
        let mut page: Vec<(ResourceKind, [u8; 16])> = Vec::new();
        for kind in applicable {
            for id in self.matching(kind, parsed.as_ref(), None, true)? {
                let id = id?;
                total += 1;
                if total > paging.skip() && page.len() < paging.count {
                    page.push((kind, id));
                }
            }
        }
        let projection = |kind| {
            Projection::parse_lenient(
                &self.reg,
                kind,
                q.attributes.as_deref(),
                q.excluded_attributes.as_deref(),
            )
        };
        let (users, groups) = (
            projection(ResourceKind::User)?,
            projection(ResourceKind::Group)?,
        );
        let mut resources = Vec::with_capacity(page.len());
        for (kind, id) in page {
            let projection = match kind {
                ResourceKind::User => &users,
                ResourceKind::Group => &groups,
            };
            resources.extend(self.finish_page(kind, vec![id], projection, base_url)?);
        }
        Ok(list_response(total, paging.start_index, resources))
    }

    /// One page in cursor mode (RFC 9865): matches after the cursor's id, in id order, plus
    /// `nextCursor` when more follow. Stateless cursors: they never expire and survive restarts.
    #[allow(clippy::too_many_arguments)]
    fn cursor_page(
        &self,
        kind: ResourceKind,
        filter: Option<&Filter>,
        after: Option<[u8; 16]>,
        paging: &Paging,
        projection: &Projection,
        base_url: &str,
        use_indexes: bool,
    ) -> Result<Value> {
        let mut ids = Vec::with_capacity(paging.count);
        let mut more = false;
        for r in self.matching(kind, filter, after, use_indexes)? {
            let id = r?;
            if ids.len() == paging.count {
                more = true;
                break;
            }
            ids.push(id);
        }
        let next = match (more, ids.last()) {
            (true, Some(last)) => Some(Cursor::encode(*last)),
            _ => None,
        };
        let resources = self.finish_page(kind, ids, projection, base_url)?;
        let mut body = json!({
            "schemas": [crate::scim::list::LIST_RESPONSE_SCHEMA],
            "itemsPerPage": resources.len(),
            "Resources": resources,
        });
        if let Some(next) = next {
            body["nextCursor"] = json!(next);
        }
        Ok(body)
    }

    /// Render the page: load each resource with what the projection wants, then apply it.
    fn finish_page(
        &self,
        kind: ResourceKind,
        ids: Vec<[u8; 16]>,
        projection: &Projection,
        base_url: &str,
    ) -> Result<Vec<Value>> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(mut r) = self.load(kind, id, projection, base_url, false)? {
                if let Value::Object(m) = &mut r.body {
                    projection.apply(&self.reg, kind, m);
                }
                out.push(r.body);
            }
        }
        Ok(out)
    }

    /// Ids of the resources matching `filter`, in id order, after `after`.
    fn matching<'s>(
        &'s self,
        kind: ResourceKind,
        filter: Option<&'s Filter>,
        after: Option<[u8; 16]>,
        use_indexes: bool,
    ) -> Result<Box<dyn Iterator<Item = Result<[u8; 16]>> + 's>> {
        let it = self.matching_rendered(kind, filter, after, use_indexes, "")?;
        Ok(Box::new(it.map(|r| r.map(|(id, _)| id))))
    }

    /// Like [`Directory::matching`], with each match rendered (memberships only when the filter
    /// reads them) for callers that need values, such as sorting.
    fn matching_rendered<'s>(
        &'s self,
        kind: ResourceKind,
        filter: Option<&'s Filter>,
        after: Option<[u8; 16]>,
        use_indexes: bool,
        base_url: &'s str,
    ) -> Result<Matches<'s>> {
        let types = self.reg.types(kind);
        let with_all = filter.is_some_and(|f| mentions(f, &types, kind));
        let bare = Projection::parse(
            &self.reg,
            kind,
            None,
            Some(match kind {
                ResourceKind::User => "groups",
                ResourceKind::Group => "members",
            }),
        )?;
        let plan = match (filter, use_indexes) {
            (Some(f), true) => self.plan(kind, f)?,
            _ => Plan::Scan,
        };
        let candidates: Box<dyn Iterator<Item = Result<[u8; 16]>> + 's> = match plan {
            Plan::Ids(mut ids) => {
                ids.sort_unstable();
                ids.dedup();
                ids.retain(|id| after.is_none_or(|a| *id > a));
                Box::new(ids.into_iter().map(Ok))
            }
            Plan::Scan => Box::new(
                read::ids_after(self.store.trees(), kind == ResourceKind::User, after)
                    .map(|r| r.map_err(Into::into)),
            ),
        };
        Ok(Box::new(candidates.filter_map(move |id| {
            let id = match id {
                Ok(id) => id,
                Err(e) => return Some(Err(e)),
            };
            match self.load(kind, id, &bare, base_url, with_all) {
                Ok(Some(r)) => {
                    let hit = filter.is_none_or(|f| f.matches(&r.body, &self.reg.types(kind)));
                    hit.then_some(Ok((id, r.body)))
                }
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            }
        })))
    }

    /// Whether a list is answered from an index or a page of keys (a few point reads, cheap
    /// enough to run on the async worker): an indexed `eq` filter, or no filter, no sort and an
    /// early page. Everything else may scan a view and belongs on the blocking pool. A query
    /// that does not parse is cheap too: it fails before reading anything.
    pub fn is_point_read(&self, kind: ResourceKind, q: &ListQuery) -> bool {
        /// Pages that start beyond this skip that many keys: not a point read any more.
        const EARLY: usize = 1000;
        if q.sort_by.as_deref().is_some_and(|s| !s.trim().is_empty()) {
            return false;
        }
        match q.filter.as_deref().map(str::trim) {
            None | Some("") => q
                .start_index
                .as_deref()
                .is_none_or(|s| s.trim().parse::<usize>().map_or(true, |n| n <= EARLY)),
            Some(text) => match filter::parse_filter(text) {
                Ok(f) => f.check(&self.reg.types(kind)).is_err() || self.probe(kind, &f).is_some(),
                Err(_) => true,
            },
        }
    }

    /// The index term of `f`: one of its `and`-ed terms that is an indexed `eq`.
    fn probe<'f>(&self, kind: ResourceKind, f: &'f Filter) -> Option<(&'static str, &'f str)> {
        let types = self.reg.types(kind);
        let mut terms = Vec::new();
        conjuncts(f, &mut terms);
        for term in terms {
            let Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: Value::String(v),
            } = term
            else {
                continue;
            };
            let Some(loc) = types.locate(path) else {
                continue;
            };
            if loc.container.is_some() {
                continue;
            }
            let index = match (kind, loc.name.as_str(), loc.sub.as_deref()) {
                (_, "id", None) => "id",
                (ResourceKind::User, "userName", None) => "userName",
                (ResourceKind::User, "externalId", None) => "externalId",
                (ResourceKind::Group, "displayName", None) => "displayName",
                (ResourceKind::Group, "members", None | Some("value")) => "members",
                _ => continue,
            };
            return Some((index, v.as_str()));
        }
        None
    }

    /// Choose an index for `f` if one of its `and`-ed terms is an indexed `eq`.
    fn plan(&self, kind: ResourceKind, f: &Filter) -> Result<Plan> {
        let t = self.store.trees();
        let Some((index, v)) = self.probe(kind, f) else {
            return Ok(Plan::Scan);
        };
        let ids: Vec<[u8; 16]> = match index {
            "id" => UserId::try_from(v)
                .map(|u| vec![*u.as_bytes()])
                .unwrap_or_default(),
            "userName" => read::user_by_name(t, v)?
                .map(|u| *u.as_bytes())
                .into_iter()
                .collect(),
            "externalId" => read::users_by_external(t, v)?
                .into_iter()
                .map(|u| *u.as_bytes())
                .collect(),
            "displayName" => read::group_by_name(t, v)?
                .map(|g| *g.as_bytes())
                .into_iter()
                .collect(),
            _ => UserId::try_from(v)
                .map(|u| read::groups_of(t, u))
                .unwrap_or_else(|_| Ok(Vec::new()))?
                .into_iter()
                .map(|g| *g.as_bytes())
                .collect(),
        };
        Ok(Plan::Ids(ids))
    }
}

/// A `cursor` of RFC 9865: the id of the last resource served, opaque to clients.
struct Cursor;

impl Cursor {
    const PREFIX: &'static str = "c1.";

    fn encode(last: [u8; 16]) -> String {
        format!("{}{}", Self::PREFIX, hex::encode(last))
    }

    /// `None` for the first page (an empty `cursor` parameter).
    fn decode(text: &str) -> Result<Option<[u8; 16]>> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.strip_prefix(Self::PREFIX)
            .and_then(|h| hex::decode(h).ok())
            .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
            .map(Some)
            .ok_or_else(|| {
                ScimError::InvalidCursor(format!("'{text}' is not a cursor this server issued"))
                    .into()
            })
    }
}

/// `sortBy` / `sortOrder` (RFC 7644 §3.4.2.3).
struct SortKey {
    path: filter::AttrPath,
    descending: bool,
}

/// A comparable sort value: absent values sort last ascending (first descending).
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum SortValue {
    Text(String),
    Number(f64),
    Bool(bool),
    Absent,
}

impl SortKey {
    fn parse(reg: &Registry, kind: ResourceKind, by: &str, order: Option<&str>) -> Result<Self> {
        let path = filter::parse_attr_path(by)
            .map_err(|e| ScimError::InvalidValue(format!("sortBy: {e}")))?;
        if reg.types(kind).locate(&path).is_none() {
            return Err(ScimError::InvalidValue(format!(
                "sortBy: unknown attribute '{by}' for {}",
                kind.as_str()
            ))
            .into());
        }
        let descending = match order.map(str::trim) {
            None | Some("") => false,
            Some(o) if o.eq_ignore_ascii_case("ascending") => false,
            Some(o) if o.eq_ignore_ascii_case("descending") => true,
            Some(o) => {
                return Err(ScimError::InvalidValue(format!(
                    "sortOrder must be 'ascending' or 'descending', not '{o}'"
                ))
                .into())
            }
        };
        Ok(Self { path, descending })
    }

    /// The value to sort `resource` by: for a multi-valued attribute, the primary (else first) value.
    fn value(&self, types: &dyn AttrTypes, resource: &Value) -> SortValue {
        let Some(loc) = types.locate(&self.path) else {
            return SortValue::Absent;
        };
        let container = match &loc.container {
            Some(urn) => resource.get(urn),
            None => Some(resource),
        };
        let mut v = container.and_then(|c| c.get(&loc.name));
        if let Some(Value::Array(items)) = v {
            v = items
                .iter()
                .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                .or_else(|| items.first());
            if loc.sub.is_none() {
                v = v.and_then(|e| e.get("value").or(Some(e)));
            }
        }
        if let Some(sub) = &loc.sub {
            v = v.and_then(|e| e.get(sub));
        }
        match v {
            Some(Value::String(s)) if loc.case_exact => SortValue::Text(s.clone()),
            Some(Value::String(s)) => SortValue::Text(s.to_lowercase()),
            Some(Value::Number(n)) => n.as_f64().map_or(SortValue::Absent, SortValue::Number),
            Some(Value::Bool(b)) => SortValue::Bool(*b),
            _ => SortValue::Absent,
        }
    }

    fn compare(&self, a: &SortValue, b: &SortValue) -> std::cmp::Ordering {
        use std::cmp::Ordering;
        let natural = match (a, b) {
            (SortValue::Absent, SortValue::Absent) => Ordering::Equal,
            (SortValue::Absent, _) => Ordering::Greater,
            (_, SortValue::Absent) => Ordering::Less,
            _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
        };
        if self.descending {
            natural.reverse()
        } else {
            natural
        }
    }
}

fn conjuncts<'f>(f: &'f Filter, out: &mut Vec<&'f Filter>) {
    match f {
        Filter::And(a, b) => {
            conjuncts(a, out);
            conjuncts(b, out);
        }
        other => out.push(other),
    }
}

/// Whether `f` reads the membership attribute of `kind` (`groups` of users, `members` of groups).
fn mentions(f: &Filter, types: &dyn AttrTypes, kind: ResourceKind) -> bool {
    let target = match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    };
    let is = |p: &filter::AttrPath| {
        types
            .locate(p)
            .is_some_and(|l| l.container.is_none() && l.name == target)
    };
    match f {
        Filter::Compare { path, .. } | Filter::Present(path) => is(path),
        Filter::ValuePath { path, .. } => is(path),
        Filter::And(a, b) | Filter::Or(a, b) => {
            mentions(a, types, kind) || mentions(b, types, kind)
        }
        Filter::Not(a) => mentions(a, types, kind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Directory {
        Directory::new(
            Store::temporary().unwrap_or_else(|e| panic!("{e}")),
            Arc::new(Registry::core()),
        )
    }

    fn q(filter: Option<&str>, start: Option<&str>, sort: Option<&str>) -> ListQuery {
        ListQuery {
            filter: filter.map(str::to_owned),
            start_index: start.map(str::to_owned),
            sort_by: sort.map(str::to_owned),
            ..ListQuery::default()
        }
    }

    /// The streamed member entries are the bytes of the whole rendering's, escapes included.
    #[test]
    fn written_member_entries_equal_rendered_ones() {
        let base = "https://h\u{e9}st:8443/sc\"im/v2";
        for display in [
            None,
            Some(String::new()),
            Some("Ann \"Q\" O'Neil \\ \u{202e}\n\u{1}".to_owned()),
        ] {
            let l = Link {
                id: [9; 16],
                display,
            };
            let mut out = String::new();
            push_member_json(&mut out, &l, &json_string_inside(base));
            assert_eq!(out, member_json(&l, base).to_string());
        }
    }

    #[test]
    fn only_index_and_early_page_reads_stay_on_the_async_worker() {
        let d = dir();
        let user = ResourceKind::User;
        let group = ResourceKind::Group;
        // Indexed `eq` terms, alone or and-ed: a few point reads.
        assert!(d.is_point_read(user, &q(Some("userName eq \"a@b\""), None, None)));
        assert!(d.is_point_read(
            user,
            &q(Some("externalId eq \"x\" and active eq true"), None, None)
        ));
        assert!(d.is_point_read(group, &q(Some("displayName eq \"Sales\""), None, None)));
        assert!(d.is_point_read(group, &q(Some("members eq \"x\""), None, None)));
        // Early unfiltered pages read a page of keys and the kept count.
        assert!(d.is_point_read(user, &q(None, None, None)));
        assert!(d.is_point_read(user, &q(None, Some("900"), None)));
        // Scans go to the blocking pool.
        assert!(!d.is_point_read(user, &q(None, Some("50000"), None)));
        assert!(!d.is_point_read(user, &q(Some("title co \"eng\""), None, None)));
        assert!(!d.is_point_read(
            user,
            &q(Some("userName eq \"a\" or title eq \"b\""), None, None)
        ));
        assert!(!d.is_point_read(user, &q(Some("userName eq \"a\""), None, Some("userName"))));
        // Filters that fail to parse fail before reading anything.
        assert!(d.is_point_read(user, &q(Some("userName eq"), None, None)));
    }
}
