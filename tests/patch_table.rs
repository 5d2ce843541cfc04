//! Table-driven proof of PATCH (RFC 7644 §3.5.2 and what Entra ID and Okta send, idp-behavior.md
//! §3.4–§5, §9): for users, every path form and op turns a starting document into exactly the expected
//! document, or fails with exactly the expected `scimType`; for groups, `split_members` turns each body
//! into the expected attribute operations and membership operations, and the attribute operations
//! apply to the group document. Every failing row is reported with its index and its input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use scimd::scim::filter::parse_filter;
use scimd::scim::patch::{apply, parse_patch, split_members, MemberOp, PATCH_OP_SCHEMA};
use scimd::scim::resource::MemberEntry;
use scimd::scim::schema::{Registry, ResourceKind, ENTERPRISE_USER_SCHEMA as ENT};

/// What a row expects: the document after the PATCH, or the error's `scimType`.
#[derive(Debug)]
enum Want {
    Doc(Value),
    Err(&'static str),
}

/// One user row: a starting document, a PatchOp body and what must come of it.
struct Row {
    name: &'static str,
    start: Value,
    body: Value,
    want: Want,
}

fn ok(name: &'static str, start: Value, body: Value, want: Value) -> Row {
    Row {
        name,
        start,
        body,
        want: Want::Doc(want),
    }
}

fn err(name: &'static str, start: Value, body: Value, scim_type: &'static str) -> Row {
    Row {
        name,
        start,
        body,
        want: Want::Err(scim_type),
    }
}

/// A PatchOp body holding `list`.
fn ops(list: Value) -> Value {
    json!({ "schemas": [PATCH_OP_SCHEMA], "Operations": list })
}

/// A PatchOp body with one operation that has a path.
fn op(name: &str, path: &str, value: Value) -> Value {
    ops(json!([{ "op": name, "path": path, "value": value }]))
}

/// A PatchOp body with one operation that has a path and no value.
fn op_novalue(name: &str, path: &str) -> Value {
    ops(json!([{ "op": name, "path": path }]))
}

/// A PatchOp body with one pathless operation.
fn pathless(name: &str, value: Value) -> Value {
    ops(json!([{ "op": name, "value": value }]))
}

/// `urn:…:enterprise:2.0:User:<attr>`.
fn ent(attr: &str) -> String {
    format!("{ENT}:{attr}")
}

/// Parse and apply `body` to `start` the way a user PATCH does.
fn run_user(reg: &Registry, start: &Value, body: &Value) -> Result<Value, String> {
    let ops = parse_patch(body).map_err(|e| format!("{} ({})", e.scim_type(), e.detail()))?;
    let mut doc = start.as_object().cloned().expect("start must be an object");
    apply(reg, ResourceKind::User, &mut doc, &ops)
        .map_err(|e| format!("{} ({})", e.scim_type(), e.detail()))?;
    Ok(Value::Object(doc))
}

fn user_rows() -> Vec<Row> {
    let a = || json!({"userName": "a"});
    let titled = || json!({"userName": "a", "title": "Old"});
    let named = || json!({"userName": "a", "name": {"givenName": "Alice", "familyName": "Ng", "formatted": "Alice Ng"}});
    let work = || json!({"type": "work", "value": "alice@contoso.com", "primary": true});
    let home = || json!({"type": "home", "value": "alice@home.example"});
    let mailed = || json!({"userName": "a", "emails": [work(), home()]});
    let entd = || json!({"userName": "a", ENT: {"employeeNumber": "701984", "department": "R&D"}});
    let managed = || json!({"userName": "a", ENT: {"manager": {"value": "m1"}}});
    let managed_num =
        || json!({"userName": "a", ENT: {"employeeNumber": "7", "manager": {"value": "m1"}}});
    let roled = || json!({"userName": "a", "roles": [{"primary": true, "value": "User"}, {"value": "Reader"}]});
    let active = |b: bool| json!({"userName": "a", "active": b});

    vec![
        // ---- op names in any letter case ----
        ok("op add", a(), op("add", "title", json!("T")), json!({"userName": "a", "title": "T"})),
        ok("op Add", a(), op("Add", "title", json!("T")), json!({"userName": "a", "title": "T"})),
        ok("op ADD", a(), op("ADD", "title", json!("T")), json!({"userName": "a", "title": "T"})),
        ok("op replace", titled(), op("replace", "title", json!("New")), json!({"userName": "a", "title": "New"})),
        ok("op Replace", titled(), op("Replace", "title", json!("New")), json!({"userName": "a", "title": "New"})),
        ok("op REPLACE", titled(), op("REPLACE", "title", json!("New")), json!({"userName": "a", "title": "New"})),
        ok("op remove", titled(), op_novalue("remove", "title"), a()),
        ok("op Remove", titled(), op_novalue("Remove", "title"), a()),
        ok("op REMOVE", titled(), op_novalue("REMOVE", "title"), a()),
        ok(
            "'Operations' and 'op' keys in another letter case",
            a(),
            json!({"schemas": [PATCH_OP_SCHEMA], "operations": [{"OP": "add", "Path": "title", "Value": "T"}]}),
            json!({"userName": "a", "title": "T"}),
        ),
        // ---- simple attributes ----
        ok("replace userName", a(), op("replace", "userName", json!("b@x")), json!({"userName": "b@x"})),
        ok("add absent displayName", a(), op("add", "displayName", json!("Al")), json!({"userName": "a", "displayName": "Al"})),
        ok("Add on a single-valued attribute replaces", titled(), op("Add", "title", json!("New")), json!({"userName": "a", "title": "New"})),
        ok("attribute path in another letter case is stored canonically", a(), op("replace", "NICKNAME", json!("Al")), json!({"userName": "a", "nickName": "Al"})),
        ok("remove an absent attribute changes nothing", a(), op_novalue("remove", "nickName"), a()),
        ok("replace of a complex attribute with null clears it", named(), op("replace", "name", Value::Null), a()),
        ok("replace with null clears", titled(), op("replace", "title", Value::Null), a()),
        ok("replace with \"\" clears a single-valued attribute (gallery R2)", titled(), op("replace", "title", json!("")), a()),
        ok("pathless replace with \"\" clears", titled(), pathless("replace", json!({"title": ""})), a()),
        ok(
            "replace URN:employeeNumber with \"\" clears it",
            json!({"userName": "a", ENT: {"employeeNumber": "1", "department": "R&D"}}),
            op("replace", &ent("employeeNumber"), json!("")),
            json!({"userName": "a", ENT: {"department": "R&D"}}),
        ),
        ok("pathless replace with a null value clears", titled(), pathless("replace", json!({"title": null})), a()),
        ok("core-URN-qualified path is the top-level attribute", a(), op("replace", "urn:ietf:params:scim:schemas:core:2.0:User:displayName", json!("Al")), json!({"userName": "a", "displayName": "Al"})),
        ok("password is accepted and never stored", a(), op("replace", "password", json!("s3cret!")), a()),
        ok(
            "operations apply in order",
            a(),
            ops(json!([{"op": "add", "path": "title", "value": "A"}, {"op": "replace", "path": "title", "value": "B"}, {"op": "add", "path": "nickName", "value": "N"}, {"op": "remove", "path": "nickName"}])),
            json!({"userName": "a", "title": "B"}),
        ),
        ok("empty Operations is a no-op", mailed(), ops(json!([])), mailed()),
        // ---- active as string and JSON booleans ----
        ok("active \"False\"", active(true), op("Replace", "active", json!("False")), active(false)),
        ok("active \"True\"", active(false), op("Replace", "active", json!("True")), active(true)),
        ok("active \"false\"", active(true), op("replace", "active", json!("false")), active(false)),
        ok("active \"FALSE\"", active(true), op("replace", "active", json!("FALSE")), active(false)),
        ok("active true", active(false), op("replace", "active", json!(true)), active(true)),
        ok("active false (flag)", active(true), op("replace", "active", json!(false)), active(false)),
        ok("pathless active false (Okta OIN)", active(true), pathless("replace", json!({"active": false})), active(false)),
        ok("pathless active \"False\"", active(true), pathless("Replace", json!({"active": "False"})), active(false)),
        // ---- sub-attributes ----
        ok(
            "replace name.familyName",
            named(),
            op("Replace", "name.familyName", json!("Nguyen")),
            json!({"userName": "a", "name": {"givenName": "Alice", "familyName": "Nguyen", "formatted": "Alice Ng"}}),
        ),
        ok("add name.familyName creates the missing parent", a(), op("add", "name.familyName", json!("Ng")), json!({"userName": "a", "name": {"familyName": "Ng"}})),
        ok("replace name.givenName creates the missing parent", a(), op("replace", "name.givenName", json!("Al")), json!({"userName": "a", "name": {"givenName": "Al"}})),
        ok(
            "remove name.familyName keeps the other sub-attributes",
            named(),
            op_novalue("remove", "name.familyName"),
            json!({"userName": "a", "name": {"givenName": "Alice", "formatted": "Alice Ng"}}),
        ),
        ok(
            "sub-attribute path in another letter case",
            named(),
            op("replace", "NAME.FAMILYNAME", json!("Wu")),
            json!({"userName": "a", "name": {"givenName": "Alice", "familyName": "Wu", "formatted": "Alice Ng"}}),
        ),
        ok(
            "replace of a complex attribute leaves unnamed sub-attributes unchanged (§3.5.2.3)",
            named(),
            op("replace", "name", json!({"givenName": "Al"})),
            json!({"userName": "a", "name": {"givenName": "Al", "familyName": "Ng", "formatted": "Alice Ng"}}),
        ),
        ok(
            "core-URN-qualified sub-attribute path",
            named(),
            op("replace", "urn:ietf:params:scim:schemas:core:2.0:User:name.givenName", json!("Al")),
            json!({"userName": "a", "name": {"givenName": "Al", "familyName": "Ng", "formatted": "Alice Ng"}}),
        ),
        // ---- multi-valued attributes ----
        ok(
            "add emails appends",
            json!({"userName": "a", "emails": [work()]}),
            op("add", "emails", json!([home()])),
            mailed(),
        ),
        ok("add emails when absent creates the list", a(), op("add", "emails", json!([work()])), json!({"userName": "a", "emails": [work()]})),
        // A multi-valued attribute is an array, except that `add` with a path to it may name one
        // new value on its own (RFC 7644 §3.5.2.1).
        ok("add with a path to emails may give one lone value", json!({"userName": "a", "emails": [work()]}), op("add", "emails", home()), mailed()),
        err("replace of emails with a lone value", mailed(), op("replace", "emails", home()), "invalidValue"),
        err("pathless add of a lone phoneNumbers object", a(), pathless("add", json!({"phoneNumbers": {"value": "1"}})), "invalidValue"),
        err("pathless replace of a lone emails string", a(), pathless("replace", json!({"emails": "x"})), "invalidValue"),
        ok("add an element already present adds no duplicate", mailed(), op("add", "emails", json!([home()])), mailed()),
        ok(
            "replace emails replaces the whole list",
            mailed(),
            op("replace", "emails", json!([{"type": "other", "value": "o@x"}])),
            json!({"userName": "a", "emails": [{"type": "other", "value": "o@x"}]}),
        ),
        ok("remove emails removes the whole list", mailed(), op_novalue("remove", "emails"), a()),
        ok(
            "remove emails by value list removes only those",
            mailed(),
            op("remove", "emails", json!([{"value": "alice@home.example"}])),
            json!({"userName": "a", "emails": [work()]}),
        ),
        ok(
            "add roles whose value is a JSON string (AppRoleAssignmentsComplex)",
            a(),
            op("Add", "roles", json!([{"value": "{\"id\":\"r1\",\"value\":\"Admin\"}"}])),
            json!({"userName": "a", "roles": [{"value": "{\"id\":\"r1\",\"value\":\"Admin\"}"}]}),
        ),
        ok(
            "replace the whole roles array (AssertiveAppRoleAssignmentsComplex)",
            roled(),
            op("replace", "roles", json!([{"primary": "True", "value": "Admin"}])),
            json!({"userName": "a", "roles": [{"primary": true, "value": "Admin"}]}),
        ),
        ok(
            "remove roles by value list",
            roled(),
            op("Remove", "roles", json!([{"value": "Reader"}])),
            json!({"userName": "a", "roles": [{"primary": true, "value": "User"}]}),
        ),
        ok(
            "pathless replace of a multi-valued attribute replaces the whole list",
            mailed(),
            pathless("replace", json!({"emails": [{"type": "other", "value": "o@x"}]})),
            json!({"userName": "a", "emails": [{"type": "other", "value": "o@x"}]}),
        ),
        ok(
            "adding a value with primary true clears primary on the others (§3.5.2)",
            mailed(),
            op("add", "emails", json!([{"type": "other", "value": "o@x", "primary": true}])),
            json!({"userName": "a", "emails": [{"type": "work", "value": "alice@contoso.com", "primary": false}, home(), {"type": "other", "value": "o@x", "primary": true}]}),
        ),
        ok(
            "pathless add of a primary value clears primary on the others (§3.5.2)",
            mailed(),
            pathless("add", json!({"emails": [{"type": "other", "value": "o@x", "primary": "True"}]})),
            json!({"userName": "a", "emails": [{"type": "work", "value": "alice@contoso.com", "primary": false}, home(), {"type": "other", "value": "o@x", "primary": true}]}),
        ),
        // ---- value-filter paths ----
        ok(
            "replace emails[type eq \"work\"] replaces the matching element, keeping what the filter selected it by (RFC 7644 §3.5.2.3)",
            mailed(),
            op("replace", "emails[type eq \"work\"]", json!({"value": "new@contoso.com"})),
            json!({"userName": "a", "emails": [{"type": "work", "value": "new@contoso.com"}, home()]}),
        ),
        ok(
            "add emails[type eq \"work\"] creates the element when missing",
            json!({"userName": "a", "emails": [home()]}),
            op("add", "emails[type eq \"work\"]", json!({"value": "w@x"})),
            json!({"userName": "a", "emails": [home(), {"type": "work", "value": "w@x"}]}),
        ),
        ok(
            "Replace emails[type eq \"work\"].value updates the value (Entra legacy)",
            mailed(),
            op("Replace", "emails[type eq \"work\"].value", json!("new@contoso.com")),
            json!({"userName": "a", "emails": [{"type": "work", "value": "new@contoso.com", "primary": true}, home()]}),
        ),
        ok(
            "emails[type eq \"work\"].value upserts when there are no emails",
            a(),
            op("replace", "emails[type eq \"work\"].value", json!("w@x")),
            json!({"userName": "a", "emails": [{"type": "work", "value": "w@x"}]}),
        ),
        ok(
            "Add emails[type eq \"work\"].value upserts next to a home email",
            json!({"userName": "a", "emails": [home()]}),
            op("Add", "emails[type eq \"work\"].value", json!("w@x")),
            json!({"userName": "a", "emails": [home(), {"type": "work", "value": "w@x"}]}),
        ),
        ok(
            "filter value in another letter case matches (type is not caseExact)",
            mailed(),
            op("replace", "emails[type eq \"WORK\"].value", json!("new@contoso.com")),
            json!({"userName": "a", "emails": [{"type": "work", "value": "new@contoso.com", "primary": true}, home()]}),
        ),
        ok(
            "phoneNumbers[type eq \"mobile\"].value upserts (Entra mapping)",
            json!({"userName": "a", "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}]}),
            op("Add", "phoneNumbers[type eq \"mobile\"].value", json!("+1 555 0199")),
            json!({"userName": "a", "phoneNumbers": [{"type": "work", "value": "+1 555 0100"}, {"type": "mobile", "value": "+1 555 0199"}]}),
        ),
        ok(
            "addresses[type eq \"work\"].streetAddress upserts (Entra mapping)",
            a(),
            op("Add", "addresses[type eq \"work\"].streetAddress", json!("1 Main St")),
            json!({"userName": "a", "addresses": [{"type": "work", "streetAddress": "1 Main St"}]}),
        ),
        ok(
            "emails[type eq \"work\" and primary eq true].value selects only that element",
            json!({"userName": "a", "emails": [{"type": "work", "value": "w1@x", "primary": true}, {"type": "work", "value": "w2@x"}]}),
            op("replace", "emails[type eq \"work\" and primary eq true].value", json!("w3@x")),
            json!({"userName": "a", "emails": [{"type": "work", "value": "w3@x", "primary": true}, {"type": "work", "value": "w2@x"}]}),
        ),
        ok(
            "emails[type eq \"work\" and primary eq true].value upserts with both terms",
            a(),
            op("add", "emails[type eq \"work\" and primary eq true].value", json!("w@x")),
            json!({"userName": "a", "emails": [{"type": "work", "primary": true, "value": "w@x"}]}),
        ),
        ok(
            "remove emails[type eq \"work\"] removes only the matching element",
            mailed(),
            op_novalue("remove", "emails[type eq \"work\"]"),
            json!({"userName": "a", "emails": [home()]}),
        ),
        ok(
            "remove of the last matching element leaves the attribute unassigned",
            json!({"userName": "a", "emails": [work()]}),
            op_novalue("remove", "emails[type eq \"work\"]"),
            a(),
        ),
        ok(
            "remove emails[type eq \"work\"].value removes the sub-attribute of the match only",
            mailed(),
            op_novalue("remove", "emails[type eq \"work\"].value"),
            json!({"userName": "a", "emails": [{"type": "work", "primary": true}, home()]}),
        ),
        ok(
            "roles[primary eq \"True\"].value replaces the primary role (Entra SingleAppRoleAssignment)",
            roled(),
            op("Replace", "roles[primary eq \"True\"].value", json!("Admin")),
            json!({"userName": "a", "roles": [{"primary": true, "value": "Admin"}, {"value": "Reader"}]}),
        ),
        ok(
            "roles[primary eq \"True\"].value upserts a primary role stored as a JSON boolean",
            a(),
            op("Add", "roles[primary eq \"True\"].value", json!("Admin")),
            json!({"userName": "a", "roles": [{"primary": true, "value": "Admin"}]}),
        ),
        ok(
            "roles[primary eq \"True\"] merges an object whose primary is a string",
            roled(),
            op("replace", "roles[primary eq \"True\"]", json!({"value": "Owner", "primary": "True"})),
            json!({"userName": "a", "roles": [{"primary": true, "value": "Owner"}, {"value": "Reader"}]}),
        ),
        ok(
            "setting primary on one element by filter clears it on the others (§3.5.2)",
            mailed(),
            op("replace", "emails[type eq \"home\"].primary", json!(true)),
            json!({"userName": "a", "emails": [{"type": "work", "value": "alice@contoso.com", "primary": false}, {"type": "home", "value": "alice@home.example", "primary": true}]}),
        ),
        ok(
            "an upserted primary element clears primary on the others (§3.5.2)",
            json!({"userName": "a", "emails": [{"type": "home", "value": "h@x", "primary": true}]}),
            op("add", "emails[type eq \"work\" and primary eq true].value", json!("w@x")),
            json!({"userName": "a", "emails": [{"type": "home", "value": "h@x", "primary": false}, {"type": "work", "primary": true, "value": "w@x"}]}),
        ),
        ok(
            "filter sub-attribute name in another letter case",
            mailed(),
            op("replace", "emails[TYPE eq \"work\"].VALUE", json!("new@contoso.com")),
            json!({"userName": "a", "emails": [{"type": "work", "value": "new@contoso.com", "primary": true}, home()]}),
        ),
        // ---- the enterprise extension ----
        ok(
            "Replace URN:employeeNumber",
            entd(),
            op("Replace", &ent("employeeNumber"), json!("42")),
            json!({"userName": "a", ENT: {"employeeNumber": "42", "department": "R&D"}}),
        ),
        ok(
            "add URN:employeeNumber creates the extension object",
            a(),
            op("add", &ent("employeeNumber"), json!("42")),
            json!({"userName": "a", ENT: {"employeeNumber": "42"}}),
        ),
        ok(
            "remove URN:employeeNumber keeps the other extension attributes",
            entd(),
            op_novalue("remove", &ent("employeeNumber")),
            json!({"userName": "a", ENT: {"department": "R&D"}}),
        ),
        ok(
            "removing the last extension attribute drops the extension object",
            json!({"userName": "a", ENT: {"employeeNumber": "1"}}),
            op_novalue("remove", &ent("employeeNumber")),
            a(),
        ),
        ok(
            "URN path in another letter case",
            entd(),
            op("replace", &ent("EMPLOYEENUMBER").to_lowercase(), json!("42")),
            json!({"userName": "a", ENT: {"employeeNumber": "42", "department": "R&D"}}),
        ),
        ok(
            "manager as a bare string becomes {\"value\": …}",
            a(),
            op("add", &ent("manager"), json!("m1")),
            managed(),
        ),
        ok("manager as {\"value\": …}", a(), op("replace", &ent("manager"), json!({"value": "m1"})), managed()),
        ok("manager as [{\"value\": …}]", a(), op("Add", &ent("manager"), json!([{"value": "m1"}])), managed()),
        ok(
            "manager with $ref (2019 shape, URN path)",
            a(),
            op("Add", &ent("manager"), json!([{"$ref": "../Users/m1", "value": "m1"}])),
            json!({"userName": "a", ENT: {"manager": {"$ref": "../Users/m1", "value": "m1"}}}),
        ),
        ok(
            "a bare-string manager replaces the old one whole (no stale $ref)",
            json!({"userName": "a", ENT: {"manager": {"value": "m1", "$ref": "../Users/m1"}}}),
            op("replace", &ent("manager"), json!("m2")),
            json!({"userName": "a", ENT: {"manager": {"value": "m2"}}}),
        ),
        ok("manager with an unqualified path as a bare string", a(), op("add", "manager", json!("m1")), managed()),
        ok(
            "manager with an unqualified path (2019 Microsoft docs shape)",
            a(),
            op("Add", "manager", json!([{"$ref": "../Users/m1", "value": "m1"}])),
            json!({"userName": "a", ENT: {"manager": {"$ref": "../Users/m1", "value": "m1"}}}),
        ),
        ok("manager replaced by a bare string", managed(), op("replace", &ent("manager"), json!("m2")), json!({"userName": "a", ENT: {"manager": {"value": "m2"}}})),
        ok("URN:manager.value path", managed(), op("replace", &ent("manager.value"), json!("m2")), json!({"userName": "a", ENT: {"manager": {"value": "m2"}}})),
        ok("manager cleared by {\"value\": \"\"}", managed(), op("replace", &ent("manager"), json!({"value": ""})), a()),
        ok(
            "manager cleared by {\"value\": \"\"} keeps the other extension attributes",
            managed_num(),
            op("replace", &ent("manager"), json!({"value": ""})),
            json!({"userName": "a", ENT: {"employeeNumber": "7"}}),
        ),
        ok("manager cleared by null", managed(), op("replace", &ent("manager"), Value::Null), a()),
        ok("manager cleared by remove", managed(), op_novalue("remove", &ent("manager")), a()),
        ok(
            "bare extension URN path with an object value",
            entd(),
            op("replace", ENT, json!({"department": "Sales", "costCenter": "CC1"})),
            json!({"userName": "a", ENT: {"employeeNumber": "701984", "department": "Sales", "costCenter": "CC1"}}),
        ),
        ok(
            "bare extension URN path with add and a bare-string manager",
            a(),
            op("add", ENT, json!({"manager": "m1"})),
            managed(),
        ),
        ok("remove of a bare extension URN drops the extension", entd(), op_novalue("remove", ENT), a()),
        // Client libraries serialise the extension model with its own `schemas` list.
        ok(
            "add of a bare extension URN ignores 'schemas' in the value and merges",
            entd(),
            op("add", ENT, json!({"schemas": [ENT], "costCenter": "CC1", "manager": {"value": "m1"}})),
            json!({"userName": "a", ENT: {"employeeNumber": "701984", "department": "R&D", "costCenter": "CC1", "manager": {"value": "m1"}}}),
        ),
        ok(
            "add of a bare extension URN with 'schemas' creates the extension",
            a(),
            op("Add", ENT, json!({"Schemas": [ENT], "employeeNumber": "1"})),
            json!({"userName": "a", ENT: {"employeeNumber": "1"}}),
        ),
        ok(
            "replace of a bare extension URN ignores 'schemas', replaces what it names, keeps the rest",
            json!({"userName": "a", ENT: {"employeeNumber": "701984", "department": "R&D", "manager": {"value": "m1"}}}),
            op("replace", ENT, json!({"schemas": [ENT], "department": "Sales", "manager": {"value": "m2"}})),
            json!({"userName": "a", ENT: {"employeeNumber": "701984", "department": "Sales", "manager": {"value": "m2"}}}),
        ),
        ok(
            "pathless value with a whole extension object carrying 'schemas'",
            entd(),
            pathless("replace", json!({ENT: {"schemas": [ENT], "department": "Sales"}})),
            json!({"userName": "a", ENT: {"employeeNumber": "701984", "department": "Sales"}}),
        ),
        // ---- pathless operations ----
        ok(
            "pathless replace with plain keys",
            a(),
            pathless("replace", json!({"displayName": "Alice N", "title": "Eng"})),
            json!({"userName": "a", "displayName": "Alice N", "title": "Eng"}),
        ),
        ok(
            "pathless replace with dotted keys",
            named(),
            pathless("replace", json!({"name.givenName": "Al", "name.familyName": "Nguyen"})),
            json!({"userName": "a", "name": {"givenName": "Al", "familyName": "Nguyen", "formatted": "Alice Ng"}}),
        ),
        ok(
            "pathless add with a dotted key creates the parent",
            a(),
            pathless("add", json!({"name.givenName": "Al"})),
            json!({"userName": "a", "name": {"givenName": "Al"}}),
        ),
        ok(
            "pathless replace with a URN-qualified key",
            entd(),
            pathless("replace", json!({ent("employeeNumber"): "42"})),
            json!({"userName": "a", ENT: {"employeeNumber": "42", "department": "R&D"}}),
        ),
        ok(
            "pathless replace with a whole extension object",
            entd(),
            pathless("replace", json!({ENT: {"department": "Sales"}})),
            json!({"userName": "a", ENT: {"employeeNumber": "701984", "department": "Sales"}}),
        ),
        ok(
            "pathless add with a whole extension object creates it",
            a(),
            pathless("add", json!({ENT: {"employeeNumber": "1", "manager": {"value": "m1"}}})),
            json!({"userName": "a", ENT: {"employeeNumber": "1", "manager": {"value": "m1"}}}),
        ),
        ok(
            "pathless complex value merges into the complex attribute",
            named(),
            pathless("replace", json!({"name": {"familyName": "Nguyen"}})),
            json!({"userName": "a", "name": {"givenName": "Alice", "familyName": "Nguyen", "formatted": "Alice Ng"}}),
        ),
        ok(
            "pathless add of emails appends",
            json!({"userName": "a", "emails": [work()]}),
            pathless("add", json!({"emails": [home()]})),
            mailed(),
        ),
        ok(
            "pathless ops echoing id, meta and schemas ignore them",
            a(),
            pathless("replace", json!({"id": "0b6f6c4e-1111-4aaa-8bbb-123456789abc", "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "meta": {"resourceType": "User", "created": "2020-01-01T00:00:00Z"}, "externalId": "e-9"})),
            json!({"userName": "a", "externalId": "e-9"}),
        ),
        ok(
            "Entra flag PATCH: path op plus pathless op with dotted and URN keys",
            json!({"userName": "a", "displayName": "Alice Ng", "emails": [work()], "name": {"givenName": "Alice", "familyName": "Ng"}, ENT: {"employeeNumber": "701984"}}),
            ops(json!([
                {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
                {"op": "replace", "value": {"displayName": "Alice N", "name.givenName": "Alice", "name.familyName": "Nguyen", ent("employeeNumber"): "42"}}
            ])),
            json!({"userName": "a", "displayName": "Alice N", "emails": [{"type": "work", "value": "new@contoso.com", "primary": true}], "name": {"givenName": "Alice", "familyName": "Nguyen"}, ENT: {"employeeNumber": "42"}}),
        ),
        ok(
            "Entra legacy PATCH: one capitalised op per path",
            json!({"userName": "a", "emails": [work()], "name": {"givenName": "Alice", "familyName": "Ng"}, ENT: {"employeeNumber": "701984"}}),
            ops(json!([
                {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@contoso.com"},
                {"op": "Replace", "path": "name.familyName", "value": "Nguyen"},
                {"op": "Add", "path": "nickName", "value": "Al"},
                {"op": "Replace", "path": ent("employeeNumber"), "value": "42"}
            ])),
            json!({"userName": "a", "emails": [{"type": "work", "value": "new@contoso.com", "primary": true}], "name": {"givenName": "Alice", "familyName": "Nguyen"}, "nickName": "Al", ENT: {"employeeNumber": "42"}}),
        ),
        // ---- errors ----
        err("unknown attribute path", a(), op("replace", "bogus", json!("x")), "invalidPath"),
        err("unknown sub-attribute path", named(), op("replace", "name.bogus", json!("x")), "invalidPath"),
        err("unknown extension attribute path", a(), op("replace", &ent("bogus"), json!("x")), "invalidPath"),
        // RFC 7644 §3.12: an unknown attribute in a value is a body that does not conform to the
        // schema (invalidSyntax); only a `path` naming one is invalidPath.
        err("unknown key in a pathless value", a(), pathless("replace", json!({"bogus": "x"})), "invalidSyntax"),
        err("unknown dotted key in a pathless value", named(), pathless("replace", json!({"name.bogus": "x"})), "invalidSyntax"),
        err("unknown key in a pathless extension object", a(), pathless("add", json!({ENT: {"bogus": "x"}})), "invalidSyntax"),
        err("unknown key in a bare extension URN value", a(), op("add", ENT, json!({"schemas": [ENT], "bogus": "x"})), "invalidSyntax"),
        err("readOnly groups", a(), op("add", "groups", json!([{"value": "g1"}])), "mutability"),
        err("readOnly id", a(), op("replace", "id", json!("x")), "mutability"),
        err("readOnly meta.created", a(), op("replace", "meta.created", json!("2020-01-01T00:00:00Z")), "mutability"),
        err("readOnly manager.displayName", managed(), op("replace", &ent("manager.displayName"), json!("Boss")), "mutability"),
        err("wrong type: active \"yes\"", active(true), op("replace", "active", json!("yes")), "invalidValue"),
        err("wrong type: userName a number", a(), op("replace", "userName", json!(5)), "invalidValue"),
        err("wrong type: email value a number", mailed(), op("replace", "emails[type eq \"work\"].value", json!(5)), "invalidValue"),
        err("wrong type: a string for a complex attribute without 'value'", a(), op("replace", "name", json!("Bob")), "invalidValue"),
        err("unknown sub-attribute inside a complex value", a(), op("replace", "name", json!({"nick": "B"})), "invalidSyntax"),
        err("wrong type: pathless active \"maybe\"", active(true), pathless("replace", json!({"active": "maybe"})), "invalidValue"),
        err("remove without a path", titled(), ops(json!([{"op": "remove"}])), "noTarget"),
        err("malformed path: unclosed bracket", mailed(), op("replace", "emails[type eq \"work\"", json!("x")), "invalidPath"),
        err("malformed path: comparison without a value", mailed(), op("replace", "emails[type eq].value", json!("x")), "invalidPath"),
        err("malformed path: a comparison outside brackets", mailed(), op("replace", "emails eq \"x\"", json!("x")), "invalidPath"),
        err("malformed path: double dot", named(), op("replace", "name..givenName", json!("x")), "invalidPath"),
        err("path is not a string", a(), ops(json!([{"op": "replace", "path": 5, "value": "x"}])), "invalidPath"),
        // RFC 7644 §3.5.2.1/§3.5.2.3: add and replace need a value; an explicit null is one.
        err("add with a path and no value", a(), op_novalue("add", "title"), "invalidValue"),
        err("replace with a path and no value", titled(), op_novalue("Replace", "title"), "invalidValue"),
        err("replace of a filtered value with no value", mailed(), op_novalue("replace", "emails[type eq \"work\"].value"), "invalidValue"),
        err("add with no path and no value", a(), ops(json!([{"op": "add"}])), "invalidValue"),
        err("unknown op", a(), op("move", "title", json!("x")), "invalidSyntax"),
        err("missing op", a(), ops(json!([{"path": "title", "value": "x"}])), "invalidSyntax"),
        err("Operations is not an array", a(), json!({"schemas": [PATCH_OP_SCHEMA], "Operations": {"op": "add"}}), "invalidSyntax"),
        err("no Operations", a(), json!({"schemas": [PATCH_OP_SCHEMA]}), "invalidSyntax"),
        err(
            "add with a non-eq filter that matches nothing",
            json!({"userName": "a", "emails": [home()]}),
            op("add", "emails[type co \"wor\"].value", json!("w@x")),
            "noTarget",
        ),
        err(
            "replace with an 'or' filter that matches nothing",
            json!({"userName": "a", "emails": [home()]}),
            op("replace", "emails[type eq \"work\" or type eq \"other\"].value", json!("w@x")),
            "noTarget",
        ),
    ]
}

#[test]
fn user_patch_table() {
    let reg = Registry::core();
    let rows = user_rows();
    let mut failures = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let got = run_user(&reg, &row.start, &row.body);
        let pass = match (&row.want, &got) {
            (Want::Doc(want), Ok(doc)) => doc == want,
            (Want::Err(t), Err(e)) => e.split(' ').next() == Some(*t),
            _ => false,
        };
        if !pass {
            failures.push(format!(
                "user row {i} ({}):\n  start:    {}\n  body:     {}\n  expected: {}\n  actual:   {}",
                row.name,
                row.start,
                row.body,
                match &row.want {
                    Want::Doc(d) => d.to_string(),
                    Want::Err(t) => format!("error {t}"),
                },
                match &got {
                    Ok(d) => d.to_string(),
                    Err(e) => format!("error {e}"),
                }
            ));
        }
    }
    assert!(rows.len() >= 60, "only {} user rows", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} user rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

// ---- groups ----

const A: &str = "6f1c7c1e-0000-4000-8000-00000000000a";
const B: &str = "6f1c7c1e-0000-4000-8000-00000000000b";
const C: &str = "6f1c7c1e-0000-4000-8000-00000000000c";
const G: &str = "9a9a9a9a-0000-4000-8000-000000000001";

/// What a group row expects: the number of attribute operations and the membership operations, or
/// the error's `scimType`.
type GroupWant = Result<(usize, Vec<MemberOp>), &'static str>;

/// Member entries without a `display`.
fn entries(list: &[&str]) -> Vec<MemberEntry> {
    list.iter()
        .map(|v| MemberEntry {
            value: (*v).to_owned(),
            display: None,
        })
        .collect()
}

/// A member entry with the `display` its client sent.
fn shown(value: &str, display: &str) -> MemberEntry {
    MemberEntry {
        value: value.to_owned(),
        display: Some(display.to_owned()),
    }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn filter(text: &str) -> scimd::scim::filter::Filter {
    parse_filter(text).unwrap()
}

fn group_rows() -> Vec<(&'static str, Value, GroupWant)> {
    let m = |id: &str| json!({"value": id});
    vec![
        (
            "Add path members with several values",
            op(
                "Add",
                "members",
                json!([{"$ref": null, "value": A}, m(B), {"value": C, "display": "Carol"}]),
            ),
            Ok((
                0,
                vec![MemberOp::Add(
                    [entries(&[A, B]), vec![shown(C, "Carol")]].concat(),
                )],
            )),
        ),
        (
            "add path members with one member object",
            op("add", "members", m(A)),
            Ok((0, vec![MemberOp::Add(entries(&[A]))])),
        ),
        (
            "path Members in another letter case",
            op("ADD", "Members", json!([m(A)])),
            Ok((0, vec![MemberOp::Add(entries(&[A]))])),
        ),
        (
            "core-URN-qualified members path",
            op(
                "add",
                "urn:ietf:params:scim:schemas:core:2.0:Group:members",
                json!([m(A)]),
            ),
            Ok((0, vec![MemberOp::Add(entries(&[A]))])),
        ),
        (
            "legacy Remove path members value [{value}] removes only that member",
            op("Remove", "members", json!([m(A)])),
            Ok((0, vec![MemberOp::Remove(ids(&[A]))])),
        ),
        (
            "legacy Remove with several values",
            op("Remove", "members", json!([m(A), m(B)])),
            Ok((0, vec![MemberOp::Remove(ids(&[A, B]))])),
        ),
        (
            "remove path members with an empty value list removes nobody",
            op("remove", "members", json!([])),
            Ok((0, vec![MemberOp::Remove(vec![])])),
        ),
        (
            "remove path members[value eq \"id\"] (flag, Okta)",
            op_novalue("remove", &format!("members[value eq \"{A}\"]")),
            Ok((0, vec![MemberOp::Remove(ids(&[A]))])),
        ),
        (
            "remove members[value eq a or value eq b]",
            op_novalue(
                "remove",
                &format!("members[value eq \"{A}\" or value eq \"{B}\"]"),
            ),
            Ok((0, vec![MemberOp::Remove(ids(&[A, B]))])),
        ),
        (
            "remove members[display eq \"x\"] is a filtered removal",
            op_novalue("remove", "members[display eq \"x\"]"),
            Ok((0, vec![MemberOp::RemoveWhere(filter("display eq \"x\""))])),
        ),
        (
            "remove members[value eq a and type eq User] is a filtered removal",
            op_novalue(
                "remove",
                &format!("members[value eq \"{A}\" and type eq \"User\"]"),
            ),
            Ok((
                0,
                vec![MemberOp::RemoveWhere(filter(&format!(
                    "value eq \"{A}\" and type eq \"User\""
                )))],
            )),
        ),
        (
            "remove path members without a value removes all",
            op_novalue("remove", "members"),
            Ok((0, vec![MemberOp::RemoveAll])),
        ),
        (
            "remove path members with a null value removes all",
            op("remove", "members", Value::Null),
            Ok((0, vec![MemberOp::RemoveAll])),
        ),
        (
            "replace path members",
            op("replace", "members", json!([m(A), m(B)])),
            Ok((0, vec![MemberOp::Replace(entries(&[A, B]))])),
        ),
        (
            "add path members without a value",
            op_novalue("add", "members"),
            Err("invalidValue"),
        ),
        (
            "replace path members without a value",
            op_novalue("replace", "members"),
            Err("invalidValue"),
        ),
        (
            "replace path members with a lone member object",
            op("replace", "members", m(A)),
            Err("invalidValue"),
        ),
        (
            "pathless add of a lone member object",
            pathless("add", json!({"members": m(A)})),
            Err("invalidValue"),
        ),
        (
            "replace path members with an empty list",
            op("replace", "members", json!([])),
            Ok((0, vec![MemberOp::Replace(vec![])])),
        ),
        (
            "pathless replace {id, displayName} (Okta rename) is one attribute op",
            pathless("replace", json!({"id": G, "displayName": "Sales EU"})),
            Ok((1, vec![])),
        ),
        (
            "pathless replace with members",
            pathless(
                "replace",
                json!({"displayName": "Sales", "members": [m(A)]}),
            ),
            Ok((1, vec![MemberOp::Replace(entries(&[A]))])),
        ),
        (
            "pathless add with only members",
            pathless("add", json!({"members": [m(A), m(B)]})),
            Ok((0, vec![MemberOp::Add(entries(&[A, B]))])),
        ),
        (
            "pathless add with Members in another letter case",
            pathless("add", json!({"Members": [m(A)]})),
            Ok((0, vec![MemberOp::Add(entries(&[A]))])),
        ),
        (
            "pathless replace {externalId} (validator)",
            pathless("replace", json!({"externalId": "e-1"})),
            Ok((1, vec![])),
        ),
        (
            "Replace path displayName",
            op("Replace", "displayName", json!("Sales EU")),
            Ok((1, vec![])),
        ),
        (
            "Okta membership change: remove by filter then add, in order, with the rename",
            ops(json!([
                {"op": "replace", "value": {"id": G, "displayName": "Sales"}},
                {"op": "remove", "path": format!("members[value eq \"{A}\"]")},
                {"op": "add", "path": "members", "value": [{"value": B, "display": "Bob"}]}
            ])),
            Ok((
                1,
                vec![
                    MemberOp::Remove(ids(&[A])),
                    MemberOp::Add(vec![shown(B, "Bob")]),
                ],
            )),
        ),
        ("empty Operations", ops(json!([])), Ok((0, vec![]))),
        (
            "add path members[...] is invalidPath",
            op("add", &format!("members[value eq \"{A}\"]"), json!([m(A)])),
            Err("invalidPath"),
        ),
        (
            "replace path members[...] is invalidPath",
            op(
                "replace",
                &format!("members[value eq \"{A}\"]"),
                json!([m(A)]),
            ),
            Err("invalidPath"),
        ),
        (
            "members.value path is invalidPath",
            op("replace", "members.value", json!(A)),
            Err("invalidPath"),
        ),
        (
            "remove members[...].display is invalidPath",
            op_novalue("remove", &format!("members[value eq \"{A}\"].display")),
            Err("invalidPath"),
        ),
        (
            "a member without a string value is invalidValue",
            op("add", "members", json!([{"value": 5}])),
            Err("invalidValue"),
        ),
        (
            "members as a string is invalidValue",
            op("add", "members", json!(A)),
            Err("invalidValue"),
        ),
    ]
}

fn run_group(reg: &Registry, body: &Value) -> Result<(usize, Vec<MemberOp>), String> {
    let show = |e: scimd::scim::error::ScimError| format!("{} ({})", e.scim_type(), e.detail());
    let ops = parse_patch(body).map_err(show)?;
    let (attrs, members) = split_members(reg, ops).map_err(show)?;
    Ok((attrs.len(), members))
}

#[test]
fn group_split_members_table() {
    let reg = Registry::core();
    let rows = group_rows();
    let mut failures = Vec::new();
    for (i, (name, body, want)) in rows.iter().enumerate() {
        let got = run_group(&reg, body);
        let pass = match (want, &got) {
            (Ok(w), Ok(g)) => w == g,
            (Err(t), Err(e)) => e.split(' ').next() == Some(*t),
            _ => false,
        };
        if !pass {
            failures.push(format!(
                "group row {i} ({name}):\n  body:     {body}\n  expected: {want:?}\n  actual:   {got:?}"
            ));
        }
    }
    assert!(rows.len() >= 15, "only {} group rows", rows.len());
    assert!(
        failures.is_empty(),
        "{} of {} group rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn group_attribute_ops_apply_to_the_group_document() {
    let reg = Registry::core();
    let start = json!({"displayName": "Sales", "externalId": "8aa1a0c0"});
    let rows: Vec<(&str, Value, Value)> = vec![
        (
            "Replace path displayName (Entra rename)",
            op("Replace", "displayName", json!("Sales EU")),
            json!({"displayName": "Sales EU", "externalId": "8aa1a0c0"}),
        ),
        (
            "pathless replace {id, displayName} (Okta rename) ignores id",
            pathless("replace", json!({"id": G, "displayName": "Sales EU"})),
            json!({"displayName": "Sales EU", "externalId": "8aa1a0c0"}),
        ),
        (
            "pathless replace {externalId} (validator)",
            pathless("replace", json!({"externalId": "new-ext"})),
            json!({"displayName": "Sales", "externalId": "new-ext"}),
        ),
        (
            "replace path externalId",
            op("replace", "externalId", json!("new-ext")),
            json!({"displayName": "Sales", "externalId": "new-ext"}),
        ),
        (
            "rename together with member ops leaves only the rename for the document",
            ops(json!([
                {"op": "replace", "value": {"displayName": "Sales EU", "members": [{"value": A}]}},
                {"op": "remove", "path": "members", "value": [{"value": B}]}
            ])),
            json!({"displayName": "Sales EU", "externalId": "8aa1a0c0"}),
        ),
        (
            "remove externalId",
            op_novalue("remove", "externalId"),
            json!({"displayName": "Sales"}),
        ),
    ];
    let mut failures = Vec::new();
    for (i, (name, body, want)) in rows.iter().enumerate() {
        let got = (|| {
            let show =
                |e: scimd::scim::error::ScimError| format!("{} ({})", e.scim_type(), e.detail());
            let (attrs, _) = split_members(&reg, parse_patch(body).map_err(show)?).map_err(show)?;
            let mut doc = start.as_object().cloned().unwrap();
            apply(&reg, ResourceKind::Group, &mut doc, &attrs).map_err(show)?;
            Ok::<_, String>(Value::Object(doc))
        })();
        if got.as_ref() != Ok(want) {
            failures.push(format!(
                "group apply row {i} ({name}):\n  start:    {start}\n  body:     {body}\n  expected: {want}\n  actual:   {got:?}"
            ));
        }
    }
    let e = apply(
        &reg,
        ResourceKind::Group,
        &mut start.as_object().cloned().unwrap(),
        &parse_patch(&op("replace", "userName", json!("x"))).unwrap(),
    )
    .unwrap_err();
    if e.scim_type() != "invalidPath" {
        failures.push(format!(
            "a user attribute on a group: expected invalidPath, got {e:?}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
