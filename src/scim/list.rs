//! Listing: the query parameters of a list request (RFC 7644 §3.4.2) and the ListResponse body.

use serde_json::{json, Value};

use super::error::{Result, ScimError};

/// URN of the ListResponse message.
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";

/// Largest page served; advertised as `filter.maxResults` in ServiceProviderConfig.
pub const MAX_PAGE: usize = 1000;

/// Page size when the client names none.
pub const DEFAULT_PAGE: usize = 100;

/// Paging of a list request: 1-based `startIndex`, `count` clamped to [`MAX_PAGE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Most results to return (0 = totals only).
    pub count: usize,
}

impl Paging {
    /// Parse `startIndex` and `count`. Values below 1 (or 0) are treated as RFC 7644 §3.4.2.4 says.
    pub fn parse(start_index: Option<&str>, count: Option<&str>) -> Result<Self> {
        let int = |name: &str, v: &str| -> Result<i64> {
            v.trim().parse::<i64>().map_err(|_| {
                ScimError::InvalidValue(format!("'{name}' must be an integer, got '{v}'"))
            })
        };
        let start = match start_index {
            Some(v) => int("startIndex", v)?.max(1),
            None => 1,
        };
        let count = match count {
            Some(v) => int("count", v)?.max(0),
            None => i64::try_from(DEFAULT_PAGE).unwrap_or(100),
        };
        Ok(Self {
            start_index: usize::try_from(start).unwrap_or(usize::MAX),
            count: usize::try_from(count).unwrap_or(usize::MAX).min(MAX_PAGE),
        })
    }

    /// Number of matches to skip before the page.
    pub fn skip(&self) -> usize {
        self.start_index.saturating_sub(1)
    }
}

/// The ListResponse body.
pub fn list_response(total: usize, start_index: usize, resources: Vec<Value>) -> Value {
    // Built by hand: `json!` would serialise the page into a copy of itself.
    let mut m = serde_json::Map::new();
    m.insert("schemas".into(), json!([LIST_RESPONSE_SCHEMA]));
    m.insert("totalResults".into(), total.into());
    m.insert("startIndex".into(), start_index.into());
    m.insert("itemsPerPage".into(), resources.len().into());
    m.insert("Resources".into(), Value::Array(resources));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_clamps_and_rejects_non_integers() {
        assert_eq!(
            Paging::parse(None, None).unwrap(),
            Paging {
                start_index: 1,
                count: DEFAULT_PAGE
            }
        );
        assert_eq!(
            Paging::parse(Some("0"), Some("-5")).unwrap(),
            Paging {
                start_index: 1,
                count: 0
            }
        );
        assert_eq!(
            Paging::parse(Some("11"), Some("999999")).unwrap().count,
            MAX_PAGE
        );
        assert_eq!(Paging::parse(Some("11"), Some("5")).unwrap().skip(), 10);
        assert_eq!(
            Paging::parse(Some("x"), None).unwrap_err().scim_type(),
            "invalidValue"
        );
    }

    #[test]
    fn empty_list_is_what_entra_test_connection_expects() {
        assert_eq!(
            list_response(0, 1, vec![]),
            json!({"schemas":[LIST_RESPONSE_SCHEMA],"totalResults":0,"Resources":[],"startIndex":1,"itemsPerPage":0})
        );
    }
}
