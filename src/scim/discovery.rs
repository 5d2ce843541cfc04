//! Discovery documents (RFC 7644 §4): ServiceProviderConfig, ResourceTypes and Schemas, all derived
//! from the registry and the server's limits so they never disagree with what is enforced.

use serde_json::{json, Value};

use super::list::{list_response, DEFAULT_PAGE, MAX_PAGE};
use super::schema::Registry;

/// Most operations in one `/Bulk` request (enforced by `http/bulk.rs`).
pub const MAX_BULK_OPERATIONS: usize = 1000;

/// The ServiceProviderConfig document.
pub fn service_provider_config(base_url: &str, max_body_bytes: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/scimd/scimd#readme",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": MAX_BULK_OPERATIONS, "maxPayloadSize": max_body_bytes},
        "filter": {"supported": true, "maxResults": MAX_PAGE},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        // RFC 9865: cursors are stateless (the last id served), so they never expire.
        "pagination": {
            "cursor": true,
            "index": true,
            "defaultPaginationMethod": "index",
            "defaultPageSize": DEFAULT_PAGE,
            "maxPageSize": MAX_PAGE,
        },
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with a bearer token issued by the scimd administrator",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{base_url}/ServiceProviderConfig"),
        }
    })
}

/// `/ResourceTypes` as a ListResponse.
pub fn resource_types(reg: &Registry, base_url: &str) -> Value {
    let items: Vec<Value> = reg
        .resource_types()
        .iter()
        .map(|r| r.to_json(base_url))
        .collect();
    list_response(items.len(), 1, items)
}

/// `/Schemas` as a ListResponse.
pub fn schemas(reg: &Registry, base_url: &str) -> Value {
    let items: Vec<Value> = reg.schemas().iter().map(|s| s.to_json(base_url)).collect();
    list_response(items.len(), 1, items)
}
