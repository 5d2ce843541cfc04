//! Signing in and out of the console, and "who am I": the session cookie is set and cleared
//! here; failed sign-ins are throttled per client address and recorded in the log.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::json;

use crate::domain::command::Command;
use crate::domain::error::Rejection;
use crate::domain::event::Action;
use crate::domain::write::Actor;
use crate::http::admin::session::{AdminSession, COOKIE};
use crate::http::context::RequestContext;
use crate::http::error::{AdminFailure, ApiError};
use crate::http::AppState;

use super::{blocking, json_ok, parse_body, submit, AdminResult};

#[derive(Deserialize)]
struct Login {
    username: String,
    password: String,
}

pub(super) async fn login(
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AdminResult {
    let Login { username, password } = parse_body(&body)?;
    let addr = req
        .peer_addr()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |a| a.ip());
    if let Some(wait) = state.throttle.blocked(addr) {
        return Err(ApiError::Admin(AdminFailure::Throttled(wait)));
    }
    let dir = state.directory.clone();
    let name = username.clone();
    let ok = blocking(move || dir.verify_admin(&name, &password).map_err(Into::into)).await?;
    if !ok {
        state.throttle.failed(addr);
        let refused = Command::Refused {
            action: Action::SignIn,
            target_id: None,
            rejection: Rejection::SignInFailed(format!("failed sign-in as '{username}'")),
        };
        let actor = Actor {
            token_id: None,
            client: "admin console".into(),
        };
        // Recording a refusal answers with that refusal: anything else means it was not recorded.
        match submit(&state, &ctx, actor, refused).await {
            Err(crate::service::ServiceError::Rejected(_)) => {}
            Ok(_) => tracing::warn!("a failed sign-in was recorded as accepted"),
            Err(e) => tracing::warn!(error = %e, "cannot record a failed sign-in"),
        }
        tracing::warn!(%username, client_addr = %addr, "failed console sign-in");
        return Err(ApiError::Admin(AdminFailure::BadCredentials));
    }
    state.throttle.succeeded(addr);
    let (id, csrf) = state.sessions.create(&username);
    let secure = req.connection_info().scheme() == "https";
    let cookie = Cookie::build(COOKIE, id)
        .path("/admin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .finish();
    tracing::info!(%username, "console sign-in");
    Ok(HttpResponse::Ok()
        .cookie(cookie)
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
