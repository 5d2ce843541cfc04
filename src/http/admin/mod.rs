//! The admin console: static files from `web/` compiled into the binary, served at `/admin/`, and
//! its JSON API at `/admin/api/`. Every console response carries strict security headers (a CSP
//! without inline script, no framing, no sniffing, no referrer). Writes to the API must be
//! `application/json` ([`require_json`]): a cross-site form can only send `text/plain`,
//! `multipart/form-data` or `application/x-www-form-urlencoded` without a CORS preflight, and
//! scimd answers no preflight, so no other site can post to the console (not even to sign-in).

pub mod api;
pub mod device;
pub mod session;
pub mod throttle;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

/// The console's files, embedded at build time (nothing is read from disk at run time).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../../web/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../../../web/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/api.js"),
    ),
    (
        "util.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/util.js"),
    ),
    (
        "charts.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/charts.js"),
    ),
    (
        "activity.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/activity.js"),
    ),
    (
        "tokens.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/tokens.js"),
    ),
    (
        "account.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/account.js"),
    ),
    (
        "webhooks.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/webhooks.js"),
    ),
    (
        "resources.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../../web/resources.js"),
    ),
];

/// The Content-Security-Policy of every console response.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// Mount `/admin`, `/admin/` and `/admin/api/…`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(actix_web::middleware::from_fn(require_json))
            .wrap(actix_web::middleware::from_fn(security_headers))
            .configure(api::configure)
            .route("", web::get().to(redirect))
            .route("/", web::get().to(asset))
            .route("/{file}", web::get().to(asset)),
    );
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/admin/"))
        .finish()
}

async fn asset(req: HttpRequest) -> HttpResponse {
    let name = req.match_info().get("file").unwrap_or("index.html");
    match ASSETS.iter().find(|(n, _, _)| *n == name) {
        Some((_, mime, bytes)) => HttpResponse::Ok()
            .content_type(*mime)
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(*bytes),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("not found"),
    }
}

/// Refuse (415) an API write whose body is not JSON. `DELETE` without a body needs none (a form
/// cannot send `DELETE`, and a script on another origin would need a preflight).
pub async fn require_json(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    use actix_web::http::Method;
    let write = !matches!(
        *req.method(),
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    );
    let empty_delete = *req.method() == Method::DELETE
        && req
            .headers()
            .get(header::CONTENT_LENGTH)
            .is_none_or(|v| v.as_bytes() == b"0")
        && !req.headers().contains_key(header::TRANSFER_ENCODING);
    if write && req.path().starts_with("/admin/api/") && !empty_delete {
        let sent = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = sent.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            let shown: String = sent.chars().take(100).collect();
            let err = super::error::ApiError::Admin(
                super::error::AdminFailure::UnsupportedMediaType(crate::logging::escape(&shown)),
            );
            let res = actix_web::ResponseError::error_response(&err);
            return Ok(req.into_response(res).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Security headers on every `/admin` response.
pub async fn security_headers(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let h = res.headers_mut();
    for (name, value) in [
        ("content-security-policy", CSP),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
    ] {
        h.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    Ok(res)
}
