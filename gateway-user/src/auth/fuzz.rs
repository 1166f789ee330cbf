//! Fuzz harnesses for the parsers of untrusted bytes in this module. They
//! build with `--cfg fuzzing` (cargo-fuzz sets it) and are also run on a
//! few seeds by the unit tests so they never rot. The fuzz targets reach
//! them through [`crate::fuzz`]. Each panics only when a parser panics or
//! an invariant it asserts breaks.

use super::{
    ApiKeyStore, CertNames, JwkSet, JwtConfig, JwtValidator, KeySpec, VerifyingKey, extract_single,
};

/// Issuer and audience the JWT harnesses check against.
const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "https://aud.test";
/// The harness's "now", Unix seconds.
const NOW: u64 = 1_900_000_000;

/// Parse and verify a token against a fixed one-key set.
pub fn jwt(data: &[u8]) {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let validator = JwtValidator::new(JwtConfig::new(ISSUER, AUDIENCE));
    let set = JwkSet::from_keys(
        VerifyingKey::ed25519(Some("k".into()), &[7; 32])
            .into_iter()
            .collect(),
    );
    let _ = validator.verify_with_set(token, &set, None, NOW);
}

/// Split at the first NUL into a JWT header and payload (any bytes), sign
/// them with a fixed fake key and verify: this reaches the header and
/// claims checks that an unsigned input never gets past the signature to.
/// An accepted token's claims say what the principal says.
pub fn jwt_claims(data: &[u8]) {
    let (verdict, payload) = sign_and_verify(data);
    let Ok(principal) = verdict else {
        return;
    };
    let claims: serde_json::Value =
        serde_json::from_slice(payload).expect("accepted claims are JSON");
    assert_eq!(
        claims["iss"], ISSUER,
        "accepted a token from another issuer"
    );
    assert_eq!(claims["sub"], principal.subject.as_str(), "subject differs");
    assert!(!principal.subject.is_empty(), "empty subject accepted");
    let exp = claims["exp"]
        .as_f64()
        .expect("accepted without a numeric exp");
    let leeway = JwtConfig::new(ISSUER, AUDIENCE).leeway_secs as f64;
    assert!(exp + leeway > NOW as f64, "accepted an expired token");
}

/// [`jwt_claims`]' token: the input's header and payload signed by the
/// fixed key, verified at [`NOW`]; also returns the payload.
fn sign_and_verify(data: &[u8]) -> (Result<super::Principal, super::JwtError>, &[u8]) {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use ring::signature::{Ed25519KeyPair, KeyPair};
    use std::sync::OnceLock;

    static KEYS: OnceLock<(Ed25519KeyPair, JwkSet)> = OnceLock::new();
    let (pair, set) = KEYS.get_or_init(|| {
        let pair = Ed25519KeyPair::from_seed_unchecked(&[0x42; 32]).expect("a 32-byte seed");
        let key = VerifyingKey::ed25519(Some("k".into()), pair.public_key().as_ref())
            .expect("an Ed25519 public key");
        (pair, JwkSet::from_keys(vec![key]))
    });
    let (header, payload) = match data.iter().position(|b| *b == 0) {
        Some(i) => (
            data.get(..i).unwrap_or_default(),
            data.get(i + 1..).unwrap_or_default(),
        ),
        None => (data, &b""[..]),
    };
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let signature = pair.sign(signing_input.as_bytes());
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    );
    let validator = JwtValidator::new(JwtConfig::new(ISSUER, AUDIENCE));
    (validator.verify_with_set(&token, set, None, NOW), payload)
}

/// Parse a JWKS document; a set that parses survives a round trip.
pub fn jwks(data: &[u8]) {
    if let Ok(set) = JwkSet::parse(data) {
        let again = serde_json::to_vec(&set.to_json()).expect("a Value always serializes");
        let again = JwkSet::parse(&again).expect("a parsed set round-trips");
        assert_eq!(again.keys(), set.keys(), "JWKS round trip changed the keys");
    }
}

/// Split at the first NUL into an Authorization header value and a query.
pub fn authorization(data: &[u8]) {
    let (header, query) = match data.iter().position(|b| *b == 0) {
        Some(i) => (data.get(..i), data.get(i + 1..)),
        None => (Some(data), None),
    };
    let query = query.and_then(|q| std::str::from_utf8(q).ok());
    let _ = extract_single(header, query);
}

/// Parse an API key store and verify a key against it; a store that
/// parses survives a round trip.
pub fn api_key_store(data: &[u8]) {
    if let Ok(store) = ApiKeyStore::parse(data) {
        let _ = store.verify(
            "pcl_0011223344556677_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            0,
        );
        let again = ApiKeyStore::parse(&store.to_json()).expect("a parsed store round-trips");
        assert_eq!(again, store, "store round trip changed it");
    }
}

/// Verify an arbitrary presented key against a store holding one freshly
/// generated key: nothing but that key's own text is accepted.
pub fn api_key(data: &[u8]) {
    use std::sync::OnceLock;
    static STORE: OnceLock<(ApiKeyStore, String)> = OnceLock::new();
    let (store, secret) = STORE.get_or_init(|| {
        let mut store = ApiKeyStore::new();
        let rng = ring::rand::SystemRandom::new();
        let spec = KeySpec {
            label: "fuzz".into(),
            roles: ["reader".to_owned()].into(),
            ..KeySpec::default()
        };
        let key = store.create(&rng, spec, 0).expect("creating a key");
        (store, key.printable)
    });
    let presented = String::from_utf8_lossy(data);
    if store.verify(&presented, 1).is_ok() {
        assert_eq!(
            &*presented,
            secret.as_str(),
            "a key other than the store's verified"
        );
    }
}

/// Take names from a certificate.
pub fn cert_names(data: &[u8]) {
    let _ = CertNames::from_der(data);
}

#[cfg(test)]
mod tests {
    use crate::auth::JwtError;

    /// The claims harness gets past the signature: a well-formed token is
    /// accepted and a bad claim is refused for that claim.
    #[test]
    fn signed_claims_reach_the_claims_checks() {
        let claims = r#"{"iss":"https://issuer.test","aud":"https://aud.test","sub":"fuzz-user","exp":1900000600}"#;
        let token = format!("{{\"alg\":\"EdDSA\",\"kid\":\"k\"}}\0{claims}");
        let principal = super::sign_and_verify(token.as_bytes())
            .0
            .expect("a valid signed token");
        assert_eq!(principal.subject, "fuzz-user");
        let expired = token.replace("1900000600", "1");
        assert_eq!(
            super::sign_and_verify(expired.as_bytes()).0,
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn harnesses_survive_seeds() {
        let seeds: &[&[u8]] = &[
            b"",
            b"a.b.c",
            b"eyJhbGciOiJFZERTQSJ9.e30.AAAA",
            b"{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AA\"}]}",
            b"Bearer x\0access_token=1",
            b"{\"version\":1,\"keys\":[]}",
            &[0xff, 0xfe, 0, 0x80],
        ];
        for seed in seeds {
            super::jwt(seed);
            super::jwt_claims(seed);
            super::jwks(seed);
            super::authorization(seed);
            super::api_key_store(seed);
            super::api_key(seed);
            super::cert_names(seed);
        }
    }
}
