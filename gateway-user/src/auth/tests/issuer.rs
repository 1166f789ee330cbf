//! The embedded issuer: key files, tokens the gateway accepts, rotation.

use std::os::unix::fs::PermissionsExt as _;

use ring::rand::SystemRandom;

use super::*;
use crate::auth::secure_file::test_dir::TestDir;

fn request(ttl_secs: u64) -> TokenRequest {
    TokenRequest {
        subject: "dev".into(),
        roles: ["reader".to_string()].into(),
        scopes: ["mcp:read".to_string()].into(),
        ttl_secs,
        audience: None,
    }
}

fn gateway_validator() -> JwtValidator {
    JwtValidator::new(JwtConfig::new(DEFAULT_ISSUER, DEFAULT_AUDIENCE))
}

#[test]
fn key_is_created_0600_on_first_use_and_tokens_verify() {
    let dir = TestDir::new("issuer");
    let files = IssuerFiles::new(dir.path());
    assert!(matches!(
        files.load(IssuerConfig::default()),
        Err(IssuerFileError::NoKey(_))
    ));
    let rng = SystemRandom::new();
    let issuer = files
        .load_or_create(IssuerConfig::default(), &rng)
        .expect("create");
    let mode = std::fs::metadata(files.key_path())
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // Loading again gives the same key.
    let again = files.load(IssuerConfig::default()).expect("load");
    assert_eq!(again.kid(), issuer.kid());

    let t = issuer.issue(&rng, &request(3600), NOW).expect("issue");
    let jwks = JwkSet::parse(&issuer.jwks_json(NOW)).expect("published JWKS parses");
    let p = gateway_validator()
        .verify_with_set(&t, &jwks, None, NOW + 10)
        .expect("verifies");
    assert_eq!((p.subject.as_str(), p.kind), ("dev", PrincipalKind::Jwt));
    assert!(p.roles.contains("reader") && p.scopes.contains("mcp:read"));
    let jwt = gateway_validator().parse(&t).expect("parses");
    assert_eq!((jwt.alg(), jwt.kid()), (Alg::EdDSA, Some(issuer.kid())));
    assert_eq!(
        gateway_validator().verify_with_set(&t, &jwks, None, NOW + 3600 + 60),
        Err(JwtError::Expired)
    );
}

#[test]
fn group_or_world_readable_key_is_refused() {
    let dir = TestDir::new("issuer-perm");
    let files = IssuerFiles::new(dir.path());
    files
        .load_or_create(IssuerConfig::default(), &SystemRandom::new())
        .expect("create");
    for mode in [0o640, 0o604, 0o644] {
        std::fs::set_permissions(files.key_path(), std::fs::Permissions::from_mode(mode))
            .expect("chmod");
        let err = files
            .load(IssuerConfig::default())
            .expect_err("insecure key");
        assert!(
            matches!(
                &err,
                IssuerFileError::File(SecureFileError::Insecure { .. })
            ),
            "{mode:o}: {err}"
        );
        assert!(
            files
                .load_or_create(IssuerConfig::default(), &SystemRandom::new())
                .is_err()
        );
    }
}

#[test]
fn garbage_key_file_is_refused() {
    let dir = TestDir::new("issuer-bad");
    let files = IssuerFiles::new(dir.path());
    files
        .load_or_create(IssuerConfig::default(), &SystemRandom::new())
        .expect("create");
    std::fs::write(files.key_path(), b"not a key").expect("write");
    let err = files.load(IssuerConfig::default()).expect_err("garbage");
    assert!(
        err.to_string().contains("not a valid Ed25519 PKCS#8 key"),
        "{err}"
    );
}

#[test]
fn rotation_keeps_the_old_public_key_until_its_tokens_expire() {
    let dir = TestDir::new("issuer-rot");
    let files = IssuerFiles::new(dir.path());
    let rng = SystemRandom::new();
    let config = IssuerConfig {
        max_ttl_secs: 3600,
        ..IssuerConfig::default()
    };
    let old = files.load_or_create(config.clone(), &rng).expect("create");
    let old_token = old.issue(&rng, &request(3600), NOW).expect("issue");

    let new = files
        .rotate(config.clone(), &rng, NOW + 10)
        .expect("rotate");
    assert_ne!(new.kid(), old.kid());
    let new_token = new.issue(&rng, &request(60), NOW + 10).expect("issue");
    let v = gateway_validator();
    let set = JwkSet::parse(&new.jwks_json(NOW + 20)).expect("JWKS");
    assert_eq!(set.keys().len(), 2);
    assert!(
        v.verify_with_set(&old_token, &set, None, NOW + 20).is_ok(),
        "old token still valid"
    );
    assert!(v.verify_with_set(&new_token, &set, None, NOW + 20).is_ok());
    // A reload (another process) sees the same published keys.
    let reloaded = files.load(config.clone()).expect("load");
    assert_eq!(reloaded.jwks_json(NOW + 20), new.jwks_json(NOW + 20));
    // Past max ttl + leeway, the old key is no longer published.
    let later = NOW + 10 + 3600 + DEFAULT_LEEWAY_SECS;
    let set = JwkSet::parse(&new.jwks_json(later)).expect("JWKS");
    assert_eq!(set.keys().len(), 1);
    assert_eq!(
        v.verify_with_set(&old_token, &set, None, later),
        Err(JwtError::UnknownKid)
    );
}

#[test]
fn issue_refuses_bad_requests() {
    let dir = TestDir::new("issuer-req");
    let rng = SystemRandom::new();
    let issuer = IssuerFiles::new(dir.path())
        .load_or_create(IssuerConfig::default(), &rng)
        .expect("create");
    let max = DEFAULT_MAX_TTL_SECS;
    assert_eq!(
        issuer.issue(&rng, &request(0), NOW),
        Err(IssuerError::BadTtl { max })
    );
    assert_eq!(
        issuer.issue(&rng, &request(max + 1), NOW),
        Err(IssuerError::BadTtl { max })
    );
    let mut bad = request(60);
    bad.subject = "two words".into();
    assert!(matches!(
        issuer.issue(&rng, &bad, NOW),
        Err(IssuerError::BadName("subject", _))
    ));
    let mut aud = request(60);
    aud.audience = Some("https://127.0.0.1:8443/mcp/files".into());
    let t = issuer.issue(&rng, &aud, NOW).expect("issue");
    let set = issuer.jwk_set(NOW);
    assert_eq!(
        gateway_validator().verify_with_set(&t, &set, None, NOW),
        Err(JwtError::WrongAudience)
    );
    assert!(
        gateway_validator()
            .verify_with_set(&t, &set, aud.audience.as_deref(), NOW)
            .is_ok()
    );
}

#[test]
fn kid_is_the_rfc7638_thumbprint() {
    // RFC 8037 appendix A.3: the thumbprint of its example public key.
    let x = URL_SAFE_NO_PAD
        .decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        .expect("RFC example key");
    assert_eq!(
        ed25519_kid(&x),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}
