//! Okta's SCIM client as the App Integration Wizard and OIN apps drive it (idp-behavior.md §9).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{assert_patch_status, content, fixture, Reply, Server, LIST};

pub const USER_AGENT: &str = "Okta SCIM Client 1.0.0";

/// Okta's HTTP client: its User-Agent, Accept and Content-Type, the bearer token; every answer is
/// checked never to carry a password.
pub struct Okta<'a> {
    pub s: &'a Server,
    token: String,
    passwords: Vec<String>,
}

impl<'a> Okta<'a> {
    /// A client sending `token`; no answer may contain any of `passwords`.
    pub fn new(s: &'a Server, token: String, passwords: Vec<String>) -> Self {
        Self {
            s,
            token,
            passwords,
        }
    }

    pub fn send(&self, method: &str, path: &str, body: Option<&Value>) -> Reply {
        self.send_with(&self.token, method, path, body)
    }

    pub fn send_with(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Reply {
        let mut headers = vec![
            ("User-Agent", USER_AGENT),
            ("Accept", "application/scim+json"),
        ];
        if body.is_some() {
            headers.push(("Content-Type", "application/scim+json; charset=utf-8"));
        }
        let r = self.s.request(
            method,
            path,
            Some(token),
            body.map(Value::to_string),
            &headers,
        );
        let text = r.text.as_ref().unwrap();
        for p in &self.passwords {
            assert!(
                !text.contains(p.as_str()),
                "{method} {path} returned a password: {text}"
            );
        }
        assert!(
            !text.to_ascii_lowercase().contains("\"password\""),
            "{method} {path} returned a password attribute: {text}"
        );
        if !text.is_empty() {
            if let Err(e) = serde_json::from_str::<Value>(text) {
                panic!("{method} {path}: {e}: {text}");
            }
        }
        if r.body != Value::Null {
            assert!(
                r.content_type.starts_with("application/scim+json"),
                "{method} {path}: {}",
                r.content_type
            );
        }
        r
    }

    /// A ListResponse page: 200, integers for totalResults/startIndex/itemsPerPage.
    pub fn page(&self, path: &str) -> (u64, u64, Vec<Value>) {
        let r = self.send("GET", path, None);
        assert_eq!(r.status, 200, "GET {path}: {:?}", r.body);
        assert_eq!(r.body["schemas"], json!([LIST]), "{:?}", r.body);
        let total = r.body["totalResults"]
            .as_u64()
            .unwrap_or_else(|| panic!("totalResults not an integer: {:?}", r.body));
        let start = r.body["startIndex"]
            .as_u64()
            .unwrap_or_else(|| panic!("startIndex not an integer: {:?}", r.body));
        let per_page = r.body["itemsPerPage"]
            .as_u64()
            .unwrap_or_else(|| panic!("itemsPerPage not an integer: {:?}", r.body));
        let res = r.body["Resources"].as_array().unwrap().clone();
        assert_eq!(per_page, res.len() as u64, "{:?}", r.body);
        (total, start, res)
    }

    /// Okta's lookup: `filter=userName%20eq%20%22x%22&startIndex=1&count=100`.
    pub fn lookup(&self, user: &str) -> Vec<Value> {
        let path = format!(
            "/Users?filter={}&startIndex=1&count=100",
            pct(&format!("userName eq \"{user}\""))
        );
        let (total, start, res) = self.page(&path);
        assert_eq!((total, start), (res.len() as u64, 1));
        res
    }

    pub fn get(&self, path: &str) -> Value {
        let r = self.send("GET", path, None);
        assert_eq!(r.status, 200, "GET {path}: {:?}", r.body);
        r.body
    }

    /// PUT the full object after a GET (as the wizard does); 200 with the resource, which a read
    /// back returns unchanged.
    pub fn put_after_get(&self, path: &str, body: &Value) -> Value {
        let before = self.get(path);
        assert_eq!(before["id"], body["id"]);
        let r = self.send("PUT", path, Some(body));
        assert_eq!(r.status, 200, "PUT {path} {body}: {:?}", r.body);
        assert_eq!(
            r.body,
            self.get(path),
            "PUT answer differs from the read back"
        );
        r.body
    }

    /// PATCH: 200 with the resource (equal to a fresh read) or 204 (§9); returns the read.
    pub fn patch(&self, path: &str, body: &Value) -> Value {
        let r = self.send("PATCH", path, Some(body));
        assert_patch_status(&r, &format!("{path} {body}"));
        let now = self.get(path);
        if r.status == 200 {
            assert_eq!(r.body, now, "PATCH answer differs from the read back");
        } else {
            assert_eq!(r.body, Value::Null);
        }
        now
    }

    /// Okta's create from `{dir}/create_user.json` (externalId `00u` + the userName's local part
    /// without dots): 201 with a UUID id and Location, the answer reading as [`expected_of`] the
    /// body sent. Returns the id, the body sent and the answer.
    pub fn create_user(
        &self,
        dir: &str,
        user: &str,
        given: &str,
        family: &str,
        password: &str,
    ) -> (String, Value, Reply) {
        let external = format!("00u{}", user.split('@').next().unwrap().replace('.', ""));
        let body = fixture(
            &format!("{dir}/create_user.json"),
            &[
                ("user", user),
                ("given", given),
                ("family", family),
                ("external", &external),
                ("password", password),
            ],
        );
        let r = self.send("POST", "/Users", Some(&body));
        let id = self.s.assert_created(&r, "/Users");
        assert_eq!(content(&r.body), expected_of(&body));
        (id, body, r)
    }
}

/// Percent-encoding as Okta sends it (`%20` for spaces).
pub fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// What a create or PUT body must read back as: everything sent but the password (never
/// returned), the request's `id`/`meta` and the read-only `groups`.
pub fn expected_of(body: &Value) -> Value {
    let mut e = body.clone();
    e.as_object_mut().unwrap().remove("password");
    content(&e)
}

/// The ids of a group's members.
pub fn member_ids(group: &Value) -> BTreeSet<String> {
    super::values(group, "members").into_iter().collect()
}

/// The ids of a user's groups.
pub fn group_ids(user: &Value) -> BTreeSet<String> {
    super::values(user, "groups").into_iter().collect()
}

/// A `members` list as Okta sends it: `{value, display}` per member.
pub fn members_json(list: &[(&str, &str)]) -> String {
    Value::Array(
        list.iter()
            .map(|(id, display)| json!({"value": id, "display": display}))
            .collect(),
    )
    .to_string()
}
