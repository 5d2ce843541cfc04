//! The Users and Groups pages: read-only lists (a text search over the main names, cursor
//! paging) and single resources, a group with its members a page at a time. Reads go through
//! the same directory queries as SCIM.

use actix_web::{web, HttpRequest};
use serde_json::{json, Value};

use crate::domain::ids::{GroupId, UserId};
use crate::http::admin::session::AdminSession;
use crate::http::context::RequestContext;
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceKind;
use crate::service::query::ListQuery;

use super::params::Params;
use super::{bad, blocking, json_ok, AdminResult};

/// A filter literal: quotes and backslashes escaped.
fn literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The search text (if any) and the cursor (empty for the first page).
fn paged(req: &HttpRequest) -> (Option<String>, String) {
    let params = Params::lenient(req);
    (
        params.get("q").map(str::to_owned),
        params.get("cursor").unwrap_or_default().to_owned(),
    )
}

/// How the list is ordered and narrowed: `sort` (an attribute the kind has), `order`
/// (`ascending`/`descending`) and, for users, `active` (`true`/`false`). A sorted list pages by
/// index (its `next` is `@<startIndex>`): cursors follow the id order only.
struct Shape {
    sort: Option<&'static str>,
    descending: bool,
    active: Option<bool>,
}

fn shape(req: &HttpRequest, kind: ResourceKind) -> Result<Shape, ApiError> {
    let params = Params::lenient(req);
    let sort = match (kind, params.get("sort").unwrap_or("")) {
        (_, "") => None,
        (ResourceKind::User, "userName") => Some("userName"),
        (ResourceKind::User, "displayName") | (ResourceKind::Group, "displayName") => {
            Some("displayName")
        }
        (_, "lastModified") => Some("meta.lastModified"),
        (_, other) => return Err(bad(format!("cannot sort by '{other}'"))),
    };
    let descending = match params.get("order").unwrap_or("ascending") {
        "ascending" | "" => false,
        "descending" => true,
        other => {
            return Err(bad(format!(
                "order is 'ascending' or 'descending', not '{other}'"
            )))
        }
    };
    let active = match (kind, params.get("active").unwrap_or("")) {
        (_, "") => None,
        (ResourceKind::User, "true") => Some(true),
        (ResourceKind::User, "false") => Some(false),
        (_, other) => return Err(bad(format!("active is 'true' or 'false', not '{other}'"))),
    };
    Ok(Shape {
        sort,
        descending,
        active,
    })
}

async fn list_kind(
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    kind: ResourceKind,
) -> AdminResult {
    let (text, cursor) = paged(&req);
    let shape = shape(&req, kind)?;
    let text_filter = text.filter(|q| !q.is_empty()).map(|q| {
        let q = literal(&q);
        match kind {
            ResourceKind::User => format!("userName co \"{q}\" or displayName co \"{q}\" or externalId co \"{q}\" or emails co \"{q}\""),
            ResourceKind::Group => format!("displayName co \"{q}\" or externalId co \"{q}\""),
        }
    });
    // A user without `active` is active (the console shows it so, as RFC 7643 leaves it open).
    let active = shape.active.map(|a| {
        if a {
            "not (active eq false)".to_owned()
        } else {
            "active eq false".to_owned()
        }
    });
    let filter = match (text_filter, active) {
        (None, None) => None,
        (Some(t), None) => Some(t),
        (None, Some(a)) => Some(a),
        (Some(t), Some(a)) => Some(format!("({a}) and ({t})")),
    };
    let start = match cursor.strip_prefix('@') {
        Some(n) => Some(n.parse::<u64>().map_err(|_| bad("bad page"))?),
        None if shape.sort.is_some() => Some(1),
        None => None,
    };
    // Cursor pages carry no total: a count-only query (index mode, `count=0`) gives it.
    let count_query = start.is_none().then(|| ListQuery {
        filter: filter.clone(),
        count: Some("0".into()),
        ..ListQuery::default()
    });
    let lq = ListQuery {
        filter,
        count: Some("50".into()),
        cursor: start.is_none().then_some(cursor),
        start_index: start.map(|s| s.to_string()),
        sort_by: shape.sort.map(str::to_owned),
        sort_order: shape.sort.map(|_| {
            if shape.descending {
                "descending"
            } else {
                "ascending"
            }
            .to_owned()
        }),
        excluded_attributes: Some(match kind {
            ResourceKind::User => "groups".into(),
            ResourceKind::Group => "members".into(),
        }),
        ..ListQuery::default()
    };
    let dir = state.directory.clone();
    let base = ctx.base_url.clone();
    let (body, counted) = blocking(move || {
        let body = dir.list(kind, &lq, &base)?;
        let counted = match &count_query {
            Some(cq) => Some(dir.list(kind, cq, &base)?),
            None => None,
        };
        Ok((body, counted))
    })
    .await?;
    let dir = state.directory.clone();
    let items: Vec<Value> = body["Resources"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|r| match kind {
            ResourceKind::User => json!({
                "id": r["id"], "userName": r["userName"], "displayName": r.get("displayName"),
                "active": r.get("active").and_then(Value::as_bool).unwrap_or(true),
                "externalId": r.get("externalId"),
            }),
            ResourceKind::Group => {
                let count = r["id"]
                    .as_str()
                    .and_then(|id| GroupId::try_from(id).ok())
                    .and_then(|g| dir.member_count(g).ok())
                    .unwrap_or(0);
                json!({"id": r["id"], "displayName": r["displayName"], "externalId": r.get("externalId"), "member_count": count})
            }
        })
        .collect();
    let total = counted
        .as_ref()
        .unwrap_or(&body)
        .get("totalResults")
        .cloned()
        .unwrap_or(Value::Null);
    let next = match start {
        Some(s) => {
            let total = total.as_u64().unwrap_or(0);
            let shown = u64::try_from(items.len()).unwrap_or(0);
            (s + shown <= total && shown > 0).then(|| Value::from(format!("@{}", s + shown)))
        }
        None => body.get("nextCursor").cloned(),
    };
    Ok(json_ok(
        &json!({"items": items, "next": next, "total": total}),
    ))
}

pub(super) async fn users(
    _s: AdminSession,
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
) -> AdminResult {
    list_kind(req, ctx, state, ResourceKind::User).await
}

pub(super) async fn groups(
    _s: AdminSession,
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
) -> AdminResult {
    list_kind(req, ctx, state, ResourceKind::Group).await
}

fn not_found(e: crate::service::ServiceError) -> ApiError {
    ApiError::Admin(e.into())
}

pub(super) async fn user(
    _s: AdminSession,
    ctx: RequestContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AdminResult {
    let r = state
        .directory
        .get_projected(
            ResourceKind::User,
            &id,
            &Projection::default(),
            &ctx.base_url,
        )
        .map_err(not_found)?;
    Ok(json_ok(&json!({"resource": r.body})))
}

pub(super) async fn group(
    _s: AdminSession,
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AdminResult {
    let without_members =
        Projection::parse(&state.registry, ResourceKind::Group, None, Some("members"))
            .map_err(|e| bad(e.to_string()))?;
    let r = state
        .directory
        .get_projected(ResourceKind::Group, &id, &without_members, &ctx.base_url)
        .map_err(not_found)?;
    let (_, cursor) = paged(&req);
    let after = UserId::try_from(cursor.as_str()).ok();
    let gid = GroupId::try_from(id.as_str()).map_err(|_| bad("bad group id"))?;
    let dir = state.directory.clone();
    let (members, next) =
        blocking(move || dir.members_page(gid, after, 200).map_err(Into::into)).await?;
    let members: Vec<Value> = members
        .into_iter()
        .map(|(value, display)| json!({"value": value, "display": display}))
        .collect();
    Ok(json_ok(
        &json!({"resource": r.body, "members": members, "members_next": next}),
    ))
}
