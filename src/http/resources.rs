//! `/Users` and `/Groups`: list, create, read, replace, patch, delete. One set of handlers serves
//! both resource types; the kind travels as route data.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde_json::Value;

use crate::domain::command::IfMatch;
use crate::domain::write::BODY_CAP;
use crate::domain::write::{Answer, Envelope, Written};
use crate::scim::error::ScimError;
use crate::scim::resource::Projection;
use crate::scim::schema::ResourceKind;
use crate::service::commands::{BadBody, ResourceWrite, Write, WriteRequest};
use crate::service::query::{ListQuery, Rendered};
use crate::service::ServiceError;

use super::context::{Authenticated, RequestContext};
use super::error::ApiError;
use super::{method_not_allowed, AppState};

/// Mount `/Users` and `/Groups`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/.search")
            .route(web::post().to(search_root))
            .default_service(web::to(method_not_allowed)),
    );
    for kind in [ResourceKind::User, ResourceKind::Group] {
        cfg.service(
            web::resource(kind.endpoint())
                .app_data(web::Data::new(kind))
                .route(web::get().to(list))
                .route(web::post().to(create))
                .default_service(web::to(method_not_allowed)),
        );
        cfg.service(
            web::resource(format!("{}/.search", kind.endpoint()))
                .app_data(web::Data::new(kind))
                .route(web::post().to(search))
                .default_service(web::to(method_not_allowed)),
        );
        cfg.service(
            web::resource(format!("{}/{{id}}", kind.endpoint()))
                .app_data(web::Data::new(kind))
                .route(web::get().to(get))
                .route(web::put().to(replace))
                .route(web::patch().to(patch_resource))
                .route(web::delete().to(delete))
                .default_service(web::to(method_not_allowed)),
        );
    }
}

/// Query parameters by case-insensitive name; unknown ones (`aadOptscim062020`) are ignored.
struct Params(Vec<(String, String)>);

impl Params {
    fn of(req: &HttpRequest) -> Result<Self, ApiError> {
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| Self(q.into_inner()))
            .map_err(|e| ScimError::InvalidSyntax(format!("malformed query string: {e}")).into())
    }
    fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
    fn projection(&self, state: &AppState, kind: ResourceKind) -> Result<Projection, ApiError> {
        Ok(Projection::parse(
            &state.registry,
            kind,
            self.get("attributes").as_deref(),
            self.get("excludedAttributes").as_deref(),
        )?)
    }
}

/// Read the body up to the configured limit and parse it as JSON.
pub async fn json_body(payload: web::Payload, limit: usize) -> Result<Value, ScimError> {
    write_body(payload, limit).await.map_err(|bad| bad.error)
}

/// [`json_body`] for a write: when the body cannot be read as JSON, the error keeps the first
/// bytes that came, so the refusal's record can show them (masked).
pub async fn write_body(mut payload: web::Payload, limit: usize) -> Result<Value, BadBody> {
    let mut buf = web::BytesMut::new();
    let bad = |error: ScimError, buf: &[u8], size: usize| BadBody {
        error,
        head: buf[..buf.len().min(BODY_CAP)].to_vec(),
        size: size as u64,
    };
    while let Some(chunk) = payload.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                let error = ScimError::InvalidSyntax(format!("cannot read the body: {e}"));
                return Err(bad(error, &buf, buf.len()));
            }
        };
        if buf.len() + chunk.len() > limit {
            let size = buf.len() + chunk.len();
            buf.extend_from_slice(&chunk[..chunk.len().min(BODY_CAP.saturating_sub(buf.len()))]);
            let error = ScimError::TooLarge(format!("request body exceeds {limit} bytes"));
            return Err(bad(error, &buf, size));
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        let error = ScimError::InvalidSyntax("the request body is empty".into());
        return Err(bad(error, &buf, 0));
    }
    serde_json::from_slice(&buf).map_err(|e| {
        let error = ScimError::InvalidSyntax(format!("the body is not valid JSON: {e}"));
        bad(error, &buf, buf.len())
    })
}

fn if_match(req: &HttpRequest) -> Option<IfMatch> {
    req.headers()
        .get(header::IF_MATCH)
        .map(|v| IfMatch::parse(v.to_str().unwrap_or("")))
}

fn scim_json(mut builder: actix_web::HttpResponseBuilder, r: &Rendered) -> HttpResponse {
    builder
        .content_type(crate::scim::CONTENT_TYPE)
        .insert_header((header::ETAG, r.meta.etag()))
        .body(r.body.to_string())
}

/// Who is writing, for the log.
pub(crate) fn envelope(caller: &Authenticated, ctx: &RequestContext) -> Envelope {
    Envelope {
        actor: caller.0.actor(),
        request_id: ctx.request_id.clone(),
        client_addr: ctx.client_addr.clone(),
    }
}

async fn list(
    req: HttpRequest,
    _caller: Authenticated,
    ctx: RequestContext,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let p = Params::of(&req)?;
    let q = ListQuery {
        filter: p.get("filter"),
        start_index: p.get("startIndex"),
        count: p.get("count"),
        attributes: p.get("attributes"),
        excluded_attributes: p.get("excludedAttributes"),
        sort_by: p.get("sortBy"),
        sort_order: p.get("sortOrder"),
        cursor: p.get("cursor"),
    };
    run_list(&state, Some(**kind), q, ctx.base_url).await
}

/// Run a list or search: a point read (an indexed lookup such as Entra's `userName eq`, an early
/// unfiltered page) right here, anything that may scan a view off the async workers. The hop to
/// the blocking pool costs two thread wake-ups, more than the lookup itself.
async fn run_list(
    state: &AppState,
    kind: Option<ResourceKind>,
    q: ListQuery,
    base_url: String,
) -> Result<HttpResponse, ApiError> {
    let dir = state.directory.clone();
    let body = match kind {
        Some(kind) if dir.is_point_read(kind, &q) => dir.list(kind, &q, &base_url)?,
        _ => web::block(move || match kind {
            Some(kind) => dir.list(kind, &q, &base_url),
            None => dir.search_all(&q, &base_url),
        })
        .await
        .map_err(|_| crate::service::ServiceError::WriterGone)??,
    };
    Ok(HttpResponse::Ok()
        .content_type(crate::scim::CONTENT_TYPE)
        .body(body.to_string()))
}

/// URN of the SearchRequest message.
const SEARCH_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// A SearchRequest body (RFC 7644 §3.4.3) as list parameters.
fn search_query(body: &Value) -> Result<ListQuery, ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("the search body must be a JSON object".into()))?;
    if let Some(schemas) = obj.get("schemas") {
        let ok = schemas
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(SEARCH_REQUEST_SCHEMA)));
        if !ok {
            return Err(ScimError::InvalidSyntax(format!(
                "'schemas' must contain {SEARCH_REQUEST_SCHEMA}"
            ))
            .into());
        }
    }
    let get = |name: &str| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let text = |name: &str| -> Result<Option<String>, ApiError> {
        match get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(Value::Array(items)) => {
                let names: Option<Vec<&str>> = items.iter().map(Value::as_str).collect();
                names.map(|n| Some(n.join(","))).ok_or_else(|| {
                    ScimError::InvalidValue(format!("'{name}' must be a list of attribute names"))
                        .into()
                })
            }
            Some(other) => {
                Err(ScimError::InvalidValue(format!("'{name}' has the wrong type: {other}")).into())
            }
        }
    };
    Ok(ListQuery {
        filter: text("filter")?,
        start_index: text("startIndex")?,
        count: text("count")?,
        attributes: text("attributes")?,
        excluded_attributes: text("excludedAttributes")?,
        sort_by: text("sortBy")?,
        sort_order: text("sortOrder")?,
        cursor: text("cursor")?,
    })
}

/// `POST /Users/.search`, `POST /Groups/.search`.
async fn search(
    _caller: Authenticated,
    ctx: RequestContext,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(payload, state.max_body_bytes).await?;
    let q = search_query(&body)?;
    run_list(&state, Some(**kind), q, ctx.base_url).await
}

/// `POST /.search`: Users and Groups together.
pub async fn search_root(
    _caller: Authenticated,
    ctx: RequestContext,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(payload, state.max_body_bytes).await?;
    let q = search_query(&body)?;
    run_list(&state, None, q, ctx.base_url).await
}

async fn get(
    req: HttpRequest,
    _caller: Authenticated,
    ctx: RequestContext,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let p = Params::of(&req)?;
    let projection = p.projection(&state, **kind)?;
    let not_modified = |meta: &crate::scim::resource::Meta| {
        req.headers()
            .get(header::IF_NONE_MATCH)
            .is_some_and(|inm| IfMatch::parse(inm.to_str().unwrap_or("")).matches(meta.version))
    };
    let whole = p.get("attributes").is_none() && p.get("excludedAttributes").is_none();
    if **kind == ResourceKind::Group && whole {
        if let Some(s) = state.directory.group_stream(&id, &ctx.base_url)? {
            if not_modified(&s.meta) {
                return Ok(HttpResponse::NotModified()
                    .insert_header((header::ETAG, s.meta.etag()))
                    .finish());
            }
            // A read error half-way ends the stream with an error: the client sees a cut body,
            // never a short member list that looks whole.
            let chunks = s.chunks.map(|c| {
                c.map(web::Bytes::from)
                    .map_err(|e| std::io::Error::other(e.to_string()))
            });
            return Ok(HttpResponse::Ok()
                .content_type(crate::scim::CONTENT_TYPE)
                .insert_header((header::ETAG, s.meta.etag()))
                .streaming(futures_util::stream::iter(chunks)));
        }
    }
    let r = state
        .directory
        .get_projected(**kind, &id, &projection, &ctx.base_url)?;
    if not_modified(&r.meta) {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, r.meta.etag()))
            .finish());
    }
    Ok(scim_json(HttpResponse::Ok(), &r))
}

/// Run one SCIM write through the write service; the answer carries the memberships after it
/// when `memberships`, and the client gets `status` when it is accepted.
pub async fn perform(
    state: &AppState,
    envelope: &Envelope,
    write: ResourceWrite,
    memberships: bool,
    status: u16,
) -> Result<Written, ApiError> {
    let answer = Answer {
        memberships,
        status: Some(status),
    };
    Ok(state
        .commands
        .execute(envelope, WriteRequest::Resource(write), answer)
        .await?)
}

/// The response body of a write: the row it wrote, rendered with the response's projection.
fn written_body(
    state: &AppState,
    written: Written,
    projection: &Projection,
    base_url: &str,
) -> Result<Rendered, ApiError> {
    state
        .directory
        .render_written(written, projection, base_url)
        .ok_or_else(|| {
            ApiError::Service(ServiceError::Store(crate::service::error::internal(
                "an accepted write left no row behind",
            )))
        })
}

/// Run a write whose answer has a body: its own row, rendered with the response's projection.
/// Returns the target's id with it.
async fn perform_rendered(
    state: &AppState,
    envelope: &Envelope,
    write: ResourceWrite,
    projection: &Projection,
    base_url: &str,
    status: u16,
) -> Result<([u8; 16], Rendered), ApiError> {
    let memberships = shows_memberships(write.kind, projection);
    let written = perform(state, envelope, write, memberships, status).await?;
    let id = written.id;
    let r = written_body(state, written, projection, base_url)?;
    Ok((id, r))
}

/// Whether a response with this projection shows memberships (a user's groups, a group's
/// members).
fn shows_memberships(kind: ResourceKind, projection: &Projection) -> bool {
    projection.wants(match kind {
        ResourceKind::User => "groups",
        ResourceKind::Group => "members",
    })
}

async fn create(
    req: HttpRequest,
    caller: Authenticated,
    ctx: RequestContext,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let projection = Params::of(&req)?.projection(&state, kind)?;
    let body = write_body(payload, state.max_body_bytes).await;
    let write = ResourceWrite {
        kind,
        write: Write::Create,
        id: None,
        body,
        if_match: None,
    };
    let env = envelope(&caller, &ctx);
    let (id, r) = perform_rendered(&state, &env, write, &projection, &ctx.base_url, 201).await?;
    let location = format!(
        "{}{}/{}",
        ctx.base_url,
        kind.endpoint(),
        uuid::Uuid::from_bytes(id)
    );
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, location));
    Ok(scim_json(res, &r))
}

async fn replace(
    req: HttpRequest,
    caller: Authenticated,
    ctx: RequestContext,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let projection = Params::of(&req)?.projection(&state, kind)?;
    let write = ResourceWrite {
        kind,
        write: Write::Replace,
        id: Some(id.into_inner()),
        body: write_body(payload, state.max_body_bytes).await,
        if_match: if_match(&req),
    };
    let env = envelope(&caller, &ctx);
    let (_, r) = perform_rendered(&state, &env, write, &projection, &ctx.base_url, 200).await?;
    Ok(scim_json(HttpResponse::Ok(), &r))
}

async fn patch_resource(
    req: HttpRequest,
    caller: Authenticated,
    ctx: RequestContext,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let kind = **kind;
    let p = Params::of(&req)?;
    let projection = p.projection(&state, kind)?;
    // Users: 200 with the resource (Entra, R1). Groups: 204 (Entra reads never want the member
    // list echoed) unless the client asked for attributes.
    let wants_body = kind == ResourceKind::User || p.get("attributes").is_some();
    let write = ResourceWrite {
        kind,
        write: Write::Patch,
        id: Some(id.into_inner()),
        body: write_body(payload, state.max_body_bytes).await,
        if_match: if_match(&req),
    };
    let env = envelope(&caller, &ctx);
    if !wants_body {
        perform(&state, &env, write, false, 204).await?;
        return Ok(HttpResponse::NoContent().finish());
    }
    let (_, r) = perform_rendered(&state, &env, write, &projection, &ctx.base_url, 200).await?;
    Ok(scim_json(HttpResponse::Ok(), &r))
}

async fn delete(
    req: HttpRequest,
    caller: Authenticated,
    ctx: RequestContext,
    kind: web::Data<ResourceKind>,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let write = ResourceWrite {
        kind: **kind,
        write: Write::Delete,
        id: Some(id.into_inner()),
        body: Ok(Value::Null),
        if_match: if_match(&req),
    };
    perform(&state, &envelope(&caller, &ctx), write, false, 204).await?;
    Ok(HttpResponse::NoContent().finish())
}
