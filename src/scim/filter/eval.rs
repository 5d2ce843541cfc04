//! Filters against the schema and against resources: the attribute lookups the evaluator needs
//! ([`AttrTypes`], [`Located`]; the type enum [`AttrKind`] is the schema's own `AttrType`), the
//! schema check (`Filter::check`) and the evaluation with SCIM's comparison rules
//! (`Filter::matches`, `Filter::matches_element`).
//!
//! Values compare by the attribute's type: booleans also from "true"/"false" strings, dateTimes
//! as instants (not as text), numbers numerically, strings folded unless `caseExact`.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::{Number, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{err, AttrPath, CompareOp, Filter, FilterError, Result};

/// What the evaluator needs to know about an attribute's type: the schema's own
/// [`AttrType`](crate::scim::schema::AttrType) (one enum, one name table), under the name the
/// filter API has always used.
pub use crate::scim::schema::AttrType as AttrKind;

/// Canonical location and type of an attribute, as resolved by the schema registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// `None` = top-level attribute of the resource; `Some(urn)` = inside the extension object
    /// stored under key `urn` (exact key to use).
    pub container: Option<String>,
    /// Canonical attribute name (exact JSON key).
    pub name: String,
    /// Canonical sub-attribute name (exact JSON key).
    pub sub: Option<String>,
    /// Type of the addressed attribute (of `sub` when sub is Some).
    pub kind: AttrKind,
    /// Whether string comparisons are case-sensitive.
    pub case_exact: bool,
    /// Whether the top-level attribute `name` is multi-valued.
    pub multi_valued: bool,
}

/// Schema lookups the checker and evaluator need; the server's schema registry implements it.
pub trait AttrTypes {
    /// Resolve a path (case-insensitive names, optional URN prefix) to its canonical location;
    /// None = unknown attribute.
    fn locate(&self, path: &AttrPath) -> Option<Located>;
}

/// Resolves `path`, relative to `outer` inside a value filter. With `redirect`, a multi-valued
/// complex attribute without sub-attribute stands for its `value` sub-attribute, the way RFC
/// 7644 lets `emails co "@x"` and `members eq "id"` compare against each element's `value`.
fn resolve(
    path: &AttrPath,
    outer: Option<&AttrPath>,
    types: &dyn AttrTypes,
    redirect: bool,
) -> Option<Located> {
    let abs = match outer {
        None => path.clone(),
        Some(_) if path.urn.is_some() || path.sub.is_some() => return None,
        Some(o) => AttrPath {
            urn: o.urn.clone(),
            name: o.name.clone(),
            sub: Some(path.name.clone()),
        },
    };
    let loc = types.locate(&abs)?;
    // A complex attribute compared as a whole means its `value` (`emails co "@x"`, `members eq
    // "id"`, and Entra's `manager eq "id"` on the single-valued enterprise manager).
    if redirect && loc.kind == AttrKind::Complex && loc.sub.is_none() {
        let value = AttrPath {
            sub: Some("value".into()),
            ..abs
        };
        return Some(types.locate(&value).unwrap_or(loc));
    }
    Some(loc)
}

fn full_name(path: &AttrPath, outer: Option<&AttrPath>) -> String {
    match outer {
        Some(o) => format!("{o}.{path}"),
        None => path.to_string(),
    }
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339).ok()
}

fn as_bool(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn check_in(f: &Filter, outer: Option<&AttrPath>, types: &dyn AttrTypes) -> Result<()> {
    let known = |path: &AttrPath, redirect: bool| {
        resolve(path, outer, types, redirect)
            .ok_or_else(|| FilterError(format!("unknown attribute '{}'", full_name(path, outer))))
    };
    match f {
        Filter::And(l, r) | Filter::Or(l, r) => {
            check_in(l, outer, types)?;
            check_in(r, outer, types)
        }
        Filter::Not(inner) => check_in(inner, outer, types),
        Filter::Present(path) => known(path, false).map(drop),
        Filter::Compare { path, op, value } => {
            check_compare(&known(path, true)?, &full_name(path, outer), *op, value)
        }
        Filter::ValuePath { path, filter } => {
            if let Some(o) = outer {
                return err(format!(
                    "value filters cannot be nested: '{path}[...]' inside '{o}[...]'"
                ));
            }
            let loc = known(path, false)?;
            if loc.kind != AttrKind::Complex || loc.sub.is_some() {
                return err(format!(
                    "'{path}[...]' needs a complex attribute, but '{path}' is a {} attribute",
                    loc.kind.as_str()
                ));
            }
            check_in(filter, Some(path), types)
        }
    }
}

fn check_compare(loc: &Located, name: &str, op: CompareOp, value: &Value) -> Result<()> {
    use CompareOp::*;
    let kind = loc.kind.as_str();
    let unsupported = |allowed: &str| {
        err(format!(
            "operator '{op}' is not supported on {kind} attribute '{name}' (use {allowed})"
        ))
    };
    let ordering = matches!(op, Gt | Ge | Lt | Le);
    let substring = matches!(op, Co | Sw | Ew);
    match value {
        Value::Array(_) | Value::Object(_) => {
            return err(format!(
                "the value compared with '{name}' must be a string, number, true, false or null"
            ))
        }
        Value::Null if !matches!(op, Eq | Ne) => {
            return err(format!(
                "operator '{op}' cannot compare '{name}' with null (only eq and ne can)"
            ))
        }
        Value::Null => return Ok(()),
        _ => {}
    }
    match loc.kind {
        AttrKind::Boolean if ordering || substring => unsupported("eq or ne"),
        AttrKind::Boolean if as_bool(value).is_none() => err(format!(
            "boolean attribute '{name}' must be compared with true or false, found {value}"
        )),
        AttrKind::Complex if ordering || substring => {
            unsupported("eq, ne or pr, or compare one of its sub-attributes")
        }
        AttrKind::Binary if ordering => unsupported("eq, ne, co, sw or ew"),
        AttrKind::Integer | AttrKind::Decimal | AttrKind::DateTime if substring => {
            unsupported("eq, ne, gt, ge, lt or le")
        }
        AttrKind::Integer | AttrKind::Decimal if !value.is_number() => err(format!(
            "{kind} attribute '{name}' must be compared with a number, found {value}"
        )),
        AttrKind::DateTime if value.as_str().and_then(parse_time).is_none() => err(format!(
            "dateTime attribute '{name}' must be compared with an RFC 3339 timestamp such as \
             \"2011-05-13T04:42:34Z\", found {value}"
        )),
        _ => Ok(()),
    }
}

/// Where a path is evaluated: a whole resource, or one element of the attribute `outer`.
enum Scope<'a> {
    Resource(&'a Value),
    Element(&'a Value, &'a AttrPath),
}

fn get_key<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    let obj = v.as_object()?;
    // Data written by older versions may not use the canonical spelling of the key.
    obj.get(key).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

fn attr_value<'v>(root: &'v Value, loc: &Located) -> Option<&'v Value> {
    let container = match &loc.container {
        Some(urn) => get_key(root, urn)?,
        None => root,
    };
    get_key(container, &loc.name)
}

fn push_leaves<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => out.extend(items),
        other => out.push(other),
    }
}

/// The located attribute and every value it holds (one per element for multi-valued ones).
fn values_at<'v>(
    path: &AttrPath,
    scope: &Scope<'v>,
    types: &dyn AttrTypes,
    redirect: bool,
) -> Option<(Located, Vec<&'v Value>)> {
    let mut out = Vec::new();
    match scope {
        Scope::Resource(root) => {
            let loc = resolve(path, None, types, redirect)?;
            match (attr_value(root, &loc), &loc.sub) {
                (None, _) => {}
                (Some(v), None) => push_leaves(v, &mut out),
                (Some(Value::Array(items)), Some(sub)) => items
                    .iter()
                    .filter_map(|e| get_key(e, sub))
                    .for_each(|v| push_leaves(v, &mut out)),
                (Some(v), Some(sub)) => {
                    if let Some(v) = get_key(v, sub) {
                        push_leaves(v, &mut out);
                    }
                }
            }
            Some((loc, out))
        }
        Scope::Element(elem, outer) => {
            let loc = resolve(path, Some(outer), types, false)?;
            let key = loc.sub.as_deref().unwrap_or(&path.name);
            if let Some(v) = get_key(elem, key) {
                push_leaves(v, &mut out);
            }
            Some((loc, out))
        }
    }
}

/// `pr` semantics: not null, not an empty string, array or object.
fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(items) => items.iter().any(is_present),
        Value::Object(map) => map.values().any(is_present),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn cmp_numbers(a: &Number, b: &Number) -> Option<Ordering> {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => Some(x.cmp(&y)),
        (_, _, Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
    }
}

fn ord_matches(op: CompareOp, ord: Ordering) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

/// The filter's literal, converted once per evaluation to the attribute's type.
enum Needle {
    Bool(bool),
    Num(Number),
    Time(OffsetDateTime),
    Text { text: String, fold: bool },
}

impl Needle {
    fn new(loc: &Located, value: &Value) -> Option<Self> {
        Some(match (loc.kind, value) {
            (AttrKind::Boolean, v) => Self::Bool(as_bool(v)?),
            (AttrKind::Integer | AttrKind::Decimal, Value::Number(n)) => Self::Num(n.clone()),
            (AttrKind::Integer | AttrKind::Decimal, _) => return None,
            (AttrKind::DateTime, v) => Self::Time(parse_time(v.as_str()?)?),
            (_, v) => {
                // Liberal: `externalId eq 123` compares with the text "123".
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(_) | Value::Bool(_) => v.to_string(),
                    _ => return None,
                };
                let fold = !loc.case_exact;
                Self::Text {
                    text: if fold { text.to_lowercase() } else { text },
                    fold,
                }
            }
        })
    }

    fn test(&self, op: CompareOp, candidate: &Value) -> bool {
        match self {
            Self::Bool(b) => op == CompareOp::Eq && as_bool(candidate) == Some(*b),
            Self::Num(n) => match candidate {
                Value::Number(c) => cmp_numbers(c, n).is_some_and(|o| ord_matches(op, o)),
                _ => false,
            },
            Self::Time(t) => candidate
                .as_str()
                .and_then(parse_time)
                .is_some_and(|c| ord_matches(op, c.cmp(t))),
            Self::Text { text, fold } => {
                let Some(c) = candidate.as_str() else {
                    return false;
                };
                let c: Cow<'_, str> = if *fold {
                    Cow::Owned(c.to_lowercase())
                } else {
                    Cow::Borrowed(c)
                };
                match op {
                    CompareOp::Co => c.contains(text.as_str()),
                    CompareOp::Sw => c.starts_with(text.as_str()),
                    CompareOp::Ew => c.ends_with(text.as_str()),
                    _ => ord_matches(op, c.as_ref().cmp(text.as_str())),
                }
            }
        }
    }
}

fn eval(f: &Filter, scope: &Scope<'_>, types: &dyn AttrTypes) -> bool {
    let present = |path: &AttrPath| {
        values_at(path, scope, types, false)
            .is_some_and(|(_, vals)| vals.into_iter().any(is_present))
    };
    match f {
        Filter::And(l, r) => eval(l, scope, types) && eval(r, scope, types),
        Filter::Or(l, r) => eval(l, scope, types) || eval(r, scope, types),
        Filter::Not(inner) => !eval(inner, scope, types),
        Filter::Present(path) => present(path),
        Filter::Compare {
            path,
            op,
            value: Value::Null,
        } => match op {
            CompareOp::Eq => !present(path),
            CompareOp::Ne => present(path),
            _ => false,
        },
        Filter::Compare { path, op, value } => {
            let Some((loc, vals)) = values_at(path, scope, types, true) else {
                return false;
            };
            let Some(needle) = Needle::new(&loc, value) else {
                return false;
            };
            let any = |op| vals.iter().any(|v| needle.test(op, v));
            // `ne` is the negation of `eq`: an absent attribute is "not equal", and a
            // multi-valued attribute is "not equal" only when no element equals.
            match op {
                CompareOp::Ne => !any(CompareOp::Eq),
                other => any(*other),
            }
        }
        Filter::ValuePath { path, filter } => {
            let Scope::Resource(root) = scope else {
                return false;
            };
            let Some(loc) = types.locate(path) else {
                return false;
            };
            match attr_value(root, &loc) {
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|e| eval(filter, &Scope::Element(e, path), types)),
                Some(obj @ Value::Object(_)) => eval(filter, &Scope::Element(obj, path), types),
                _ => false,
            }
        }
    }
}

impl Filter {
    /// Validate against the schema: every path known, operators fit the attribute's type, and
    /// literals fit it too (booleans take true/false or "true"/"false" in any case, dateTimes an
    /// RFC 3339 string, numbers a number). Inside a value path, inner paths are resolved as
    /// sub-attributes of the outer attribute.
    pub fn check(&self, types: &dyn AttrTypes) -> std::result::Result<(), FilterError> {
        check_in(self, None, types)
    }

    /// Evaluate against a rendered resource (a JSON object holding `id`, `meta`, top-level
    /// attributes and extension objects keyed by their URN). Call only after `check`
    /// succeeded; never panics anyway (paths that do not resolve simply do not match).
    /// A multi-valued attribute matches when any of its values does; see the module docs for
    /// `ne`, `null` and `pr`.
    pub fn matches(&self, resource: &Value, types: &dyn AttrTypes) -> bool {
        eval(self, &Scope::Resource(resource), types)
    }

    /// Evaluate against one element of a multi-valued complex attribute (used by PATCH for
    /// `emails[type eq "work"]`); `outer` is the attribute path outside the brackets.
    pub fn matches_element(
        &self,
        element: &Value,
        outer: &AttrPath,
        types: &dyn AttrTypes,
    ) -> bool {
        eval(self, &Scope::Element(element, outer), types)
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixture::{user, Schema, ENT};
    use super::super::{parse_filter, parse_patch_path};
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluation() {
        let u = user();
        let g =
            json!({"id": "g1", "members": [{"value": "u1"}, {"value": "u2", "display": "Bob"}]});
        let old = json!({"USERNAME": "Old", "Emails": [{"Value": "o@x", "TYPE": "work"}]});
        let ent_number = format!(r#"{ENT}:employeeNumber eq "701984""#);
        let ent_manager = format!(r#"{ENT}:manager.value eq "26118915""#);
        #[rustfmt::skip]
        let cases: &[(&Value, &str, bool)] = &[
            (&u, r#"userName eq "bjensen""#, true),
            (&u, r#"USERNAME eq "BJENSEN""#, true),
            (&u, r#"userName ne "bjensen""#, false),
            (&u, r#"userName co "JEN""#, true),
            (&u, r#"userName sw "bj""#, true),
            (&u, r#"userName ew "SEN""#, true),
            (&u, r#"userName gt "a""#, true),
            (&u, r#"userName lt "a""#, false),
            (&u, r#"userName ge "bjensen" and userName le "BJENSEN""#, true),
            (&u, r#"externalId eq "ext-1""#, false),
            (&u, r#"externalId eq "Ext-1" and externalId co "xt" and externalId sw "E""#, true),
            (&u, "active eq true", true),
            (&u, r#"active eq "True""#, true),
            (&u, r#"active eq "FALSE""#, false),
            (&u, "active ne false", true),
            (&u, r#"emails co "@example.com""#, true),
            (&u, r#"emails.value ew "JENSEN.org""#, true),
            (&u, r#"emails.type eq "home""#, true),
            (&u, r#"emails.type eq "other""#, false),
            (&u, r#"emails.type ne "work""#, false),
            (&u, r#"emails[type eq "work" and value co "example"]"#, true),
            (&u, r#"emails[type eq "home" and value co "example"]"#, false),
            (&u, r#"emails[primary eq "true"]"#, true),
            (&u, r#"emails[type eq "work"].value eq "bjensen@example.com""#, true),
            (&u, r#"emails[type eq "home"].value eq "bjensen@example.com""#, false),
            (&u, r#"name.givenName eq "barbara""#, true),
            (&u, r#"name eq "Barbara""#, false),
            (&u, r#"name[givenName eq "Barbara"]"#, true),
            (&u, "name pr", true),
            (&u, r#"meta.lastModified eq "2026-01-01T01:00:00+01:00""#, true),
            (&u, r#"meta.lastModified le "2025-12-31T19:00:00-05:00""#, true),
            (&u, r#"meta.lastModified gt "2025-12-31T23:59:59Z""#, true),
            (&u, r#"meta.lastModified lt "2026-01-01T00:30:00+01:00""#, false),
            (&u, r#"meta.lastModified ge "2026-01-01T00:00:00.001Z""#, false),
            (&u, "loginCount gt 41 and loginCount eq 42.0 and loginCount ge 42", true),
            (&u, "loginCount lt 42 or loginCount le 41", false),
            (&u, "score ge 3.5 and score lt 3.75", true),
            (&u, r#"x509Certificates eq "TUlJ""#, true),
            (&u, r#"x509Certificates eq "tulj""#, false),
            (&u, "members pr", false),
            (&u, "members eq null", true),
            (&u, "members ne null", false),
            (&u, "nickName pr", false),
            (&u, "title pr", false),
            (&u, r#"title ne "x""#, true),
            (&u, "title eq null", true),
            (&u, "userName ne null", true),
            (&u, &ent_number, true),
            (&u, &ent_manager, true),
            (&u, r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:user:EMPLOYEENUMBER sw "70""#, true),
            (&u, r#"not (userName eq "bjensen")"#, false),
            (&u, r#"userName eq "x" or active eq true"#, true),
            (&u, r#"userName eq "bjensen" and active eq false"#, false),
            (&u, r#"unknown eq "x""#, false),
            (&g, r#"members eq "u2""#, true),
            (&g, r#"members eq "U2""#, false),
            (&g, r#"members[value eq "u1"]"#, true),
            (&g, r#"id eq "g1" and members eq "u1""#, true),
            (&g, "members pr", true),
            (&g, r#"members.display eq "bob""#, true),
            (&old, r#"userName eq "old" and emails[type eq "WORK" and value eq "o@x"]"#, true),
        ];
        for (resource, filter, want) in cases {
            let f = parse_filter(filter).unwrap();
            assert_eq!(f.matches(resource, &Schema), *want, "{filter}");
        }
    }

    #[test]
    fn element_matching_for_patch() {
        let p = parse_patch_path(r#"emails[type eq "WORK" and not (primary eq false)]"#).unwrap();
        let f = p.value_filter.unwrap();
        let outer = p.attr;
        let m = |e: Value| f.matches_element(&e, &outer, &Schema);
        assert!(m(json!({"value": "a@x", "type": "work"})));
        assert!(!m(json!({"value": "a@x", "type": "home"})));
        assert!(!m(json!({"type": "work", "primary": false})));
        assert!(!m(json!("not an object")));
    }

    #[test]
    fn schema_check() {
        let manager = format!(r#"{ENT}:manager.value eq "x""#);
        let ok = [
            r#"emails co "@x""#,
            r#"active eq "TRUE""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34+02:00""#,
            r#"members[$ref eq "x"] and members.value eq "y""#,
            r#"emails[type eq "work"].value eq "x""#,
            r#"name eq "x" or title eq null"#,
            &manager,
            "loginCount gt 1.5",
        ];
        for input in ok {
            let checked = parse_filter(input).unwrap().check(&Schema);
            assert_eq!(checked, Ok(()), "{input}");
        }
        #[rustfmt::skip]
        let bad = [
            (r#"foo eq "x""#, "unknown attribute 'foo'"),
            (r#"emails[foo eq "x"]"#, "unknown attribute 'emails.foo'"),
            (r#"urn:x:y:userName eq "x""#, "unknown attribute 'urn:x:y:userName'"),
            ("active gt true", "operator 'gt' is not supported on boolean attribute 'active' (use eq or ne)"),
            (r#"active eq "yes""#, r#"boolean attribute 'active' must be compared with true or false, found "yes""#),
            ("active eq 1", "found 1"),
            (r#"meta.lastModified gt "yesterday""#, r#"RFC 3339 timestamp such as "2011-05-13T04:42:34Z", found "yesterday""#),
            (r#"meta.lastModified gt "2011-05-13""#, "RFC 3339"),
            (r#"meta.lastModified co "2011""#, "operator 'co' is not supported on dateTime"),
            (r#"loginCount eq "42""#, r#"integer attribute 'loginCount' must be compared with a number, found "42""#),
            (r#"score sw "4""#, "operator 'sw' is not supported on decimal attribute 'score'"),
            ("userName gt null", "operator 'gt' cannot compare 'userName' with null"),
            (r#"x509Certificates gt "a""#, "operator 'gt' is not supported on binary attribute 'x509Certificates'"),
            (r#"name co "x""#, "not supported on complex attribute 'name'"),
            (r#"userName[value eq "x"]"#, "needs a complex attribute, but 'userName' is a string attribute"),
        ];
        for (input, want) in bad {
            let e = parse_filter(input).unwrap().check(&Schema).unwrap_err();
            assert!(e.0.contains(want), "{input}: {e}");
        }
    }
}
