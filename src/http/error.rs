//! The one place errors become HTTP responses. Every error of every layer arrives here as
//! [`ApiError`]; the match below has no catch-all arm, so a new variant does not compile until someone
//! decides its status. Client errors get an RFC 7644 §3.12 body; internal errors are logged (with the
//! request id, by the access log) and answered without detail.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

use crate::domain::error::Rejection;
use crate::scim::error::ScimError;
use crate::service::ratelimit::Throttled;
use crate::service::tokens::AuthError;
use crate::service::ServiceError;

/// URN of the SCIM Error message.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// From the service layer (rejections, storage, writer).
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// A malformed request caught at the boundary (body, query).
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// 401 with `WWW-Authenticate: Bearer`; 400 for two `Authorization` fields.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// 404: no such route.
    #[error("no such endpoint: {0}")]
    NoRoute(String),
    /// 405: the route exists but not with this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// An admin console API failure: JSON `{"error": …}` rather than a SCIM body.
    #[error(transparent)]
    Admin(#[from] AdminFailure),
    /// 429, no `scimType`, with `Retry-After`: over a rate limit.
    #[error(transparent)]
    Throttled(#[from] Throttled),
    /// 403, no `scimType`, `WWW-Authenticate: Bearer error="insufficient_scope"`: the token is
    /// valid but lacks the scope this request needs (named here).
    #[error("this token lacks the scope {0}")]
    Forbidden(&'static str),
    /// The change feed: 400 `invalidValue` for a cursor it did not make, 410 for a cursor the log
    /// cannot serve, 500 for a storage or signing failure.
    #[error(transparent)]
    Feed(#[from] crate::feed::FeedError),
    /// 400 `invalidSyntax`, `Connection: close`: a chunked body that is malformed or ends early.
    #[error("the chunked request body is malformed or ended early")]
    BrokenBody,
}

/// Failures of the admin console API.
#[derive(Debug, thiserror::Error)]
pub enum AdminFailure {
    /// 401: no valid session.
    #[error("sign in first")]
    SignInRequired,
    /// 401: wrong name or password.
    #[error("wrong user name or password")]
    BadCredentials,
    /// 403: a mutating request without the session's CSRF token.
    #[error("missing or wrong X-CSRF-Token")]
    Csrf,
    /// 429 with `Retry-After`: too many failed sign-ins for this account or from this address.
    #[error("too many failed sign-ins; try again in {0} s")]
    Throttled(u64),
    /// 415: a console write whose body is not `application/json` (what a cross-site form or a
    /// `text/plain` post would send).
    #[error("the admin API accepts only Content-Type: application/json for writes (got '{0}')")]
    UnsupportedMediaType(String),
    /// 403: the client's address is not in `admin_allow`.
    #[error("the console is not available from this address (see admin_allow)")]
    AddressNotAllowed,
    /// 400: a bad parameter or body.
    #[error("{0}")]
    BadRequest(String),
    /// 404: no such token, user, group or page.
    #[error("{0}")]
    NotFound(String),
    /// 500: logged with the request id, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<ServiceError> for AdminFailure {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Rejected(Rejection::NotFound { .. } | Rejection::TokenNotFound(_)) => {
                Self::NotFound(e.to_string())
            }
            ServiceError::Rejected(r) => Self::BadRequest(r.to_string()),
            ServiceError::Store(s) => Self::Internal(s.to_string()),
            ServiceError::WriterGone => Self::Internal("the writer is not running".into()),
        }
    }
}

impl AdminFailure {
    fn status(&self) -> StatusCode {
        match self {
            Self::SignInRequired | Self::BadCredentials => StatusCode::UNAUTHORIZED,
            Self::Csrf | Self::AddressNotAllowed => StatusCode::FORBIDDEN,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn response(&self) -> HttpResponse {
        let message = match self {
            Self::Internal(_) => {
                "internal error; see the server log for this request id".to_owned()
            }
            other => other.to_string(),
        };
        let mut body = json!({ "error": message });
        let mut res = HttpResponse::build(self.status());
        if let Self::Throttled(secs) = self {
            body["retry_after_seconds"] = json!(secs);
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        res.insert_header((header::CACHE_CONTROL, "no-store"));
        res.content_type("application/json").body(body.to_string())
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        Self::Service(ServiceError::Rejected(r))
    }
}

impl ApiError {
    /// Status, `scimType` and the detail a client may see.
    pub fn parts(&self) -> (StatusCode, Option<&'static str>, String) {
        let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST);
        match self {
            Self::Service(ServiceError::Rejected(r)) => {
                (status(r.status()), r.scim_type(), r.to_string())
            }
            Self::Service(ServiceError::Store(_)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal error; see the server log for this request id".into(),
            ),
            Self::Service(ServiceError::WriterGone) => (
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "the server is shutting down; retry".into(),
            ),
            Self::Scim(e) => (
                status(e.status()),
                Some(e.scim_type()),
                e.detail().to_owned(),
            ),
            Self::Auth(AuthError::ClientCertificateRequired) => (
                StatusCode::UNAUTHORIZED,
                None,
                "a client certificate signed by the configured CA is required".into(),
            ),
            Self::Auth(AuthError::Ambiguous) => (
                StatusCode::BAD_REQUEST,
                None,
                "the request carries more than one Authorization header; send exactly one".into(),
            ),
            Self::Auth(_) => (
                StatusCode::UNAUTHORIZED,
                None,
                "a valid bearer token is required".into(),
            ),
            Self::NoRoute(_) => (StatusCode::NOT_FOUND, None, self.to_string()),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, None, self.to_string()),
            Self::Admin(a) => (a.status(), None, a.to_string()),
            Self::Throttled(t) => (StatusCode::TOO_MANY_REQUESTS, None, t.to_string()),
            Self::Feed(crate::feed::FeedError::BadCursor(_)) => (
                StatusCode::BAD_REQUEST,
                Some("invalidValue"),
                self.to_string(),
            ),
            Self::Feed(crate::feed::FeedError::Gone(why)) => (StatusCode::GONE, None, why.clone()),
            Self::Feed(crate::feed::FeedError::Store(_) | crate::feed::FeedError::Sign(_)) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                None,
                "internal error; see the server log for this request id".into(),
            ),
            Self::Forbidden(scope) => (
                StatusCode::FORBIDDEN,
                None,
                format!("this token does not grant {scope}, which this request needs"),
            ),
            Self::BrokenBody => (
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                "the chunked request body is malformed or ended early: each chunk starts with its \
                 size in hexadecimal digits, and the body ends with a chunk of size 0"
                    .into(),
            ),
        }
    }
}

/// A SCIM error response.
pub fn scim_error(status: StatusCode, scim_type: Option<&str>, detail: &str) -> HttpResponse {
    let mut body = json!({
        "schemas": [ERROR_SCHEMA],
        "status": status.as_u16().to_string(),
        "detail": detail,
    });
    if let Some(t) = scim_type {
        body["scimType"] = json!(t);
    }
    HttpResponse::build(status)
        .content_type(crate::scim::CONTENT_TYPE)
        .body(body.to_string())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Admin(a) = self {
            return a.response();
        }
        let (status, scim_type, detail) = self.parts();
        let mut res = scim_error(status, scim_type, &detail);
        if matches!(self, Self::Auth(_)) && status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimd\""),
            );
        }
        if let Self::Forbidden(scope) = self {
            // RFC 6750 §3.1: say which scope would do.
            if let Ok(v) = HeaderValue::from_str(&format!(
                "Bearer realm=\"scimd\", error=\"insufficient_scope\", scope=\"{scope}\""
            )) {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        if let Self::Throttled(t) = self {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(t.retry_after_secs));
        }
        if matches!(self, Self::BrokenBody) {
            // What follows the broken chunk cannot be framed: the connection ends here.
            res.head_mut()
                .set_connection_type(actix_web::http::ConnectionType::Close);
        }
        res
    }
}
