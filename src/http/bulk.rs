//! `POST /Bulk` (RFC 7644 §3.7): many writes in one request. Each operation runs through the same
//! prepare/execute path as a single request (so it is decided, logged and durable on its own);
//! `bulkId:` references in data are replaced by the ids of resources created earlier in the request,
//! and operations that reference a later one wait for it. Limits are advertised in
//! ServiceProviderConfig and enforced: more operations than allowed → 413 `tooMany`, a larger body →
//! 413 `tooLarge`.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use crate::domain::command::IfMatch;
use crate::scim::error::ScimError;
use crate::scim::schema::ResourceKind;

use super::context::{Authenticated, RequestContext};
use super::error::{ApiError, ERROR_SCHEMA};
use super::resources::{envelope, json_body, perform};
use super::{method_not_allowed, AppState};
use crate::domain::write::Row;
use crate::service::commands::{ResourceWrite, Write};

/// URN of the BulkRequest message.
pub const BULK_REQUEST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
/// URN of the BulkResponse message.
pub const BULK_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";
use crate::scim::discovery::MAX_BULK_OPERATIONS as MAX_OPERATIONS;

/// Mount `/Bulk`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/Bulk")
            .route(web::post().to(bulk))
            .default_service(web::to(method_not_allowed)),
    );
}

/// One parsed operation.
#[derive(Debug, Clone)]
struct Op {
    method: String,
    bulk_id: Option<String>,
    version: Option<String>,
    path: String,
    data: Option<Value>,
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn parse(body: &Value) -> Result<(Vec<Op>, Option<usize>), ApiError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("the bulk body must be a JSON object".into()))?;
    if let Some(schemas) = obj.get("schemas") {
        if !schemas
            .as_array()
            .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(BULK_REQUEST_SCHEMA)))
        {
            return Err(ScimError::InvalidSyntax(format!(
                "'schemas' must contain {BULK_REQUEST_SCHEMA}"
            ))
            .into());
        }
    }
    let fail_on_errors = match get_ci(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n > 0)
            .map(Some)
            .ok_or_else(|| {
                ApiError::from(ScimError::InvalidValue(
                    "'failOnErrors' must be a positive integer".into(),
                ))
            })?,
        Some(_) => {
            return Err(
                ScimError::InvalidValue("'failOnErrors' must be a positive integer".into()).into(),
            )
        }
    };
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimError::InvalidSyntax("the bulk body needs an 'Operations' array".into())
        })?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::TooManyOperations(format!(
            "a bulk request may carry at most {MAX_OPERATIONS} operations, this one has {}",
            ops.len()
        ))
        .into());
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let n = i + 1;
        let o = op.as_object().ok_or_else(|| {
            ScimError::InvalidSyntax(format!("bulk operation {n} is not an object"))
        })?;
        let text = |k: &str| get_ci(o, k).and_then(Value::as_str).map(str::to_owned);
        let method = text("method").ok_or_else(|| {
            ScimError::InvalidSyntax(format!("bulk operation {n} has no 'method'"))
        })?;
        let path = text("path")
            .ok_or_else(|| ScimError::InvalidSyntax(format!("bulk operation {n} has no 'path'")))?;
        let bulk_id = text("bulkId");
        if method.eq_ignore_ascii_case("POST") && bulk_id.is_none() {
            return Err(ScimError::InvalidSyntax(format!(
                "bulk operation {n}: POST needs a 'bulkId'"
            ))
            .into());
        }
        out.push(Op {
            method,
            bulk_id,
            version: text("version"),
            path,
            data: get_ci(o, "data").cloned(),
        });
    }
    Ok((out, fail_on_errors))
}

/// Every `bulkId:x` string in `v`.
fn references(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:") {
                out.push(id.to_owned());
            }
        }
        Value::Array(a) => a.iter().for_each(|e| references(e, out)),
        Value::Object(o) => o.values().for_each(|e| references(e, out)),
        _ => {}
    }
}

fn substitute(v: &mut Value, ids: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(id) = s.strip_prefix("bulkId:").and_then(|b| ids.get(b)) {
                *s = id.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|e| substitute(e, ids)),
        Value::Object(o) => o.values_mut().for_each(|e| substitute(e, ids)),
        _ => {}
    }
}

/// `/Users`, `/Users/{id}`, `/Groups/…` → kind and id (ids may be `bulkId:x`).
fn target(path: &str) -> Option<(ResourceKind, Option<String>)> {
    let path = path.trim().trim_start_matches('/');
    let (first, rest) = match path.split_once('/') {
        Some((a, b)) => (a, Some(b)),
        None => (path, None),
    };
    let kind = if first.eq_ignore_ascii_case("Users") {
        ResourceKind::User
    } else if first.eq_ignore_ascii_case("Groups") {
        ResourceKind::Group
    } else {
        return None;
    };
    match rest {
        Some(id) if id.is_empty() || id.contains('/') => None,
        other => Some((kind, other.map(str::to_owned))),
    }
}

fn error_body(status: u16, scim_type: Option<&str>, detail: &str) -> Value {
    let mut e = json!({"schemas": [ERROR_SCHEMA], "status": status.to_string(), "detail": detail});
    if let Some(t) = scim_type {
        e["scimType"] = json!(t);
    }
    e
}

async fn bulk(
    caller: Authenticated,
    ctx: RequestContext,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(payload, state.max_body_bytes).await?;
    let (ops, fail_on_errors) = parse(&body)?;
    let mut created: HashMap<String, String> = HashMap::new();
    let mut results: Vec<Option<Value>> = vec![None; ops.len()];
    let mut errors = 0usize;
    let mut pending: Vec<usize> = (0..ops.len()).collect();
    // Run what can run; an operation referring to a bulkId not created yet waits for a later round.
    // A round without progress leaves only unresolvable (missing or circular) references.
    'rounds: loop {
        let mut progressed = false;
        let mut waiting = Vec::new();
        for i in pending {
            let op = &ops[i];
            let mut refs = Vec::new();
            if let Some(d) = &op.data {
                references(d, &mut refs);
            }
            references(
                &Value::String(op.path.rsplit('/').next().unwrap_or("").to_owned()),
                &mut refs,
            );
            let unresolved = refs.iter().any(|r| !created.contains_key(r));
            let resolvable = refs.iter().all(|r| {
                created.contains_key(r)
                    || ops.iter().any(|o| {
                        o.bulk_id.as_deref() == Some(r.as_str())
                            && o.method.eq_ignore_ascii_case("POST")
                    })
            });
            if unresolved && resolvable {
                waiting.push(i);
                continue;
            }
            progressed = true;
            let outcome = run_op(&state, &caller, &ctx, op, &created, unresolved).await;
            let failed = outcome
                .get("status")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.starts_with('2'));
            if !failed {
                if let (Some(b), Some(loc)) =
                    (&op.bulk_id, outcome.get("location").and_then(Value::as_str))
                {
                    if let Some(id) = loc.rsplit('/').next() {
                        created.insert(b.clone(), id.to_owned());
                    }
                }
            }
            results[i] = Some(outcome);
            if failed {
                errors += 1;
                if fail_on_errors.is_some_and(|max| errors >= max) {
                    break 'rounds;
                }
            }
        }
        if waiting.is_empty() {
            break;
        }
        if !progressed {
            // Circular references: report each as unresolvable.
            for i in waiting {
                results[i] = Some(run_op(&state, &caller, &ctx, &ops[i], &created, true).await);
            }
            break;
        }
        pending = waiting;
    }
    let operations: Vec<Value> = results.into_iter().flatten().collect();
    let body = json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": operations});
    Ok(HttpResponse::Ok()
        .content_type(crate::scim::CONTENT_TYPE)
        .body(body.to_string()))
}

/// Run one operation and describe its outcome as a BulkResponse entry.
async fn run_op(
    state: &AppState,
    caller: &Authenticated,
    ctx: &RequestContext,
    op: &Op,
    created: &HashMap<String, String>,
    unresolvable: bool,
) -> Value {
    let mut entry = Map::new();
    entry.insert("method".into(), json!(op.method.to_ascii_uppercase()));
    if let Some(b) = &op.bulk_id {
        entry.insert("bulkId".into(), json!(b));
    }
    let fail = |mut entry: Map<String, Value>, status: u16, t: Option<&str>, d: &str| {
        entry.insert("status".into(), json!(status.to_string()));
        entry.insert("response".into(), error_body(status, t, d));
        Value::Object(entry)
    };
    if unresolvable {
        return fail(entry, 409, None, "the operation refers to a bulkId that no operation of this request creates (or the references are circular)");
    }
    let write = match op.method.to_ascii_uppercase().as_str() {
        "POST" => Write::Create,
        "PUT" => Write::Replace,
        "PATCH" => Write::Patch,
        "DELETE" => Write::Delete,
        other => {
            return fail(
                entry,
                400,
                Some("invalidSyntax"),
                &format!("unknown bulk method '{other}'"),
            )
        }
    };
    let Some((kind, id)) = target(&op.path) else {
        return fail(
            entry,
            400,
            Some("invalidPath"),
            &format!("'{}' is not /Users[/id] or /Groups[/id]", op.path),
        );
    };
    let id = id.map(|i| match i.strip_prefix("bulkId:") {
        Some(b) => created.get(b).cloned().unwrap_or(i),
        None => i,
    });
    if (write == Write::Create) == id.is_some() {
        return fail(
            entry,
            400,
            Some("invalidPath"),
            "POST takes /Users or /Groups; PUT, PATCH and DELETE take /Users/{id} or /Groups/{id}",
        );
    }
    let mut data = op.data.clone().unwrap_or(Value::Null);
    substitute(&mut data, created);
    let write = ResourceWrite {
        kind,
        write,
        id,
        body: Ok(data),
        if_match: op.version.as_deref().map(IfMatch::parse),
    };
    // The status this operation's entry in the BulkResponse carries, which is what the client
    // got for it.
    let status = match write.write {
        Write::Create => 201,
        Write::Delete => 204,
        Write::Replace | Write::Patch => 200,
    };
    match perform(state, &envelope(caller, ctx), write, false, status).await {
        Ok(written) => {
            let status = status.to_string();
            entry.insert(
                "location".into(),
                json!(format!(
                    "{}{}/{}",
                    ctx.base_url,
                    kind.endpoint(),
                    uuid::Uuid::from_bytes(written.id)
                )),
            );
            // The version this operation's own write produced, never a later one.
            if let Row::User { state, .. } = &written.row {
                entry.insert("version".into(), json!(state.meta.etag()));
            }
            if let Row::Group { state, .. } = &written.row {
                entry.insert("version".into(), json!(state.meta.etag()));
            }
            entry.insert("status".into(), json!(status));
            Value::Object(entry)
        }
        Err(e) => {
            let (status, t, detail) = e.parts();
            fail(entry, status.as_u16(), t, &detail)
        }
    }
}
