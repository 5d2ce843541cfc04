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
    /// 401 with `WWW-Authenticate: Bearer`.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// 404: no such route.
    #[error("no such endpoint: {0}")]
    NoRoute(String),
    /// 405: the route exists but not with this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
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
            Self::Auth(_) => (
                StatusCode::UNAUTHORIZED,
                None,
                "a valid bearer token is required".into(),
            ),
            Self::NoRoute(_) => (StatusCode::NOT_FOUND, None, self.to_string()),
            Self::MethodNotAllowed(_) => (StatusCode::METHOD_NOT_ALLOWED, None, self.to_string()),
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
        let (status, scim_type, detail) = self.parts();
        let mut res = scim_error(status, scim_type, &detail);
        if matches!(self, Self::Auth(_)) {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scimd\""),
            );
        }
        res
    }
}
