//! One resource's history page: every record about a user or group, and its state as of a
//! sequence number or a time (`?at=`), replayed from the log by the report. The same time filter
//! and order choice as the activity page: `since`, `until` (times) and `order` (`oldest`, the
//! default, or `newest`) narrow and order the records shown, not the state.

use actix_web::{web, HttpRequest};

use crate::http::admin::session::AdminSession;
use crate::http::context::RequestContext;
use crate::http::error::{AdminFailure, ApiError};
use crate::http::AppState;

use super::params::Params;
use super::{bad, blocking, json_ok, parse_time, AdminResult};

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
    let params = Params::lenient(&req);
    let at_param = params.get("at").map(str::to_owned);
    let time = |key: &str| -> Result<Option<i64>, ApiError> {
        params
            .get(key)
            .filter(|v| !v.is_empty())
            .map(|v| parse_time(v).ok_or_else(|| bad(format!("{key}: '{v}' is not a time"))))
            .transpose()
    };
    let (since, until) = (time("since")?, time("until")?);
    let newest_first = match params.get("order").unwrap_or("oldest") {
        "oldest" | "" => false,
        "newest" => true,
        other => return Err(bad(format!("order is 'oldest' or 'newest', not '{other}'"))),
    };
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
        let h = dir.history(*uid.as_bytes(), at, &base)?;
        let lo = match since {
            Some(ms) => dir.seq_at_or_after(ms)?,
            None => 0,
        };
        let hi = match until {
            Some(ms) => dir.seq_at_or_after(ms.saturating_add(1))?,
            None => u64::MAX,
        };
        Ok((h, lo, hi))
    })
    .await?;
    let (mut h, lo, hi) = h;
    if h.items.is_empty() {
        return Err(ApiError::Admin(AdminFailure::NotFound(format!(
            "nothing is recorded about {id}"
        ))));
    }
    h.items.retain(|i| i.seq >= lo && i.seq < hi);
    if newest_first {
        h.items.reverse();
    }
    Ok(json_ok(&h))
}
