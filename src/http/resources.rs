//! `/Users` and `/Groups`: list, create, read, replace, patch, delete. One set of handlers serves
//! both resource types; the kind travels as route data.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::StreamExt as _;
use serde_json::Value;

use crate::domain::command::{Command, IfMatch};
use crate::domain::error::Rejection;
use crate::domain::event::Action;
use crate::domain::ids::{GroupId, UserId};
use crate::scim::error::ScimError;
use crate::scim::patch;
use crate::scim::resource::{parse_resource, Projection};
use crate::scim::schema::ResourceKind;
use crate::service::passwords::{self, PasswordStorage};
use crate::service::query::{ListQuery, Rendered};
use crate::service::ServiceError;
use crate::store::append::{Applied, Pending};

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
pub async fn json_body(mut payload: web::Payload, limit: usize) -> Result<Value, ApiError> {
    let mut buf = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ScimError::InvalidSyntax(format!("cannot read the body: {e}")))?;
        if buf.len() + chunk.len() > limit {
            return Err(ScimError::TooLarge(format!("request body exceeds {limit} bytes")).into());
        }
        buf.extend_from_slice(&chunk);
    }
    if buf.is_empty() {
        return Err(ScimError::InvalidSyntax("the request body is empty".into()).into());
    }
    serde_json::from_slice(&buf)
        .map_err(|e| ScimError::InvalidSyntax(format!("the body is not valid JSON: {e}")).into())
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

/// Send a prepared command to the writer. A request refused while preparing it (bad body, unknown
/// id) is recorded as a rejection too, so the log shows every failed write, then answered.
pub(crate) async fn execute(
    state: &AppState,
    caller: &Authenticated,
    ctx: &RequestContext,
    action: Action,
    target_id: Option<String>,
    prepared: Result<Command, ApiError>,
) -> Result<(), ApiError> {
    match prepared {
        Ok(command) => submit(state, caller, ctx, command).await,
        Err(e) => {
            let rejection = match &e {
                ApiError::Scim(err) => Some(Rejection::Invalid(err.clone())),
                ApiError::Service(ServiceError::Rejected(r)) => Some(r.clone()),
                _ => None,
            };
            if let Some(rejection) = rejection {
                let refused = Command::Refused {
                    action,
                    target_id,
                    rejection,
                };
                if let Err(log_err) = submit(state, caller, ctx, refused).await {
                    if !matches!(log_err, ApiError::Service(ServiceError::Rejected(_))) {
                        tracing::warn!(error = %log_err, "cannot record a refused write");
                    }
                }
            }
            Err(e)
        }
    }
}

/// Send a command to the writer and turn a rejection into an error.
async fn submit(
    state: &AppState,
    caller: &Authenticated,
    ctx: &RequestContext,
    command: Command,
) -> Result<(), ApiError> {
    let applied = state
        .writer
        .submit(Pending {
            command,
            actor: caller.0.actor(),
            request_id: ctx.request_id.clone(),
            client_addr: ctx.client_addr.clone(),
        })
        .await?;
    match applied {
        Applied::Accepted { .. } => Ok(()),
        Applied::Rejected { rejection, .. } => Err(rejection.into()),
    }
}

/// Parse an id from the path; an id that cannot exist is simply not found.
fn ids(kind: ResourceKind, id: &str) -> Result<[u8; 16], ApiError> {
    UserId::try_from(id).map(|u| *u.as_bytes()).map_err(|_| {
        crate::domain::error::Rejection::NotFound {
            kind,
            id: id.to_owned(),
        }
        .into()
    })
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

/// Run a list or search off the async workers (it may scan a view).
async fn run_list(
    state: &AppState,
    kind: Option<ResourceKind>,
    q: ListQuery,
    base_url: String,
) -> Result<HttpResponse, ApiError> {
    let dir = state.directory.clone();
    let body = web::block(move || match kind {
        Some(kind) => dir.list(kind, &q, &base_url),
        None => dir.search_all(&q, &base_url),
    })
    .await
    .map_err(|_| crate::service::ServiceError::WriterGone)??;
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
    let r = state
        .directory
        .get_projected(**kind, &id, &projection, &ctx.base_url)?;
    if let Some(inm) = req.headers().get(header::IF_NONE_MATCH) {
        let tag = IfMatch::parse(inm.to_str().unwrap_or(""));
        if tag.matches(r.meta.version) {
            return Ok(HttpResponse::NotModified()
                .insert_header((header::ETAG, r.meta.etag()))
                .finish());
        }
    }
    Ok(scim_json(HttpResponse::Ok(), &r))
}

/// The four writes, shared by the handlers below and by `/Bulk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// POST
    Create,
    /// PUT
    Replace,
    /// PATCH
    Patch,
    /// DELETE
    Delete,
}

impl Write {
    /// The action recorded when the write is refused.
    pub fn action(self, kind: ResourceKind) -> Action {
        let user = kind == ResourceKind::User;
        match self {
            Self::Create if user => Action::CreateUser,
            Self::Create => Action::CreateGroup,
            Self::Replace if user => Action::ReplaceUser,
            Self::Replace => Action::ReplaceGroup,
            Self::Patch if user => Action::PatchUser,
            Self::Patch => Action::PatchGroup,
            Self::Delete if user => Action::DeleteUser,
            Self::Delete => Action::DeleteGroup,
        }
    }
}

/// Turn a write request into a command (validation at the boundary), and take out the clear-text
/// password if the request carries one. `new_id` is the id a create will get; `id` names the target
/// of the others.
pub fn prepare(
    state: &AppState,
    kind: ResourceKind,
    write: Write,
    new_id: [u8; 16],
    id: Option<&str>,
    body: Option<&Value>,
    if_match: Option<IfMatch>,
) -> Result<(Command, Option<String>), ApiError> {
    let raw = match (write, id) {
        (Write::Create, _) => new_id,
        (_, Some(id)) => ids(kind, id)?,
        (_, None) => {
            return Err(ScimError::InvalidValue("the request names no resource id".into()).into())
        }
    };
    let body = || {
        body.ok_or_else(|| {
            ApiError::from(ScimError::InvalidSyntax("the request has no body".into()))
        })
    };
    let (user, group) = (UserId::from_bytes(raw), GroupId::from_bytes(raw));
    let mut password = None;
    let command = match (write, kind) {
        (Write::Create, _) => {
            let mut input = parse_resource(&state.registry, kind, body()?)?;
            password = input.password.take();
            match kind {
                ResourceKind::User => Command::CreateUser {
                    id: user,
                    input,
                    password_hash: None,
                },
                ResourceKind::Group => Command::CreateGroup { id: group, input },
            }
        }
        (Write::Replace, _) => {
            let mut input = parse_resource(&state.registry, kind, body()?)?;
            password = input.password.take();
            match kind {
                ResourceKind::User => Command::ReplaceUser {
                    id: user,
                    input,
                    if_match,
                    password_hash: None,
                },
                ResourceKind::Group => Command::ReplaceGroup {
                    id: group,
                    input,
                    if_match,
                },
            }
        }
        (Write::Patch, ResourceKind::User) => {
            let mut ops = patch::parse_patch(body()?)?;
            password = patch::take_password(&mut ops);
            Command::PatchUser {
                id: user,
                ops,
                if_match,
                password_hash: None,
            }
        }
        (Write::Patch, ResourceKind::Group) => {
            let ops = patch::parse_patch(body()?)?;
            let (ops, members) = patch::split_members(&state.registry, ops)?;
            Command::PatchGroup {
                id: group,
                ops,
                members,
                if_match,
            }
        }
        (Write::Delete, ResourceKind::User) => Command::DeleteUser { id: user, if_match },
        (Write::Delete, ResourceKind::Group) => Command::DeleteGroup {
            id: group,
            if_match,
        },
    };
    Ok((command, password.filter(|p| !p.is_empty())))
}

/// Hash the password into the command, or drop it, as configured. Hashing is deliberately slow,
/// so it runs on the blocking pool.
async fn keep_password(
    state: &AppState,
    mut command: Command,
    password: String,
) -> Result<Command, ApiError> {
    if state.password_storage == PasswordStorage::Discard {
        return Ok(command);
    }
    let hashed = web::block(move || passwords::hash(&password))
        .await
        .map_err(|_| ServiceError::WriterGone)?
        .map_err(|e| {
            ServiceError::Store(crate::store::StoreError::Io(format!(
                "password hashing failed: {e}"
            )))
        })?;
    if let Command::CreateUser { password_hash, .. }
    | Command::ReplaceUser { password_hash, .. }
    | Command::PatchUser { password_hash, .. } = &mut command
    {
        *password_hash = Some(hashed);
    }
    Ok(command)
}

/// Prepare and execute a write; refusals at any stage are recorded. Returns the target id.
#[allow(clippy::too_many_arguments)]
pub async fn perform(
    state: &AppState,
    caller: &Authenticated,
    ctx: &RequestContext,
    kind: ResourceKind,
    write: Write,
    id: Option<&str>,
    body: Result<Value, ApiError>,
    if_match: Option<IfMatch>,
) -> Result<String, ApiError> {
    let new_id = match kind {
        ResourceKind::User => *UserId::random().as_bytes(),
        ResourceKind::Group => *GroupId::random().as_bytes(),
    };
    let prepared =
        match body.and_then(|b| prepare(state, kind, write, new_id, id, Some(&b), if_match)) {
            Ok((command, None)) => Ok(command),
            Ok((command, Some(password))) => keep_password(state, command, password).await,
            Err(e) => Err(e),
        };
    let target = match write {
        Write::Create => None,
        _ => id.map(str::to_owned),
    };
    execute(state, caller, ctx, write.action(kind), target, prepared).await?;
    Ok(match (write, id) {
        (Write::Create, _) | (_, None) => UserId::from_bytes(new_id).to_string(),
        (_, Some(id)) => id.to_owned(),
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
    let body = json_body(payload, state.max_body_bytes).await;
    let id = perform(&state, &caller, &ctx, kind, Write::Create, None, body, None).await?;
    let r = state
        .directory
        .get_projected(kind, &id, &projection, &ctx.base_url)?;
    let location = format!("{}{}/{id}", ctx.base_url, kind.endpoint());
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
    let body = json_body(payload, state.max_body_bytes).await;
    let m = if_match(&req);
    perform(
        &state,
        &caller,
        &ctx,
        kind,
        Write::Replace,
        Some(&id),
        body,
        m,
    )
    .await?;
    let r = state
        .directory
        .get_projected(kind, &id, &projection, &ctx.base_url)?;
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
    let body = json_body(payload, state.max_body_bytes).await;
    let m = if_match(&req);
    perform(
        &state,
        &caller,
        &ctx,
        kind,
        Write::Patch,
        Some(&id),
        body,
        m,
    )
    .await?;
    // Users: 200 with the resource (Entra, R1). Groups: 204 (Entra reads never want the member
    // list echoed) unless the client asked for attributes.
    let wants_body = kind == ResourceKind::User || p.get("attributes").is_some();
    if !wants_body {
        return Ok(HttpResponse::NoContent().finish());
    }
    let r = state
        .directory
        .get_projected(kind, &id, &projection, &ctx.base_url)?;
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
    let m = if_match(&req);
    perform(
        &state,
        &caller,
        &ctx,
        **kind,
        Write::Delete,
        Some(&id),
        Ok(Value::Null),
        m,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
