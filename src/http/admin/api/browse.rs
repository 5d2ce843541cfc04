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

async fn list_kind(
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    kind: ResourceKind,
) -> AdminResult {
    let (text, cursor) = paged(&req);
    let filter = text.map(|q| {
        let q = literal(&q);
        match kind {
            ResourceKind::User => format!("userName co \"{q}\" or displayName co \"{q}\" or externalId co \"{q}\" or emails co \"{q}\""),
            ResourceKind::Group => format!("displayName co \"{q}\" or externalId co \"{q}\""),
        }
    });
    let lq = ListQuery {
        filter,
        count: Some("50".into()),
        cursor: Some(cursor),
        excluded_attributes: Some(match kind {
            ResourceKind::User => "groups".into(),
            ResourceKind::Group => "members".into(),
        }),
        ..ListQuery::default()
    };
    let dir = state.directory.clone();
    let base = ctx.base_url.clone();
    let body = blocking(move || dir.list(kind, &lq, &base).map_err(Into::into)).await?;
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
    Ok(json_ok(
        &json!({"items": items, "next": body.get("nextCursor")}),
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
