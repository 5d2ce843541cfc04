//! One resource's history page: every record about a user or group, and its state as of a
//! sequence number or a time (`?at=`), replayed from the log by the report.

use actix_web::{web, HttpRequest};

use crate::http::admin::session::AdminSession;
use crate::http::context::RequestContext;
use crate::http::error::{AdminFailure, ApiError};
use crate::http::AppState;

use super::params::Params;
use super::{blocking, json_ok, parse_time, AdminResult};

pub(super) async fn resource_history(
    _session: AdminSession,
    req: HttpRequest,
    ctx: RequestContext,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> AdminResult {
    let uid = uuid::Uuid::parse_str(&id).map_err(|_| {
        ApiError::Admin(AdminFailure::NotFound(format!(
            "'{id}' is not a resource id"
        )))
    })?;
    let at_param = Params::lenient(&req).get("at").map(str::to_owned);
    let dir = state.directory.clone();
    let base = ctx.base_url.clone();
    let h = blocking(move || {
        let at = match at_param.as_deref() {
            None => None,
            Some(s) => match s.parse::<u64>() {
                Ok(seq) => Some(seq),
                Err(_) => {
                    let ms = parse_time(s).ok_or_else(|| {
                        AdminFailure::BadRequest(format!(
                            "at: '{s}' is neither a sequence number nor a time"
                        ))
                    })?;
                    Some(dir.seq_at_or_after(ms.saturating_add(1))?.saturating_sub(1))
                }
            },
        };
        Ok(dir.history(*uid.as_bytes(), at, &base)?)
    })
    .await?;
    if h.items.is_empty() {
        return Err(ApiError::Admin(AdminFailure::NotFound(format!(
            "nothing is recorded about {id}"
        ))));
    }
    Ok(json_ok(&h))
}
