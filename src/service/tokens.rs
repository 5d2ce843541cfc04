//! Bearer tokens: issuing (the secret is shown once and only its SHA-256 is kept), authenticating a
//! request in constant time, revoking, listing, and remembering when each token was last used.
//!
//! A token reads `scimd_<token id, 32 hex>_<secret, 64 hex>`: the prefix makes leaked tokens easy to
//! recognise in logs and secret scanners, the id finds the record without a hash index.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::domain::command::Command;
use crate::domain::ids::{ClientName, TokenId};
use crate::domain::scope::Scopes;
use crate::store::codec::{Actor, TokenRecord};
use crate::store::{read, Store};

use super::error::Result;

/// Prefix of every token.
pub const TOKEN_PREFIX: &str = "scimd_";

/// Last-used times are written at most this often per token (ms); reads stay cheap under load.
const USAGE_RESOLUTION_MS: i64 = 10_000;

/// Who is calling: the token and its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token that authenticated the request.
    pub token_id: TokenId,
    /// The client name it was issued to.
    pub client: String,
    /// What the token may do.
    pub scopes: Scopes,
}

impl Caller {
    /// The actor recorded in the log.
    pub fn actor(&self) -> Actor {
        Actor {
            token_id: Some(self.token_id),
            client: self.client.clone(),
        }
    }
}

/// Why a request is not authenticated (401 but for [`AuthError::Ambiguous`]; the reason is
/// logged, not sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header")]
    Missing,
    /// Not `Bearer <token>` or not a scimd token.
    #[error("malformed bearer token")]
    Malformed,
    /// No such token, or the secret does not match.
    #[error("unknown token")]
    Unknown,
    /// The token was revoked.
    #[error("revoked token")]
    Revoked,
    /// The token is past its expiry date.
    #[error("expired token")]
    Expired,
    /// mTLS is configured and the connection carries no client certificate.
    #[error("a client certificate is required")]
    ClientCertificateRequired,
    /// More than one `Authorization` field (400, not 401): which one counts would be a guess, and
    /// a proxy and this server guessing differently is how credentials get confused.
    #[error("more than one Authorization header")]
    Ambiguous,
}

/// A freshly made token, before it is recorded.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Its id.
    pub id: TokenId,
    /// The full token text, shown once.
    pub token: String,
    /// SHA-256 of the secret half.
    pub secret_sha256: [u8; 32],
}

/// Make a token with 256 bits of secret.
pub fn generate() -> NewToken {
    let id = TokenId::random();
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let secret_hex = hex::encode(secret);
    NewToken {
        id,
        token: format!("{TOKEN_PREFIX}{}_{secret_hex}", hex::encode(id.as_bytes())),
        secret_sha256: Sha256::digest(secret_hex.as_bytes()).into(),
    }
}

/// The command that records a new token for `name`.
pub fn issue_command(
    token: &NewToken,
    name: ClientName,
    expires_ms: Option<i64>,
    scopes: Scopes,
) -> Command {
    Command::IssueToken {
        id: token.id,
        name,
        secret_sha256: token.secret_sha256,
        expires_ms,
        scopes,
    }
}

fn split(token: &str) -> Option<(TokenId, &str)> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id_hex, secret) = rest.split_once('_')?;
    let id = <[u8; 16]>::try_from(hex::decode(id_hex).ok()?.as_slice()).ok()?;
    Some((TokenId::from_bytes(id), secret))
}

/// What an unauthenticated request presented, as a metrics label: the token id of a scimd token
/// (unknown, wrong secret, revoked or expired), `malformed` for anything else, `none` without an
/// `Authorization` field. Never the secret.
pub fn presented_id(header: Option<&str>) -> String {
    let Some(header) = header else {
        return "none".into();
    };
    header
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|(_, token)| split(token.trim()))
        .map_or_else(|| "malformed".into(), |(id, _)| id.to_string())
}

/// Authenticate an `Authorization` header value.
pub fn authenticate(store: &Store, header: Option<&str>, now_ms: i64) -> Result<Caller, AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let (scheme, token) = header.trim().split_once(' ').ok_or(AuthError::Malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    let (id, secret) = split(token.trim()).ok_or(AuthError::Malformed)?;
    let rec: TokenRecord = store
        .token(id)
        .map_err(|e| {
            tracing::error!(error = %e, "token lookup failed");
            AuthError::Unknown
        })?
        .ok_or(AuthError::Unknown)?;
    let digest: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    if !bool::from(digest.ct_eq(&rec.secret_sha256)) {
        return Err(AuthError::Unknown);
    }
    if rec.revoked_ms.is_some() {
        return Err(AuthError::Revoked);
    }
    if rec.expires_ms.is_some_and(|e| now_ms >= e) {
        return Err(AuthError::Expired);
    }
    touch(store, id, now_ms);
    // A record always holds at least one scope; one that somehow held none may do nothing.
    let scopes = Scopes::new(rec.scopes).ok_or(AuthError::Unknown)?;
    Ok(Caller {
        token_id: id,
        client: rec.name.to_string(),
        scopes,
    })
}

/// Record a use of `id` (coarsely: at most once per [`USAGE_RESOLUTION_MS`]).
fn touch(store: &Store, id: TokenId, now_ms: i64) {
    if let Err(e) = store.touch_token(id, now_ms, USAGE_RESOLUTION_MS) {
        tracing::warn!(error = %e, "cannot record token use");
    }
}

/// A token as listed to the admin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenInfo {
    /// Token id.
    pub id: String,
    /// Client name.
    pub name: String,
    /// When issued (RFC 3339).
    pub created: String,
    /// When last used (RFC 3339), if ever.
    pub last_used: Option<String>,
    /// When revoked (RFC 3339), if revoked.
    pub revoked: Option<String>,
    /// When it expires (RFC 3339), if it does.
    pub expires: Option<String>,
    /// What it may do (`scim:write`, `scim:read`, `events:read`).
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Every token, oldest first.
pub fn list(store: &Store) -> Result<Vec<TokenInfo>> {
    use crate::scim::resource::format_time_ms;
    let mut tokens = read::tokens(store.trees())?;
    tokens.sort_by_key(|(_, r)| r.created_ms);
    Ok(tokens
        .into_iter()
        .map(|(id, r)| {
            let last_used = read::token_last_used(store.trees(), id)
                .ok()
                .flatten()
                .map(format_time_ms);
            TokenInfo {
                id: id.to_string(),
                name: r.name.to_string(),
                created: format_time_ms(r.created_ms),
                last_used,
                revoked: r.revoked_ms.map(format_time_ms),
                expires: r.expires_ms.map(format_time_ms),
                scopes: r.scopes.iter().map(|s| s.name().to_owned()).collect(),
            }
        })
        .collect())
}

/// Find the token named by an id or by a client name. A name must be unambiguous among active tokens.
pub fn find(store: &Store, id_or_name: &str) -> Result<Result<TokenId, String>> {
    if let Ok(id) = TokenId::try_from(id_or_name) {
        return Ok(Ok(id));
    }
    let matches: Vec<TokenId> = read::tokens(store.trees())?
        .into_iter()
        .filter(|(_, r)| r.revoked_ms.is_none() && r.name.as_str() == id_or_name)
        .map(|(id, _)| id)
        .collect();
    Ok(match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(format!(
            "no active token with id or client name '{id_or_name}'"
        )),
        _ => Err(format!(
            "{} active tokens are named '{id_or_name}'; revoke by id",
            matches.len()
        )),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_carry_prefix_id_and_256_bit_secret() {
        let t = generate();
        assert!(t.token.starts_with("scimd_"));
        let (id, secret) = split(&t.token).unwrap();
        assert_eq!(id, t.id);
        assert_eq!(secret.len(), 64);
        assert_ne!(generate().token, t.token);
        assert!(split("scimd_zz_aa").is_none());
        assert!(split("Bearer x").is_none());
        assert_eq!(
            presented_id(Some(&format!("Bearer {}", t.token))),
            t.id.to_string()
        );
        assert_eq!(
            presented_id(Some(&format!("bearer  {}x ", t.token))),
            t.id.to_string()
        );
        assert_eq!(presented_id(Some("Bearer scimd_zz_aa")), "malformed");
        assert_eq!(
            presented_id(Some(&format!("Basic {}", t.token))),
            "malformed"
        );
        assert_eq!(presented_id(None), "none");
    }
}
