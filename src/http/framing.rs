//! The request head before routing: the spelling of SCIM endpoint paths (identity providers send
//! `/users`, `/Users/`, `/serviceproviderconfig`; RFC 7644 names resources case-insensitively, so
//! each is rewritten to the path the routes declare before the router sees it).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::uri::{PathAndQuery, Uri};

use super::SCIM_PREFIX;

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

/// The middleware: canonicalise SCIM paths.
pub async fn guard(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(path) = canonical_path(req.path()) {
        rewrite(&mut req, &path);
    }
    Ok(next.call(req).await?.map_into_left_body())
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
