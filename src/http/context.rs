//! Request extractors: [`Caller`] (who, from the bearer token) and [`RequestContext`] (request id,
//! client address, the SCIM base URL). Handlers never read headers for these themselves.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};

use crate::service::tokens::{presented_id, AuthError, Caller};
use crate::service::writer::now_ms;

use super::error::ApiError;
use super::AppState;

/// A verified client certificate was presented on this connection (mTLS); set by the server's
/// connection hook.
#[derive(Debug, Clone, Copy)]
pub struct ClientCertificate;

/// The request id, set by the access-log middleware for every request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Facts about the request that go into the log with any write it causes.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// Request id (echoed in `X-Request-Id`).
    pub request_id: String,
    /// Peer address.
    pub client_addr: Option<String>,
    /// Base URL of the SCIM API as the client should see it, without a trailing slash.
    pub base_url: String,
}

/// Base URL of the SCIM API: the configured public URL, else what the client used to reach us
/// (forwarded headers count only from `trusted_proxies`, see [`super::access`]).
pub fn base_url(req: &HttpRequest, state: &AppState) -> String {
    let root = match &state.public_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => {
            let o = state.access.origin(req);
            format!("{}://{}", o.scheme, o.host)
        }
    };
    format!("{root}{}", super::SCIM_PREFIX)
}

impl FromRequest for RequestContext {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(state) = req.app_data::<web::Data<AppState>>() else {
            return ready(Err(ApiError::NoRoute(req.path().to_owned())));
        };
        let request_id = req
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        ready(Ok(Self {
            request_id,
            client_addr: state.access.origin(req).client.map(|a| a.to_string()),
            base_url: base_url(req, state),
        }))
    }
}

/// Extracts and authenticates the caller, then applies its token's rate limit; the access log
/// reads the caller back from the extensions. A request without a valid token is counted and
/// throttled by its address instead (429 once over that limit, else 401), before any handler work.
/// The token is verified before its bucket is touched: a bucket keyed by an unverified id would let
/// anyone who knows a token's id (it is not secret) drain that client's limit.
///
/// `Authenticated` is the SCIM API's extractor, so it also checks the token's scope for the
/// request: reads (GET, and POST to a `.search` endpoint) need `scim:read` or `scim:write`,
/// everything else `scim:write` (403 otherwise). One check for every SCIM route, so a route added
/// later cannot forget it.
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            with_scope(req, |caller| {
                if is_scim_read(req) {
                    (caller.scopes.scim_read(), "scim:read")
                } else {
                    (caller.scopes.scim_write(), "scim:write")
                }
            })
            .map(Self),
        )
    }
}

/// Whether a SCIM request only reads: GET/HEAD, or a POST to a `.search` endpoint (RFC 7644
/// §3.4.3). Paths arrive canonicalised by the framing middleware.
fn is_scim_read(req: &HttpRequest) -> bool {
    let m = req.method();
    m == actix_web::http::Method::GET
        || m == actix_web::http::Method::HEAD
        || (m == actix_web::http::Method::POST && req.path().ends_with("/.search"))
}

/// The change feed's extractor: a valid token with `events:read` (403 otherwise).
pub struct FeedReader(pub Caller);

impl FromRequest for FeedReader {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(with_scope(req, |caller| (caller.scopes.events_read(), "events:read")).map(Self))
    }
}

/// The caller of `req` if its token is valid and `allowed` says it may (whether, and the scope it
/// needs for the 403 when not).
fn with_scope(
    req: &HttpRequest,
    allowed: impl FnOnce(&Caller) -> (bool, &'static str),
) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Auth(AuthError::Unknown))?;
    let caller = authenticate(req, state)?;
    match allowed(&caller) {
        (true, _) => Ok(caller),
        (false, scope) => Err(ApiError::Forbidden(scope)),
    }
}

fn authenticate(req: &HttpRequest, state: &AppState) -> Result<Caller, ApiError> {
    let now = now_ms();
    let addr = state.access.origin(req).client;
    let mut fields = req
        .headers()
        .get_all(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or(""));
    let header = fields.next();
    let result = if state.require_client_cert && req.conn_data::<ClientCertificate>().is_none() {
        Err(AuthError::ClientCertificateRequired)
    } else if fields.next().is_some() {
        Err(AuthError::Ambiguous)
    } else {
        state.directory.authenticate(header, now)
    };
    match result {
        Ok(caller) => {
            req.extensions_mut().insert(caller.clone());
            if let Err(t) = state.limiter.admit(&caller, addr, now) {
                tracing::info!(client = %caller.client, "rate limited");
                return Err(ApiError::Throttled(t));
            }
            Ok(caller)
        }
        Err(e) => {
            tracing::info!(reason = %e, "authentication failed");
            let presented = presented_id(header);
            match state.limiter.unauthenticated(addr, &presented, now) {
                Some(t) => Err(ApiError::Throttled(t)),
                None => Err(ApiError::Auth(e)),
            }
        }
    }
}
