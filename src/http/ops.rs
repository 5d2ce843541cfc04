//! Operations endpoints: `/readyz` (the store answers and the writer runs) and `/metrics`
//! (Prometheus text; loopback only unless `metrics_allow` or `metrics_token` say otherwise).

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use subtle::ConstantTimeEq;

use super::AppState;

/// 200 when the store can be read and the writer accepts work; 503 otherwise.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store_ok = state.directory.readable();
    let writer_ok = state.commands.writer().is_running();
    let body = serde_json::json!({
        "status": if store_ok && writer_ok { "ready" } else { "not ready" },
        "store": store_ok,
        "writer": writer_ok,
    });
    if store_ok && writer_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

fn allowed(req: &HttpRequest, state: &AppState) -> bool {
    if let Some(token) = &state.metrics_token {
        // Exactly one Authorization field: with two, which one counts would be a guess.
        let mut fields = req.headers().get_all(header::AUTHORIZATION);
        let sent = match (fields.next(), fields.next()) {
            (Some(v), None) => v.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")),
            _ => None,
        }
        .unwrap_or("");
        if bool::from(sent.as_bytes().ct_eq(token.as_bytes())) {
            return true;
        }
    }
    req.peer_addr()
        .is_some_and(|a| state.metrics_allow.iter().any(|c| c.contains(a.ip())))
}

/// `GET /metrics`.
pub async fn metrics(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !allowed(&req, &state) {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("metrics are served to the addresses in metrics_allow or with metrics_token\n");
    }
    let dir = state.directory.clone();
    let durable = *state.commands.writer().subscribe().borrow();
    let gauges = web::block(move || dir.gauges(durable))
        .await
        .unwrap_or_default();
    let hooks = state.webhooks.clone();
    let webhooks = web::block(move || hooks.metrics())
        .await
        .unwrap_or_default();
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges) + &webhooks)
}
