//! Request bodies shaped as Entra ID sends them (idp-behavior.md §3–§4).

use serde_json::json;

const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// The userName of user number `n` of population `tag`.
pub fn user_name(tag: &str, n: usize) -> String {
    format!("{tag}.user{n}@contoso.com")
}

/// `POST /Users` as Entra's default custom-app mapping sends it.
pub fn create_user(tag: &str, n: usize) -> String {
    let name = user_name(tag, n);
    json!({"schemas": [USER, ENTERPRISE],
        "externalId": format!("{tag}-user{n}"), "userName": name, "active": true,
        "displayName": format!("User {n}"),
        "emails": [{"primary": true, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": format!("User {n}"), "familyName": format!("{n}"), "givenName": "User"},
        "title": "Engineer", "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}],
        ENTERPRISE: {"employeeNumber": format!("{n}"), "department": "R&D"},
        "roles": []})
    .to_string()
}

/// A stored user document of about the size scimd keeps for [`create_user`] (for the ceilings).
pub fn stored_user_doc() -> String {
    create_user("ceiling", 1)
}

/// Entra's legacy update: `Replace` ops with paths (a title and a department change).
pub fn patch_user(round: usize) -> String {
    json!({"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "title", "value": format!("Engineer {round}")},
        {"op": "Replace", "path": format!("{ENTERPRISE}:department"), "value": format!("Dept {}", round % 7)},
        {"op": "Replace", "path": "active", "value": "True"}]})
    .to_string()
}

/// `POST /Groups` as Entra sends it (no members; they follow as PATCHes).
pub fn create_group(name: &str) -> String {
    json!({"schemas": [GROUP], "displayName": name, "externalId": name, "members": []}).to_string()
}

/// `Add` members, several per op.
pub fn add_members(ids: &[String]) -> String {
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": members}]})
        .to_string()
}

/// Legacy `Remove` of members by value.
pub fn remove_members(ids: &[String]) -> String {
    let members: Vec<_> = ids.iter().map(|id| json!({"value": id})).collect();
    json!({"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": members}]})
        .to_string()
}

/// The filter query of a `userName eq` lookup (percent-encoded as Entra sends it).
pub fn user_lookup(name: &str) -> String {
    format!("/scim/v2/Users?filter=userName+eq+%22{}%22", encode(name))
}

/// The filter query of a `displayName eq` lookup.
pub fn group_lookup(name: &str) -> String {
    format!(
        "/scim/v2/Groups?excludedAttributes=members&filter=displayName+eq+%22{}%22",
        encode(name)
    )
}

/// Percent-encode what a query value may not carry raw.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
