//! Signed SETs (RFC 8417 §2.1 "SET as JWT"): an ES256 key scimd generates on first use and keeps
//! in its data (PKCS#8), the compact JWS of a SET's claims (`typ: secevent+jwt`, RFC 8417 §2.3),
//! and the public half as a JWKS for receivers that verify.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{FeedError, Result};

/// The signing key of the feed.
pub struct Signer {
    key: EcdsaKeyPair,
    kid: String,
    rng: SystemRandom,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A new ES256 private key, PKCS#8 (stored by the caller).
pub fn generate() -> Result<Vec<u8>> {
    EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .map(|d| d.as_ref().to_vec())
        .map_err(|_| FeedError::Sign("cannot generate a P-256 key".into()))
}

impl Signer {
    /// Load a key made by [`generate`].
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<Self> {
        let rng = SystemRandom::new();
        let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map_err(|e| FeedError::Sign(format!("stored signing key rejected: {e}")))?;
        // The key id is the RFC 7638-style thumbprint of the public point: stable for the key.
        let kid = hex::encode(&Sha256::digest(key.public_key().as_ref())[..8]);
        Ok(Self { key, kid, rng })
    }

    /// The key id (`kid`) in every JWS header and in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The compact JWS (`header.payload.signature`) of `claims`.
    pub fn sign(&self, claims: &Value) -> Result<String> {
        let header = json!({"alg": "ES256", "typ": "secevent+jwt", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .map_err(|_| FeedError::Sign("ECDSA signing failed".into()))?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref())))
    }

    /// The public key as a JWK Set (RFC 7517).
    pub fn jwks(&self) -> Value {
        // An uncompressed P-256 point: 0x04 ++ x (32 bytes) ++ y (32 bytes).
        let point = self.key.public_key().as_ref();
        let (x, y) = point
            .get(1..)
            .unwrap_or_default()
            .split_at(point.len().saturating_sub(1) / 2);
        json!({"keys": [{
            "kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y),
        }]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};

    #[test]
    fn a_signed_set_verifies_with_the_published_key() {
        let s = Signer::from_pkcs8(&generate().unwrap()).unwrap();
        let claims = json!({"jti": "1", "events": {}});
        let jws = s.sign(&claims).unwrap();
        let parts: Vec<&str> = jws.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["typ"], "secevent+jwt");
        assert_eq!(header["kid"], s.kid());
        let body: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(body, claims);
        let jwk = &s.jwks()["keys"][0];
        let mut point = vec![4u8];
        point.extend(URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap());
        point.extend(URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap());
        let key = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point);
        let sig = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        let input = format!("{}.{}", parts[0], parts[1]);
        key.verify(input.as_bytes(), &sig).unwrap();
        assert!(key.verify(b"tampered", &sig).is_err());
    }
}
