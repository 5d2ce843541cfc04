//! The Activity page: the report a page at a time, its CSV and NDJSON exports, the live tail
//! (Server-Sent Events), the counts behind the charts, and the action names the filter offers.
//! All of them read the log through the report, with the same filters from the query string.

use std::time::Duration;

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::stream;
use futures_util::StreamExt as _;
use serde_json::json;

use crate::http::admin::session::{still_valid, AdminSession};
use crate::http::error::ApiError;
use crate::http::AppState;
use crate::report::activity::{self, Item, Query, ACTIONS};
use crate::service::writer::now_ms;

use super::params::Params;
use super::{bad, blocking, json_ok, parse_time, AdminResult};

/// The report's filters from the query string. Every occurrence of a filter is checked, and a
/// later one replaces an earlier one.
fn activity_query(req: &HttpRequest, state: &AppState) -> Result<Query, ApiError> {
    let params = Params::parse(req)?;
    let mut q = Query::default();
    let mut identity = None;
    for (k, v) in params.iter() {
        let v = v.to_owned();
        match k {
            "limit" => q.limit = v.parse().map_err(|_| bad("limit must be a number"))?,
            "before" => {
                q.before = Some(
                    v.parse()
                        .map_err(|_| bad("before must be a cursor from 'next'"))?,
                )
            }
            "since" => {
                q.since_ms =
                    Some(parse_time(&v).ok_or_else(|| bad(format!("since: '{v}' is not a time")))?)
            }
            "until" => {
                q.until_ms =
                    Some(parse_time(&v).ok_or_else(|| bad(format!("until: '{v}' is not a time")))?)
            }
            "client" => q.client = Some(v),
            "action" => {
                if !ACTIONS.contains(&v.as_str()) {
                    return Err(bad(format!("unknown action '{v}'")));
                }
                q.action = Some(v);
            }
            "outcome" => {
                if v != "success" && v != "failure" {
                    return Err(bad("outcome is 'success' or 'failure'"));
                }
                q.outcome = Some(v);
            }
            "resource" => {
                let id = uuid::Uuid::parse_str(&v)
                    .map_err(|_| bad(format!("'{v}' is not a resource id")))?;
                q.resource = Some(*id.as_bytes());
            }
            "q" => q.text = Some(v),
            "identity" if !v.trim().is_empty() => identity = Some(v),
            _ => {}
        }
    }
    if let Some(text) = identity {
        q.identity = Some(
            state
                .directory
                .identity(&text)
                .map_err(|e| ApiError::Admin(e.into()))?,
        );
    }
    Ok(q)
}

/// The action names the activity filter offers, accepted changes and rejected attempts: the
/// console asks for them rather than keeping a copy that drifts from the report.
pub(super) async fn action_names(_session: AdminSession) -> AdminResult {
    Ok(json_ok(&json!({
        "changes": activity::CHANGE_ACTIONS,
        "attempts": activity::ATTEMPT_ACTIONS,
    })))
}

pub(super) async fn activity_page(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    let q = activity_query(&req, &state)?;
    let dir = state.directory.clone();
    let page = blocking(move || dir.activity_page_named(&q).map_err(Into::into)).await?;
    Ok(json_ok(&page))
}

/// Stream every matching record, newest first, a page at a time.
fn export(state: &AppState, q: Query, csv: bool) -> HttpResponse {
    let dir = state.directory.clone();
    let header_line = csv.then(|| web::Bytes::from_static(activity::CSV_HEADER.as_bytes()));
    let pages = stream::unfold(Some((q, None::<u64>)), move |st| {
        let dir = dir.clone();
        async move {
            let (mut q, before) = st?;
            q.limit = activity::MAX_LIMIT;
            q.before = before;
            let query = q.clone();
            let page = web::block(move || dir.activity_page(&query)).await;
            let page = match page {
                Ok(Ok(p)) => p,
                _ => {
                    return Some((
                        Err(actix_web::error::ErrorInternalServerError("export failed")),
                        None,
                    ))
                }
            };
            let mut chunk = String::new();
            for item in &page.items {
                chunk.push_str(&if csv { item.to_csv() } else { item.to_ndjson() });
            }
            let next = page.next.map(|n| (q, Some(n)));
            Some((Ok(web::Bytes::from(chunk)), next))
        }
    });
    let body = stream::iter(header_line.map(Ok)).chain(pages);
    let (mime, file) = if csv {
        ("text/csv; charset=utf-8", "scimd-activity.csv")
    } else {
        ("application/x-ndjson", "scimd-activity.ndjson")
    };
    HttpResponse::Ok()
        .content_type(mime)
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{file}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body)
}

pub(super) async fn export_csv(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    Ok(export(&state, activity_query(&req, &state)?, true))
}

pub(super) async fn export_ndjson(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    Ok(export(&state, activity_query(&req, &state)?, false))
}

/// How often the live tail checks that its session still stands.
const TAIL_CHECK: Duration = Duration::from_secs(1);
/// How often it sends a keep-alive comment (so proxies do not close the connection).
const TAIL_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Server-Sent Events of new records matching the filters. A comment line every 15 s keeps
/// proxies from closing the connection. The stream ends when the server shuts down and when its
/// session ends (sign-out, idle or absolute expiry, a password change), checked every second and
/// before anything is sent: a signed-out browser gets nothing more.
pub(super) async fn live_tail(
    session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    let q = activity_query(&req, &state)?;
    let rx = state.commands.writer().subscribe();
    let last = *rx.borrow();
    let shutdown = state.shutdown.clone();
    let tail = Tail {
        rx,
        last,
        q,
        state: state.clone(),
        session: session.id,
        shutdown,
        quiet: Duration::ZERO,
    };
    let events = stream::unfold(tail, |mut t| async move {
        loop {
            if *t.shutdown.borrow() || !still_valid(&t.state, &t.session) {
                return None;
            }
            tokio::select! {
                changed = t.rx.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                    if !still_valid(&t.state, &t.session) {
                        return None;
                    }
                    let query = t.q.clone();
                    let st = t.state.directory.clone();
                    let last = t.last;
                    let (items, read_up_to): (Vec<Item>, u64) =
                        web::block(move || st.activity_after(&query, last))
                            .await
                            .ok()
                            .and_then(Result::ok)
                            .unwrap_or((Vec::new(), last));
                    // More than one scan's worth arrived: come back for the rest at once.
                    if read_up_to < *t.rx.borrow() {
                        t.rx.mark_changed();
                    }
                    t.last = read_up_to;
                    if items.is_empty() {
                        continue;
                    }
                    let mut chunk = String::new();
                    for item in &items {
                        chunk.push_str("event: activity\ndata: ");
                        chunk.push_str(&serde_json::to_string(item).unwrap_or_default());
                        chunk.push_str("\n\n");
                    }
                    t.quiet = Duration::ZERO;
                    return Some((Ok::<_, actix_web::Error>(web::Bytes::from(chunk)), t));
                }
                _ = tokio::time::sleep(TAIL_CHECK) => {
                    t.quiet += TAIL_CHECK;
                    if t.quiet >= TAIL_KEEP_ALIVE {
                        t.quiet = Duration::ZERO;
                        return Some((Ok(web::Bytes::from_static(b": keep-alive\n\n")), t));
                    }
                }
                _ = t.shutdown.changed() => return None,
            }
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("x-accel-buffering", "no"))
        .streaming(
            stream::once(async {
                Ok::<_, actix_web::Error>(web::Bytes::from_static(b": connected\n\n"))
            })
            .chain(events),
        ))
}

/// The live tail's state between two chunks.
struct Tail {
    rx: tokio::sync::watch::Receiver<u64>,
    last: u64,
    q: Query,
    state: web::Data<AppState>,
    session: String,
    shutdown: tokio::sync::watch::Receiver<bool>,
    quiet: Duration,
}

/// `GET /admin/api/runs?client=&since=&until=&gap_seconds=`: synchronization runs, newest first
/// (default: the last 48 hours; a quiet time of `gap_seconds`, default 600, ends a run).
pub(super) async fn sync_runs(
    _session: AdminSession,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> AdminResult {
    let params = Params::parse(&req)?;
    let now = now_ms();
    let (mut client, mut since, mut until) = (None, now - 48 * 3_600_000, now);
    let mut gap = crate::report::runs::RUN_GAP_MS;
    for (k, v) in params.iter() {
        match k {
            "client" if !v.is_empty() => client = Some(v.to_owned()),
            "since" => {
                since = parse_time(v).ok_or_else(|| bad(format!("since: '{v}' is not a time")))?
            }
            "until" => {
                until = parse_time(v).ok_or_else(|| bad(format!("until: '{v}' is not a time")))?
            }
            "gap_seconds" => {
                let secs: i64 = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=86_400).contains(s))
                    .ok_or_else(|| bad("gap_seconds is a number of seconds from 1 to 86400"))?;
                gap = secs * 1000;
            }
            _ => {}
        }
    }
    let dir = state.directory.clone();
    let runs = blocking(move || {
        dir.runs(client.as_deref(), since, until, gap)
            .map_err(Into::into)
    })
    .await?;
    Ok(json_ok(
        &json!({ "items": runs, "gap_seconds": gap / 1000 }),
    ))
}

/// `GET /admin/api/activity/{seq}`: one record, and for a failure its explanation (the request,
/// the response and a hint).
pub(super) async fn activity_entry(
    _session: AdminSession,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> AdminResult {
    let seq: u64 = path
        .parse()
        .map_err(|_| bad(format!("'{path}' is not an entry number")))?;
    let dir = state.directory.clone();
    let found = blocking(move || dir.explain(seq, now_ms()).map_err(Into::into)).await?;
    let (item, explanation) = found.ok_or_else(|| {
        ApiError::Admin(crate::http::error::AdminFailure::NotFound(format!(
            "no entry {seq}"
        )))
    })?;
    Ok(json_ok(
        &json!({ "item": item, "explanation": explanation }),
    ))
}

pub(super) async fn activity_stats(
    _session: AdminSession,
    state: web::Data<AppState>,
) -> AdminResult {
    let dir = state.directory.clone();
    let s = blocking(move || Ok(dir.stats(now_ms())?)).await?;
    Ok(json_ok(&s))
}
