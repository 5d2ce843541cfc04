//! Resource values: turning a client's JSON into a stored document (type checks against the schema,
//! canonical attribute names, values otherwise exactly as sent) and turning a stored document back
//! into the resource a client reads (`schemas`, `id`, `meta`, `attributes`/`excludedAttributes`).
//!
//! A stored document holds only client-writable data: no `schemas`, `id`, `meta`, `groups` or
//! `members` (memberships live in their own trees) and never `password`.

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::error::{Result, ScimError};
use super::schema::{AttrType, Attribute, Mutability, Registry, ResourceKind, Returned};

/// A stored resource document: canonical attribute names, extension objects keyed by their URN.
pub type Document = Map<String, Value>;

/// What a create or replace body carries, split into its parts.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Parsed {
    /// The attributes to store.
    pub doc: Document,
    /// Group members as sent (groups only; `None` when the body has no `members`).
    pub members: Option<Vec<MemberEntry>>,
    /// The clear-text password the request carried. The HTTP layer takes it out (hashing it or
    /// dropping it, as configured) before the command leaves the boundary.
    pub password: Option<String>,
}

/// Parse a POST/PUT body as a client sends it: [`check_schemas`], then [`parse_resource`].
pub fn parse_request(reg: &Registry, kind: ResourceKind, body: &Value) -> Result<Parsed> {
    check_schemas(reg, kind, body)?;
    parse_resource(reg, kind, body)
}

/// RFC 7643 §3: `schemas` is REQUIRED, and a resource's `schemas` names its core schema. So a
/// body without `schemas`, or whose `schemas` does not name the endpoint's core schema
/// (`…:core:2.0:User` for `/Users`, `…:core:2.0:Group` for `/Groups`), is 400 `invalidSyntax`:
/// the message does not have the structure the operation expects. Other URNs in the list are not
/// checked (Entra adds a legacy group schema, and leaves out custom extension URNs it sends).
pub fn check_schemas(reg: &Registry, kind: ResourceKind, body: &Value) -> Result<()> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("the request body must be a JSON object".into()))?;
    let core = &reg.resource_type(kind).schema;
    let schemas = obj
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("schemas"))
        .map(|(_, v)| v);
    let Some(schemas) = schemas.filter(|v| !v.is_null()) else {
        return Err(ScimError::InvalidSyntax(format!(
            "the body has no 'schemas'; a {} must list {core} in it (RFC 7643 §3)",
            kind.as_str()
        )));
    };
    let urns: Option<Vec<&str>> = schemas
        .as_array()
        .and_then(|a| a.iter().map(Value::as_str).collect());
    let Some(urns) = urns else {
        return Err(ScimError::InvalidSyntax(
            "'schemas' must be an array of schema URNs".into(),
        ));
    };
    if !urns.iter().any(|u| u.eq_ignore_ascii_case(core)) {
        return Err(ScimError::InvalidSyntax(format!(
            "'schemas' must list {core} for {}",
            kind.endpoint()
        )));
    }
    Ok(())
}

/// Parse a POST/PUT body for `kind`. It does not require `schemas` (documents built by the server
/// and by tests have none); request bodies go through [`parse_request`], which does.
pub fn parse_resource(reg: &Registry, kind: ResourceKind, body: &Value) -> Result<Parsed> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("the request body must be a JSON object".into()))?;
    if let Some(schemas) = obj.get("schemas") {
        let ok = schemas
            .as_array()
            .is_some_and(|a| a.iter().all(Value::is_string));
        if !ok {
            return Err(ScimError::InvalidSyntax(
                "'schemas' must be an array of schema URNs".into(),
            ));
        }
    }
    let mut out = Parsed::default();
    for (key, value) in obj {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if is_urn(key) {
            if key.eq_ignore_ascii_case(&reg.resource_type(kind).schema) {
                // Core attributes nested under their own URN: fold them into the top level.
                let inner = value.as_object().ok_or_else(|| {
                    ScimError::InvalidSyntax(format!("'{key}' must be a JSON object"))
                })?;
                for (k, v) in inner {
                    put_core(reg, kind, &mut out, k, v)?;
                }
                continue;
            }
            let Some(schema) = reg.extension(kind, key) else {
                if reg.ignore_unknown() {
                    continue;
                }
                return Err(ScimError::UnknownAttribute(format!(
                    "unknown schema extension '{key}' for {} (declare it under [[extensions]] in the configuration)",
                    kind.as_str()
                )));
            };
            if value.is_null() {
                continue;
            }
            let inner = value.as_object().ok_or_else(|| {
                ScimError::InvalidSyntax(format!("extension '{key}' must be a JSON object"))
            })?;
            let mut ext = Map::new();
            for (k, v) in inner {
                let Some(attr) = schema.attribute(k) else {
                    if reg.ignore_unknown() {
                        continue;
                    }
                    return Err(ScimError::UnknownAttribute(format!(
                        "unknown attribute '{k}' in '{}'",
                        schema.id
                    )));
                };
                if let Some(v) = normalize_value(attr, v, &format!("{}:{}", schema.id, attr.name))?
                {
                    ext.insert(attr.name.clone(), v);
                }
            }
            if !ext.is_empty() {
                out.doc.insert(schema.id.clone(), Value::Object(ext));
            }
            continue;
        }
        put_core(reg, kind, &mut out, key, value)?;
    }
    check_required(reg, kind, &out.doc)?;
    Ok(out)
}

fn put_core(
    reg: &Registry,
    kind: ResourceKind,
    out: &mut Parsed,
    key: &str,
    value: &Value,
) -> Result<()> {
    let Some(attr) = reg.core_attribute(kind, key) else {
        if reg.ignore_unknown() {
            return Ok(());
        }
        return Err(ScimError::UnknownAttribute(format!(
            "unknown attribute '{key}' for {}",
            kind.as_str()
        )));
    };
    if attr.name == "password" {
        out.password = match value {
            Value::Null => None,
            Value::String(s) => Some(s.clone()),
            _ => {
                return Err(ScimError::InvalidValue(
                    "'password' must be a string".into(),
                ))
            }
        };
        return Ok(());
    }
    if kind == ResourceKind::Group && attr.name == "members" {
        out.members = Some(member_entries(value)?);
        return Ok(());
    }
    if let Some(v) = normalize_value(attr, value, &attr.name)? {
        out.doc.insert(attr.name.clone(), v);
    }
    Ok(())
}

/// A group member as a client sent it: the member's id and the `display` it gave, if it gave one.
/// `$ref` and `type` are the server's (the member's URI, "User"), so they are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberEntry {
    /// The member's id (`value`).
    pub value: String,
    /// The `display` sent with it.
    pub display: Option<String>,
}

/// Each entry of a `members` array, as sent. `members` is multi-valued, so anything but an array
/// (or null, no members) is refused, a lone member object included; a PATCH whose `path` names
/// `members` wraps a lone object itself where it may (see `patch.rs`).
pub fn member_entries(value: &Value) -> Result<Vec<MemberEntry>> {
    let items: Vec<&Value> = match value {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        _ => {
            return Err(ScimError::InvalidValue(format!(
                "'members' is multi-valued and must be a JSON array of {{\"value\": id}} objects, got {}",
                short(value)
            )))
        }
    };
    items
        .into_iter()
        .map(|m| {
            let field = |name: &str| {
                m.as_object().and_then(|o| {
                    o.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v)
                })
            };
            let value = field("value")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| {
                    ScimError::InvalidValue(format!("member {m} has no string 'value'"))
                })?;
            let display = match field("display") {
                None | Some(Value::Null) => None,
                Some(Value::String(d)) => Some(d.clone()),
                Some(other) => {
                    return Err(ScimError::InvalidValue(format!(
                        "member {value}: 'display' must be a string, not {other}"
                    )))
                }
            };
            Ok(MemberEntry { value, display })
        })
        .collect()
}

/// The `value` of each entry of a `members` array (see [`member_entries`]).
pub fn member_values(value: &Value) -> Result<Vec<String>> {
    Ok(member_entries(value)?
        .into_iter()
        .map(|m| m.value)
        .collect())
}

/// Reject a document that lacks a required attribute (`userName`, group `displayName`, required
/// extensions and the required attributes of any extension it carries).
pub fn check_required(reg: &Registry, kind: ResourceKind, doc: &Document) -> Result<()> {
    let present = |container: &Document, name: &str| match container.get(name) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    if let Some(schema) = reg.core_schema(kind) {
        for attr in schema.attributes.iter().filter(|a| a.required) {
            if !present(doc, &attr.name) {
                return Err(ScimError::InvalidValue(format!(
                    "'{}' is required and must not be empty",
                    attr.name
                )));
            }
        }
    }
    for (urn, required) in &reg.resource_type(kind).extensions {
        let Some(ext) = doc.get(urn).and_then(Value::as_object) else {
            if *required {
                return Err(ScimError::InvalidValue(format!(
                    "the extension '{urn}' is required"
                )));
            }
            continue;
        };
        if let Some(schema) = reg.schema(urn) {
            for attr in schema.attributes.iter().filter(|a| a.required) {
                if !present(ext, &attr.name) {
                    return Err(ScimError::InvalidValue(format!(
                        "'{urn}:{}' is required and must not be empty",
                        attr.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Type-check one value for `attr`; `Ok(None)` means "nothing to store" (null, or readOnly input).
/// Booleans sent as strings ("True", "false") become JSON booleans; everything else is kept as sent.
/// A multi-valued attribute must be a JSON array (RFC 7643 §2.4): a lone value is refused, as
/// `"emails": "x"` always was, so `"phoneNumbers": {"value": "1"}` is refused too.
pub fn normalize_value(attr: &Attribute, value: &Value, label: &str) -> Result<Option<Value>> {
    if value.is_null() || attr.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    if attr.multi_valued {
        let Value::Array(items) = value else {
            return Err(ScimError::InvalidValue(format!(
                "'{label}' is multi-valued and must be a JSON array, got {}",
                short(value)
            )));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = normalize_single(attr, item, label)? {
                out.push(v);
            }
        }
        return Ok(Some(Value::Array(out)));
    }
    normalize_single(attr, value, label)
}

/// Type-check a single (non-array) value for `attr`, even when `attr` is multi-valued.
pub fn normalize_single(attr: &Attribute, value: &Value, label: &str) -> Result<Option<Value>> {
    if value.is_null() || attr.mutability == Mutability::ReadOnly {
        return Ok(None);
    }
    let bad = |what: &str| {
        Err(ScimError::InvalidValue(format!(
            "'{label}' must be {what}, got {}",
            short(value)
        )))
    };
    match attr.kind {
        AttrType::String | AttrType::Reference | AttrType::Binary => match value {
            Value::String(_) => Ok(Some(value.clone())),
            _ => bad("a string"),
        },
        AttrType::Boolean => match as_bool(value) {
            Some(b) => Ok(Some(Value::Bool(b))),
            None => bad("a boolean"),
        },
        AttrType::Integer => match value {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Some(value.clone())),
            _ => bad("an integer"),
        },
        AttrType::Decimal => match value {
            Value::Number(_) => Ok(Some(value.clone())),
            _ => bad("a number"),
        },
        AttrType::DateTime => match value {
            Value::String(s) if OffsetDateTime::parse(s, &Rfc3339).is_ok() => {
                Ok(Some(value.clone()))
            }
            _ => bad("an RFC 3339 date-time"),
        },
        AttrType::Complex => {
            let Value::Object(obj) = value else {
                return bad("a JSON object");
            };
            let mut out = Map::new();
            for (k, v) in obj {
                let sub = attr.sub(k).ok_or_else(|| {
                    ScimError::UnknownAttribute(format!("unknown sub-attribute '{k}' of '{label}'"))
                })?;
                if let Some(v) = normalize_single(sub, v, &format!("{label}.{}", sub.name))? {
                    out.insert(sub.name.clone(), v);
                }
            }
            Ok(Some(Value::Object(out)))
        }
    }
}

/// A JSON boolean, or a string spelling one in any letter case (Entra sends "True"/"False").
pub fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn short(value: &Value) -> String {
    let mut s = value.to_string();
    if s.len() > 60 {
        let mut cut = 60;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// Whether a key is a schema URN rather than an attribute name.
pub fn is_urn(key: &str) -> bool {
    key.len() > 4 && key[..4].eq_ignore_ascii_case("urn:")
}

/// Server-kept facts about a stored resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Last change, milliseconds since the Unix epoch.
    pub last_modified_ms: i64,
    /// Sequence number of the last change; the weak ETag is `W/"<version>"`.
    pub version: u64,
}

impl Meta {
    /// The weak entity tag.
    pub fn etag(&self) -> String {
        format!("W/\"{}\"", self.version)
    }
}

/// RFC 3339 text (UTC, milliseconds) of a Unix time in milliseconds.
pub fn format_time_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// [`render`] with the default projection applied: what a plain `GET` shows, and what leaves scimd
/// anywhere else (the change feed, its snapshot) — never an attribute returned `never`, nor one
/// returned only on `request`.
pub fn render_shown(
    reg: &Registry,
    kind: ResourceKind,
    id: &str,
    doc: Document,
    meta: &Meta,
    base_url: &str,
) -> Map<String, Value> {
    let mut body = render(reg, kind, id, doc, meta, base_url);
    if let Ok(p) = Projection::parse(reg, kind, None, None) {
        p.apply(reg, kind, &mut body);
    }
    body
}

/// The resource a client reads: `schemas`, `id`, the document, `meta`. Memberships are added by the caller.
pub fn render(
    reg: &Registry,
    kind: ResourceKind,
    id: &str,
    doc: Document,
    meta: &Meta,
    base_url: &str,
) -> Map<String, Value> {
    let mut out = Map::new();
    let mut schemas = vec![Value::String(reg.resource_type(kind).schema.clone())];
    for (urn, _) in &reg.resource_type(kind).extensions {
        if doc.contains_key(urn) {
            schemas.push(Value::String(urn.clone()));
        }
    }
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(id.to_owned()));
    out.extend(doc);
    let mut m = Map::new();
    m.insert("resourceType".into(), kind.as_str().into());
    m.insert("created".into(), format_time_ms(meta.created_ms).into());
    m.insert(
        "lastModified".into(),
        format_time_ms(meta.last_modified_ms).into(),
    );
    m.insert(
        "location".into(),
        format!("{base_url}{}/{id}", kind.endpoint()).into(),
    );
    m.insert("version".into(), meta.etag().into());
    out.insert("meta".into(), Value::Object(m));
    out
}

/// One entry of `attributes` / `excludedAttributes`, resolved to canonical names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selected {
    container: Option<String>,
    name: String,
    sub: Option<String>,
}

/// The `attributes` / `excludedAttributes` request parameters (RFC 7644 §3.4.2.5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Projection {
    include: Vec<Selected>,
    exclude: Vec<Selected>,
}

/// Split `[urn:]name[.sub]`: a URN is everything up to its last ':' (URNs contain dots, as in "2.0").
pub fn split_attr_path(path: &str) -> (Option<&str>, &str, Option<&str>) {
    let (urn, rest) = if is_urn(path) {
        match path.rfind(':') {
            Some(i) => (Some(&path[..i]), &path[i + 1..]),
            None => (None, path),
        }
    } else {
        (None, path)
    };
    match rest.split_once('.') {
        Some((name, sub)) => (urn, name, Some(sub)),
        None => (urn, rest, None),
    }
}

impl Projection {
    /// Parse both parameters; unknown attribute names are a 400 (the client would otherwise get silently less).
    pub fn parse(
        reg: &Registry,
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self> {
        Self::parse_with(reg, kind, attributes, excluded, false)
    }

    /// Like [`Projection::parse`], but names `kind` does not have are skipped (a search at the root
    /// spans Users and Groups, and `members` means nothing to a user).
    pub fn parse_lenient(
        reg: &Registry,
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Result<Self> {
        Self::parse_with(reg, kind, attributes, excluded, true)
    }

    fn parse_with(
        reg: &Registry,
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
        lenient: bool,
    ) -> Result<Self> {
        let list = |s: Option<&str>| -> Result<Vec<Selected>> {
            let mut out = Vec::new();
            for item in s.unwrap_or("").split(',').map(str::trim) {
                if item.is_empty() {
                    continue;
                }
                if let Some(schema) = reg.extension(kind, item) {
                    // A bare extension URN selects the whole extension object.
                    out.push(Selected {
                        container: None,
                        name: schema.id.clone(),
                        sub: None,
                    });
                    continue;
                }
                let (urn, name, sub) = split_attr_path(item);
                let Some(r) = reg.resolve(kind, urn, name, sub) else {
                    if lenient {
                        continue;
                    }
                    return Err(ScimError::InvalidValue(format!(
                        "unknown attribute '{item}' for {}",
                        kind.as_str()
                    )));
                };
                out.push(Selected {
                    container: r.container.map(str::to_owned),
                    name: r.attr.name.clone(),
                    sub: r.sub.map(|s| s.name.clone()),
                });
            }
            Ok(out)
        };
        Ok(Self {
            include: list(attributes)?,
            exclude: list(excluded)?,
        })
    }

    /// Whether the top-level attribute `name` (for example `members` or `groups`) will be in the output,
    /// so callers can skip loading what would be dropped.
    pub fn wants(&self, name: &str) -> bool {
        if !self.include.is_empty() {
            return self
                .include
                .iter()
                .any(|s| s.container.is_none() && s.name == name);
        }
        !self
            .exclude
            .iter()
            .any(|s| s.container.is_none() && s.name == name && s.sub.is_none())
    }

    /// Apply the selection and the `returned` rules to a rendered resource.
    pub fn apply(&self, reg: &Registry, kind: ResourceKind, resource: &mut Map<String, Value>) {
        let returned = |container: Option<&str>, name: &str| {
            reg.resolve(kind, container, name, None)
                .map(|r| r.attr.returned)
                .unwrap_or(Returned::Default)
        };
        if !self.include.is_empty() {
            let keys: Vec<String> = resource.keys().cloned().collect();
            for key in keys {
                if key == "schemas" || returned(None, &key) == Returned::Always {
                    continue;
                }
                if is_urn(&key) {
                    let picked: Vec<&Selected> = self
                        .include
                        .iter()
                        .filter(|s| s.container.as_deref() == Some(key.as_str()))
                        .collect();
                    let whole = self
                        .include
                        .iter()
                        .any(|s| s.container.is_none() && s.name == key);
                    if whole {
                        continue;
                    }
                    match resource.get_mut(&key).and_then(Value::as_object_mut) {
                        Some(ext) if !picked.is_empty() => {
                            ext.retain(|k, _| picked.iter().any(|s| &s.name == k));
                        }
                        _ => {
                            resource.remove(&key);
                        }
                    }
                    continue;
                }
                let picked: Vec<&Selected> = self
                    .include
                    .iter()
                    .filter(|s| s.container.is_none() && s.name == key)
                    .collect();
                if picked.is_empty() {
                    resource.remove(&key);
                } else if picked.iter().all(|s| s.sub.is_some()) {
                    let subs: Vec<&str> = picked.iter().filter_map(|s| s.sub.as_deref()).collect();
                    if let Some(v) = resource.get_mut(&key) {
                        keep_subs(v, &subs);
                    }
                }
            }
        } else {
            for s in &self.exclude {
                let target = match &s.container {
                    Some(urn) => resource.get_mut(urn).and_then(Value::as_object_mut),
                    None => Some(&mut *resource),
                };
                let Some(target) = target else { continue };
                if returned(s.container.as_deref(), &s.name) == Returned::Always {
                    continue;
                }
                match &s.sub {
                    None => {
                        target.remove(&s.name);
                    }
                    Some(sub) => {
                        if let Some(v) = target.get_mut(&s.name) {
                            drop_sub(v, sub);
                        }
                    }
                }
            }
            resource.retain(|k, v| !(is_urn(k) && v.as_object().is_some_and(Map::is_empty)));
        }
        resource.retain(|k, _| returned(None, k) != Returned::Never);
        // Inside extensions too (RFC 7643 §7): an attribute returned `never` is never sent, one
        // returned on `request` only when the request names it.
        for (urn, v) in resource.iter_mut() {
            if !is_urn(urn) {
                continue;
            }
            if let Some(ext) = v.as_object_mut() {
                ext.retain(|name, _| match returned(Some(urn), name) {
                    Returned::Never => false,
                    Returned::Request => self
                        .include
                        .iter()
                        .any(|s| s.container.as_deref() == Some(urn.as_str()) && s.name == *name),
                    _ => true,
                });
            }
        }
        resource.retain(|k, v| !(is_urn(k) && v.as_object().is_some_and(Map::is_empty)));
    }
}

fn keep_subs(v: &mut Value, subs: &[&str]) {
    match v {
        Value::Object(o) => o.retain(|k, _| subs.contains(&k.as_str())),
        Value::Array(a) => a.iter_mut().for_each(|e| keep_subs(e, subs)),
        _ => {}
    }
}

fn drop_sub(v: &mut Value, sub: &str) {
    match v {
        Value::Object(o) => {
            o.remove(sub);
        }
        Value::Array(a) => a.iter_mut().for_each(|e| drop_sub(e, sub)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::schema::ENTERPRISE_USER_SCHEMA;
    use serde_json::json;

    fn reg() -> Registry {
        Registry::core()
    }

    #[test]
    fn what_leaves_scimd_never_carries_attributes_returned_never_or_on_request() {
        const EXT: &str = "urn:example:params:scim:schemas:extension:acme:2.0:User";
        let decl: crate::scim::schema::ExtensionDecl = serde_json::from_value(json!({
            "schema": EXT, "attributes": [
                {"name": "badge"},
                {"name": "note", "returned": "request"},
                {"name": "pin", "returned": "never", "mutability": "writeOnly"}
            ]
        }))
        .unwrap();
        let reg = Registry::with_extensions(&[decl], false).unwrap();
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
            "userName": "a@b", EXT: {"badge": "7", "note": "n", "pin": "1234"}});
        let doc = parse_resource(&reg, ResourceKind::User, &body).unwrap().doc;
        let meta = Meta {
            created_ms: 0,
            last_modified_ms: 0,
            version: 1,
        };
        let shown = render_shown(&reg, ResourceKind::User, "id", doc, &meta, "https://x");
        assert_eq!(shown[EXT], json!({"badge": "7"}));
        // With only such attributes the extension disappears altogether.
        let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", EXT],
            "userName": "a@b", EXT: {"pin": "1234"}});
        let doc = parse_resource(&reg, ResourceKind::User, &body).unwrap().doc;
        let shown = render_shown(&reg, ResourceKind::User, "id", doc, &meta, "https://x");
        assert!(shown.get(EXT).is_none(), "{shown:?}");
    }

    #[test]
    fn entra_create_body_is_accepted_with_canonical_names_and_coerced_booleans() {
        let body = json!({
            "schemas":["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER_SCHEMA],
            "externalId":"alice","UserName":"alice@contoso.com","active":"True","displayName":"Alice Ng",
            "emails":[{"primary":true,"type":"work","value":"alice@contoso.com","display":"A"}],
            "meta":{"resourceType":"User"},"title":null,"password":"x",
            "name":{"formatted":"Alice Ng","familyName":"Ng","givenName":"Alice"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"701984","Department":"R&D"},
            "roles":[{"primary":"True","value":"Admin"}]
        });
        let p = parse_resource(&reg(), ResourceKind::User, &body).unwrap();
        assert_eq!(p.doc["userName"], "alice@contoso.com");
        assert_eq!(p.doc["active"], true);
        assert!(!p.doc.contains_key("title"));
        assert!(!p.doc.contains_key("meta"));
        assert!(!p.doc.contains_key("password"));
        assert_eq!(p.password.as_deref(), Some("x"));
        assert_eq!(p.doc[ENTERPRISE_USER_SCHEMA]["department"], "R&D");
        assert_eq!(p.doc["roles"][0]["primary"], true);
    }

    #[test]
    fn bad_values_are_invalid_value_errors_naming_the_attribute() {
        let r = reg();
        for (body, needle) in [
            (json!({"userName": 5}), "userName"),
            (json!({"userName": "a", "active": "yes"}), "active"),
            (
                json!({"userName": "a", "emails": [{"value": 1}]}),
                "emails.value",
            ),
            (json!({"displayName": "a"}), "userName"),
            (json!({"userName": "  "}), "userName"),
        ] {
            let e = parse_resource(&r, ResourceKind::User, &body).unwrap_err();
            assert_eq!(e.scim_type(), "invalidValue", "{body}");
            assert!(e.detail().contains(needle), "{} lacks {needle}", e.detail());
        }
        // Names the schemas do not define: the body does not conform (RFC 7644 §3.12).
        for (body, needle) in [
            (json!({"userName": "a", "bogus": 1}), "bogus"),
            (json!({"userName": "a", "urn:x:y:Z": {}}), "urn:x:y:Z"),
            (json!({"userName": "a", "name": {"nick": "A"}}), "nick"),
            (
                json!({"userName": "a", ENTERPRISE_USER_SCHEMA: {"shoeSize": 9}}),
                "shoeSize",
            ),
        ] {
            let e = parse_resource(&r, ResourceKind::User, &body).unwrap_err();
            assert_eq!(e.scim_type(), "invalidSyntax", "{body}");
            assert!(e.detail().contains(needle), "{} lacks {needle}", e.detail());
        }
        let e = parse_resource(&r, ResourceKind::User, &json!([1])).unwrap_err();
        assert_eq!(e.scim_type(), "invalidSyntax");
    }

    #[test]
    fn request_bodies_must_name_the_core_schema_of_their_endpoint() {
        let r = reg();
        let user = json!({"schemas": [crate::scim::schema::USER_SCHEMA], "userName": "a"});
        assert!(parse_request(&r, ResourceKind::User, &user).is_ok());
        let cased =
            json!({"Schemas": ["URN:ietf:params:scim:schemas:core:2.0:user"], "userName": "a"});
        assert!(parse_request(&r, ResourceKind::User, &cased).is_ok());
        for (kind, body) in [
            (ResourceKind::User, json!({"userName": "a"})),
            (
                ResourceKind::User,
                json!({"schemas": null, "userName": "a"}),
            ),
            (ResourceKind::User, json!({"schemas": [], "userName": "a"})),
            (ResourceKind::User, json!({"schemas": [1], "userName": "a"})),
            (
                ResourceKind::User,
                json!({"schemas": [ENTERPRISE_USER_SCHEMA], "userName": "a"}),
            ),
            (ResourceKind::Group, json!({"displayName": "g"})),
            (ResourceKind::Group, user.clone()),
        ] {
            let e = parse_request(&r, kind, &body).unwrap_err();
            assert_eq!(e.scim_type(), "invalidSyntax", "{body}");
            assert!(e.detail().contains("schemas"), "{}", e.detail());
        }
        // Documents built without a request (tests, the server itself) need no `schemas`.
        assert!(parse_resource(&r, ResourceKind::User, &json!({"userName": "a"})).is_ok());
    }

    #[test]
    fn group_members_are_split_out_and_legacy_schema_is_ignored() {
        let body = json!({"schemas":[crate::scim::schema::GROUP_SCHEMA, crate::scim::schema::LEGACY_MS_GROUP_SCHEMA],
            "displayName":"Sales","members":[{"value":"a"},{"value":"b","display":"B"}]});
        let p = parse_resource(&reg(), ResourceKind::Group, &body).unwrap();
        assert_eq!(
            p.members.unwrap(),
            vec![
                MemberEntry {
                    value: "a".into(),
                    display: None
                },
                MemberEntry {
                    value: "b".into(),
                    display: Some("B".into())
                }
            ]
        );
        assert!(!p.doc.contains_key("members"));
    }

    #[test]
    fn projection_keeps_always_attributes_and_drops_excluded_ones() {
        let r = reg();
        let doc = parse_resource(
            &r,
            ResourceKind::User,
            &json!({"userName":"a","name":{"givenName":"A","familyName":"B"},"emails":[{"value":"x","type":"work"}]}),
        )
        .unwrap()
        .doc;
        let meta = Meta {
            created_ms: 0,
            last_modified_ms: 0,
            version: 3,
        };
        let full = render(
            &r,
            ResourceKind::User,
            "id1",
            doc,
            &meta,
            "https://h/scim/v2",
        );
        assert_eq!(full["meta"]["version"], "W/\"3\"");
        assert_eq!(full["meta"]["location"], "https://h/scim/v2/Users/id1");

        let mut a = full.clone();
        Projection::parse(
            &r,
            ResourceKind::User,
            Some("userName,name.givenName"),
            None,
        )
        .unwrap()
        .apply(&r, ResourceKind::User, &mut a);
        assert_eq!(
            Value::Object(a),
            json!({"schemas":[crate::scim::schema::USER_SCHEMA],"id":"id1","userName":"a","name":{"givenName":"A"}})
        );

        let mut e = full.clone();
        let p = Projection::parse(&r, ResourceKind::User, None, Some("emails,meta")).unwrap();
        p.apply(&r, ResourceKind::User, &mut e);
        assert!(!e.contains_key("emails") && !e.contains_key("meta") && e.contains_key("id"));
        assert!(p.wants("groups"));
        assert!(
            !Projection::parse(&r, ResourceKind::Group, None, Some("members"))
                .unwrap()
                .wants("members")
        );
        assert!(Projection::parse(&r, ResourceKind::User, Some("nope"), None).is_err());
    }

    #[test]
    fn urn_paths_split_at_the_last_colon() {
        assert_eq!(
            split_attr_path(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            ),
            (Some(ENTERPRISE_USER_SCHEMA), "manager", Some("value"))
        );
        assert_eq!(
            split_attr_path("name.givenName"),
            (None, "name", Some("givenName"))
        );
    }
}
