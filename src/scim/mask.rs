//! Masking secrets out of request bodies before the log keeps them (refused writes keep their body
//! so the console can show what the identity provider sent).
//!
//! What counts as a secret: `password` in any case, any attribute whose name says `password` or
//! `secret`, and every attribute the schemas declare `mutability: writeOnly` or `returned: never`
//! (core and declared extensions, sub-attributes too). A secret is matched by the last segment of
//! a key or a PATCH `path` (after a schema URN's last `:` and a sub-attribute's `.`, without a
//! `[filter]`), at any depth: a key `password`, `urn:…:User:password`, or an operation
//! `{"path": "password", "value": …}`. Its value, whatever its type, becomes [`MASK`].
//!
//! A body that does not parse as JSON is masked as text when it mentions a secret anywhere: the
//! strings under a secret key, every `value` (the `path` naming a secret may come after it) and
//! strings outside any key are masked, and so are unquoted `password=…` / `password: …` values
//! (cruder than the JSON walk, but a broken body must not leak what a whole one would hide).

use std::collections::BTreeSet;

use serde_json::Value;

use super::schema::{Attribute, Registry};

/// What a secret value is replaced with.
pub const MASK: &str = "********";

/// The attribute names (lower case) whose values are secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets(BTreeSet<String>);

impl Secrets {
    /// The secrets of `reg`'s schemas, `password` always among them.
    pub fn of(reg: &Registry) -> Self {
        fn walk(attrs: &[Attribute], out: &mut BTreeSet<String>) {
            for a in attrs {
                use super::schema::{Mutability, Returned};
                if a.mutability == Mutability::WriteOnly || a.returned == Returned::Never {
                    out.insert(a.name.to_ascii_lowercase());
                }
                walk(&a.sub_attributes, out);
            }
        }
        let mut names = BTreeSet::from(["password".to_owned()]);
        walk(reg.common(), &mut names);
        for s in reg.schemas() {
            walk(&s.attributes, &mut names);
        }
        Self(names)
    }

    /// Whether a key or attribute path names a secret.
    pub fn names(&self, key_or_path: &str) -> bool {
        let leaf = leaf(key_or_path).to_ascii_lowercase();
        leaf.contains("password") || leaf.contains("secret") || self.0.contains(&leaf)
    }

    /// Whether `text` mentions a secret anywhere (case-insensitive, `\u` escapes decoded).
    fn mentioned_in(&self, text: &str) -> bool {
        let text = unescape_u(text).to_ascii_lowercase();
        ["password", "secret"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.0.iter().cloned())
            .any(|s| text.contains(&s))
    }
}

/// The last segment of a key or a PATCH path: `urn:…:User:name.familyName[x]` → `familyName`.
fn leaf(path: &str) -> &str {
    let path = path.split('[').next().unwrap_or(path);
    let path = path.rsplit(':').next().unwrap_or(path);
    path.rsplit('.').next().unwrap_or(path).trim()
}

/// Mask the secrets in a JSON value, in place.
pub fn mask_json(v: &mut Value, secrets: &Secrets) {
    match v {
        Value::Object(map) => {
            let secret_op = map
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("path"))
                .and_then(|(_, p)| p.as_str())
                .is_some_and(|p| secrets.names(p));
            for (k, value) in map.iter_mut() {
                if secrets.names(k) || (secret_op && k.eq_ignore_ascii_case("value")) {
                    *value = Value::String(MASK.to_owned());
                } else {
                    mask_json(value, secrets);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| mask_json(i, secrets)),
        _ => {}
    }
}

/// Mask a body that is not JSON: see the module header.
pub fn mask_text(text: &str, secrets: &Secrets) -> String {
    if !secrets.mentioned_in(text) {
        return text.to_owned();
    }
    mask_unquoted(&mask_strings(text, secrets), secrets)
}

/// String literals masked by the key they belong to: the values of a secret key (at any depth
/// below it), of every `value` (a PATCH operation's, whose `path` may come after it) and of no
/// key at all.
fn mask_strings(text: &str, secrets: &Secrets) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut depth = 0usize;
    // The depth of the secret key whose value the scan is in.
    let mut secret_at: Option<usize> = None;
    // The key the next value belongs to, lower case.
    let mut key: Option<String> = None;
    while let Some(start) = rest.find('"') {
        for c in rest[..start].chars() {
            match c {
                '{' | '[' => depth += 1,
                '}' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if secret_at.is_some_and(|d| depth < d) {
            secret_at = None;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let end = string_end(after);
        let (content, tail) = match end {
            Some(e) => (&after[..e], &after[e + 1..]),
            None => (after, ""),
        };
        let is_key = end.is_some() && tail.trim_start().starts_with(':');
        if is_key {
            let name = unescape_u(content).to_ascii_lowercase();
            if secret_at.is_none_or(|d| depth <= d) {
                secret_at = secrets.names(&name).then_some(depth);
            }
            key = Some(name);
        }
        let masked =
            !is_key && (secret_at.is_some() || key.as_deref().is_none_or(|k| k == "value"));
        out.push('"');
        out.push_str(if masked { MASK } else { content });
        if end.is_some() {
            out.push('"');
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `name=value` and `name: value` with an unquoted value (a form, a header-like line), where the
/// name is a secret: the value, up to `&`, `,`, `;`, whitespace or a bracket, is masked.
fn mask_unquoted(text: &str, secrets: &Secrets) -> String {
    let is_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':');
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(['=', ':']) {
        let (before, after) = rest.split_at(at);
        out.push_str(before);
        out.push_str(&after[..1]);
        let after = &after[1..];
        let name_start = before.trim_end().trim_end_matches('"');
        let name = &name_start[name_start.rfind(|c: char| !is_name(c)).map_or(0, |i| i + 1)..];
        let value = after.trim_start();
        let skipped = &after[..after.len() - value.len()];
        let len = value
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | ',' | ';' | '}' | ']' | '"'))
            .unwrap_or(value.len());
        if !name.is_empty() && len > 0 && !value.starts_with('"') && secrets.names(name) {
            out.push_str(skipped);
            out.push_str(MASK);
            rest = &value[len..];
        } else {
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// Where the string that `s` starts inside ends (the index of its closing quote).
fn string_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return Some(i),
            _ => escaped = false,
        }
    }
    None
}

/// `text` with its `\uXXXX` escapes decoded (others left as they are).
fn unescape_u(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("\\u") {
        out.push_str(&rest[..i]);
        let code = rest
            .get(i + 2..i + 6)
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32);
        match code {
            Some(c) => {
                out.push(c);
                rest = &rest[i + 6..];
            }
            None => {
                out.push_str("\\u");
                rest = &rest[i + 2..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// `text` cut to at most `cap` bytes on a character boundary; whether it was cut.
pub fn cap(mut text: String, cap: usize) -> (String, bool) {
    if text.len() <= cap {
        return (text, false);
    }
    let mut end = cap;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    (text, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn secrets() -> Secrets {
        Secrets::of(&Registry::core())
    }

    #[test]
    fn passwords_are_masked_at_any_depth_and_in_any_case() {
        let mut v = json!({
            "userName": "a@b",
            "PassWord": "Secr3t!",
            "urn:ietf:params:scim:schemas:core:2.0:User:password": "x1",
            "Operations": [
                {"op": "replace", "path": "password", "value": "Secr3t!"},
                {"op": "Replace", "Path": "urn:ietf:params:scim:schemas:core:2.0:User:Password", "Value": {"a": 1}},
                {"op": "replace", "value": {"password": "Secr3t!", "title": "t", "nested": [{"clientSecret": "s"}]}},
                {"op": "replace", "path": "title", "value": "kept"}
            ]
        });
        mask_json(&mut v, &secrets());
        let text = v.to_string();
        assert!(
            !text.contains("Secr3t!") && !text.contains("x1") && !text.contains("\"s\""),
            "{text}"
        );
        assert_eq!(v["Operations"][0]["value"], MASK);
        assert_eq!(v["Operations"][1]["Value"], MASK);
        assert_eq!(v["Operations"][2]["value"]["title"], "t");
        assert_eq!(v["Operations"][3]["value"], "kept");
        assert_eq!(v["userName"], "a@b");
    }

    #[test]
    fn write_only_attributes_of_declared_extensions_are_secret() {
        let decl: crate::scim::schema::ExtensionDecl = toml::from_str(
            r#"
            schema = "urn:x:acme:User"
            [[attributes]]
            name = "pin"
            type = "string"
            mutability = "writeOnly"
            returned = "never"
            "#,
        )
        .unwrap();
        let reg = Registry::with_extensions(&[decl], false).unwrap();
        let mut v = json!({"urn:x:acme:User": {"pin": "1234", "other": "o"}});
        mask_json(&mut v, &Secrets::of(&reg));
        assert_eq!(v["urn:x:acme:User"]["pin"], MASK);
        assert_eq!(v["urn:x:acme:User"]["other"], "o");
    }

    #[test]
    fn a_body_that_is_not_json_is_masked_as_text() {
        let s = secrets();
        let broken = r#"{"Operations":[{"op":"replace","path":"password","value":"Secr3t!"},]}"#;
        let m = mask_text(broken, &s);
        assert!(!m.contains("Secr3t!"), "{m}");
        assert!(m.contains(r#""path":"password""#), "{m}");
        // Escaped names and a cut-off value are caught too.
        let m = mask_text(r#"{"pass\u0077ord": "Secr3t!", "title": "Secr3t"#, &s);
        assert!(
            !m.contains("Secr3t!") && m.contains(r#""title": "Secr3t"#),
            "{m}"
        );
        let m = mask_text(
            r#"{"userName": "zoe", "password": {"a": ["Secr3t!"]}, "title": "t""#,
            &s,
        );
        assert!(
            !m.contains("Secr3t!") && m.contains(r#""title": "t""#),
            "{m}"
        );
        assert!(m.contains(r#""userName": "zoe""#), "{m}");
        // Forms and header-like lines too.
        let m = mask_text("userName=a%40b&password=hunter2&x=1\nPassword: hunter3", &s);
        assert_eq!(
            m,
            "userName=a%40b&password=********&x=1\nPassword: ********"
        );
        // Without a secret in it, the text stays as it came.
        assert_eq!(mask_text("{\"a\": \"b\",", &s), "{\"a\": \"b\",");
    }

    #[test]
    fn caps_cut_on_a_character_boundary() {
        assert_eq!(cap("abc".into(), 8), ("abc".into(), false));
        assert_eq!(cap("aé".into(), 2), ("a".into(), true));
    }
}
