//! Push delivery of one SET to a webhook (RFC 8935): an HTTP POST whose body is the SET as a JWT
//! (`Content-Type: application/secevent+jwt`; signed with the feed's key when `events_signed` is
//! on, else an unsecured JWT, `alg: none`), with an HMAC-SHA256 signature over timestamp and body:
//!
//! `X-Scimd-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." ++ body)>`
//!
//! The receiver recomputes the HMAC with its copy of the secret, compares in constant time, and
//! rejects timestamps older than a few minutes (replays). Any 2xx is acceptance (RFC 8935 says
//! 202); anything else, or no answer within [`TIMEOUT`], is a failure to retry.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::hmac;
use serde_json::{json, Value};

use super::sign::Signer;
use super::Result;

/// How long a receiver may take to answer one delivery.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// The signature header.
pub const SIGNATURE_HEADER: &str = "X-Scimd-Signature";

/// The SET's compact JWT: signed when a key is given, else unsecured (RFC 7519 §6).
pub fn jwt(set: &Value, signer: Option<&Signer>) -> Result<String> {
    match signer {
        Some(s) => s.sign(set),
        None => Ok(format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "secevent+jwt"}).to_string()),
            URL_SAFE_NO_PAD.encode(set.to_string())
        )),
    }
}

/// The value of [`SIGNATURE_HEADER`] for `body` sent at `unix_secs`.
pub fn signature(secret: &str, unix_secs: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(unix_secs.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    format!("t={unix_secs},v1={}", hex::encode(ctx.sign().as_ref()))
}

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The receiver answered 2xx.
    Accepted,
    /// It did not (the reason, for the admin).
    Failed(String),
}

/// POST `body` to `url`.
pub fn post(
    agent: &ureq::Agent,
    url: &str,
    secret: &str,
    subscription: &str,
    body: &str,
    unix_secs: i64,
) -> Attempt {
    let sent = agent
        .post(url)
        .set("Content-Type", "application/secevent+jwt")
        .set("Accept", "application/json")
        .set(SIGNATURE_HEADER, &signature(secret, unix_secs, body))
        .set("X-Scimd-Subscription", subscription)
        .send_string(body);
    match sent {
        Ok(r) if (200..300).contains(&r.status()) => Attempt::Accepted,
        Ok(r) => Attempt::Failed(format!("HTTP {}", r.status())),
        Err(ureq::Error::Status(code, r)) => {
            // RFC 8935 §2.3: a 400 may carry {"err": …, "description": …}.
            let why = r
                .into_string()
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .and_then(|v| {
                    v["description"]
                        .as_str()
                        .or(v["err"].as_str())
                        .map(str::to_owned)
                });
            Attempt::Failed(match why {
                Some(w) => format!("HTTP {code}: {}", w.chars().take(200).collect::<String>()),
                None => format!("HTTP {code}"),
            })
        }
        Err(ureq::Error::Transport(t)) => Attempt::Failed(t.to_string()),
    }
}

/// A client for deliveries.
pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(TIMEOUT)
        .redirects(0)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Recomputed independently: HMAC-SHA256("secret", "1700000000.{}").
        let sig = signature("secret", 1_700_000_000, "{}");
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"secret");
        let want = hex::encode(hmac::sign(&key, b"1700000000.{}").as_ref());
        assert_eq!(sig, format!("t=1700000000,v1={want}"));
        let unsigned = jwt(&json!({"jti": "x"}), None).unwrap();
        assert!(unsigned.ends_with('.'));
        assert_eq!(unsigned.split('.').count(), 3);
    }
}
