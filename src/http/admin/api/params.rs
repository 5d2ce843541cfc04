//! The one reader of the admin API's query strings. Handlers ask [`Params`] for a value by name
//! instead of each decoding the string and searching its pairs by hand. Values come back
//! trimmed, and a blank value counts as no value: the console's forms send empty fields.

use actix_web::{web, HttpRequest};

use super::bad;
use crate::http::error::ApiError;

/// The decoded `name=value` pairs of a request's query string, in the order they were sent.
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    /// Decode the query string; a malformed one is a 400 (the activity report's filters, where
    /// silently dropping one would widen the result).
    pub(super) fn parse(req: &HttpRequest) -> Result<Self, ApiError> {
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| Self(q.into_inner()))
            .map_err(|e| bad(format!("malformed query string: {e}")))
    }

    /// Decode the query string; a malformed one reads as empty (paging and "as of" views, where
    /// the defaults are a safe answer).
    pub(super) fn lenient(req: &HttpRequest) -> Self {
        web::Query::<Vec<(String, String)>>::from_query(req.query_string())
            .map(|q| Self(q.into_inner()))
            .unwrap_or(Self(Vec::new()))
    }

    /// The first value sent for `name`, trimmed; `None` when absent or blank.
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-blank pair in order, values trimmed: for filters where each occurrence counts.
    pub(super) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(n, v)| (n.as_str(), v.trim()))
            .filter(|(_, v)| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn params(query: &str) -> Params {
        Params::lenient(&TestRequest::with_uri(&format!("/x?{query}")).to_http_request())
    }

    #[test]
    fn get_takes_the_first_value_trimmed_and_blank_is_absent() {
        let p = params("q=%20a%20&q=b&cursor=&x");
        assert_eq!(p.get("q"), Some("a"));
        assert_eq!(p.get("cursor"), None);
        assert_eq!(p.get("x"), None);
        assert_eq!(p.get("missing"), None);
    }

    #[test]
    fn iter_keeps_order_and_skips_blanks() {
        let p = params("limit=5&q=&action=%20user_created%20&limit=7");
        let pairs: Vec<_> = p.iter().collect();
        assert_eq!(
            pairs,
            [("limit", "5"), ("action", "user_created"), ("limit", "7")]
        );
    }
}
