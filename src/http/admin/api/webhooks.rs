//! The Webhooks page: list the subscriptions with their delivery status, make one (its secret is
//! shown once, in this response), pause, resume, replay from a cursor, delete.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::http::admin::session::AdminSession;
use crate::http::error::AdminFailure;
use crate::http::AppState;
use crate::service::webhooks::{NewWebhook, WebhookError, EVENT_FILTERS};

use super::{blocking, json_ok, parse_body, AdminResult};

fn failure(e: WebhookError) -> AdminFailure {
    match e {
        WebhookError::NotFound(_) => AdminFailure::NotFound(e.to_string()),
        WebhookError::Invalid(m) => AdminFailure::BadRequest(m),
        WebhookError::Store(s) => AdminFailure::Internal(s.to_string()),
    }
}

pub(super) async fn list_webhooks(
    _session: AdminSession,
    state: web::Data<AppState>,
) -> AdminResult {
    let hooks = state.webhooks.clone();
    let items = blocking(move || hooks.list().map_err(failure)).await?;
    Ok(json_ok(&json!({
        "items": items,
        "events": EVENT_FILTERS,
        "resource_types": ["User", "Group"],
        "head": state.feed.head(),
    })))
}

pub(super) async fn add_webhook(
    _session: AdminSession,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AdminResult {
    let new: NewWebhook = parse_body(&body)?;
    let hooks = state.webhooks.clone();
    let created = blocking(move || hooks.add(new).map_err(failure)).await?;
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(created))
}

#[derive(Deserialize)]
struct Replay {
    cursor: String,
}

pub(super) async fn change_webhook(
    _session: AdminSession,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> AdminResult {
    let (id, change) = path.into_inner();
    let cursor = if change == "replay" {
        Some(parse_body::<Replay>(&body)?.cursor)
    } else {
        None
    };
    let hooks = state.webhooks.clone();
    blocking(move || {
        match change.as_str() {
            "pause" => hooks.pause(&id),
            "resume" => hooks.resume(&id),
            "replay" => hooks.replay(&id, cursor.as_deref().unwrap_or("start")),
            other => {
                return Err(AdminFailure::NotFound(format!(
                    "no webhook action '{other}'"
                )))
            }
        }
        .map_err(failure)
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(super) async fn remove_webhook(
    _session: AdminSession,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AdminResult {
    let hooks = state.webhooks.clone();
    let id = id.into_inner();
    blocking(move || hooks.remove(&id).map_err(failure)).await?;
    Ok(HttpResponse::NoContent().finish())
}
