//! Failure detail an admin can act on: for one refused record, the request as far as the log
//! knows it (method and path, and since log format 3 the body with its secrets masked), the
//! response (status, `scimType`, detail) and
//! a plain-language hint for the common cases — 409 names the resource that holds the name, an
//! unknown extension attribute says how to declare it in `scimd.toml`, 401 says which token was
//! presented and what became of it, 429 and failed reads say what to change.

use serde::Serialize;

use crate::domain::write::{KeptBody, RequestBody};
use crate::store::{read, Result, Trees};

use super::activity::Item;

/// A resource a hint points at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Link {
    /// `User`, `Group` or `Token`.
    pub resource_type: &'static str,
    /// Its id.
    pub id: String,
    /// Its name, when known.
    pub name: Option<String>,
}

/// What the console shows for a failure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// The request: `PATCH /scim/v2/Users/{id}` (from the action and the target).
    pub request: Option<String>,
    /// The request body as the log kept it (secrets masked, capped), `None` when the request had
    /// none or it was not recorded.
    pub body: Option<KeptBody>,
    /// Whether the log recorded the body: `false` for records from before log format 3, for
    /// aggregated refusals and for writes not made over SCIM.
    pub body_recorded: bool,
    /// The status answered.
    pub status: u16,
    /// Its `scimType`.
    pub scim_type: Option<String>,
    /// The detail answered.
    pub detail: Option<String>,
    /// What to do, in words.
    pub hint: String,
    /// A resource the hint is about (the user holding a userName, the token presented).
    pub link: Option<Link>,
}

fn request_line(item: &Item) -> Option<String> {
    let id = item.resource_id.as_deref().unwrap_or("{id}");
    let prefix = crate::net::SCIM_PREFIX;
    Some(match item.action {
        "create_user" => format!("POST {prefix}/Users"),
        "replace_user" => format!("PUT {prefix}/Users/{id}"),
        "patch_user" => format!("PATCH {prefix}/Users/{id}"),
        "delete_user" => format!("DELETE {prefix}/Users/{id}"),
        "create_group" => format!("POST {prefix}/Groups"),
        "replace_group" => format!("PUT {prefix}/Groups/{id}"),
        "patch_group" => format!("PATCH {prefix}/Groups/{id}"),
        "delete_group" => format!("DELETE {prefix}/Groups/{id}"),
        "rate_limited" | "unauthorized" | "read_failed" => {
            let detail = item.detail.as_deref()?;
            detail
                .split_once("; for example ")
                .map(|(_, e)| e.to_owned())?
        }
        _ => return None,
    })
}

/// The text between the first pair of single quotes after `marker` in `s`.
fn quoted_after<'a>(s: &'a str, marker: &str) -> Option<&'a str> {
    let rest = &s[s.find(marker)? + marker.len()..];
    let start = rest.find('\'')? + 1;
    let len = rest[start..].find('\'')?;
    Some(&rest[start..start + len])
}

fn extension_hint(detail: &str) -> Option<String> {
    if let Some(urn) = quoted_after(detail, "unknown schema extension") {
        return Some(format!(
            "The identity provider sends the extension schema {urn}, which scimd does not know. \
             Declare it in scimd.toml and restart (or set unknown_attributes = \"ignore\" to drop \
             what is not declared):\n\n[[extensions]]\nschema = \"{urn}\"\nresource = \"User\"\n\
             [[extensions.attributes]]\nname = \"…\"\ntype = \"string\""
        ));
    }
    let attr = quoted_after(detail, "unknown attribute")?;
    let rest = &detail[detail.find(attr)? + attr.len()..];
    match quoted_after(rest, "in") {
        Some(urn) => Some(format!(
            "The identity provider sends the attribute {attr} of the extension {urn}, which is not \
             declared. Add it to that extension in scimd.toml and restart:\n\n[[extensions]]\n\
             schema = \"{urn}\"\n[[extensions.attributes]]\nname = \"{attr}\"\ntype = \"string\"\n\n\
             (or remove the attribute from the provider's attribute mapping)."
        )),
        None => Some(format!(
            "The identity provider sends the attribute {attr}, which the core schema does not have. \
             Remove it from the provider's attribute mapping, map it to an extension attribute \
             declared under [[extensions]] in scimd.toml, or set unknown_attributes = \"ignore\"."
        )),
    }
}

fn token_hint(t: &Trees, detail: &str, now_ms: i64) -> Result<(String, Option<Link>)> {
    // The aggregated record names the presented token as "…; token <id>)".
    let token = detail
        .find("; token ")
        .map(|i| &detail[i + "; token ".len()..])
        .and_then(|s| s.split([')', ';', ' ']).next())
        .and_then(|s| crate::domain::ids::TokenId::try_from(s).ok());
    let rec = match token {
        Some(id) => read::token(t, id)?.map(|r| (id, r)),
        None => None,
    };
    let (state, link) = match &rec {
        Some((id, r)) => {
            let state = if let Some(ms) = r.revoked_ms {
                format!(
                    "It was revoked on {}: issue a new token for {} on the Tokens page and enter it \
                     in the identity provider.",
                    crate::scim::resource::format_time_ms(ms),
                    r.name
                )
            } else if let Some(ms) = r.expires_ms.filter(|e| *e <= now_ms) {
                format!(
                    "It expired on {}: issue a new token for {} and enter it in the identity provider.",
                    crate::scim::resource::format_time_ms(ms),
                    r.name
                )
            } else {
                "It is active, so the secret part was wrong: copy the whole token again into the \
                 identity provider."
                    .to_owned()
            };
            (
                format!(
                    "The requests presented the token {id} of {}. {state}",
                    r.name
                ),
                Some(Link {
                    resource_type: "Token",
                    id: id.to_string(),
                    name: Some(r.name.to_string()),
                }),
            )
        }
        None if detail.contains("missing Authorization header") => (
            "The requests carried no Authorization header: the identity provider has no token \
             configured (Entra ID: Admin Credentials → Secret Token; Okta: API token)."
                .to_owned(),
            None,
        ),
        None => (
            "The requests presented a token this server never issued (or a malformed one): enter \
             a token from the Tokens page in the identity provider."
                .to_owned(),
            None,
        ),
    };
    Ok((state, link))
}

/// Explain a failure (`None` for a success) as of `now_ms`; `body` is what its record kept of
/// the request body.
pub fn explain(
    t: &Trees,
    item: &Item,
    body: &RequestBody,
    now_ms: i64,
) -> Result<Option<Explanation>> {
    if item.outcome != "failure" {
        return Ok(None);
    }
    let detail = item.detail.clone().unwrap_or_default();
    let mut link = None;
    let hint = match (item.status, item.scim_type.as_deref(), item.action) {
        (409, _, _) => {
            let name = item.resource_name.clone().unwrap_or_default();
            let holder = if item.action.ends_with("group") {
                read::group_by_name(t, &name)?.map(|g| ("Group", g.to_string()))
            } else {
                read::user_by_name(t, &name)?.map(|u| ("User", u.to_string()))
            };
            match holder {
                Some((kind, id)) => {
                    link = Some(Link {
                        resource_type: kind,
                        id: id.clone(),
                        name: Some(name.clone()),
                    });
                    format!(
                        "{name} is already taken by the {} {id}. If it is the same person, let the \
                         identity provider match it (Entra ID matches on userName; the existing \
                         user's externalId or objectId may differ); if it is a stale account, \
                         delete it in the provider or here, then let the provider retry.",
                        kind.to_lowercase()
                    )
                }
                None => format!(
                    "{name} was taken when this was refused, and is free now: the provider's retry \
                     should succeed."
                ),
            }
        }
        (401, _, _) => {
            let (text, l) = token_hint(t, &detail, now_ms)?;
            link = l;
            text
        }
        (429, _, _) => "The client sent more requests than rate_limit_per_token (and \
                        rate_limit_burst) allow; the requests were answered 429 with Retry-After \
                        and the provider retries them. Raise the limit in scimd.toml if this is \
                        a normal load."
            .to_owned(),
        (412, _, _) => "The provider's If-Match version is older than the resource's: another \
                        change came in between. The provider re-reads and retries."
            .to_owned(),
        (404, _, _) => "The resource does not exist (deleted, or never created here): the \
                        provider's next cycle creates it again if it is still in scope."
            .to_owned(),
        (_, Some("invalidFilter"), _) => "The provider sent a filter scimd cannot parse; the \
                                          example shows one. Check custom filters or attribute \
                                          mappings in the provider."
            .to_owned(),
        _ => match extension_hint(&detail) {
            Some(h) => h,
            None => format!(
                "The request was refused with {}{}: {detail}",
                item.status,
                item.scim_type
                    .as_deref()
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default()
            ),
        },
    };
    let (body, body_recorded) = match body {
        RequestBody::NotKept => (None, false),
        RequestBody::Nothing => (None, true),
        RequestBody::Kept(b) => (Some(b.clone()), true),
    };
    Ok(Some(Explanation {
        request: request_line(item),
        body,
        body_recorded,
        status: item.status,
        scim_type: item.scim_type.clone(),
        detail: item.detail.clone(),
        hint,
        link,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_attributes_get_the_declaration_to_add() {
        let h = extension_hint(
            "unknown attribute 'costCenterCode' in 'urn:ietf:params:scim:schemas:extension:acme:2.0:User'",
        )
        .unwrap();
        assert!(
            h.contains("schema = \"urn:ietf:params:scim:schemas:extension:acme:2.0:User\"")
                && h.contains("name = \"costCenterCode\""),
            "{h}"
        );
        let h = extension_hint("unknown attribute 'foo' for User").unwrap();
        assert!(h.contains("core schema"), "{h}");
        let h = extension_hint(
            "unknown schema extension 'urn:x:y:User' for User (declare it under [[extensions]] in the configuration)",
        )
        .unwrap();
        assert!(h.contains("schema = \"urn:x:y:User\""), "{h}");
        assert_eq!(extension_hint("something else"), None);
    }
}
