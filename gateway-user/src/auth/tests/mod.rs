//! The authentication attack table and the key-management tests. Every key
//! is generated here at run time; nothing secret-looking is checked in.

mod apikey;
mod fetch;
mod issuer;
mod jwks;
mod jwt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use ring::{
    rand::SystemRandom,
    signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _, RsaKeyPair},
};
use serde_json::{Value, json};

use super::*;

/// A fixed "now" for tests (Unix seconds).
pub(super) const NOW: u64 = 1_900_000_000;
pub(super) const ISS: &str = "https://idp.example.test";
pub(super) const AUD: &str = "https://gw.example.test/mcp";

pub(super) fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A test signer of one of the three accepted kinds.
pub(super) enum Signer {
    Ed(Ed25519KeyPair),
    Ec(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

impl Signer {
    pub(super) fn ed25519() -> Self {
        let rng = SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("generate Ed25519");
        Self::Ed(Ed25519KeyPair::from_pkcs8(doc.as_ref()).expect("parse Ed25519"))
    }

    pub(super) fn es256() -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let doc = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("generate P-256");
        Self::Ec(EcdsaKeyPair::from_pkcs8(alg, doc.as_ref(), &rng).expect("parse P-256"))
    }

    /// ring cannot generate RSA keys; the system `openssl` makes a fresh
    /// throwaway one for the run.
    pub(super) fn rs256() -> Self {
        let dir = secure_file::test_dir::TestDir::new("rsa");
        let path = dir.path().join("k.der");
        let status = std::process::Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
                "-outform",
                "DER",
                "-out",
            ])
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("the RS256 tests need the `openssl` command to make a throwaway key");
        assert!(status.success(), "openssl genpkey failed");
        let der = std::fs::read(&path).expect("read generated key");
        let pair = RsaKeyPair::from_pkcs8(&der).or_else(|_| RsaKeyPair::from_der(&der));
        Self::Rsa(pair.expect("parse RSA key"))
    }

    pub(super) fn alg(&self) -> &'static str {
        match self {
            Self::Ed(_) => "EdDSA",
            Self::Ec(_) => "ES256",
            Self::Rsa(_) => "RS256",
        }
    }

    pub(super) fn sign(&self, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match self {
            Self::Ed(k) => k.sign(msg).as_ref().to_vec(),
            Self::Ec(k) => k.sign(&rng, msg).expect("ECDSA sign").as_ref().to_vec(),
            Self::Rsa(k) => {
                let mut sig = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, msg, &mut sig)
                    .expect("RSA sign");
                sig
            }
        }
    }

    /// The public JWK, as an IdP would publish it.
    pub(super) fn jwk(&self, kid: &str) -> Value {
        match self {
            Self::Ed(k) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(k.public_key()), "kid": kid, "use": "sig"})
            }
            Self::Ec(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "x": b64(&p[1..33]), "y": b64(&p[33..65]), "kid": kid, "alg": "ES256"})
            }
            Self::Rsa(k) => {
                let c = signature::RsaPublicKeyComponents::<Vec<u8>>::from(k.public());
                json!({"kty": "RSA", "n": b64(&c.n), "e": b64(&c.e), "kid": kid, "alg": "RS256"})
            }
        }
    }
}

/// Claims that pass, to be varied by each test.
pub(super) fn good_claims() -> Value {
    json!({
        "iss": ISS, "aud": AUD, "sub": "agent-7",
        "iat": NOW - 10, "nbf": NOW - 10, "exp": NOW + 300,
        "scope": "mcp:read mcp:call", "roles": ["reader"],
    })
}

/// A compact JWS over `header` and `claims`.
pub(super) fn token(signer: &Signer, header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = signer.sign(input.as_bytes());
    format!("{input}.{}", b64(sig))
}

pub(super) fn header(signer: &Signer, kid: &str) -> Value {
    json!({"alg": signer.alg(), "typ": "at+jwt", "kid": kid})
}

pub(super) fn jwks(keys: &[(&Signer, &str)]) -> Vec<u8> {
    let keys: Vec<Value> = keys.iter().map(|(s, kid)| s.jwk(kid)).collect();
    json!({ "keys": keys }).to_string().into_bytes()
}

pub(super) fn validator() -> JwtValidator {
    JwtValidator::new(JwtConfig::new(ISS, AUD))
}
