//! JWKS parsing, the refresh-deciding cache, and the whole bearer step.

use serde_json::json;

use super::*;

fn parse(doc: serde_json::Value) -> Result<JwkSet, JwksError> {
    JwkSet::parse(doc.to_string().as_bytes())
}

#[test]
fn jwks_keeps_signature_keys_and_skips_the_rest() {
    let (ed, ec) = (Signer::ed25519(), Signer::es256());
    let set = parse(json!({"keys": [
        ed.jwk("ed"),
        ec.jwk("ec"),
        {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
        {"kty": "RSA", "kid": "ps", "alg": "PS256", "n": "AQAB", "e": "AQAB"},
        {"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
        {"kty": "OKP", "kid": "x", "crv": "X25519", "x": "AA"},
        {"kty": "oct", "kid": "hmac"},
        {"kty": "OKP", "kid": "wrap", "crv": "Ed25519", "x": "AA", "key_ops": ["wrapKey"]},
    ]}))
    .expect("parses");
    assert_eq!(set.keys().len(), 2);
    assert_eq!(set.skipped(), 6);
    assert_eq!(set.get("ed").map(VerifyingKey::alg), Some(Alg::EdDSA));
    assert_eq!(set.get("ec").map(VerifyingKey::alg), Some(Alg::ES256));
    assert!(set.get("hmac").is_none());
    // What we publish parses back to the same keys.
    assert_eq!(parse(set.to_json()).expect("round trip").keys(), set.keys());
}

#[test]
fn bad_jwks_documents_are_refused() {
    let ed = Signer::ed25519();
    assert_eq!(
        JwkSet::parse(&vec![b' '; MAX_JWKS_BYTES + 1]),
        Err(JwksError::TooLarge)
    );
    assert!(matches!(JwkSet::parse(b"nope"), Err(JwksError::Json(_))));
    assert!(matches!(
        parse(json!({"keys": [], "extra": 1})),
        Err(JwksError::Json(_))
    ));
    assert_eq!(parse(json!({"keys": []})), Err(JwksError::NoUsableKeys));
    let many: Vec<_> = (0..=MAX_JWKS_KEYS)
        .map(|i| ed.jwk(&format!("k{i}")))
        .collect();
    assert_eq!(parse(json!({ "keys": many })), Err(JwksError::TooManyKeys));
    assert_eq!(
        parse(json!({"keys": [ed.jwk("a"), ed.jwk("a")]})),
        Err(JwksError::DuplicateKid("a".into()))
    );
    let mut private = ed.jwk("p");
    private["d"] = json!("AAAA");
    assert_eq!(
        parse(json!({"keys": [private]})),
        Err(JwksError::PrivateKey(Some("p".into())))
    );
    let mut short = ed.jwk("s");
    short["x"] = json!(b64([0u8; 31]));
    assert!(matches!(
        parse(json!({"keys": [short]})),
        Err(JwksError::BadKey { .. })
    ));
    let mut padded = ed.jwk("pad");
    padded["x"] = json!(format!("{}=", padded["x"].as_str().expect("x")));
    assert!(matches!(
        parse(json!({"keys": [padded]})),
        Err(JwksError::BadKey { .. })
    ));
    let small_rsa = json!({"kty": "RSA", "kid": "r", "n": b64([0xffu8; 128]), "e": "AQAB"});
    let err = parse(json!({"keys": [small_rsa]})).expect_err("1024-bit RSA");
    assert!(err.to_string().contains("2048 to 8192 bits"), "{err}");
    let dup_member = br#"{"keys":[{"kty":"OKP","kty":"RSA"}]}"#;
    assert!(matches!(JwkSet::parse(dup_member), Err(JwksError::Json(_))));
}

fn cache() -> JwksCache {
    JwksCache::new(JwksCacheConfig {
        ttl_secs: 300,
        min_refresh_interval_secs: 30,
    })
}

#[test]
fn empty_cache_asks_for_a_fetch_and_failed_fetches_are_rate_limited() {
    let mut c = cache();
    assert!(c.needs_refresh(NOW));
    assert_eq!(c.lookup(Some("k1"), NOW), KeyLookup::Refresh);
    c.refresh_failed(NOW);
    assert_eq!(c.lookup(Some("k1"), NOW + 1), KeyLookup::Unknown);
    assert_eq!(c.lookup(Some("k1"), NOW + 30), KeyLookup::Refresh);
    assert!(matches!(
        c.update_from_bytes(b"{}", NOW + 31),
        Err(JwksError::Json(_))
    ));
    assert!(c.keys().is_none());
}

#[test]
fn unknown_kid_triggers_one_refresh_then_rejects() {
    let (old, new) = (Signer::ed25519(), Signer::ed25519());
    let mut c = cache();
    c.update_from_bytes(&jwks(&[(&old, "old")]), NOW)
        .expect("valid JWKS");
    assert!(matches!(
        c.lookup(Some("old"), NOW + 1),
        KeyLookup::Found(_)
    ));
    // Within the interval after the fetch, an unknown kid is just rejected.
    assert_eq!(c.lookup(Some("zzz"), NOW + 10), KeyLookup::Unknown);
    // Later, one unknown kid earns one refresh ...
    assert_eq!(c.lookup(Some("new"), NOW + 100), KeyLookup::Refresh);
    c.update_from_bytes(&jwks(&[(&old, "old"), (&new, "new")]), NOW + 100)
        .expect("valid");
    assert!(matches!(
        c.lookup(Some("new"), NOW + 100),
        KeyLookup::Found(_)
    ));
    // ... and a random kid right after gets none: no refresh, reject.
    assert_eq!(c.lookup(Some("random-1"), NOW + 101), KeyLookup::Unknown);
    assert_eq!(c.lookup(Some("random-2"), NOW + 102), KeyLookup::Unknown);
    assert_eq!(c.lookup(Some("random-3"), NOW + 131), KeyLookup::Refresh);
    // A refresh that finds nothing new still rejects, and starts the interval again.
    c.update_from_bytes(&jwks(&[(&old, "old"), (&new, "new")]), NOW + 131)
        .expect("valid");
    assert_eq!(c.lookup(Some("random-3"), NOW + 131), KeyLookup::Unknown);
    assert_eq!(c.lookup(None, NOW + 132), KeyLookup::Ambiguous);
}

#[test]
fn ttl_expiry_asks_for_a_refresh_and_a_failure_keeps_the_old_set() {
    let k = Signer::ed25519();
    let mut c = cache();
    c.update_from_bytes(&jwks(&[(&k, "k")]), NOW)
        .expect("valid");
    assert!(!c.needs_refresh(NOW + 299));
    assert!(c.needs_refresh(NOW + 300));
    assert_eq!(c.lookup(Some("k"), NOW + 300), KeyLookup::Refresh);
    c.refresh_failed(NOW + 300);
    assert!(matches!(
        c.lookup(Some("k"), NOW + 301),
        KeyLookup::Found(_)
    ));
    // A bad document does not replace the good set.
    assert!(c.update_from_bytes(b"[]", NOW + 400).is_err());
    assert!(matches!(
        c.lookup(Some("k"), NOW + 401),
        KeyLookup::Found(_)
    ));
}

#[test]
fn bearer_step_refreshes_on_rotation_then_decides() {
    let (old, new) = (Signer::ed25519(), Signer::ed25519());
    let v = validator();
    let keys = ApiKeyStore::new();
    let mut c = cache();
    let mut tokens = TokenCache::default();
    c.update_from_bytes(&jwks(&[(&old, "old")]), NOW - 100)
        .expect("valid");
    let rotated = token(&new, &header(&new, "new"), &good_claims());
    let cred = Credential::Jwt(&rotated);
    let mut step = |c: &mut JwksCache, cred, now| {
        BearerVerifier {
            validator: &v,
            jwks: c,
            tokens: &mut tokens,
            api_keys: &keys,
        }
        .authenticate(cred, None, now)
    };
    assert_eq!(step(&mut c, cred, NOW), AuthStep::RefreshJwks);
    c.update_from_bytes(&jwks(&[(&old, "old"), (&new, "new")]), NOW)
        .expect("valid");
    let AuthStep::Done(Ok(p)) = step(&mut c, cred, NOW) else {
        panic!("rotated key must verify after the refresh");
    };
    assert_eq!(p.subject, "agent-7");

    let forged_kid = token(&new, &header(&new, "nope"), &good_claims());
    assert_eq!(
        step(&mut c, Credential::Jwt(&forged_kid), NOW + 1),
        AuthStep::Done(Err(AuthError::Jwt(JwtError::UnknownKid)))
    );
    let AuthStep::Done(Err(e)) = step(&mut c, Credential::Jwt("x.y"), NOW) else {
        panic!("malformed must be decided")
    };
    assert!(e.token_presented() && e.code() == "invalid_token");
    assert_eq!(
        step(&mut c, Credential::ApiKey("pcl_zz"), NOW),
        AuthStep::Done(Err(AuthError::ApiKey(ApiKeyError::Malformed)))
    );
}

#[test]
fn verified_tokens_are_cached_per_audience_until_expiry() {
    let k = Signer::ed25519();
    let v = validator();
    let keys = ApiKeyStore::new();
    let mut tokens = TokenCache::default();
    let t = token(&k, &header(&k, "k"), &good_claims());
    let mut full = cache();
    full.update_from_bytes(&jwks(&[(&k, "k")]), NOW)
        .expect("valid");
    let mut verifier = BearerVerifier {
        validator: &v,
        jwks: &mut full,
        tokens: &mut tokens,
        api_keys: &keys,
    };
    assert!(matches!(
        verifier.authenticate(Credential::Jwt(&t), None, NOW),
        AuthStep::Done(Ok(_))
    ));
    assert_eq!(tokens.len(), 1);
    // With no keys at all, the cached verification still answers ...
    let mut empty = cache();
    let mut verifier = BearerVerifier {
        validator: &v,
        jwks: &mut empty,
        tokens: &mut tokens,
        api_keys: &keys,
    };
    assert!(matches!(
        verifier.authenticate(Credential::Jwt(&t), None, NOW + 1),
        AuthStep::Done(Ok(_))
    ));
    // ... but not for another audience, nor after the max age or expiry.
    let route = Some("https://gw.example.test/mcp/other");
    assert_eq!(
        verifier.authenticate(Credential::Jwt(&t), route, NOW + 1),
        AuthStep::RefreshJwks
    );
    let mut empty = cache();
    let mut verifier = BearerVerifier {
        validator: &v,
        jwks: &mut empty,
        tokens: &mut tokens,
        api_keys: &keys,
    };
    assert_eq!(
        verifier.authenticate(
            Credential::Jwt(&t),
            None,
            NOW + DEFAULT_TOKEN_CACHE_MAX_AGE_SECS
        ),
        AuthStep::RefreshJwks
    );
    // Failed verifications are never cached.
    let bad = token(&Signer::ed25519(), &header(&k, "k"), &good_claims());
    let mut verifier = BearerVerifier {
        validator: &v,
        jwks: &mut full,
        tokens: &mut tokens,
        api_keys: &keys,
    };
    for _ in 0..2 {
        assert_eq!(
            verifier.authenticate(Credential::Jwt(&bad), None, NOW + 2),
            AuthStep::Done(Err(AuthError::Jwt(JwtError::BadSignature)))
        );
    }
}

#[test]
fn auth_errors_map_to_the_right_challenge() {
    let missing = AuthError::Extract(ExtractError::Missing);
    assert!(!missing.token_presented() && !missing.is_invalid_request());
    let query = AuthError::Extract(ExtractError::TokenInQuery);
    assert!(query.is_invalid_request() && query.code() == "token_in_query");
    let expired = AuthError::Jwt(JwtError::Expired);
    assert!(expired.token_presented() && !expired.is_invalid_request());
    assert_eq!(
        AuthError::ApiKey(ApiKeyError::Revoked).code(),
        "api_key_revoked"
    );
}
