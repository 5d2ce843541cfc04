//! PATCH (RFC 7644 §3.5.2): parsing a PatchOp body and applying its operations to a stored document.
//!
//! Accepts every shape the identity providers send (idp-behavior.md §3.4–§5, §9): op names in any
//! letter case; operations with and without `path`; pathless values with dotted and URN-qualified keys;
//! value-filter paths that create the element when it is missing (`emails[type eq "work"].value`);
//! string booleans; a bare string for a complex attribute (`manager: "<id>"`), cleared by `{"value":""}`.
//! Group `members` operations are split out ([`MemberOp`]) because memberships live in their own trees.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::error::{Result, ScimError};
use super::filter::{self, AttrPath, CompareOp, Filter, PatchPath};
use super::resource::{self, is_urn, Document, MemberEntry};
use super::schema::{AttrType, Attribute, Mutability, Registry, Resolved, ResourceKind};

/// URN of the PatchOp message.
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// Most operations accepted in one PATCH request.
pub const MAX_OPERATIONS: usize = 1000;

/// The operation kind, matched case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    /// `add`
    Add,
    /// `replace`
    Replace,
    /// `remove`
    Remove,
}

/// One operation of a PATCH request.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOperation {
    /// What to do.
    pub op: OpKind,
    /// Where; `None` means the resource itself.
    pub path: Option<PatchPath>,
    /// The value (`Null` when absent).
    pub value: Value,
}

/// An operation on a group's membership.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberOp {
    /// Add these members (already-members keep their entry unless a new `display` was sent).
    Add(Vec<MemberEntry>),
    /// Remove these member ids (non-members are ignored).
    Remove(Vec<String>),
    /// Make the membership exactly these members, as sent.
    Replace(Vec<MemberEntry>),
    /// Remove every member.
    RemoveAll,
    /// Remove the members matching a filter over `{value, type}`.
    RemoveWhere(Filter),
}

fn get_ci<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Parse a PatchOp body. An empty `Operations` list is a valid no-op.
pub fn parse_patch(body: &Value) -> Result<Vec<PatchOperation>> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax("the PATCH body must be a JSON object".into()))?;
    let ops = get_ci(obj, "Operations").ok_or_else(|| {
        ScimError::InvalidSyntax("the PATCH body has no 'Operations' array".into())
    })?;
    let ops = ops
        .as_array()
        .ok_or_else(|| ScimError::InvalidSyntax("'Operations' must be an array".into()))?;
    if ops.len() > MAX_OPERATIONS {
        return Err(ScimError::TooMany(format!(
            "a PATCH request may carry at most {MAX_OPERATIONS} operations"
        )));
    }
    ops.iter()
        .enumerate()
        .map(|(i, op)| parse_operation(i, op))
        .collect()
}

fn parse_operation(i: usize, op: &Value) -> Result<PatchOperation> {
    let n = i + 1;
    let obj = op
        .as_object()
        .ok_or_else(|| ScimError::InvalidSyntax(format!("operation {n} is not a JSON object")))?;
    let name = get_ci(obj, "op")
        .and_then(Value::as_str)
        .ok_or_else(|| ScimError::InvalidSyntax(format!("operation {n} has no 'op'")))?;
    let kind = match name.to_ascii_lowercase().as_str() {
        "add" => OpKind::Add,
        "replace" => OpKind::Replace,
        "remove" => OpKind::Remove,
        other => {
            return Err(ScimError::InvalidSyntax(format!(
                "operation {n}: unknown op '{other}' (expected add, replace or remove)"
            )))
        }
    };
    let path = match get_ci(obj, "path") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(
            filter::parse_patch_path(s.trim())
                .map_err(|e| ScimError::InvalidPath(format!("operation {n}: {e}")))?,
        ),
        Some(_) => {
            return Err(ScimError::InvalidPath(format!(
                "operation {n}: 'path' must be a string"
            )))
        }
    };
    let value = get_ci(obj, "value").cloned();
    // RFC 7644 §3.5.2.1 and §3.5.2.3: add and replace MUST carry a `value`. Without one the
    // operation is refused with `invalidValue`, whose §3.12 description begins "A required value
    // was missing": the operation's structure is sound (a known op, a valid path) and only the
    // value it must carry is absent, which is not the malformed message `invalidSyntax` means.
    // An explicit `"value": null` is a value (it clears the target, as Entra expects).
    if kind != OpKind::Remove && path.is_some() && value.is_none() {
        return Err(ScimError::InvalidValue(format!(
            "operation {n}: {name} with a path needs a 'value'"
        )));
    }
    let value = value.unwrap_or(Value::Null);
    if kind == OpKind::Remove && path.is_none() {
        return Err(ScimError::NoTarget(format!(
            "operation {n}: remove needs a 'path'"
        )));
    }
    if kind != OpKind::Remove && path.is_none() && !value.is_object() {
        return Err(ScimError::InvalidValue(format!(
            "operation {n}: {name} without a path needs an object 'value'"
        )));
    }
    Ok(PatchOperation {
        op: kind,
        path,
        value,
    })
}

fn is_members(reg: &Registry, attr: &AttrPath) -> bool {
    reg.resolve(ResourceKind::Group, attr.urn.as_deref(), &attr.name, None)
        .is_some_and(|r| r.container.is_none() && r.attr.name == "members")
}

/// `value eq "a" or value eq "b"` → the ids; anything else → `None`.
fn ids_of(f: &Filter) -> Option<Vec<String>> {
    match f {
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: Value::String(v),
        } if path.urn.is_none()
            && path.sub.is_none()
            && path.name.eq_ignore_ascii_case("value") =>
        {
            Some(vec![v.clone()])
        }
        Filter::Or(a, b) => {
            let mut v = ids_of(a)?;
            v.extend(ids_of(b)?);
            Some(v)
        }
        _ => None,
    }
}

/// Split a group PATCH into attribute operations and membership operations, keeping each in order.
pub fn split_members(
    reg: &Registry,
    ops: Vec<PatchOperation>,
) -> Result<(Vec<PatchOperation>, Vec<MemberOp>)> {
    let mut attrs = Vec::new();
    let mut members = Vec::new();
    for op in ops {
        match &op.path {
            Some(p) if is_members(reg, &p.attr) => {
                if p.attr.sub.is_some() || p.sub.is_some() {
                    return Err(ScimError::InvalidPath(
                        "sub-attributes of members cannot be changed; add or remove members instead"
                            .into(),
                    ));
                }
                // `add` may name one member as a lone object (see `lone_as_list`); so may a
                // remove by value, which only ever narrows.
                let lone = |v: &Value| match v {
                    Value::Object(_) => Value::Array(vec![v.clone()]),
                    other => other.clone(),
                };
                members.push(match (op.op, &p.value_filter) {
                    (OpKind::Add, None) => {
                        MemberOp::Add(resource::member_entries(&lone(&op.value))?)
                    }
                    (OpKind::Replace, None) => {
                        MemberOp::Replace(resource::member_entries(&op.value)?)
                    }
                    (OpKind::Remove, None) => {
                        let values = resource::member_values(&lone(&op.value))?;
                        // Entra's legacy form names the members in `value`; only a remove without
                        // any value means "all members" (RFC 7644 §3.5.2.2).
                        if op.value.is_null() {
                            MemberOp::RemoveAll
                        } else {
                            MemberOp::Remove(values)
                        }
                    }
                    (OpKind::Remove, Some(f)) => match ids_of(f) {
                        Some(ids) => MemberOp::Remove(ids),
                        None => {
                            f.check(&reg.types(ResourceKind::Group).element(&p.attr))
                                .map_err(|e| ScimError::InvalidFilter(e.0))?;
                            MemberOp::RemoveWhere(f.clone())
                        }
                    },
                    (_, Some(_)) => {
                        return Err(ScimError::InvalidPath(
                            "a members[...] filter is only allowed with remove".into(),
                        ))
                    }
                });
            }
            None => {
                let Value::Object(map) = &op.value else {
                    attrs.push(op);
                    continue;
                };
                let mut rest = Map::new();
                for (k, v) in map {
                    if is_members(reg, &AttrPath::new(k.clone())) {
                        let entries = resource::member_entries(v)?;
                        members.push(match op.op {
                            OpKind::Add => MemberOp::Add(entries),
                            _ => MemberOp::Replace(entries),
                        });
                    } else {
                        rest.insert(k.clone(), v.clone());
                    }
                }
                if !rest.is_empty() {
                    attrs.push(PatchOperation {
                        op: op.op,
                        path: None,
                        value: Value::Object(rest),
                    });
                }
            }
            Some(_) => attrs.push(op),
        }
    }
    Ok((attrs, members))
}

/// Take the password out of a user PATCH: every op on `password` (with a path, or as a key of a
/// pathless value) is removed; the last value set is returned so the caller can hash or drop it.
pub fn take_password(ops: &mut Vec<PatchOperation>) -> Option<String> {
    let is_password = |s: &str| {
        s.eq_ignore_ascii_case("password") || s.to_ascii_lowercase().ends_with(":user:password")
    };
    let mut last = None;
    ops.retain_mut(|op| match &op.path {
        Some(p)
            if p.value_filter.is_none()
                && p.sub.is_none()
                && p.attr.sub.is_none()
                && is_password(&p.attr.to_string()) =>
        {
            last = op.value.as_str().map(str::to_owned);
            false
        }
        Some(_) => true,
        None => {
            if let Value::Object(map) = &mut op.value {
                let keys: Vec<String> = map.keys().filter(|k| is_password(k)).cloned().collect();
                for k in keys {
                    if let Some(v) = map.remove(&k) {
                        last = v.as_str().map(str::to_owned);
                    }
                }
                !map.is_empty()
            } else {
                true
            }
        }
    });
    last
}

/// Whether a member element (`{"value": id, "type": "User"}`) matches a `members[...]` filter.
pub fn member_matches(reg: &Registry, f: &Filter, element: &Value) -> bool {
    f.matches_element(
        element,
        &AttrPath::new("members"),
        &reg.types(ResourceKind::Group),
    )
}

/// Where an operation's attribute name came from, which decides the `scimType` of an unknown one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    /// The operation's `path`: an unknown attribute there is `invalidPath`.
    ByPath,
    /// A key of a value object (a pathless value, or a whole extension object): the value is part
    /// of the resource, so an unknown key is an unknown attribute of the body, `invalidSyntax`.
    InValue,
}

/// Apply `ops` in order to `doc`. Attribute names end up canonical; values are type-checked.
pub fn apply(
    reg: &Registry,
    kind: ResourceKind,
    doc: &mut Document,
    ops: &[PatchOperation],
) -> Result<()> {
    for op in ops {
        match &op.path {
            None => apply_pathless(reg, kind, doc, op)?,
            Some(p) => apply_path(reg, kind, doc, op.op, p, &op.value, Named::ByPath)?,
        }
    }
    // Extension objects emptied by removals disappear instead of lingering as `{}`.
    doc.retain(|k, v| !(is_urn(k) && v.as_object().is_some_and(Map::is_empty)));
    Ok(())
}

fn apply_pathless(
    reg: &Registry,
    kind: ResourceKind,
    doc: &mut Document,
    op: &PatchOperation,
) -> Result<()> {
    let Value::Object(map) = &op.value else {
        return Err(ScimError::InvalidValue(
            "an operation without a path needs an object 'value'".into(),
        ));
    };
    for (key, value) in map {
        if key.eq_ignore_ascii_case("schemas") {
            continue;
        }
        if let Some(schema) = reg.extension(kind, key) {
            apply_extension(reg, kind, doc, op.op, &schema.id.clone(), value)?;
            continue;
        }
        let path = filter::parse_patch_path(key)
            .map_err(|e| ScimError::InvalidPath(format!("key '{key}': {e}")))?;
        if reg.ignore_unknown() && resolve(reg, kind, &path.attr, Named::InValue).is_err() {
            continue;
        }
        let resolved = resolve(reg, kind, &path.attr, Named::InValue)?;
        // Okta and the Microsoft validator echo `id` (and sometimes `meta`) in pathless values.
        if resolved.attr.mutability == Mutability::ReadOnly {
            continue;
        }
        apply_path(reg, kind, doc, op.op, &path, value, Named::InValue)?;
    }
    Ok(())
}

/// An operation on a whole extension object (a bare extension URN as the path, or as a key of a
/// pathless value): each of its attributes is its own operation with the same op, so `add` merges
/// into the extension and `replace` replaces the attributes it names and leaves the others
/// unchanged, as RFC 7644 §3.5.2.3 says for the sub-attributes of a complex value. Removing it (or
/// a null value) drops the object. A `schemas` key inside the value is ignored: client libraries
/// serialise the extension model with its own URN list, which says nothing about the resource.
fn apply_extension(
    reg: &Registry,
    kind: ResourceKind,
    doc: &mut Document,
    op: OpKind,
    urn: &str,
    value: &Value,
) -> Result<()> {
    if op == OpKind::Remove || value.is_null() {
        doc.remove(urn);
        return Ok(());
    }
    let Value::Object(inner) = value else {
        return Err(ScimError::InvalidValue(format!(
            "'{urn}' must be a JSON object"
        )));
    };
    for (k, v) in inner {
        if k.eq_ignore_ascii_case("schemas") {
            continue;
        }
        let path = PatchPath {
            attr: AttrPath {
                urn: Some(urn.to_owned()),
                name: k.clone(),
                sub: None,
            },
            value_filter: None,
            sub: None,
        };
        apply_path(reg, kind, doc, op, &path, v, Named::InValue)?;
    }
    Ok(())
}

fn resolve<'a>(
    reg: &'a Registry,
    kind: ResourceKind,
    p: &AttrPath,
    named: Named,
) -> Result<Resolved<'a>> {
    reg.resolve(kind, p.urn.as_deref(), &p.name, p.sub.as_deref())
        .ok_or_else(|| {
            unknown(
                named,
                format!("unknown attribute '{p}' for {}", kind.as_str()),
            )
        })
}

/// The error for an unknown attribute named by `named`.
fn unknown(named: Named, detail: String) -> ScimError {
    match named {
        Named::ByPath => ScimError::InvalidPath(detail),
        Named::InValue => ScimError::UnknownAttribute(detail),
    }
}

fn container<'a>(
    doc: &'a mut Document,
    resolved: &Resolved<'_>,
    create: bool,
) -> Option<&'a mut Map<String, Value>> {
    match resolved.container {
        None => Some(doc),
        Some(urn) => {
            if create && !doc.contains_key(urn) {
                doc.insert(urn.to_owned(), Value::Object(Map::new()));
            }
            doc.get_mut(urn).and_then(Value::as_object_mut)
        }
    }
}

fn apply_path(
    reg: &Registry,
    kind: ResourceKind,
    doc: &mut Document,
    op: OpKind,
    path: &PatchPath,
    value: &Value,
    named: Named,
) -> Result<()> {
    // A bare extension URN as the path (`urn:…:enterprise:2.0:User`) targets the whole extension
    // object; the path parser read its last segment as an attribute name.
    if path.value_filter.is_none() && path.sub.is_none() && path.attr.sub.is_none() {
        if let Some(urn) = &path.attr.urn {
            if let Some(schema) = reg.extension(kind, &format!("{urn}:{}", path.attr.name)) {
                return apply_extension(reg, kind, doc, op, &schema.id.clone(), value);
            }
        }
    }
    let resolved = match resolve(reg, kind, &path.attr, named) {
        Ok(r) => r,
        Err(_) if reg.ignore_unknown() => return Ok(()),
        Err(e) => return Err(e),
    };
    let attr = resolved.attr;
    let label = path.attr.to_string();
    if attr.mutability == Mutability::ReadOnly
        || resolved
            .sub
            .is_some_and(|s| s.mutability == Mutability::ReadOnly)
    {
        return Err(ScimError::Mutability(format!("'{label}' is read-only")));
    }
    if attr.mutability == Mutability::WriteOnly {
        // `password`: accepted, never stored in clear.
        return Ok(());
    }
    // A null value replaces with nothing: the same as remove. So does an empty string for a
    // single-valued simple attribute: Entra clears an attribute by sending "" (gallery test R2:
    // "setting \"\" then null must clear the attribute").
    let target_def = resolved.target();
    let empty_string = value.as_str() == Some("")
        && !target_def.multi_valued
        && target_def.kind != AttrType::Complex
        && path.value_filter.is_none()
        && path.sub.is_none();
    let op = if (value.is_null() || empty_string) && op != OpKind::Remove {
        if op == OpKind::Add && value.is_null() {
            return Ok(());
        }
        OpKind::Remove
    } else {
        op
    };
    let sub_name = resolved
        .sub
        .map(|s| s.name.clone())
        .or_else(|| path.sub.clone());
    let sub_def = match &sub_name {
        Some(s) => Some(attr.sub(s).ok_or_else(|| {
            unknown(named, format!("'{}' has no sub-attribute '{s}'", attr.name))
        })?),
        None => None,
    };
    let Some(target) = container(doc, &resolved, op != OpKind::Remove) else {
        return Ok(());
    };
    let before = target.get(&attr.name).cloned();
    match &path.value_filter {
        Some(f) => {
            let types = reg.types(kind);
            f.check(&types.element(&path.attr))
                .map_err(|e| ScimError::InvalidFilter(e.0))?;
            apply_filtered(target, attr, &path.attr, f, sub_def, op, value, &types)?;
        }
        None => match sub_def {
            Some(sub) => apply_sub(target, attr, sub, op, value, &label)?,
            None => apply_whole(target, attr, op, value, &label, named)?,
        },
    }
    if attr.multi_valued && attr.sub("primary").is_some() {
        if let Some(Value::Array(items)) = target.get_mut(&attr.name) {
            single_primary(before.as_ref(), items);
        }
    }
    Ok(())
}

/// RFC 7644 §3.5.2: setting `primary` true on one value sets it false on every other. The value
/// made primary by this operation wins; if none was, the first primary one does.
fn single_primary(before: Option<&Value>, items: &mut [Value]) {
    let is_primary = |e: &Value| e.get("primary") == Some(&Value::Bool(true));
    let was_primary: Vec<&Value> = match before {
        Some(Value::Array(old)) => old.iter().filter(|e| is_primary(e)).collect(),
        _ => Vec::new(),
    };
    let primaries: Vec<usize> = (0..items.len())
        .filter(|&i| is_primary(&items[i]))
        .collect();
    if primaries.len() < 2 {
        return;
    }
    let keep = primaries
        .iter()
        .rev()
        .find(|&&i| !was_primary.contains(&&items[i]))
        .or(primaries.first())
        .copied();
    for i in primaries {
        if Some(i) != keep {
            if let Some(o) = items[i].as_object_mut() {
                o.insert("primary".into(), Value::Bool(false));
            }
        }
    }
}

/// The value for a whole multi-valued attribute, with a lone value as a list of one where that is
/// allowed. RFC 7644 §3.5.2.1: an `add` whose `path` names a multi-valued attribute adds "a new
/// value" to it, and that value "MAY be a quoted value, or ... a JSON object containing the
/// sub-attributes of the complex attribute specified in the operation's path" — so there a lone
/// value is accepted. Everywhere else a multi-valued attribute must be an array, as in a POST/PUT
/// body: the keys of a pathless value or of a whole extension object are attributes of the
/// resource, and a `replace` replaces "the attribute and all values" (§3.5.2.3), that is the array.
fn lone_as_list(op: OpKind, named: Named, value: &Value) -> Cow<'_, Value> {
    let lone = !matches!(value, Value::Array(_) | Value::Null);
    if lone && op == OpKind::Add && named == Named::ByPath {
        Cow::Owned(Value::Array(vec![value.clone()]))
    } else {
        Cow::Borrowed(value)
    }
}

/// `attr` with no filter and no sub-attribute.
fn apply_whole(
    target: &mut Map<String, Value>,
    attr: &Attribute,
    op: OpKind,
    value: &Value,
    label: &str,
    named: Named,
) -> Result<()> {
    let key = attr.name.clone();
    match op {
        OpKind::Remove => {
            if attr.multi_valued && !value.is_null() {
                // Remove only the listed values (Entra's legacy form, also used for roles).
                let gone: Vec<Value> = as_items(value).into_iter().map(element_key).collect();
                if let Some(Value::Array(items)) = target.get_mut(&key) {
                    items.retain(|e| !gone.contains(&element_key(e)));
                    if items.is_empty() {
                        target.remove(&key);
                    }
                }
            } else {
                target.remove(&key);
            }
        }
        OpKind::Add | OpKind::Replace if attr.multi_valued => {
            let value = lone_as_list(op, named, value);
            let Some(Value::Array(new)) = resource::normalize_value(attr, &value, label)? else {
                return Ok(());
            };
            if op == OpKind::Replace {
                target.insert(key, Value::Array(new));
            } else {
                let entry = target
                    .entry(key)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if !entry.is_array() {
                    *entry = Value::Array(Vec::new());
                }
                if let Value::Array(items) = entry {
                    for v in new {
                        if !items.contains(&v) {
                            items.push(v);
                        }
                    }
                }
            }
        }
        OpKind::Add | OpKind::Replace if attr.kind == AttrType::Complex => {
            // A bare string for a complex attribute is its `value` (Entra's manager).
            let value_is_bare_string = value.is_string();
            if value_is_bare_string && attr.sub("value").is_none() {
                // Nothing to read the string as: a wrong type, not an unknown sub-attribute.
                return Err(ScimError::InvalidValue(format!(
                    "'{label}' must be a JSON object, got a string"
                )));
            }
            let value = match value {
                Value::String(s) => serde_json::json!({ "value": s }),
                Value::Array(a) if a.len() == 1 => a[0].clone(),
                other => other.clone(),
            };
            let Some(Value::Object(new)) = resource::normalize_single(attr, &value, label)? else {
                return Ok(());
            };
            // RFC 7644 §3.5.2.3: sub-attributes not given are left unchanged. A bare string names
            // a new referent outright, so nothing of the old one (its `$ref`) may linger.
            let whole = value_is_bare_string;
            let entry = target
                .entry(key.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if whole || !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(obj) = entry {
                for (k, v) in new {
                    obj.insert(k, v);
                }
            }
            prune_complex(target, &key);
        }
        OpKind::Add | OpKind::Replace => {
            if let Some(v) = resource::normalize_single(attr, value, label)? {
                target.insert(key, v);
            }
        }
    }
    Ok(())
}

/// Drop a single-valued complex attribute whose sub-attributes are all empty (`manager: {value: ""}`).
fn prune_complex(target: &mut Map<String, Value>, key: &str) {
    let empty = target.get(key).and_then(Value::as_object).is_some_and(|o| {
        o.values()
            .all(|v| v.is_null() || v.as_str().is_some_and(str::is_empty))
    });
    if empty {
        target.remove(key);
    }
}

/// `attr.sub` with no filter: the sub-attribute of a single complex value, or of every element.
fn apply_sub(
    target: &mut Map<String, Value>,
    attr: &Attribute,
    sub: &Attribute,
    op: OpKind,
    value: &Value,
    label: &str,
) -> Result<()> {
    let key = attr.name.clone();
    let new = if op == OpKind::Remove {
        None
    } else {
        resource::normalize_value(sub, value, label)?
    };
    if attr.multi_valued {
        let entry = target
            .entry(key.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(items) = entry {
            if items.is_empty() {
                if let Some(v) = &new {
                    let mut m = Map::new();
                    m.insert(sub.name.clone(), v.clone());
                    items.push(Value::Object(m));
                }
            }
            for e in items.iter_mut().filter_map(Value::as_object_mut) {
                set_or_remove(e, &sub.name, new.clone());
            }
            items.retain(|e| e.as_object().is_none_or(|o| !o.is_empty()));
            if items.is_empty() {
                target.remove(&key);
            }
        }
        return Ok(());
    }
    if new.is_none() && !target.contains_key(&key) {
        return Ok(());
    }
    let entry = target
        .entry(key.clone())
        .or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    if let Value::Object(obj) = entry {
        set_or_remove(obj, &sub.name, new);
    }
    prune_complex(target, &key);
    if target
        .get(&key)
        .and_then(Value::as_object)
        .is_some_and(Map::is_empty)
    {
        target.remove(&key);
    }
    Ok(())
}

fn set_or_remove(obj: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            obj.insert(key.to_owned(), v);
        }
        None => {
            obj.remove(key);
        }
    }
}

/// `attr[filter]` or `attr[filter].sub`: change the matching elements, or create one when an
/// add/replace matches nothing (the element is built from the filter's `eq` terms).
#[allow(clippy::too_many_arguments)]
fn apply_filtered(
    target: &mut Map<String, Value>,
    attr: &Attribute,
    outer: &AttrPath,
    f: &Filter,
    sub: Option<&Attribute>,
    op: OpKind,
    value: &Value,
    types: &dyn filter::AttrTypes,
) -> Result<()> {
    if !attr.multi_valued || attr.kind != AttrType::Complex {
        return Err(ScimError::InvalidPath(format!(
            "'{}' is not a multi-valued complex attribute; a [filter] cannot select from it",
            attr.name
        )));
    }
    let key = attr.name.clone();
    let label = match sub {
        Some(s) => format!("{}.{}", attr.name, s.name),
        None => attr.name.clone(),
    };
    let new = match (op, sub) {
        (OpKind::Remove, _) => None,
        (_, Some(s)) => resource::normalize_value(s, value, &label)?,
        (_, None) => resource::normalize_single(attr, value, &label)?,
    };
    let items = match target.get_mut(&key) {
        Some(Value::Array(items)) => items,
        _ => {
            if op == OpKind::Remove {
                return Ok(());
            }
            target.insert(key.clone(), Value::Array(Vec::new()));
            match target.get_mut(&key) {
                Some(Value::Array(items)) => items,
                _ => return Ok(()),
            }
        }
    };
    let hits: Vec<usize> = items
        .iter()
        .enumerate()
        .filter(|(_, e)| f.matches_element(e, outer, types))
        .map(|(i, _)| i)
        .collect();
    match (op, sub) {
        (OpKind::Remove, None) => {
            let mut i = 0;
            items.retain(|_| {
                let keep = !hits.contains(&i);
                i += 1;
                keep
            });
        }
        (OpKind::Remove, Some(s)) => {
            for &i in &hits {
                if let Some(o) = items[i].as_object_mut() {
                    o.remove(&s.name);
                }
            }
            items.retain(|e| e.as_object().is_none_or(|o| !o.is_empty()));
        }
        (_, _) if hits.is_empty() => {
            let mut element = seed_from_filter(attr, f)?;
            match (sub, new) {
                (Some(s), Some(v)) => {
                    element.insert(s.name.clone(), v);
                }
                (None, Some(Value::Object(m))) => element.extend(m),
                _ => {}
            }
            items.push(Value::Object(element));
        }
        (_, _) => {
            // RFC 7644 §3.5.2.3: matching values are replaced by `replace` (keeping the terms the
            // filter selected them by, so they still match it); `add` merges into them.
            let seed = if op == OpKind::Replace && sub.is_none() {
                Some(seed_from_filter(attr, f).unwrap_or_default())
            } else {
                None
            };
            for &i in &hits {
                if let Some(seed) = &seed {
                    items[i] = Value::Object(seed.clone());
                }
                let Some(o) = items[i].as_object_mut() else {
                    continue;
                };
                match (sub, &new) {
                    (Some(s), Some(v)) => {
                        o.insert(s.name.clone(), v.clone());
                    }
                    (None, Some(Value::Object(m))) => {
                        for (k, v) in m {
                            o.insert(k.clone(), v.clone());
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    if items.is_empty() {
        target.remove(&key);
    }
    Ok(())
}

/// The element an upsert creates: the `sub eq literal` terms of an `and`-only filter.
fn seed_from_filter(attr: &Attribute, f: &Filter) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut stack = vec![f];
    while let Some(f) = stack.pop() {
        match f {
            Filter::And(a, b) => {
                stack.push(a);
                stack.push(b);
            }
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value,
            } if path.urn.is_none() && path.sub.is_none() => {
                let sub = attr.sub(&path.name).ok_or_else(|| {
                    ScimError::InvalidPath(format!("'{}' has no sub-attribute '{}'", attr.name, path.name))
                })?;
                if let Some(v) = resource::normalize_single(sub, value, &sub.name)? {
                    out.insert(sub.name.clone(), v);
                }
            }
            _ => {
                return Err(ScimError::NoTarget(format!(
                    "no element of '{}' matches the filter, and it is not a plain 'eq' that could create one",
                    attr.name
                )))
            }
        }
    }
    Ok(out)
}

fn as_items(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// What identifies an element for removal by value: its `value` sub-attribute, else the whole element.
fn element_key(e: &Value) -> Value {
    e.as_object()
        .and_then(|o| get_ci(o, "value"))
        .cloned()
        .unwrap_or_else(|| e.clone())
}
