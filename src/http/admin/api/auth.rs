//! Signing in and out of the console, "who am I", changing one's password and the account's
//! session list: the session and device cookies are set and cleared here. Sign-ins are throttled
//! per account and per address (or, for a browser with a device cookie, per device; see
//! `admin::throttle`), the attempt reserved before the password is hashed; failures are recorded
//! in the log with the name capped and escaped (it is unauthenticated input).

use actix_web::cookie::{time::Duration as CookieAge, Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::domain::command::Command;
use crate::domain::error::Rejection;
use crate::domain::event::Action;
use crate::domain::write::Actor;
use crate::http::admin::device;
use crate::http::admin::session::{AdminSession, Client, COOKIE};
use crate::http::admin::throttle::Key;
use crate::http::context::RequestContext;
use crate::http::error::{AdminFailure, ApiError};
use crate::http::AppState;
use crate::logging;
use crate::service::writer::now_ms;

use super::{bad, blocking, json_ok, parse_body, submit, AdminResult};

/// Longest account name kept in a record or a log line (valid names are at most 64).
pub const MAX_NAME_CHARS: usize = 64;

/// The client (`actor.client`) of failed sign-in records; the charts count them apart.
pub const SIGN_IN_CLIENT: &str = crate::report::stats::SIGN_IN_CLIENT;

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

fn account_key(name: &str) -> Key {
    Key::Account(
        name.chars()
            .take(MAX_NAME_CHARS)
            .collect::<String>()
            .to_lowercase(),
    )
}

fn throttled(wait: u64) -> ApiError {
    ApiError::Admin(AdminFailure::Throttled(wait))
}

pub(super) async fn login(
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AdminResult {
    let Login { username, password } = parse_body(&body)?;
    let shown = logging::field(&username, MAX_NAME_CHARS);
    let logged = logging::cap(&username, MAX_NAME_CHARS);
    let now = now_ms();
    let origin = state.access.origin(&req);
    let addr = origin
        .client
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let device = req
        .cookie(device::COOKIE)
        .and_then(|c| state.access.device.check(c.value(), &username, now));
    let keys = match &device {
        Some(id) => vec![Key::Device(id.clone())],
        None => vec![account_key(&username), Key::Address(addr)],
    };
    let attempt = state.throttle.reserve(keys).map_err(throttled)?;
    let dir = state.directory.clone();
    let name = username.clone();
    let ok = blocking(move || dir.verify_admin(&name, &password).map_err(Into::into)).await?;
    if !ok {
        attempt.failed();
        let refused = Command::Refused {
            action: Action::SignIn,
            target_id: None,
            rejection: Rejection::SignInFailed(format!("failed sign-in as '{shown}'")),
        };
        let actor = Actor {
            token_id: None,
            client: SIGN_IN_CLIENT.into(),
        };
        // Recording a refusal answers with that refusal: anything else means it was not recorded.
        match submit(&state, &ctx, actor, refused).await {
            Err(crate::service::ServiceError::Rejected(_)) => {}
            Ok(_) => tracing::warn!("a failed sign-in was recorded as accepted"),
            Err(e) => tracing::warn!(error = %e, "cannot record a failed sign-in"),
        }
        tracing::warn!(username = %logged, client_addr = %addr, "failed console sign-in");
        return Err(ApiError::Admin(AdminFailure::BadCredentials));
    }
    attempt.succeeded();
    let stamp = state
        .directory
        .admin_stamp(&username)
        .map_err(|e| ApiError::Admin(e.into()))?;
    let client = Client {
        addr: origin.client.map(|a| a.to_string()),
        user_agent: req
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned(),
    };
    let (id, csrf) = state.sessions.start(&username, stamp, client);
    let secure = origin.scheme == "https";
    let cookie = Cookie::build(COOKIE, id)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    // A fresh device cookie at every sign-in: this browser stays exempt from the account's
    // lock-out for another 30 days.
    let device_cookie = Cookie::build(device::COOKIE, state.access.device.issue(&username, now))
        .path(device::COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(CookieAge::milliseconds(device::LIFETIME_MS))
        .finish();
    tracing::info!(username = %logged, "console sign-in");
    Ok(HttpResponse::Ok()
        .cookie(cookie)
        .cookie(device_cookie)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"csrf": csrf, "username": username})))
}

pub(super) async fn logout(session: AdminSession, state: web::Data<AppState>) -> AdminResult {
    state.sessions.remove(&session.id);
    let mut gone = Cookie::build(COOKIE, "").path("/admin").finish();
    gone.make_removal();
    Ok(HttpResponse::NoContent().cookie(gone).finish())
}

pub(super) async fn me(session: AdminSession) -> AdminResult {
    Ok(json_ok(
        &json!({"username": session.username, "csrf": session.csrf}),
    ))
}

#[derive(Deserialize)]
struct PasswordChange {
    current: String,
    new: String,
}

/// `POST /admin/api/password` `{"current", "new"}`: change the signed-in account's password;
/// every other session of the account ends, this one stays. A wrong current password is 400 (not
/// 401: the session is fine) and counts against the account's sign-in throttle.
pub(super) async fn change_password(
    req: HttpRequest,
    session: AdminSession,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AdminResult {
    let PasswordChange { current, new } = parse_body(&body)?;
    let addr = state
        .access
        .origin(&req)
        .client
        .unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let attempt = state
        .throttle
        .reserve(vec![account_key(&session.username), Key::Address(addr)])
        .map_err(throttled)?;
    let dir = state.directory.clone();
    let name = session.username.clone();
    let ok = blocking(move || dir.verify_admin(&name, &current).map_err(Into::into)).await?;
    if !ok {
        attempt.failed();
        return Err(bad("the current password is wrong"));
    }
    attempt.succeeded();
    let dir = state.directory.clone();
    let name = session.username.clone();
    let set = blocking(move || {
        dir.set_admin_password(&name, &new, now_ms())
            .map_err(Into::into)
    })
    .await?;
    set.map_err(|e| bad(e.to_string()))?;
    let stamp = state
        .directory
        .admin_stamp(&session.username)
        .map_err(|e| ApiError::Admin(e.into()))?;
    state.sessions.restamp(&session.id, stamp);
    let ended = state.sessions.end_others(&session.username, &session.id);
    tracing::info!(username = %session.username, sessions_ended = ended, "console password changed");
    Ok(json_ok(&json!({"signed_out": ended})))
}

/// `GET /admin/api/sessions`: the signed-in account's live sessions, newest first.
pub(super) async fn sessions(session: AdminSession, state: web::Data<AppState>) -> AdminResult {
    Ok(json_ok(&json!({
        "items": state.sessions.list(&session.username, &session.id),
    })))
}

/// `POST /admin/api/sessions/sign-out-others`: end the account's other sessions.
pub(super) async fn sign_out_others(
    session: AdminSession,
    state: web::Data<AppState>,
) -> AdminResult {
    let ended = state.sessions.end_others(&session.username, &session.id);
    Ok(json_ok(&json!({"signed_out": ended})))
}
