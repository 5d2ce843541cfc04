//! The Tokens page: list the bearer tokens with their last day's use, issue one (the secret is
//! shown once, in this response), revoke one. Issuing and revoking go through the write
//! service as the signed-in console user.

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::domain::command::Command;
use crate::domain::ids::{ClientName, TokenId};
use crate::domain::scope::Scopes;
use crate::http::admin::session::AdminSession;
use crate::http::context::RequestContext;
use crate::http::error::{AdminFailure, ApiError};
use crate::http::AppState;
use crate::service::tokens;
use crate::service::writer::now_ms;

use super::{bad, blocking, console_actor, json_ok, parse_body, parse_time, submit, AdminResult};

/// The SCIM Server URL to show: the configured public URL, else what the browser used.
fn scim_url(state: &AppState, ctx: &RequestContext, hint: Option<&str>) -> String {
    if state.public_url.is_some() {
        return ctx.base_url.clone();
    }
    match hint {
        Some(h)
            if (h.starts_with("https://") || h.starts_with("http://"))
                && h.trim_end_matches('/').ends_with(crate::http::SCIM_PREFIX)
                && !h.contains(char::is_whitespace) =>
        {
            h.trim_end_matches('/').to_owned()
        }
        _ => ctx.base_url.clone(),
    }
}

pub(super) async fn list_tokens(
    _session: AdminSession,
    ctx: RequestContext,
    state: web::Data<AppState>,
) -> AdminResult {
    let dir = state.directory.clone();
    let now = now_ms();
    let (list, failed) = blocking(move || Ok((dir.tokens()?, dir.failures_24h(now)?))).await?;
    let items: Vec<Value> = list
        .into_iter()
        .map(|t| {
            // Requests are counted in memory; failures are what the report shows (rejected writes
            // and aggregated refusals, by count) plus the refusals not yet recorded, so the two
            // pages always agree.
            let id = TokenId::try_from(t.id.as_str()).ok();
            let requests = id.map_or(0, |id| state.usage.last_24h(id, now).0);
            let failures = failed.per_token.get(&t.id).copied().unwrap_or(0)
                + id.map_or(0, |id| state.limiter.pending_for(id));
            let expired = t.expires.as_deref().is_some_and(|e| {
                time::OffsetDateTime::parse(e, &time::format_description::well_known::Rfc3339)
                    .is_ok_and(|e| e.unix_timestamp_nanos() / 1_000_000 <= i128::from(now))
            });
            json!({
                "id": t.id, "name": t.name, "created": t.created, "last_used": t.last_used,
                "expires": t.expires, "revoked": t.revoked, "scopes": t.scopes,
                "active": t.revoked.is_none() && !expired,
                "requests_24h": requests, "failures_24h": failures,
            })
        })
        .collect();
    Ok(json_ok(&json!({
        "scim_url": scim_url(&state, &ctx, None),
        "scopes": Scopes::names_known(),
        "items": items,
    })))
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    #[serde(default)]
    expires: Option<String>,
    #[serde(default)]
    scim_url: Option<String>,
    /// Scope names; none or absent: `scim:write`.
    #[serde(default)]
    scopes: Vec<String>,
}

pub(super) async fn add_token(
    session: AdminSession,
    ctx: RequestContext,
    state: web::Data<AppState>,
    body: web::Bytes,
) -> AdminResult {
    let req: NewToken = parse_body(&body)?;
    let name = ClientName::try_from(req.name.trim()).map_err(|e| bad(e.0))?;
    let expires_ms = match req.expires.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => {
            let ms = parse_time(s).ok_or_else(|| bad(format!("'{s}' is not an RFC 3339 time")))?;
            if ms <= now_ms() {
                return Err(bad("the expiry must be in the future"));
            }
            Some(ms)
        }
    };
    let scopes = Scopes::parse(&req.scopes).map_err(|e| bad(e.0))?;
    let names = scopes.names();
    let t = tokens::generate();
    let command = tokens::issue_command(&t, name.clone(), expires_ms, scopes);
    match submit(&state, &ctx, console_actor(&session.username), command).await {
        Ok(_) => {}
        Err(crate::service::ServiceError::Rejected(rejection)) => {
            return Err(bad(rejection.to_string()))
        }
        Err(e) => return Err(ApiError::Admin(e.into())),
    }
    let url = scim_url(&state, &ctx, req.scim_url.as_deref());
    Ok(HttpResponse::Created()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({"id": t.id.to_string(), "name": name.to_string(), "token": t.token, "scim_url": url, "scopes": names})))
}

pub(super) async fn revoke_token(
    session: AdminSession,
    ctx: RequestContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AdminResult {
    let id = TokenId::try_from(id.as_str())
        .map_err(|_| ApiError::Admin(AdminFailure::NotFound(format!("no token {id}"))))?;
    match submit(
        &state,
        &ctx,
        console_actor(&session.username),
        Command::RevokeToken { id },
    )
    .await
    {
        Ok(_) => Ok(HttpResponse::NoContent().finish()),
        Err(crate::service::ServiceError::Rejected(rejection)) => Err(ApiError::Admin(
            AdminFailure::NotFound(rejection.to_string()),
        )),
        Err(e) => Err(ApiError::Admin(e.into())),
    }
}
