//! Entra ID's SCIM client (idp-behavior.md §2–§6): the Tenant URL with or without
//! `?aadOptscim062020`, and the checks the Entra provisioning cycles make of every answer.

use serde_json::{json, Value};

use super::{assert_patch_status, content, fixture, ids, q, values, Reply, Server, LIST};

/// The feature flag Entra puts in front of the query when the Tenant URL carries it.
pub const FLAG: &str = "aadOptscim062020";

/// Which Tenant URL a request goes to: the plain one, or one carrying the flag.
#[derive(Clone, Copy)]
pub enum Url {
    Plain,
    Flag,
}

/// The path as Entra builds it from the Tenant URL.
pub fn url(u: Url, path: &str) -> String {
    match (u, path.split_once('?')) {
        (Url::Plain, _) => path.to_owned(),
        (Url::Flag, Some((p, query))) => format!("{p}?{FLAG}&{query}"),
        (Url::Flag, None) => format!("{path}?{FLAG}"),
    }
}

/// Entra's client: one Tenant URL form and a bearer token.
pub struct Entra<'a> {
    pub s: &'a Server,
    pub t: &'a str,
    pub u: Url,
}

impl<'a> Entra<'a> {
    pub fn new(s: &'a Server, t: &'a str, u: Url) -> Self {
        Self { s, t, u }
    }

    /// A request to `path` below this Tenant URL, with the token.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.s.call(method, &url(self.u, path), Some(self.t), body)
    }

    /// §2 Test Connection: a random GUID as the matching value on /Users and on /Groups, each
    /// 200 with an empty one-page ListResponse. Returns the two answers.
    pub fn test_connection(&self, guid: &str) -> Vec<Reply> {
        [
            format!("/Users?filter=userName+eq+%22{guid}%22"),
            format!("/Groups?filter=displayName+eq+%22{guid}%22"),
        ]
        .into_iter()
        .map(|path| {
            let r = self.call("GET", &path, None);
            assert_eq!(r.status, 200, "{path}: {:?}", r.body);
            assert_eq!(
                r.body,
                json!({"schemas":[LIST],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0}),
                "{path}"
            );
            r
        })
        .collect()
    }

    /// GET a list, check the ListResponse envelope (one page, 1-based), return its resources.
    pub fn list(&self, path: &str) -> Vec<Value> {
        let r = self.call("GET", path, None);
        assert_eq!(r.status, 200, "GET {path}: {:?}", r.body);
        scim_json(&r);
        assert_eq!(r.body["schemas"], json!([LIST]), "{:?}", r.body);
        let res = r.body["Resources"].as_array().unwrap().clone();
        assert_eq!(r.body["totalResults"].as_u64(), Some(res.len() as u64));
        assert_eq!(r.body["itemsPerPage"].as_u64(), Some(res.len() as u64));
        assert_eq!(r.body["startIndex"].as_u64(), Some(1));
        res
    }

    /// GET /Users/{id}: 200, SCIM JSON, the right id.
    pub fn get_user(&self, id: &str) -> Value {
        let r = self.call("GET", &format!("/Users/{id}"), None);
        assert_eq!(r.status, 200, "{:?}", r.body);
        scim_json(&r);
        assert_eq!(r.body["id"], id);
        r.body
    }

    /// PATCH a user: 200 with the resource (which must equal a fresh read) or 204; returns the
    /// read.
    pub fn patch_user(&self, id: &str, body: &Value) -> Value {
        let r = self.call("PATCH", &format!("/Users/{id}"), Some(body));
        assert_patch_status(&r, &body.to_string());
        let now = self.get_user(id);
        if r.status == 200 {
            scim_json(&r);
            assert_eq!(r.body, now, "PATCH answer differs from the read back");
        }
        now
    }

    /// PATCH a group: 204 with no body (idp-behavior.md §4).
    pub fn patch_group(&self, gid: &str, body: &Value) {
        let r = self.call("PATCH", &format!("/Groups/{gid}"), Some(body));
        assert_eq!(r.status, 204, "PATCH {body}: {:?}", r.body);
        assert_eq!(r.body, Value::Null);
    }

    /// GET /Groups/{gid}: 200, SCIM JSON.
    pub fn get_group(&self, gid: &str) -> Value {
        let r = self.call("GET", &format!("/Groups/{gid}"), None);
        assert_eq!(r.status, 200, "{:?}", r.body);
        scim_json(&r);
        r.body
    }

    /// The group's member ids, sorted (GET /Groups/{gid}: 200).
    pub fn members(&self, gid: &str) -> Vec<String> {
        let r = self.call("GET", &format!("/Groups/{gid}"), None);
        assert_eq!(r.status, 200, "{:?}", r.body);
        sorted_members(&r.body)
    }

    /// §4 7. The membership check: the ids the lookup `id eq gid and members eq uid` (without
    /// members) lists — the group or nothing.
    pub fn member_check(&self, gid: &str, uid: &str) -> Vec<String> {
        ids(&self.list(&group_filter(&format!(
            "id eq \"{gid}\" and members eq \"{uid}\""
        ))))
    }

    /// POST a resource to `collection` (`/Users` or `/Groups`): 201, SCIM JSON, a UUID id, and
    /// Location. Returns the answer.
    pub fn create(&self, collection: &str, body: &Value) -> Reply {
        let r = self.call("POST", collection, Some(body));
        self.s.assert_created(&r, collection);
        scim_json(&r);
        r
    }

    /// [`Entra::create`], returning the resource.
    pub fn post(&self, collection: &str, body: &Value) -> Value {
        self.create(collection, body).body
    }

    /// Create a user: as [`Entra::create`], `meta.resourceType` User, the ETag equal to
    /// `meta.version`, and the resource equal to `expected` (by [`content`]). Returns the id and
    /// the answer.
    pub fn create_user(&self, body: &Value, expected: &Value) -> (String, Reply) {
        let r = self.create("/Users", body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["meta"]["resourceType"], "User");
        assert_eq!(r.etag.as_deref(), r.body["meta"]["version"].as_str());
        assert_eq!(content(&r.body), content(expected));
        (id, r)
    }
}

/// The answer is `application/scim+json`.
pub fn scim_json(r: &Reply) {
    assert!(
        r.content_type.starts_with("application/scim+json"),
        "content type {:?} for {:?}",
        r.content_type,
        r.body
    );
}

/// A group's member ids, sorted (none when `members` is absent).
pub fn sorted_members(group: &Value) -> Vec<String> {
    let mut m = values(group, "members");
    m.sort();
    m
}

pub fn user_filter(expr: &str) -> String {
    format!("/Users?filter={}", q(expr))
}

pub fn group_filter(expr: &str) -> String {
    format!("/Groups?excludedAttributes=members&filter={}", q(expr))
}

/// The create body of `{dir}/create_user.json` for `user`: externalId its local part,
/// employeeNumber 701984.
pub fn user_body(dir: &str, user: &str, given: &str, family: &str) -> Value {
    let vars = [
        ("user", user),
        ("external", user.split('@').next().unwrap()),
        ("given", given),
        ("family", family),
        ("employee", "701984"),
    ];
    fixture(&format!("{dir}/create_user.json"), &vars)
}

/// `body` without the request's `meta` (which is not stored).
pub fn without_meta(body: &Value) -> Value {
    let mut v = body.clone();
    v.as_object_mut().unwrap().remove("meta");
    v
}
