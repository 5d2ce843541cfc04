//! SCIM filter and PATCH-path grammar: RFC 7644 §3.4.2.2 filters and §3.5.2 PATCH `path`s.
//!
//! This module owns the AST ([`Filter`], [`AttrPath`], [`PatchPath`], [`CompareOp`]), the limits
//! and the error type; the work is done in four submodules, whose public items are re-exported
//! here so callers name only `scim::filter::…`:
//! - `lex`: characters to tokens, including JSON string escapes;
//! - `parse`: tokens to the AST ([`parse_filter`], [`parse_patch_path`], [`parse_attr_path`]);
//! - `display`: the canonical text form (`Display`), which re-parses to the same AST;
//! - `eval`: validation against the schema (`Filter::check`) and evaluation against rendered
//!   resources (`Filter::matches`, `Filter::matches_element`).
//!
//! It does no I/O and must not import actix or sled: the schema is reached only through the
//! [`AttrTypes`] trait, and resources arrive as already-rendered `serde_json::Value`s.
//!
//! Positions in error messages are 0-based character offsets into the input.
//!
//! Evaluation choices where RFC 7644 is silent or loose:
//! - `ne` is the negation of `eq`: true for an absent attribute, and for a multi-valued one
//!   only when no value equals. `eq null` is "not `pr`", `ne null` is "`pr`".
//! - A multi-valued complex attribute without sub-attribute compares its elements' `value`.
//! - Entra's `emails[type eq "work"].value eq "x"` is accepted as a filter and stored as
//!   `emails[type eq "work" and value eq "x"]`.

use serde_json::Value;

mod display;
mod eval;
mod lex;
mod parse;

pub use eval::{AttrKind, AttrTypes, Located};
pub use parse::{parse_attr_path, parse_filter, parse_patch_path};

/// Longest filter or PATCH path accepted, in characters.
pub const MAX_FILTER_LEN: usize = 4096;
/// Deepest nesting of `(...)`, `not (...)` and `[...]` accepted. A flat chain such as
/// `a eq 1 or b eq 2 or ...` is not nesting, so clients listing many ids are not refused.
pub const MAX_FILTER_DEPTH: usize = 32;

/// Attribute path: optional schema URN, attribute name, optional sub-attribute, as written by
/// the client (names are not canonicalised here; [`AttrTypes::locate`] does that).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrPath {
    /// Schema URN prefix without the trailing `:` (e.g. the enterprise extension URN).
    pub urn: Option<String>,
    /// Attribute name.
    pub name: String,
    /// Sub-attribute name after the `.`.
    pub sub: Option<String>,
}

impl AttrPath {
    /// A plain attribute name without URN or sub-attribute.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            urn: None,
            name: name.into(),
            sub: None,
        }
    }
}

/// Comparison operators of RFC 7644 §3.4.2.2 (`pr` is [`Filter::Present`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

impl CompareOp {
    #[rustfmt::skip]
    const ALL: [CompareOp; 9] =
        [Self::Eq, Self::Ne, Self::Co, Self::Sw, Self::Ew, Self::Gt, Self::Ge, Self::Lt, Self::Le];

    /// The lowercase keyword (`eq`, `ne`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Co => "co",
            Self::Sw => "sw",
            Self::Ew => "ew",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// Parse an operator keyword, case-insensitively; `None` for anything else (including `pr`).
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

/// Parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `path op value`; `value` is a String, Number, Bool or Null (compValue of the ABNF).
    Compare {
        /// Attribute compared.
        path: AttrPath,
        /// Operator.
        op: CompareOp,
        /// Literal compared with.
        value: Value,
    },
    /// `path pr`
    Present(AttrPath),
    /// `left and right`
    And(Box<Filter>, Box<Filter>),
    /// `left or right`
    Or(Box<Filter>, Box<Filter>),
    /// `not (inner)`
    Not(Box<Filter>),
    /// `emails[type eq "work" and value co "@x"]`: inner filter's paths are relative to one element
    ValuePath {
        /// Multi-valued (or single-valued) complex attribute outside the brackets.
        path: AttrPath,
        /// Filter applied to each element; its paths name sub-attributes.
        filter: Box<Filter>,
    },
}

/// PATCH `path`: attrPath, optionally `[valFilter]`, optionally `.subAttr` after the bracket.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    /// Attribute addressed (may itself carry a sub-attribute when there is no bracket).
    pub attr: AttrPath,
    /// Filter selecting elements of a multi-valued attribute.
    pub value_filter: Option<Filter>,
    /// Sub-attribute after `]`, as in `emails[type eq "work"].value`.
    pub sub: Option<String>,
}

/// Parse or check failure; the message is meant to be the SCIM error `detail`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FilterError(pub String);

type Result<T> = std::result::Result<T, FilterError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(FilterError(msg.into()))
}

#[cfg(test)]
mod tests {
    use super::fixture::{user, Schema, CORE, ENT};
    use super::*;
    use proptest::prelude::*;
    use serde_json::{json, Number};

    #[test]
    fn limits() {
        let nest = |n: usize, open: &str| format!("{}a pr{}", open.repeat(n), ")".repeat(n));
        assert!(parse_filter(&nest(32, "(")).is_ok());
        assert!(parse_filter(&nest(32, "not (")).is_ok());
        for bad in [nest(33, "("), nest(33, "not("), "(".repeat(4096)] {
            let e = parse_filter(&bad).unwrap_err();
            assert!(e.0.contains("32 levels"), "{e}");
        }
        let in_brackets = |n| format!("emails[{}type pr{}]", "(".repeat(n), ")".repeat(n));
        assert!(parse_filter(&in_brackets(31)).is_ok());
        assert!(parse_filter(&in_brackets(32)).unwrap_err().0.contains("32"));

        let long = format!("userName eq \"{}\"", "é".repeat(MAX_FILTER_LEN - 14));
        assert_eq!(long.chars().count(), MAX_FILTER_LEN);
        assert!(parse_filter(&long).is_ok());
        let e = parse_filter(&format!("{long} ")).unwrap_err();
        assert_eq!(e.0, "filter is longer than 4096 characters");
        let e = parse_patch_path(&"a".repeat(5000)).unwrap_err();
        assert_eq!(e.0, "PATCH path is longer than 4096 characters");

        // A flat chain is not nesting, and the recursive check/eval/Display must cope with it.
        let chain = vec!["userName pr"; 250].join(" or ");
        let f = parse_filter(&chain).unwrap();
        assert_eq!(f.to_string(), chain);
        f.check(&Schema).unwrap();
        assert!(!f.matches(&json!({}), &Schema));
    }

    fn arb_name() -> BoxedStrategy<String> {
        // Keyword-like names check that the parser tells keywords from attributes by position.
        let tricky = ["$ref", "not", "and", "or", "pr", "eq", "true"].map(String::from);
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9_-]{0,6}",
            proptest::sample::select(tricky.to_vec())
        ]
        .boxed()
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<String>().prop_map(Value::String),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_filter_map("finite", |f| Number::from_f64(f).map(Value::Number)),
            any::<bool>().prop_map(Value::Bool),
            Just(Value::Null),
        ]
    }

    fn compare(path: impl Strategy<Value = AttrPath>) -> impl Strategy<Value = Filter> {
        let op = proptest::sample::select(CompareOp::ALL.to_vec());
        (path, op, arb_value()).prop_map(|(path, op, value)| Filter::Compare { path, op, value })
    }

    fn tree(leaf: impl Strategy<Value = Filter> + 'static) -> BoxedStrategy<Filter> {
        leaf.prop_recursive(4, 24, 2, |inner| {
            let pair = (inner.clone(), inner.clone());
            prop_oneof![
                pair.clone()
                    .prop_map(|(l, r)| Filter::And(Box::new(l), Box::new(r))),
                pair.prop_map(|(l, r)| Filter::Or(Box::new(l), Box::new(r))),
                inner.prop_map(|f| Filter::Not(Box::new(f))),
            ]
        })
        .boxed()
    }

    fn arb_filter() -> BoxedStrategy<Filter> {
        let urn = proptest::option::of(proptest::sample::select(vec![CORE, ENT]));
        let urn = urn.prop_map(|u| u.map(String::from));
        let path = (urn.clone(), arb_name(), proptest::option::of(arb_name()))
            .prop_map(|(urn, name, sub)| AttrPath { urn, name, sub })
            .boxed();
        let rel = arb_name().prop_map(AttrPath::new).boxed();
        let relative = tree(prop_oneof![
            compare(rel.clone()),
            rel.prop_map(Filter::Present)
        ]);
        let value_path = (urn, arb_name(), relative).prop_map(|(urn, name, f)| Filter::ValuePath {
            path: AttrPath {
                urn,
                name,
                sub: None,
            },
            filter: Box::new(f),
        });
        tree(prop_oneof![
            compare(path.clone()),
            path.prop_map(Filter::Present),
            value_path
        ])
    }

    proptest! {
        #[test]
        fn display_round_trips(f in arb_filter()) {
            let text = f.to_string();
            prop_assert_eq!(parse_filter(&text), Ok(f), "{}", text);
        }

        #[test]
        fn parsing_never_panics(s in "[a-z ()\\[\\]\"\\\\.:$0-9-]{0,40}|\\PC{0,40}") {
            if let Ok(f) = parse_filter(&s) {
                prop_assert_eq!(parse_filter(&f.to_string()), Ok(f.clone()));
                let _ = f.check(&Schema);
                let _ = f.matches(&user(), &Schema);
            }
            let _ = parse_patch_path(&s);
        }
    }
}

/// A User/Group-like schema and a sample user, shared by the tests of every submodule.
#[cfg(test)]
mod fixture {
    use super::*;
    use serde_json::json;

    pub(super) const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
    pub(super) const ENT: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

    /// User/Group-like schema: (in enterprise extension, name, sub, kind, caseExact, multi).
    pub(super) struct Schema;
    type Row = (
        bool,
        &'static str,
        Option<&'static str>,
        AttrKind,
        bool,
        bool,
    );
    #[rustfmt::skip]
    const ATTRS: &[Row] = {
        use AttrKind::*;
        &[
            (false, "id", None, String, true, false), (false, "userName", None, String, false, false),
            (false, "nickName", None, String, false, false), (false, "title", None, String, false, false),
            (false, "externalId", None, String, true, false), (false, "active", None, Boolean, false, false),
            (false, "loginCount", None, Integer, false, false), (false, "score", None, Decimal, false, false),
            (false, "name", None, Complex, false, false),
            (false, "name", Some("givenName"), String, false, false),
            (false, "name", Some("familyName"), String, false, false),
            (false, "emails", None, Complex, false, true),
            (false, "emails", Some("value"), String, false, true),
            (false, "emails", Some("type"), String, false, true),
            (false, "emails", Some("primary"), Boolean, false, true),
            (false, "members", None, Complex, false, true),
            (false, "members", Some("value"), String, true, true),
            (false, "members", Some("display"), String, false, true),
            (false, "members", Some("$ref"), Reference, true, true),
            (false, "x509Certificates", None, Complex, false, true),
            (false, "x509Certificates", Some("value"), Binary, true, true),
            (false, "meta", None, Complex, false, false),
            (false, "meta", Some("lastModified"), DateTime, false, false),
            (true, "employeeNumber", None, String, false, false),
            (true, "manager", None, Complex, false, false),
            (true, "manager", Some("value"), String, false, false),
        ]
    };

    impl AttrTypes for Schema {
        fn locate(&self, path: &AttrPath) -> Option<Located> {
            let ext = match &path.urn {
                None => false,
                Some(u) if u.eq_ignore_ascii_case(CORE) => false,
                Some(u) if u.eq_ignore_ascii_case(ENT) => true,
                Some(_) => return None,
            };
            let same = |a: Option<&str>, b: Option<&String>| match (a, b) {
                (None, None) => true,
                (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
                _ => false,
            };
            let row = ATTRS.iter().find(|r| {
                r.0 == ext && r.1.eq_ignore_ascii_case(&path.name) && same(r.2, path.sub.as_ref())
            })?;
            Some(Located {
                container: row.0.then(|| ENT.to_string()),
                name: row.1.into(),
                sub: row.2.map(Into::into),
                kind: row.3,
                case_exact: row.4,
                multi_valued: row.5,
            })
        }
    }

    pub(super) fn user() -> Value {
        json!({
            "id": "2819c223", "userName": "BJensen", "nickName": "", "externalId": "Ext-1",
            "active": true, "loginCount": 42, "score": 3.5,
            "name": {"givenName": "Barbara", "familyName": "Jensen"},
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "members": [],
            "x509Certificates": [{"value": "TUlJ"}],
            "meta": {"resourceType": "User", "lastModified": "2026-01-01T00:00:00Z"},
            ENT: {"employeeNumber": "701984", "manager": {"value": "26118915"}}
        })
    }
}
