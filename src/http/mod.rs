//! HTTP: actix-web routes, extractors, the access log, and the one error→HTTP mapping.
//! Each area exposes `configure(cfg)`; `app.rs` and the tests mount the same functions.
//! Must not import sled.

pub mod access;
pub mod admin;
pub mod bulk;
pub mod context;
pub mod discovery;
pub mod error;
pub mod events;
pub mod framing;
pub mod ops;
pub mod resources;

use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{middleware, web, App, HttpMessage, HttpRequest, HttpResponse};

use crate::scim::schema::Registry;
use crate::service::commands::Commands;
use crate::service::query::Directory;
use crate::service::tokens::Caller;

use self::context::RequestId;
use self::error::ApiError;

// Re-exported: handlers and the wiring name it as `http::SCIM_PREFIX`; it lives in `net` so that
// `config` can build the SCIM URL without importing `http`.
pub use crate::net::SCIM_PREFIX;

/// Shared state of every handler.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Reads.
    pub directory: Directory,
    /// Writes: the write service (which owns the writer and the password policy).
    pub commands: Commands,
    /// Schemas.
    pub registry: Arc<Registry>,
    /// Externally reachable root URL (`https://scim.example.com:8443`), if configured.
    pub public_url: Option<String>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Console sessions.
    pub sessions: Arc<admin::session::Sessions>,
    /// Failed console sign-ins per account, address and device cookie.
    pub throttle: Arc<admin::throttle::Throttle>,
    /// Trusted proxies, who may reach the console and where, device cookies.
    pub access: Arc<access::Access>,
    /// Requests per token in the last 24 h.
    pub usage: Arc<crate::service::usage::Usage>,
    /// Becomes true when the server begins to stop (ends live-tail streams).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
    /// Counters for `/metrics`.
    pub metrics: Arc<crate::service::metrics::Metrics>,
    /// Who may read `/metrics` without the token.
    pub metrics_allow: Vec<crate::net::Cidr>,
    /// Bearer token that also grants `/metrics`.
    pub metrics_token: Option<String>,
    /// Whether SCIM requests must come with a verified client certificate (mTLS).
    pub require_client_cert: bool,
    /// Rate limits per token and, for requests without a valid token, per address.
    pub limiter: Arc<crate::service::ratelimit::RateLimiter>,
    /// The change feed (`/events`).
    pub feed: crate::service::feed::Feed,
    /// Webhook subscriptions and their delivery.
    pub webhooks: crate::service::webhooks::Webhooks,
}

/// The whole application as the binary serves it and the in-process tests drive it: the access log
/// (outermost, so refused heads are logged too), the request-head guard and path canonicalisation
/// of [`framing`], then the routes of [`configure`] and the SCIM 404 for anything else.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .wrap(middleware::from_fn(gate))
        .wrap(middleware::from_fn(framing::guard))
        .wrap(middleware::from_fn(access_log))
        .configure(configure)
        .default_service(web::to(no_route))
}

/// Who may reach what: the console only on its listener (when it has one of its own, which
/// serves nothing else) and only from `admin_allow` addresses. A console that is not on this
/// listener is answered like any unknown path; a client outside `admin_allow` gets 403.
pub async fn gate(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let refusal = req.app_data::<web::Data<AppState>>().and_then(|state| {
        let access = &state.access;
        let http = req.request();
        let console = req.path() == "/admin" || req.path().starts_with("/admin/");
        if console && access.admin_listener.is_some() && !access.on_admin_listener(http) {
            Some(ApiError::NoRoute(req.path().to_owned()))
        } else if console && !access.console_allowed(http) {
            Some(ApiError::Admin(error::AdminFailure::AddressNotAllowed))
        } else if !console && access.on_admin_listener(http) && req.path() != "/healthz" {
            Some(ApiError::NoRoute(req.path().to_owned()))
        } else {
            None
        }
    });
    match refusal {
        Some(err) => {
            let res = actix_web::ResponseError::error_response(&err);
            Ok(req.into_response(res).map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}

/// Mount everything: health, the SCIM API, and SCIM-style 404s for unknown paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz));
    cfg.route("/readyz", web::get().to(ops::readyz));
    cfg.route("/metrics", web::get().to(ops::metrics));
    cfg.configure(admin::configure);
    cfg.configure(events::configure);
    cfg.service(
        web::scope(SCIM_PREFIX)
            .configure(discovery::configure)
            .configure(bulk::configure)
            .configure(resources::configure)
            .default_service(web::to(no_route)),
    );
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}

/// 404 with a SCIM error body, for any path nothing else claims.
pub async fn no_route(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::NoRoute(req.path().to_owned()))
}

/// 405 with a SCIM error body.
pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed(req.method().to_string()))
}

fn valid_request_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Count a SCIM request refused before it could become a write for the aggregated records of
/// `service::ratelimit`: a 401, a 429 without a valid token (a token's own 429s are counted where
/// its bucket refused them), a failed read. Failed writes are in the log already, one by one.
fn audit_refusal(req: &HttpRequest, err: Option<&actix_web::Error>, state: &AppState, status: u16) {
    use crate::service::ratelimit::{
        RefusalKind, Refused, Who, MAX_EXAMPLE_CHARS, UNAUTHENTICATED_CLIENT,
    };
    // Successes cost nothing here (this runs for every SCIM response).
    if status < 400 {
        return;
    }
    let caller = req.extensions().get::<Caller>().cloned();
    let err = err.and_then(|e| e.as_error::<ApiError>());
    let addr = state.access.origin(req).client.map(|a| a.to_string());
    let example = crate::logging::field(
        &format!("{} {}", req.method(), req.uri()),
        MAX_EXAMPLE_CHARS,
    );
    let read = matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) || (*req.method() == actix_web::http::Method::POST
        && req.path().ends_with("/.search"));
    let by_address = |kind, reason| Refused {
        who: Who::Address(addr.clone().unwrap_or_else(|| "unknown".into())),
        kind,
        client: UNAUTHENTICATED_CLIENT.into(),
        token_id: None,
        client_addr: addr.clone(),
        example: example.clone(),
        reason,
    };
    let refused = match (status, &caller) {
        (401, _) => {
            let header = req
                .headers()
                .get(actix_web::http::header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok());
            let presented = crate::service::tokens::presented_id(header);
            let why = match err {
                Some(ApiError::Auth(e)) => e.to_string(),
                _ => "unauthorized".into(),
            };
            let token = crate::domain::ids::TokenId::try_from(presented.as_str()).ok();
            let known = token.and_then(|id| state.directory.token_client(id).map(|c| (id, c)));
            match known {
                // An existing token (revoked, expired, or a wrong secret): its client's trouble.
                Some((id, client)) => Refused {
                    who: Who::Token(id),
                    kind: RefusalKind::Unauthorized,
                    client,
                    token_id: Some(id),
                    client_addr: addr.clone(),
                    example: example.clone(),
                    reason: Some(format!("{why}; token {id}")),
                },
                None => {
                    let shown = crate::logging::field(&presented, 40);
                    let reason = if presented == "none" || presented == "malformed" {
                        why
                    } else {
                        format!("{why}; token {shown}")
                    };
                    by_address(RefusalKind::Unauthorized, Some(reason))
                }
            }
        }
        (429, None) => by_address(RefusalKind::RateLimited, None),
        (s, Some(c)) if s >= 400 && s != 429 && read => Refused {
            who: Who::Token(c.token_id),
            kind: RefusalKind::ReadFailed {
                status: s,
                scim_type: err.and_then(|e| e.parts().1),
            },
            client: c.client.clone(),
            token_id: Some(c.token_id),
            client_addr: addr.clone(),
            example: example.clone(),
            reason: None,
        },
        _ => return,
    };
    state
        .limiter
        .note(refused, crate::service::writer::now_ms());
}

/// Access log and request id: one line per request with id, client, method, path, status, latency.
/// A client-supplied `X-Request-Id` is kept when it is sane, so logs on both sides line up.
pub async fn access_log(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let rid = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|s| valid_request_id(s))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    req.extensions_mut().insert(RequestId(rid.clone()));
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let app_state = req.app_data::<web::Data<AppState>>().cloned();
    let mut res = match next.call(req).await {
        Ok(res) => res,
        Err(err) => {
            // A middleware's error (actix renders it below us, so it carries no X-Request-Id).
            let status = err.as_response_error().status_code().as_u16();
            let ms = start.elapsed().as_secs_f64() * 1000.0;
            if let Some(state) = app_state {
                state
                    .metrics
                    .request("unmatched", &method, status, ms / 1000.0);
            }
            tracing::info!(request_id = %rid, %method, %path, status, latency_ms = ms, error = %err, "request");
            return Err(err);
        }
    };
    let client = res
        .request()
        .extensions()
        .get::<Caller>()
        .map(|c| c.client.clone())
        .unwrap_or_else(|| "-".into());
    let status = res.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        if let Some(caller) = res.request().extensions().get::<Caller>() {
            state.usage.record(
                caller.token_id,
                crate::service::writer::now_ms(),
                status >= 400,
            );
        }
        // The route pattern, not the path: ids must not become label values.
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        state.metrics.request(&route, &method, status, ms / 1000.0);
        if path.starts_with(SCIM_PREFIX) {
            audit_refusal(res.request(), res.response().error(), state, status);
        }
    }
    if let Some(err) = res.response().error() {
        if status >= 500 {
            tracing::error!(request_id = %rid, %client, %method, %path, status, latency_ms = ms, error = %err, "request failed");
        } else {
            tracing::info!(request_id = %rid, %client, %method, %path, status, latency_ms = ms, error = %err, "request");
        }
    } else {
        tracing::info!(request_id = %rid, %client, %method, %path, status, latency_ms = ms, "request");
    }
    if let Ok(v) = HeaderValue::from_str(&rid) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}
