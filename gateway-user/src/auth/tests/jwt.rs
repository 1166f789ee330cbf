//! JWT attack table: each malformed or hostile token gets its own error.

use ring::hmac;
use serde_json::json;

use super::*;

struct Fixture {
    signer: Signer,
    set: JwkSet,
}

fn fixture() -> Fixture {
    let signer = Signer::ed25519();
    let set = JwkSet::parse(&jwks(&[(&signer, "k1")])).expect("test JWKS parses");
    Fixture { signer, set }
}

impl Fixture {
    fn check(&self, token: &str) -> Result<Principal, JwtError> {
        validator().verify_with_set(token, &self.set, None, NOW)
    }
    fn with_claims(&self, claims: &serde_json::Value) -> Result<Principal, JwtError> {
        self.check(&token(&self.signer, &header(&self.signer, "k1"), claims))
    }
    fn with_claim(&self, name: &str, value: serde_json::Value) -> Result<Principal, JwtError> {
        let mut claims = good_claims();
        claims[name] = value;
        self.with_claims(&claims)
    }
    fn without_claim(&self, name: &str) -> Result<Principal, JwtError> {
        let mut claims = good_claims();
        claims.as_object_mut().expect("object").remove(name);
        self.with_claims(&claims)
    }
}

#[test]
fn valid_tokens_of_each_algorithm_give_a_principal() {
    for signer in [Signer::ed25519(), Signer::es256(), Signer::rs256()] {
        let set = JwkSet::parse(&jwks(&[(&signer, "k1")])).expect("JWKS parses");
        let t = token(&signer, &header(&signer, "k1"), &good_claims());
        let p = validator()
            .verify_with_set(&t, &set, None, NOW)
            .unwrap_or_else(|e| panic!("{}: {e}", signer.alg()));
        assert_eq!(p.subject, "agent-7");
        assert_eq!(p.kind, PrincipalKind::Jwt);
        assert_eq!(p.scopes, ["mcp:call".to_string(), "mcp:read".into()].into());
        assert_eq!(p.roles, ["reader".to_string()].into());
    }
}

#[test]
fn malformed_tokens_are_refused() {
    let f = fixture();
    let good = token(&f.signer, &header(&f.signer, "k1"), &good_claims());
    let (h, rest) = good.split_once('.').expect("segments");
    let cases = [
        ("abc".to_string(), "expected three segments"),
        ("a.b".into(), "expected three segments"),
        (format!("{good}.extra"), "expected three segments"),
        (format!(".{rest}"), "empty segment"),
        (format!("{h}!.{rest}"), "header is not base64url"),
        (
            format!("{}.{rest}", b64("not json")),
            "header is not a JSON object",
        ),
        (
            format!("{}.{rest}", b64("[1]")),
            "header is not a JSON object",
        ),
        (
            format!("{}.{rest}", b64(r#"{"alg":"EdDSA","alg":"EdDSA"}"#)),
            "header is not a JSON object",
        ),
        (
            format!("{}.{rest}", b64(r#"{"alg":7}"#)),
            "header members have the wrong types",
        ),
        (
            format!("{h}.{}", rest.replace('.', "=.")),
            "payload is not base64url",
        ),
        (
            good.rsplit_once('.')
                .map(|(a, _)| format!("{a}."))
                .expect("sig"),
            "empty signature",
        ),
        (format!("{good}="), "signature is not base64url"),
    ];
    for (t, what) in cases {
        assert_eq!(f.check(&t), Err(JwtError::Malformed(what)), "{t}");
    }
    let huge = "a".repeat(DEFAULT_MAX_TOKEN_BYTES + 1);
    assert_eq!(f.check(&huge), Err(JwtError::TooLarge));
}

#[test]
fn payload_that_is_not_a_unique_json_object_is_refused_after_the_signature() {
    let f = fixture();
    let h = b64(header(&f.signer, "k1").to_string());
    for payload in [r#"{"sub":"a","sub":"b"}"#, "[]", "nope"] {
        let input = format!("{h}.{}", b64(payload));
        let t = format!("{input}.{}", b64(f.signer.sign(input.as_bytes())));
        assert_eq!(
            f.check(&t),
            Err(JwtError::Malformed("payload is not a JSON object")),
            "{payload}"
        );
    }
}

#[test]
fn alg_none_is_refused() {
    let f = fixture();
    let claims = b64(good_claims().to_string());
    for alg in ["none", "None", "NONE"] {
        let t = format!(
            "{}.{claims}.",
            b64(json!({"alg": alg, "kid": "k1"}).to_string())
        );
        assert_eq!(f.check(&t), Err(JwtError::AlgNone), "{alg}");
    }
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    // The classic confusion: HMAC keyed with the verifier's public key.
    let f = fixture();
    let Signer::Ed(pair) = &f.signer else {
        unreachable!("fixture is Ed25519")
    };
    let input = format!(
        "{}.{}",
        b64(json!({"alg": "HS256", "kid": "k1"}).to_string()),
        b64(good_claims().to_string())
    );
    for secret in [
        pair.public_key().as_ref().to_vec(),
        jwks(&[(&f.signer, "k1")]),
    ] {
        let mac = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &secret),
            input.as_bytes(),
        );
        let t = format!("{input}.{}", b64(mac.as_ref()));
        assert_eq!(f.check(&t), Err(JwtError::Hmac));
    }
    let t = format!("{}.{}.AAAA", b64(r#"{"alg":"HS512"}"#), b64("{}"));
    assert_eq!(f.check(&t), Err(JwtError::Hmac));
    for alg in ["PS256", "RS512", "ES384", "Ed25519", ""] {
        let t = format!(
            "{}.{}.AAAA",
            b64(json!({"alg": alg}).to_string()),
            b64("{}")
        );
        assert_eq!(f.check(&t), Err(JwtError::UnsupportedAlg), "{alg}");
    }
}

#[test]
fn key_of_another_type_than_the_header_alg_is_refused() {
    // A token claiming ES256, signed with a real P-256 key, naming the kid
    // of the Ed25519 key: the key's type decides, and it does not match.
    let f = fixture();
    let ec = Signer::es256();
    let t = token(&ec, &json!({"alg": "ES256", "kid": "k1"}), &good_claims());
    assert_eq!(f.check(&t), Err(JwtError::AlgKeyMismatch));
    let rsa_header = token(
        &f.signer,
        &json!({"alg": "RS256", "kid": "k1"}),
        &good_claims(),
    );
    assert_eq!(f.check(&rsa_header), Err(JwtError::AlgKeyMismatch));
    // A JWK whose declared alg disagrees with its type is never usable.
    let mut jwk = f.signer.jwk("k2");
    jwk["alg"] = "RS256".into();
    let set =
        JwkSet::parse(json!({"keys": [jwk, ec.jwk("k3")]}).to_string().as_bytes()).expect("parses");
    assert!(set.get("k2").is_none() && set.skipped() == 1);
}

#[test]
fn tampered_tokens_are_refused() {
    let f = fixture();
    let good = token(&f.signer, &header(&f.signer, "k1"), &good_claims());
    let (input, sig) = good.rsplit_once('.').expect("segments");
    // Claims changed after signing.
    let mut claims = good_claims();
    claims["roles"] = json!(["admin"]);
    let h = input.split('.').next().expect("header");
    let forged = format!("{h}.{}.{sig}", b64(claims.to_string()));
    assert_eq!(f.check(&forged), Err(JwtError::BadSignature));
    // One bit of the signature flipped.
    let mut raw = URL_SAFE_NO_PAD.decode(sig).expect("sig decodes");
    raw[0] ^= 1;
    assert_eq!(
        f.check(&format!("{input}.{}", b64(&raw))),
        Err(JwtError::BadSignature)
    );
    // Truncated signature.
    assert_eq!(
        f.check(&format!("{input}.{}", b64(&raw[..32]))),
        Err(JwtError::BadSignature)
    );
    // Signed by another key under the same kid.
    let other = Signer::ed25519();
    assert_eq!(
        f.check(&token(&other, &header(&other, "k1"), &good_claims())),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn expiry_is_enforced_with_leeway() {
    let f = fixture();
    assert_eq!(f.with_claim("exp", json!(NOW - 61)), Err(JwtError::Expired));
    assert_eq!(f.with_claim("exp", json!(NOW - 60)), Err(JwtError::Expired));
    assert!(
        f.with_claim("exp", json!(NOW - 59)).is_ok(),
        "inside the leeway"
    );
    assert!(
        f.with_claim("exp", json!((NOW + 10) as f64 + 0.5)).is_ok(),
        "fractional NumericDate"
    );
    assert_eq!(f.without_claim("exp"), Err(JwtError::MissingClaim("exp")));
    assert_eq!(
        f.with_claim("exp", json!("tomorrow")),
        Err(JwtError::BadClaim("exp"))
    );
    assert_eq!(
        f.with_claim("exp", json!(-1)),
        Err(JwtError::BadClaim("exp"))
    );
    let strict = JwtValidator::new(JwtConfig {
        leeway_secs: 0,
        ..JwtConfig::new(ISS, AUD)
    });
    let t = token(&f.signer, &header(&f.signer, "k1"), &{
        let mut c = good_claims();
        c["exp"] = json!(NOW);
        c
    });
    assert_eq!(
        strict.verify_with_set(&t, &f.set, None, NOW),
        Err(JwtError::Expired)
    );
}

#[test]
fn not_yet_valid_tokens_are_refused() {
    let f = fixture();
    assert_eq!(
        f.with_claim("nbf", json!(NOW + 61)),
        Err(JwtError::NotYetValid)
    );
    assert!(
        f.with_claim("nbf", json!(NOW + 60)).is_ok(),
        "inside the leeway"
    );
    assert_eq!(
        f.with_claim("iat", json!(NOW + 3600)),
        Err(JwtError::NotYetValid)
    );
    assert!(f.without_claim("nbf").is_ok() && f.without_claim("iat").is_ok());
}

#[test]
fn wrong_issuer_is_refused() {
    let f = fixture();
    assert_eq!(
        f.with_claim("iss", json!("https://evil.example.test")),
        Err(JwtError::WrongIssuer)
    );
    assert_eq!(
        f.with_claim("iss", json!(format!("{ISS}/"))),
        Err(JwtError::WrongIssuer)
    );
    assert_eq!(f.without_claim("iss"), Err(JwtError::MissingClaim("iss")));
    assert_eq!(
        f.with_claim("iss", json!([ISS])),
        Err(JwtError::BadClaim("iss"))
    );
}

#[test]
fn wrong_audience_is_refused_and_routes_can_override() {
    let f = fixture();
    assert_eq!(
        f.with_claim("aud", json!("https://other.example.test/mcp")),
        Err(JwtError::WrongAudience)
    );
    assert_eq!(f.with_claim("aud", json!([])), Err(JwtError::WrongAudience));
    assert!(
        f.with_claim("aud", json!(["https://x.example.test", AUD]))
            .is_ok()
    );
    assert_eq!(
        f.with_claim("aud", json!([AUD, 7])),
        Err(JwtError::BadClaim("aud"))
    );
    assert_eq!(f.without_claim("aud"), Err(JwtError::MissingClaim("aud")));
    let route = "https://gw.example.test/mcp/files";
    let t = token(&f.signer, &header(&f.signer, "k1"), &good_claims());
    assert_eq!(
        validator().verify_with_set(&t, &f.set, Some(route), NOW),
        Err(JwtError::WrongAudience)
    );
    let mut claims = good_claims();
    claims["aud"] = json!(route);
    let t = token(&f.signer, &header(&f.signer, "k1"), &claims);
    assert!(
        validator()
            .verify_with_set(&t, &f.set, Some(route), NOW)
            .is_ok()
    );
}

#[test]
fn subject_is_required() {
    let f = fixture();
    assert_eq!(f.without_claim("sub"), Err(JwtError::MissingClaim("sub")));
    assert_eq!(
        f.with_claim("sub", json!("")),
        Err(JwtError::BadClaim("sub"))
    );
    assert_eq!(
        f.with_claim("sub", json!("a\nb")),
        Err(JwtError::BadClaim("sub"))
    );
}

#[test]
fn scopes_and_roles_come_from_their_claims() {
    let f = fixture();
    let mut claims = good_claims();
    claims.as_object_mut().expect("object").remove("scope");
    claims["scp"] = json!(["a", "b"]);
    claims["roles"] = json!("solo");
    let p = f.with_claims(&claims).expect("valid");
    assert_eq!(p.scopes, ["a".to_string(), "b".into()].into());
    assert_eq!(p.roles, ["solo".to_string()].into());
    assert_eq!(
        f.with_claim("scp", json!([1])),
        Err(JwtError::BadClaim("scp"))
    );
    assert_eq!(
        f.with_claim("roles", json!({"x": 1})),
        Err(JwtError::BadClaim("roles"))
    );
    assert_eq!(
        f.with_claim("scope", json!(["a"])),
        Err(JwtError::BadClaim("scope"))
    );
    // A configured, nested roles claim.
    let keycloak = JwtValidator::new(JwtConfig {
        roles_claim: "realm_access.roles".into(),
        ..JwtConfig::new(ISS, AUD)
    });
    let mut claims = good_claims();
    claims["realm_access"] = json!({"roles": ["ops"]});
    let t = token(&f.signer, &header(&f.signer, "k1"), &claims);
    let p = keycloak
        .verify_with_set(&t, &f.set, None, NOW)
        .expect("valid");
    assert_eq!(p.roles, ["ops".to_string()].into());
}

#[test]
fn critical_headers_and_foreign_types_are_refused() {
    let f = fixture();
    let mut h = header(&f.signer, "k1");
    h["crit"] = json!(["exp"]);
    assert_eq!(
        f.check(&token(&f.signer, &h, &good_claims())),
        Err(JwtError::CriticalHeader)
    );
    h["crit"] = json!(null);
    assert_eq!(
        f.check(&token(&f.signer, &h, &good_claims())),
        Err(JwtError::CriticalHeader)
    );
    let mut h = header(&f.signer, "k1");
    h["typ"] = json!("JWE");
    assert_eq!(
        f.check(&token(&f.signer, &h, &good_claims())),
        Err(JwtError::BadType)
    );
    for typ in ["JWT", "at+jwt", "application/at+JWT"] {
        h["typ"] = json!(typ);
        assert!(
            f.check(&token(&f.signer, &h, &good_claims())).is_ok(),
            "{typ}"
        );
    }
    // An embedded key is never trusted: the token still needs the set's key.
    let attacker = Signer::ed25519();
    let mut h = header(&attacker, "k1");
    h["jwk"] = attacker.jwk("k1");
    assert_eq!(
        f.check(&token(&attacker, &h, &good_claims())),
        Err(JwtError::BadSignature)
    );
}

#[test]
fn kid_selection_is_never_ambiguous() {
    let (a, b) = (Signer::ed25519(), Signer::ed25519());
    let two = JwkSet::parse(&jwks(&[(&a, "a"), (&b, "b")])).expect("parses");
    let no_kid = token(&a, &json!({"alg": "EdDSA"}), &good_claims());
    assert_eq!(
        validator().verify_with_set(&no_kid, &two, None, NOW),
        Err(JwtError::MissingKid)
    );
    let one = JwkSet::parse(&jwks(&[(&a, "a")])).expect("parses");
    assert!(
        validator()
            .verify_with_set(&no_kid, &one, None, NOW)
            .is_ok()
    );
    let unknown = token(&a, &header(&a, "zzz"), &good_claims());
    assert_eq!(
        validator().verify_with_set(&unknown, &two, None, NOW),
        Err(JwtError::UnknownKid)
    );
}
