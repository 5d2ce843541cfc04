//! The request's framing, before routing: limits on the request target and on header fields
//! (answered with a SCIM error body), the spelling of SCIM endpoint paths (identity providers send
//! `/users`, `/Users/`, `/serviceproviderconfig`; RFC 7644 names resources case-insensitively, so
//! each is rewritten to the path the routes declare before the router sees it), and chunked bodies
//! that break off.
//!
//! What lies below this middleware: actix-http answers a request head larger than its 128 KiB
//! buffer with `431` and a request target longer than the `http` crate's 65 534 bytes with `400`,
//! both with an empty body and before any application code runs. The limits here are lower, so
//! every head the application sees that is too large gets its SCIM error; `tests/framing.rs` pins
//! what actix answers for the rest. A chunked body whose size line is malformed makes actix-http
//! close the connection (its chunk decoder reports an I/O error); [`guard`] gets a SCIM 400 out
//! before it does.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::uri::{PathAndQuery, Uri};
use actix_web::http::{header, StatusCode};
use actix_web::web::Bytes;
use actix_web::HttpMessage;
use futures_util::Stream;

use super::error::{scim_error, ApiError};
use super::SCIM_PREFIX;

/// Longest request target (path and query) answered; longer ones get `414`. Far above any SCIM
/// request an identity provider sends (Entra's filters are one `eq`), below actix's own limit.
pub const MAX_TARGET_BYTES: usize = 16 * 1024;
/// Largest single header field (name and value); larger gets `431`.
pub const MAX_FIELD_BYTES: usize = 16 * 1024;
/// Largest sum of all header fields; larger gets `431`.
pub const MAX_HEADER_BYTES: usize = 64 * 1024;

/// The SCIM endpoints as the routes spell them; the first path segment below the prefix is
/// compared to these case-insensitively.
const ENDPOINTS: [&str; 7] = [
    "Users",
    "Groups",
    "ServiceProviderConfig",
    "ResourceTypes",
    "Schemas",
    "Bulk",
    ".search",
];

/// Why a request head is refused before routing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TooLarge {
    /// 414.
    Target(usize),
    /// 431: one field.
    Field(String, usize),
    /// 431: all fields together.
    Fields(usize),
}

impl TooLarge {
    fn status(&self) -> StatusCode {
        match self {
            Self::Target(_) => StatusCode::URI_TOO_LONG,
            Self::Field(..) | Self::Fields(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }

    fn detail(&self) -> String {
        match self {
            Self::Target(n) => format!(
                "the request target is {n} bytes; this server accepts at most {MAX_TARGET_BYTES}"
            ),
            Self::Field(name, n) => format!(
                "header field {name} is {n} bytes; this server accepts at most {MAX_FIELD_BYTES}"
            ),
            Self::Fields(n) => format!(
                "the header fields are {n} bytes together; this server accepts at most {MAX_HEADER_BYTES}"
            ),
        }
    }
}

fn check_head(req: &ServiceRequest) -> Result<(), TooLarge> {
    let target = req.uri().path_and_query().map_or(0, |pq| pq.as_str().len());
    if target > MAX_TARGET_BYTES {
        return Err(TooLarge::Target(target));
    }
    let mut total = 0;
    for (name, value) in req.headers() {
        // As on the wire: "name: value\r\n".
        let size = name.as_str().len() + value.len() + 4;
        if size > MAX_FIELD_BYTES {
            return Err(TooLarge::Field(name.as_str().to_owned(), size));
        }
        total += size;
    }
    if total > MAX_HEADER_BYTES {
        return Err(TooLarge::Fields(total));
    }
    Ok(())
}

/// The path the SCIM routes declare for `path`, if it differs: the endpoint segment in its
/// canonical case (`users` → `Users`, `/Users/x/.SEARCH` → `.search`) and without trailing
/// slashes. Paths outside the SCIM prefix, and unknown endpoints, are left alone (they get the
/// SCIM 404).
pub fn canonical_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix(SCIM_PREFIX)?.strip_prefix('/')?;
    let rest = rest.trim_end_matches('/');
    let mut segments: Vec<&str> = rest.split('/').collect();
    let endpoint = ENDPOINTS
        .iter()
        .find(|e| e.eq_ignore_ascii_case(segments[0]))?;
    segments[0] = endpoint;
    if matches!(*endpoint, "Users" | "Groups")
        && segments.len() == 2
        && segments[1].eq_ignore_ascii_case(".search")
    {
        segments[1] = ".search";
    }
    let canonical = format!("{SCIM_PREFIX}/{}", segments.join("/"));
    (canonical != path).then_some(canonical)
}

fn rewrite(req: &mut ServiceRequest, path: &str) {
    let with_query = match req.uri().query() {
        Some(q) => format!("{path}?{q}"),
        None => path.to_owned(),
    };
    let mut parts = req.uri().clone().into_parts();
    let Ok(pq) = PathAndQuery::try_from(with_query) else {
        return;
    };
    parts.path_and_query = Some(pq);
    if let Ok(uri) = Uri::from_parts(parts) {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}

/// Whether the request's body comes in chunked transfer coding.
fn is_chunked(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::TRANSFER_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"))
}

/// A request body that notes when it breaks off: actix-http ends it with `Incomplete` when the
/// connection goes, which it also does for a chunk-size line it cannot read.
struct Watched {
    inner: Payload,
    broken: Rc<Cell<bool>>,
}

impl Stream for Watched {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        if let Poll::Ready(Some(Err(
            PayloadError::Incomplete(_) | PayloadError::EncodingCorrupted,
        ))) = &next
        {
            self.broken.set(true);
        }
        next
    }
}

/// The middleware: refuse oversized heads with a SCIM error, canonicalise SCIM paths, and answer a
/// chunked body that breaks off with a SCIM 400.
///
/// That last one is a race won on purpose. When actix-http meets a chunk-size line it cannot read
/// (`zz`, `-5`, 21 digits) it reports an I/O error, ends the body with `Incomplete`, and closes
/// the connection as soon as the request's future stops making progress in that same poll: what
/// the application has answered by then is still written, later answers are not. A handler that
/// reads the broken body goes on to record the refusal (waiting for the writer), so this middleware
/// does not wait for it: it watches the body, and the moment it breaks off answers 400 itself
/// ([`ApiError::BrokenBody`]).
pub async fn guard(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Err(e) = check_head(&req) {
        tracing::info!(detail = %e.detail(), "request head refused");
        let mut res = scim_error(e.status(), None, &e.detail());
        // The head was read in full, but a client sending such heads is best not kept.
        res.head_mut()
            .set_connection_type(actix_web::http::ConnectionType::Close);
        return Ok(req.into_response(res).map_into_right_body());
    }
    if let Some(path) = canonical_path(req.path()) {
        rewrite(&mut req, &path);
    }
    if !is_chunked(&req) {
        return Ok(next.call(req).await?.map_into_left_body());
    }
    let broken = Rc::new(Cell::new(false));
    let inner = req.take_payload();
    req.set_payload(Payload::Stream {
        payload: Box::pin(Watched {
            inner,
            broken: broken.clone(),
        }),
    });
    let mut call = std::pin::pin!(next.call(req));
    let answered = std::future::poll_fn(|cx| match call.as_mut().poll(cx) {
        Poll::Ready(res) => Poll::Ready(Some(res)),
        Poll::Pending if broken.get() => Poll::Ready(None),
        Poll::Pending => Poll::Pending,
    })
    .await;
    match answered {
        Some(res) if !broken.get() => Ok(res?.map_into_left_body()),
        // An error, not a response: building a response takes the request, which the router
        // inside `call` owns; actix renders the error in this same poll.
        _ => Err(ApiError::BrokenBody.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::canonical_path;

    #[test]
    fn endpoint_names_take_the_declared_case_and_lose_trailing_slashes() {
        for (sent, want) in [
            ("/scim/v2/users", Some("/scim/v2/Users")),
            ("/scim/v2/Users/", Some("/scim/v2/Users")),
            ("/scim/v2/GROUPS/abc/", Some("/scim/v2/Groups/abc")),
            ("/scim/v2/users/.SEARCH", Some("/scim/v2/Users/.search")),
            ("/scim/v2/.Search", Some("/scim/v2/.search")),
            (
                "/scim/v2/serviceproviderconfig",
                Some("/scim/v2/ServiceProviderConfig"),
            ),
            (
                "/scim/v2/resourcetypes/User/",
                Some("/scim/v2/ResourceTypes/User"),
            ),
            ("/scim/v2/schemas", Some("/scim/v2/Schemas")),
            ("/scim/v2/bulk", Some("/scim/v2/Bulk")),
            ("/scim/v2/Users", None),
            ("/scim/v2/Users/AbC", None),
            ("/scim/v2/Nothing/", None),
            ("/scim/v2", None),
            ("/scim/v2/", None),
            ("/admin/users/", None),
        ] {
            assert_eq!(canonical_path(sent).as_deref(), want, "{sent}");
        }
    }
}
