//! A signed-in console client for API tests: signs in as the first-start `admin` with the password
//! the server logged, then reads the admin API with the session cookie.

use serde_json::{json, Value};

use super::Server;

/// A console session (cookie only: enough for GETs).
pub struct Console {
    /// The server's root URL.
    pub root: String,
    /// `scimd_session=…`.
    pub cookie: String,
}

impl Console {
    /// Sign in as `admin` with the password the first start logged.
    pub fn sign_in(s: &Server) -> Self {
        let password = s.first_admin_password();
        let r = ureq::post(&format!("{}/admin/api/login", s.root))
            .send_json(json!({"username": "admin", "password": password}))
            .unwrap();
        let cookie = r
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        Self {
            root: s.root.clone(),
            cookie,
        }
    }

    /// GET an admin API path; the JSON body whatever the status.
    pub fn get(&self, path: &str) -> Value {
        match ureq::get(&format!("{}{path}", self.root))
            .set("Cookie", &self.cookie)
            .call()
        {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r.into_json().unwrap(),
            Err(e) => panic!("{path}: {e}"),
        }
    }

    /// The activity items for `query` (up to 1,000).
    pub fn items(&self, query: &str) -> Vec<Value> {
        let page = self.get(&format!("/admin/api/activity?limit=1000&{query}"));
        page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{page}"))
            .clone()
    }
}
