//! Queries: every SCIM read, answered from the views (never the log).
//!
//! Filters are planned: an `eq` on `id`, `userName`, `externalId`, group `displayName` or
//! `members` (alone or inside an `and`) reads an index to get a few candidates; anything else streams
//! over the view in id order. Either way the whole filter is then evaluated on each candidate, so the
//! plan can only make a query faster, never change its answer.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use crate::domain::error::Rejection;
use crate::domain::ids::{GroupId, UserId};
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
    store: Store,
    reg: Arc<Registry>,
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

fn user_meta(r: &UserRecord) -> Meta {
    Meta {
        created_ms: r.created_ms,
        last_modified_ms: r.last_modified_ms,
        version: r.version,
    }
}

fn group_meta(r: &GroupRecord) -> Meta {
    Meta {
        created_ms: r.created_ms,
        last_modified_ms: r.last_modified_ms,
        version: r.version,
    }
}

/// Where candidates for a list come from.
enum Plan {
    /// These ids (from an index), to be checked against the whole filter.
    Ids(Vec<[u8; 16]>),
    /// Every resource, in id order.
    Scan,
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

    /// The store (for callers that need raw reads, such as auth).
    pub fn store(&self) -> &Store {
        &self.store
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
        let t = &self.store.trees;
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
        let meta = user_meta(rec);
        let doc = parse_doc(&rec.doc)?;
        let mut body = render(
            &self.reg,
            ResourceKind::User,
            &id.to_string(),
            &doc,
            &meta,
            base_url,
        );
        if with_all || projection.wants("groups") {
            let groups = self.user_groups(id, base_url)?;
            if !groups.is_empty() {
                body.insert("groups".into(), Value::Array(groups));
            }
        }
        Ok(Rendered {
            body: Value::Object(body),
            meta,
        })
    }

    fn user_groups(&self, id: UserId, base_url: &str) -> Result<Vec<Value>> {
        let t = &self.store.trees;
        let mut out = Vec::new();
        for g in read::groups_of(t, id)? {
            let display = read::group(t, g)?
                .and_then(|r| serde_json::from_str::<Value>(&r.doc).ok())
                .and_then(|d| d.get("displayName").cloned())
                .unwrap_or(Value::Null);
            out.push(json!({
                "value": g.to_string(),
                "$ref": format!("{base_url}/Groups/{g}"),
                "display": display,
                "type": "direct",
            }));
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
        let meta = group_meta(rec);
        let doc = parse_doc(&rec.doc)?;
        let mut body = render(
            &self.reg,
            ResourceKind::Group,
            &id.to_string(),
            &doc,
            &meta,
            base_url,
        );
        if with_all || projection.wants("members") {
            let t = &self.store.trees;
            let mut members = Vec::new();
            for u in read::members_of(t, id) {
                let u = u?;
                let display = read::user(t, u)?
                    .and_then(|r| serde_json::from_str::<Value>(&r.doc).ok())
                    .and_then(|d| d.get("displayName").or_else(|| d.get("userName")).cloned())
                    .unwrap_or(Value::Null);
                members.push(json!({
                    "value": u.to_string(),
                    "$ref": format!("{base_url}/Users/{u}"),
                    "display": display,
                    "type": "User",
                }));
            }
            body.insert("members".into(), Value::Array(members));
        }
        Ok(Rendered {
            body: Value::Object(body),
            meta,
        })
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

    /// `GET /{kind}` with filter, paging and projection.
    pub fn list(&self, kind: ResourceKind, q: &ListQuery, base_url: &str) -> Result<Value> {
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
        let Some(filter) = filter else {
            // No filter: count keys and render only the page, without decoding every record.
            let (total, ids) = read::id_page(
                &self.store.trees,
                kind == ResourceKind::User,
                paging.skip(),
                paging.count,
            )?;
            let mut resources = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(mut r) = self.load(kind, id, &projection, base_url, false)? {
                    if let Value::Object(m) = &mut r.body {
                        projection.apply(&self.reg, kind, m);
                    }
                    resources.push(r.body);
                }
            }
            return Ok(list_response(total, paging.start_index, resources));
        };
        let filter = Some(filter);
        let needs_memberships = filter.as_ref().is_some_and(|f| mentions(f, &types, kind));
        let plan = match &filter {
            Some(f) => self.plan(kind, f)?,
            None => Plan::Scan,
        };
        let mut total = 0usize;
        let mut page = Vec::new();
        let mut consider = |rendered: Rendered| {
            let hit = filter
                .as_ref()
                .is_none_or(|f| f.matches(&rendered.body, &types));
            if hit {
                total += 1;
                if total > paging.skip() && page.len() < paging.count {
                    page.push(rendered.body);
                }
            }
        };
        // Without a filter, memberships are only loaded for the page (not for every match).
        let eval_projection = if needs_memberships {
            projection.clone()
        } else {
            Projection::parse(
                &self.reg,
                kind,
                None,
                Some(match kind {
                    ResourceKind::User => "groups",
                    ResourceKind::Group => "members",
                }),
            )?
        };
        match plan {
            Plan::Ids(ids) => {
                for id in ids {
                    if let Some(r) =
                        self.load(kind, id, &eval_projection, base_url, needs_memberships)?
                    {
                        consider(r);
                    }
                }
            }
            Plan::Scan => match kind {
                ResourceKind::User => {
                    for item in read::users_from(&self.store.trees, None) {
                        let (id, rec) = item?;
                        consider(self.render_user(
                            id,
                            &rec,
                            &eval_projection,
                            base_url,
                            needs_memberships,
                        )?);
                    }
                }
                ResourceKind::Group => {
                    for item in read::groups_from(&self.store.trees, None) {
                        let (id, rec) = item?;
                        consider(self.render_group(
                            id,
                            &rec,
                            &eval_projection,
                            base_url,
                            needs_memberships,
                        )?);
                    }
                }
            },
        }
        // Fill in memberships for the page only, then project.
        let mut resources = Vec::with_capacity(page.len());
        for body in page {
            let mut body = match body {
                Value::Object(m) => m,
                _ => Map::new(),
            };
            if !needs_memberships {
                let id = body
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let full = self.get(kind, &id, &projection, base_url);
                if let Ok(Rendered {
                    body: Value::Object(m),
                    ..
                }) = full
                {
                    body = m;
                }
            }
            projection.apply(&self.reg, kind, &mut body);
            resources.push(Value::Object(body));
        }
        Ok(list_response(total, paging.start_index, resources))
    }

    /// Choose an index for `f` if one of its `and`-ed terms is an indexed `eq`.
    fn plan(&self, kind: ResourceKind, f: &Filter) -> Result<Plan> {
        let types = self.reg.types(kind);
        let mut terms = Vec::new();
        conjuncts(f, &mut terms);
        let t = &self.store.trees;
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
            let sub = loc.sub.as_deref();
            let ids: Option<Vec<[u8; 16]>> = match (kind, loc.name.as_str(), sub) {
                (_, "id", None) => Some(
                    UserId::try_from(v.as_str())
                        .map(|u| vec![*u.as_bytes()])
                        .unwrap_or_default(),
                ),
                (ResourceKind::User, "userName", None) => Some(
                    read::user_by_name(t, v)?
                        .map(|u| *u.as_bytes())
                        .into_iter()
                        .collect(),
                ),
                (ResourceKind::User, "externalId", None) => Some(
                    read::users_by_external(t, v)?
                        .into_iter()
                        .map(|u| *u.as_bytes())
                        .collect(),
                ),
                (ResourceKind::Group, "displayName", None) => Some(
                    read::group_by_name(t, v)?
                        .map(|g| *g.as_bytes())
                        .into_iter()
                        .collect(),
                ),
                (ResourceKind::Group, "members", None | Some("value")) => Some(
                    UserId::try_from(v.as_str())
                        .map(|u| read::groups_of(t, u))
                        .unwrap_or_else(|_| Ok(Vec::new()))?
                        .into_iter()
                        .map(|g| *g.as_bytes())
                        .collect(),
                ),
                _ => None,
            };
            if let Some(ids) = ids {
                return Ok(Plan::Ids(ids));
            }
        }
        Ok(Plan::Scan)
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
