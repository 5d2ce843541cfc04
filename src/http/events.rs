//! The change feed over HTTP, for tokens with `events:read`:
//! `GET /events?after=&limit=&wait=&detail=` (a page of SETs, `{"events", "next", "more"}`),
//! `GET /events/snapshot` (NDJSON: the current users and groups and the cursor they are
//! consistent with) and `GET /events/jwks.json` (the public key of signed SETs; no token, 404 when
//! signing is off).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;
use serde::Deserialize;
use serde_json::json;

use crate::feed::set::Detail;
use crate::service::feed::PageRequest;

use super::context::{base_url, FeedReader};
use super::error::ApiError;
use super::AppState;

/// Mount the feed's routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/events")
            .route(web::get().to(page))
            .default_service(web::to(super::method_not_allowed)),
    );
    cfg.service(
        web::resource("/events/snapshot")
            .route(web::get().to(snapshot))
            .default_service(web::to(super::method_not_allowed)),
    );
    cfg.service(
        web::resource("/events/jwks.json")
            .route(web::get().to(jwks))
            .default_service(web::to(super::method_not_allowed)),
    );
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    after: Option<String>,
    limit: Option<usize>,
    wait: Option<u64>,
    detail: Option<String>,
}

fn bad(detail: String) -> ApiError {
    ApiError::Scim(crate::scim::error::ScimError::InvalidValue(detail))
}

async fn page(
    _caller: FeedReader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let q = web::Query::<PageQuery>::from_query(req.query_string())
        .map_err(|e| {
            bad(format!(
                "bad query: {e}; the parameters are after, limit, wait and detail"
            ))
        })?
        .into_inner();
    let detail = match q.detail.as_deref() {
        None => Detail::Full,
        Some(d) => d
            .parse()
            .map_err(|_| bad(format!("detail '{d}' is neither 'full' nor 'notice'")))?,
    };
    let request = PageRequest {
        after: q.after,
        limit: q.limit,
        wait: q.wait,
        detail,
    };
    let issuer = base_url(&req, &state);
    let p = state
        .feed
        .page(&request, &issuer, state.shutdown.clone())
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"events": p.events, "next": p.next, "more": p.more})))
}

async fn snapshot(
    _caller: FeedReader,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> HttpResponse {
    let rx = state.feed.snapshot(&base_url(&req, &state));
    let body = stream::unfold(rx, |mut rx| async move {
        match rx.recv().await? {
            Ok(line) => Some((Ok::<_, actix_web::Error>(web::Bytes::from(line)), rx)),
            // The stream ends without its last line: the consumer sees it was cut short.
            Err(_) => None,
        }
    });
    HttpResponse::Ok()
        .content_type("application/x-ndjson")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

async fn jwks(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    match state.feed.jwks() {
        Some(keys) => Ok(HttpResponse::Ok()
            .content_type("application/jwk-set+json")
            .json(keys)),
        None => Err(ApiError::NoRoute(format!(
            "{} (SET signing is off: set events_signed = true)",
            req.path()
        ))),
    }
}
