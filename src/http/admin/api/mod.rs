//! The console's JSON API (`/admin/api/…`), one module per console page: `auth` (sign-in,
//! sign-out, who am I, password change, session list), `tokens`, `webhooks` (subscriptions of the change feed), `activity` (the report page, exports, live tail, stats,
//! the action names), `history` (one resource's history) and `browse` (read-only users and
//! groups). This module mounts them and keeps what they share: the query-string reader
//! (`params::Params`), the blocking-pool runner, the console's write door and the response
//! helpers. Errors are `{"error": "…"}` (see `AdminFailure` in `http/error.rs`).

mod activity;
mod auth;
mod browse;
mod history;
mod params;
mod tokens;
mod webhooks;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;

use crate::domain::command::Command;
use crate::domain::write::{Actor, Answer, Envelope};
use crate::http::context::RequestContext;
use crate::http::error::{AdminFailure, ApiError};
use crate::http::AppState;
use crate::service::commands::WriteRequest;

/// Mount `/api/…` inside the `/admin` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/api")
            .route("/login", web::post().to(auth::login))
            .route("/logout", web::post().to(auth::logout))
            .route("/me", web::get().to(auth::me))
            .route("/password", web::post().to(auth::change_password))
            .route("/sessions", web::get().to(auth::sessions))
            .route(
                "/sessions/sign-out-others",
                web::post().to(auth::sign_out_others),
            )
            .route("/tokens", web::get().to(tokens::list_tokens))
            .route("/tokens", web::post().to(tokens::add_token))
            .route("/tokens/{id}", web::delete().to(tokens::revoke_token))
            .route("/webhooks", web::get().to(webhooks::list_webhooks))
            .route("/webhooks", web::post().to(webhooks::add_webhook))
            .route("/webhooks/{id}", web::delete().to(webhooks::remove_webhook))
            .route(
                "/webhooks/{id}/{change}",
                web::post().to(webhooks::change_webhook),
            )
            .route("/actions", web::get().to(activity::action_names))
            .route("/activity", web::get().to(activity::activity_page))
            .route("/activity.csv", web::get().to(activity::export_csv))
            .route("/activity.ndjson", web::get().to(activity::export_ndjson))
            .route("/activity/stream", web::get().to(activity::live_tail))
            .route("/activity/{seq}", web::get().to(activity::activity_entry))
            .route(
                "/resources/{id}/history",
                web::get().to(history::resource_history),
            )
            .route("/stats", web::get().to(activity::activity_stats))
            .route("/runs", web::get().to(activity::sync_runs))
            .route("/users", web::get().to(browse::users))
            .route("/users/{id}", web::get().to(browse::user))
            .route("/groups", web::get().to(browse::groups))
            .route("/groups/{id}", web::get().to(browse::group))
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

/// A time the console sent, in milliseconds since the epoch: RFC 3339, or the same without a
/// zone (read as UTC) and perhaps without seconds, as a `datetime-local` input writes it.
fn parse_time(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    let t = time::OffsetDateTime::parse(s, &Rfc3339)
        .or_else(|_| time::OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
        .or_else(|_| time::OffsetDateTime::parse(&format!("{s}:00Z"), &Rfc3339))
        .ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
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
    // What the console's handlers answer when the write is accepted (add_token, revoke_token).
    let status = match &command {
        Command::IssueToken { .. } => Some(201),
        Command::RevokeToken { .. } => Some(204),
        _ => None,
    };
    let answer = Answer {
        memberships: false,
        status,
    };
    state
        .commands
        .execute(&envelope, WriteRequest::Command(command), answer)
        .await
}
