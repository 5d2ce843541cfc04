//! The console's JSON API (`/admin/api/…`): sign-in, tokens, the activity report (page, exports,
//! live tail), histories, stats, and read-only user and group browsing. Errors are
//! `{"error": "…"}` (see `AdminFailure` in `http/error.rs`).

use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::command::Command;
use crate::domain::error::Rejection;
use crate::domain::event::Action;
use crate::domain::ids::{ClientName, GroupId, TokenId, UserId};
use crate::domain::write::{Actor, Answer, Envelope};
use crate::report::activity::{self, Item, Query, ACTIONS};
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceKind;
use crate::service::commands::WriteRequest;
use crate::service::query::ListQuery;
use crate::service::tokens;
use crate::service::writer::now_ms;

use super::super::context::RequestContext;
use super::super::error::{AdminFailure, ApiError};
use super::super::AppState;
use super::session::{AdminSession, COOKIE};

/// Mount `/api/…` inside the `/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .route("/login", web::post().to(login))
            .route("/logout", web::post().to(logout))
            .route("/me", web::get().to(me))
            .route("/tokens", web::get().to(list_tokens))
            .route("/tokens", web::post().to(add_token))
            .route("/tokens/{id}", web::delete().to(revoke_token))
            .route("/actions", web::get().to(action_names))
            .route("/activity", web::get().to(activity_page))
            .route("/activity.csv", web::get().to(export_csv))
            .route("/activity.ndjson", web::get().to(export_ndjson))
            .route("/activity/stream", web::get().to(live_tail))
            .route("/resources/{id}/history", web::get().to(resource_history))
            .route("/stats", web::get().to(activity_stats))
            .route("/users", web::get().to(users))
            .route("/users/{id}", web::get().to(user))
            .route("/groups", web::get().to(groups))
            .route("/groups/{id}", web::get().to(group))
            .default_service(web::to(unknown)),
    );
}

type AdminResult = Result<HttpResponse, ApiError>;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::Admin(AdminFailure::BadRequest(msg.into()))
}

fn json_ok(v: &impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(v)
}

fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| bad(format!("bad request body: {e}")))
}

/// Run blocking store work off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, AdminFailure> + Send + 'static,
) -> Result<T, ApiError> {
    web::block(f)
        .await
        .map_err(|e| ApiError::Admin(AdminFailure::Internal(e.to_string())))?
        .map_err(ApiError::Admin)
}

async fn unknown(req: HttpRequest) -> AdminResult {
    Err(ApiError::Admin(AdminFailure::NotFound(format!(
        "no such API endpoint: {}",
        req.path()
    ))))
}

fn console_actor(username: &str) -> Actor {
    Actor {
        token_id: None,
        client: format!("admin console ({username})"),
    }
}

/// Run a console write through the write service.
async fn submit(
    state: &AppState,
    ctx: &RequestContext,
    actor: Actor,
    command: Command,
) -> Result<crate::domain::write::Written, crate::service::ServiceError> {
    let envelope = Envelope {
        actor,
        request_id: ctx.request_id.clone(),
        client_addr: ctx.client_addr.clone(),
    };
    state
        .commands
        .execute(&envelope, WriteRequest::Command(command), Answer::default())
        .await
}

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

async fn login(
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AdminResult {
    let Login { username, password } = parse_body(&body)?;
    let addr = req
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    if let Some(wait) = state.throttle.blocked(addr) {
        return Err(ApiError::Admin(AdminFailure::Throttled(wait)));
    }
    let dir = state.directory.clone();
    let name = username.clone();
    let ok = blocking(move || dir.verify_admin(&name, &password).map_err(Into::into)).await?;
    if !ok {
        state.throttle.failed(addr);
        let refused = Command::Refused {
            action: Action::SignIn,
            target_id: None,
            rejection: Rejection::SignInFailed(format!("failed sign-in as '{username}'")),
        };
        let actor = Actor {
            token_id: None,
            client: "admin console".into(),
        };
        if let Err(e) = submit(&state, &ctx, actor, refused).await {
            tracing::warn!(error = %e, "cannot record a failed sign-in");
        }
        tracing::warn!(%username, client_addr = %addr, "failed console sign-in");
        return Err(ApiError::Admin(AdminFailure::BadCredentials));
    }
    state.throttle.succeeded(addr);
    let (id, csrf) = state.sessions.create(&username);
    let secure = req.connection_info().scheme() == "https";
    let cookie = Cookie::build(COOKIE, id)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    tracing::info!(%username, "console sign-in");
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"csrf": csrf, "username": username})))
}

async fn logout(session: AdminSession, state: web::Data<AppState>) -> AdminResult {
    state.sessions.remove(&session.id);
    let mut gone = Cookie::build(COOKIE, "").path("/admin").finish();
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

async fn me(session: AdminSession) -> AdminResult {
    Ok(json_ok(
        &json!({"username": session.username, "csrf": session.csrf}),
    ))
}

/// The SCIM Server URL to show: the configured public URL, else what the browser used.
fn scim_url(state: &AppState, ctx: &RequestContext, hint: Option<&str>) -> String {
    if state.public_url.is_some() {
        return ctx.base_url.clone();
    }
    match hint {
        Some(h)
            if (h.starts_with("https://") || h.starts_with("http://"))
                && h.trim_end_matches('/').ends_with(super::super::SCIM_PREFIX)
                && !h.contains(char::is_whitespace) =>
        {
            h.trim_end_matches('/').to_owned()
        }
        _ => ctx.base_url.clone(),
    }
}

async fn list_tokens(
    _session: AdminSession,
    ctx: RequestContext,
    state: web::Data<AppState>,
) -> AdminResult {
    let dir = state.directory.clone();
    let list = blocking(move || dir.tokens().map_err(Into::into)).await?;
    let now = now_ms();
    let items: Vec<Value> = list
        .into_iter()
        .map(|t| {
            let (requests, failures) = TokenId::try_from(t.id.as_str())
                .map(|id| state.usage.last_24h(id, now))
                .unwrap_or_default();
            let expired = t.expires.as_deref().is_some_and(|e| {
                time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339)
                    .is_ok_and(|e| e.unix_timestamp_nanos() / 1_000_000 <= i128::from(now))
            });
            json!({
                "id": t.id, "name": t.name, "created": t.created, "last_used": t.last_used,
                "expires": t.expires, "revoked": t.revoked,
                "active": t.revoked.is_none() && !expired,
                "requests_24h": requests, "failures_24h": failures,
            })
        })
        .collect();
    Ok(json_ok(
        &json!({"scim_url": scim_url(&state, &ctx, None), "items": items}),
    ))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    scim_url: Option<String>,
}

fn parse_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .or_else(|_| time::OffsetDateTime::parse(&format!("{s}:00Z"), &Rfc3339))
        .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

async fn add_token(
    session: AdminSession,
    ctx: RequestContext,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AdminResult {
    let req: NewToken = parse_body(&body)?;
    let name = ClientName::try_from(req.name.trim()).map_err(|e| bad(e.0))?;
    let expires_ms = match req.expires.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let ms = parse_time(s).ok_or_else(|| bad(format!("'{s}' is not an RFC 3339 time")))?;
            if ms <= now_ms() {
                return Err(bad("the expiry must be in the future"));
            }
            Some(ms)
        }
    };
    let t = tokens::generate();
    let command = tokens::issue_command(&t, name.clone(), expires_ms);
    match submit(&state, &ctx, console_actor(&session.username), command).await {
        Ok(_) => {}
        Err(crate::service::ServiceError::Rejected(rejection)) => {
            return Err(bad(rejection.to_string()))
        }
        Err(e) => return Err(ApiError::Admin(e.into())),
    }
    let url = scim_url(&state, &ctx, req.scim_url.as_deref());
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"id": t.id.to_string(), "name": name.to_string(), "token": t.token, "scim_url": url})))
}

async fn revoke_token(
    session: AdminSession,
    ctx: RequestContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AdminResult {
    let id = TokenId::try_from(id.as_str())
        .map_err(|_| ApiError::Admin(AdminFailure::NotFound(format!("no token {id}"))))?;
    match submit(
        &state,
        &ctx,
        console_actor(&session.username),
        Command::RevokeToken { id },
    )
    .await
    {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(crate::service::ServiceError::Rejected(rejection)) => Err(ApiError::Admin(
            AdminFailure::NotFound(rejection.to_string()),
        )),
        Err(e) => Err(ApiError::Admin(e.into())),
    }
}

/// The report's filters from the query string.
fn activity_query(req: &HttpRequest) -> Result<Query, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map_err(|e| bad(format!("malformed query string: {e}")))?
        .into_inner();
    let mut q = Query::default();
    for (k, v) in pairs {
        let v = v.trim().to_owned();
        if v.is_empty() {
            continue;
        }
        match k.as_str() {
            "limit" => q.limit = v.parse().map_err(|_| bad("limit must be a number"))?,
            "before" => {
                q.before = Some(
                    v.parse()
                        .map_err(|_| bad("before must be a cursor from 'next'"))?,
                )
            }
            "since" => {
                q.since_ms =
                    Some(parse_time(&v).ok_or_else(|| bad(format!("since: '{v}' is not a time")))?)
            }
            "until" => {
                q.until_ms =
                    Some(parse_time(&v).ok_or_else(|| bad(format!("until: '{v}' is not a time")))?)
            }
            "client" => q.client = Some(v),
            "action" => {
                if !ACTIONS.contains(&v.as_str()) {
                    return Err(bad(format!("unknown action '{v}'")));
                }
                q.action = Some(v);
            }
            "outcome" => {
                if v != "success" && v != "failure" {
                    return Err(bad("outcome is 'success' or 'failure'"));
                }
                q.outcome = Some(v);
            }
            "resource" => {
                let id = uuid::Uuid::parse_str(&v)
                    .map_err(|_| bad(format!("'{v}' is not a resource id")))?;
                q.resource = Some(*id.as_bytes());
            }
            "q" => q.text = Some(v),
            _ => {}
        }
    }
    Ok(q)
}

/// The action names the activity filter offers, accepted changes and rejected attempts: the
/// console asks for them rather than keeping a copy that drifts from the report.
async fn action_names(_session: AdminSession) -> AdminResult {
    Ok(json_ok(&json!({
        "changes": activity::CHANGE_ACTIONS,
        "attempts": activity::ATTEMPT_ACTIONS,
    })))
}

async fn activity_page(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    let q = activity_query(&req)?;
    let dir = state.directory.clone();
    let page = blocking(move || dir.activity_page(&q).map_err(Into::into)).await?;
    Ok(json_ok(&page))
}

/// Stream every matching record, newest first, a page at a time.
fn export(state: &AppState, q: Query, csv: bool) -> HttpResponse {
    let dir = state.directory.clone();
    let header_line = csv.then(|| web::Bytes::from_static(activity::CSV_HEADER.as_bytes()));
    let pages = stream::unfold(Some((q, None::<u64>)), move |st| {
        let dir = dir.clone();
        async move {
            let (mut q, before) = st?;
            q.limit = activity::MAX_LIMIT;
            q.before = before;
            let query = q.clone();
            let page = web::block(move || dir.activity_page(&query)).await;
            let page = match page {
                Ok(Ok(p)) => p,
                _ => {
                    return Some((
                        Err(actix_web::error::ErrorInternalServerError("export failed")),
                        None,
                    ))
                }
            };
            let mut chunk = String::new();
            for item in &page.items {
                chunk.push_str(&if csv { item.to_csv() } else { item.to_ndjson() });
            }
            let next = page.next.map(|n| (q, Some(n)));
            Some((Ok(web::Bytes::from(chunk)), next))
        }
    });
    let body = stream::iter(header_line.map(Ok)).chain(pages);
    let (mime, file) = if csv {
        ("text/csv; charset=utf-8", "scimd-activity.csv")
    } else {
        ("application/x-ndjson", "scimd-activity.ndjson")
    };
    HttpResponse::Ok()
        .content_type(mime)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

use futures_util::StreamExt as _;

async fn export_csv(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    Ok(export(&state, activity_query(&req)?, true))
}

async fn export_ndjson(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    Ok(export(&state, activity_query(&req)?, false))
}

/// Server-Sent Events of new records matching the filters. A comment line every 15 s keeps
/// proxies from closing the connection; the stream ends when the server shuts down.
async fn live_tail(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    let q = activity_query(&req)?;
    let rx = state.commands.writer().subscribe();
    let last = *rx.borrow();
    let store = state.directory.clone();
    let shutdown = state.shutdown.clone();
    let events = stream::unfold(
        (rx, last, q, store, shutdown, false),
        |(mut rx, last, q, store, mut shutdown, done)| async move {
            if done || *shutdown.borrow() {
                return None;
            }
            tokio::select! {
                changed = rx.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    let query = q.clone();
                    let st = store.clone();
                    let (items, read_up_to): (Vec<Item>, u64) =
                        web::block(move || st.activity_after(&query, last))
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .unwrap_or((Vec::new(), last));
                    // More than one scan's worth arrived: come back for the rest at once.
                    if read_up_to < *rx.borrow() {
                        rx.mark_changed();
                    }
                    let mut chunk = String::new();
                    for item in &items {
                        chunk.push_str("event: activity\ndata: ");
                        chunk.push_str(&serde_json::to_string(item).unwrap_or_default());
                        chunk.push_str("\n\n");
                    }
                    let last = read_up_to;
                    Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), (rx, last, q, store, shutdown, false)))
                }
                _ = tokio::time::sleep(Duration::from_secs(15)) => {
                    Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), (rx, last, q, store, shutdown, false)))
                }
                _ = shutdown.changed() => None,
            }
        },
    );
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(
            stream::once(async {
                Ok::<_, actix_web::Error>(web::Bytes::from_static(b": connected\n\n"))
            })
            .chain(events),
        ))
}

async fn resource_history(
    _session: AdminSession,
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AdminResult {
    let uid = uuid::Uuid::parse_str(&id).map_err(|_| {
        ApiError::Admin(AdminFailure::NotFound(format!(
            "'{id}' is not a resource id"
        )))
    })?;
    let at_param = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default()
        .into_iter()
        .find(|(k, _)| k == "at")
        .map(|(_, v)| v);
    let dir = state.directory.clone();
    let base = ctx.base_url.clone();
    let h = blocking(move || {
        let at = match at_param.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<u64>() {
                Ok(seq) => Some(seq),
                Err(_) => {
                    let ms = parse_time(s).ok_or_else(|| {
                        AdminFailure::BadRequest(format!(
                            "at: '{s}' is neither a sequence number nor a time"
                        ))
                    })?;
                    Some(dir.seq_at_or_after(ms.saturating_add(1))?.saturating_sub(1))
                }
            },
        };
        Ok(dir.history(*uid.as_bytes(), at, &base)?)
    })
    .await?;
    if h.items.is_empty() {
        return Err(ApiError::Admin(AdminFailure::NotFound(format!(
            "nothing is recorded about {id}"
        ))));
    }
    Ok(json_ok(&h))
}

async fn activity_stats(_session: AdminSession, state: web::Data<AppState>) -> AdminResult {
    let dir = state.directory.clone();
    let s = blocking(move || Ok(dir.stats(now_ms())?)).await?;
    Ok(json_ok(&s))
}

/// A filter literal: quotes and backslashes escaped.
fn literal(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

fn paged(req: &HttpRequest) -> (Option<String>, String) {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .map(|q| q.into_inner())
        .unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
    };
    (
        get("q").filter(|q| !q.is_empty()),
        get("cursor").unwrap_or_default(),
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

async fn users(
    _s: AdminSession,
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
) -> AdminResult {
    list_kind(req, ctx, state, ResourceKind::User).await
}

async fn groups(
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

async fn user(
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

async fn group(
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
