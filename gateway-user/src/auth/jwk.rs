//! JSON Web Keys (RFC 7517) for signature verification, on `ring`.
//!
//! Only three key shapes are usable, each bound to exactly one algorithm:
//! OKP/Ed25519 ↔ EdDSA, EC/P-256 ↔ ES256, RSA (≥ 2048 bits) ↔ RS256. A key
//! is never used with another algorithm than its own, which rules out
//! algorithm confusion. Symmetric (`oct`) keys are never usable.

use std::collections::HashSet;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use serde::Deserialize;

use super::strict_json::StrictObject;

/// Largest JWKS document accepted, in bytes.
pub const MAX_JWKS_BYTES: usize = 64 * 1024;
/// Most keys accepted in one JWKS.
pub const MAX_JWKS_KEYS: usize = 32;
const MAX_KID_LEN: usize = 256;

/// The signature algorithms accepted in a JWS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// Ed25519 (RFC 8037).
    EdDSA,
    /// ECDSA P-256 with SHA-256, fixed-length signature.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048–8192-bit keys.
    RS256,
}

impl Alg {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
        }
    }

    /// Parses a JOSE `alg` name; `None` for everything not accepted.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "EdDSA" => Some(Self::EdDSA),
            "ES256" => Some(Self::ES256),
            "RS256" => Some(Self::RS256),
            _ => None,
        }
    }
}

/// A JWKS that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    /// Larger than [`MAX_JWKS_BYTES`].
    #[error("JWKS larger than {MAX_JWKS_BYTES} bytes")]
    TooLarge,
    /// Not JSON, or not a JWKS.
    #[error("JWKS is not valid: {0}")]
    Json(String),
    /// More than [`MAX_JWKS_KEYS`] keys.
    #[error("JWKS has more than {MAX_JWKS_KEYS} keys")]
    TooManyKeys,
    /// Two keys share a `kid`.
    #[error("JWKS has two keys with kid {0:?}")]
    DuplicateKid(String),
    /// A key of a supported type is malformed.
    #[error("JWKS key {kid:?} is invalid: {reason}")]
    BadKey {
        /// The key's `kid`, if it has one.
        kid: Option<String>,
        /// What is wrong.
        reason: &'static str,
    },
    /// A key carries private material: the document must never be published.
    #[error("JWKS key {0:?} contains private key material")]
    PrivateKey(Option<String>),
    /// No key in the set can verify EdDSA, ES256 or RS256 signatures.
    #[error("JWKS has no usable signature key")]
    NoUsableKeys,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Material {
    Ed25519(Vec<u8>),
    /// Uncompressed SEC1 point: 0x04 ‖ x ‖ y.
    P256(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

/// A public key that verifies signatures of exactly one algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    kid: Option<String>,
    alg: Alg,
    material: Material,
}

/// Signature did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadSignature;

impl VerifyingKey {
    /// An Ed25519 key from its 32 public bytes.
    pub fn ed25519(kid: Option<String>, public: &[u8]) -> Option<Self> {
        (public.len() == 32).then(|| Self {
            kid,
            alg: Alg::EdDSA,
            material: Material::Ed25519(public.to_vec()),
        })
    }

    /// The key id.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// Verifies `sig` over `msg` with this key's algorithm.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), BadSignature> {
        let result = match &self.material {
            Material::Ed25519(x) => UnparsedPublicKey::new(&signature::ED25519, x).verify(msg, sig),
            Material::P256(point) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).verify(msg, sig)
            }
            Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }.verify(
                &signature::RSA_PKCS1_2048_8192_SHA256,
                msg,
                sig,
            ),
        };
        result.map_err(|_| BadSignature)
    }

    /// The public JWK as JSON (for publishing a JWKS).
    pub fn to_jwk_json(&self) -> serde_json::Value {
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut jwk = match &self.material {
            Material::Ed25519(x) => {
                serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)})
            }
            Material::P256(p) => serde_json::json!({
                "kty": "EC", "crv": "P-256",
                "x": b64(p.get(1..33).unwrap_or_default()),
                "y": b64(p.get(33..65).unwrap_or_default()),
            }),
            Material::Rsa { n, e } => serde_json::json!({"kty": "RSA", "n": b64(n), "e": b64(e)}),
        };
        jwk["alg"] = self.alg.as_str().into();
        jwk["use"] = "sig".into();
        if let Some(kid) = &self.kid {
            jwk["kid"] = kid.as_str().into();
        }
        jwk
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSet {
    keys: Vec<StrictObject>,
}

#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    alg: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
    n: Option<String>,
    e: Option<String>,
    // Private members: their presence is an error.
    d: Option<serde_json::Value>,
    p: Option<serde_json::Value>,
    k: Option<serde_json::Value>,
}

/// A parsed JWKS: the keys usable for EdDSA, ES256 and RS256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JwkSet {
    keys: Vec<VerifyingKey>,
    skipped: usize,
}

/// Decodes strict unpadded base64url.
pub(super) fn b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

impl JwkSet {
    /// Builds a set from keys (e.g. the embedded issuer's).
    pub fn from_keys(keys: Vec<VerifyingKey>) -> Self {
        Self { keys, skipped: 0 }
    }

    /// Parses a JWKS document. Keys of other types or uses (encryption,
    /// other curves, other algorithms) are skipped; a malformed key of a
    /// supported type, a duplicate `kid`, or private material rejects the
    /// whole document.
    pub fn parse(bytes: &[u8]) -> Result<Self, JwksError> {
        if bytes.len() > MAX_JWKS_BYTES {
            return Err(JwksError::TooLarge);
        }
        let raw: RawSet =
            serde_json::from_slice(bytes).map_err(|e| JwksError::Json(e.to_string()))?;
        if raw.keys.len() > MAX_JWKS_KEYS {
            return Err(JwksError::TooManyKeys);
        }
        let mut set = Self::default();
        let mut kids = HashSet::new();
        for object in raw.keys {
            let jwk: RawJwk = serde_json::from_value(serde_json::Value::Object(object.0))
                .map_err(|e| JwksError::Json(e.to_string()))?;
            if jwk.d.is_some() || jwk.p.is_some() || jwk.k.is_some() {
                return Err(JwksError::PrivateKey(jwk.kid));
            }
            if let Some(kid) = &jwk.kid {
                if kid.is_empty() || kid.len() > MAX_KID_LEN {
                    return Err(bad(&jwk.kid, "kid is empty or too long"));
                }
                if !kids.insert(kid.clone()) {
                    return Err(JwksError::DuplicateKid(kid.clone()));
                }
            }
            match convert(jwk)? {
                Some(key) => set.keys.push(key),
                None => set.skipped += 1,
            }
        }
        if set.keys.is_empty() {
            return Err(JwksError::NoUsableKeys);
        }
        Ok(set)
    }

    /// The usable keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// How many keys were skipped as not for EdDSA/ES256/RS256 signatures.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// The key with this `kid`.
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }

    /// The key for a token without `kid`: only when the set holds exactly
    /// one key, so the choice is never ambiguous.
    pub fn only_key(&self) -> Option<&VerifyingKey> {
        match self.keys.as_slice() {
            [key] => Some(key),
            _ => None,
        }
    }

    /// The set as a JWKS document.
    pub fn to_json(&self) -> serde_json::Value {
        let keys: Vec<_> = self.keys.iter().map(VerifyingKey::to_jwk_json).collect();
        serde_json::json!({ "keys": keys })
    }
}

fn bad(kid: &Option<String>, reason: &'static str) -> JwksError {
    JwksError::BadKey {
        kid: kid.clone(),
        reason,
    }
}

fn field(jwk: &RawJwk, value: &Option<String>, name: &'static str) -> Result<Vec<u8>, JwksError> {
    let value = value.as_deref().ok_or_else(|| bad(&jwk.kid, name))?;
    b64url(value).ok_or_else(|| bad(&jwk.kid, "a member is not strict base64url"))
}

/// `Ok(None)`: not a signature key we use. `Err`: a key we would use, broken.
fn convert(jwk: RawJwk) -> Result<Option<VerifyingKey>, JwksError> {
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Ok(None);
    }
    if let Some(ops) = &jwk.key_ops
        && !ops.iter().any(|op| op == "verify")
    {
        return Ok(None);
    }
    let alg = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
        ("OKP", Some("Ed25519")) => Alg::EdDSA,
        ("EC", Some("P-256")) => Alg::ES256,
        ("RSA", _) => Alg::RS256,
        _ => return Ok(None),
    };
    if let Some(declared) = &jwk.alg
        && declared != alg.as_str()
    {
        // e.g. an RSA key for PS256 or RS384: not ours to use.
        return Ok(None);
    }
    let material = match alg {
        Alg::EdDSA => {
            let x = field(&jwk, &jwk.x, "missing x")?;
            if x.len() != 32 {
                return Err(bad(&jwk.kid, "Ed25519 x must be 32 bytes"));
            }
            Material::Ed25519(x)
        }
        Alg::ES256 => {
            let (x, y) = (
                field(&jwk, &jwk.x, "missing x")?,
                field(&jwk, &jwk.y, "missing y")?,
            );
            if x.len() != 32 || y.len() != 32 {
                return Err(bad(&jwk.kid, "P-256 x and y must be 32 bytes each"));
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            Material::P256(point)
        }
        Alg::RS256 => {
            let (n, e) = (
                field(&jwk, &jwk.n, "missing n")?,
                field(&jwk, &jwk.e, "missing e")?,
            );
            let significant = n.iter().skip_while(|b| **b == 0).count();
            if !(256..=1024).contains(&significant) {
                return Err(bad(&jwk.kid, "RSA modulus must be 2048 to 8192 bits"));
            }
            if e.is_empty() || e.len() > 8 {
                return Err(bad(&jwk.kid, "RSA exponent has a bad length"));
            }
            Material::Rsa { n, e }
        }
    };
    Ok(Some(VerifyingKey {
        kid: jwk.kid,
        alg,
        material,
    }))
}
