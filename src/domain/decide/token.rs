//! Rules for bearer tokens: issuing always succeeds (the id and secret were made before), revoking
//! an unknown token is a 404 and revoking a revoked one changes nothing.

use crate::domain::error::Rejection;
use crate::domain::event::Event;
use crate::domain::ids::{ClientName, TokenId};
use crate::domain::scope::Scopes;

use super::{Decision, Read, Views};

pub(super) fn issue(
    id: TokenId,
    name: &ClientName,
    secret_sha256: [u8; 32],
    expires_ms: Option<i64>,
    scopes: &Scopes,
) -> Vec<Event> {
    let mut events = vec![Event::TokenIssued {
        id,
        name: name.clone(),
        secret_sha256,
    }];
    if let Some(expires_ms) = expires_ms {
        events.push(Event::TokenExpirySet { id, expires_ms });
    }
    // The default needs no event: a token without one is `scim:write`, as every token issued
    // before scopes existed is.
    if *scopes != Scopes::default() {
        events.push(Event::TokenScopesSet {
            id,
            scopes: scopes.as_slice().to_vec(),
        });
    }
    events
}

pub(super) fn revoke<V: Views>(views: &V, id: TokenId) -> Decision<V::Error> {
    match views.token(id).read()? {
        None => Err(Rejection::TokenNotFound(id.to_string()).into()),
        Some(t) if t.revoked => Ok(Vec::new()),
        Some(t) => Ok(vec![Event::TokenRevoked { id, name: t.name }]),
    }
}
