//! API keys: format, verification, rotation grace, revocation, the file.

use std::os::unix::fs::PermissionsExt as _;

use ring::rand::SystemRandom;

use super::*;
use crate::auth::secure_file::test_dir::TestDir;

const DAY: u64 = 86_400;

fn spec(label: &str) -> KeySpec {
    KeySpec {
        label: label.into(),
        roles: ["ci".to_string()].into(),
        scopes: ["mcp:call".to_string()].into(),
        ttl_secs: None,
    }
}

#[test]
fn created_key_verifies_and_only_its_hash_is_stored() {
    let mut store = ApiKeyStore::new();
    let new = store
        .create(&SystemRandom::new(), spec("ci-runner"), NOW)
        .expect("create");
    let (id, secret) = new
        .printable
        .strip_prefix("pcl_")
        .and_then(|r| r.split_once('_'))
        .expect("pcl_<id>_<secret>");
    assert_eq!(
        (id, id.len(), secret.len()),
        (new.record.id.as_str(), 16, 43)
    );
    let p = store.verify(&new.printable, NOW + 1).expect("verifies");
    assert_eq!(p.subject, "ci-runner");
    assert_eq!(p.kind, PrincipalKind::ApiKey);
    assert!(p.roles.contains("ci") && p.scopes.contains("mcp:call"));
    let json = String::from_utf8(store.to_json()).expect("utf-8");
    assert!(!json.contains(secret), "the secret must never be stored");
    assert!(json.contains(&new.record.secret_sha256));
}

#[test]
fn wrong_or_malformed_keys_are_refused() {
    let mut store = ApiKeyStore::new();
    let new = store
        .create(&SystemRandom::new(), spec("a"), NOW)
        .expect("create");
    let id = &new.record.id;
    let other_secret = b64([7u8; 32]);
    assert_eq!(
        store.verify(&format!("pcl_{id}_{other_secret}"), NOW),
        Err(ApiKeyError::Unknown)
    );
    assert_eq!(
        store.verify(&format!("pcl_0123456789abcdef_{other_secret}"), NOW),
        Err(ApiKeyError::Unknown)
    );
    for bad in [
        "",
        "pcl_",
        "pcl_nothex_x",
        &format!("pcl_{id}"),
        &format!("pcl_{id}_{}", b64([7u8; 31])),
        &format!("pcl_{id}_{other_secret}="),
        &format!("pcl_{}_{other_secret}", id.to_uppercase()),
        &new.printable.replacen("pcl_", "pck_", 1),
    ] {
        assert_eq!(store.verify(bad, NOW), Err(ApiKeyError::Malformed), "{bad}");
    }
}

#[test]
fn revoked_key_stops_at_once() {
    let mut store = ApiKeyStore::new();
    let new = store
        .create(&SystemRandom::new(), spec("a"), NOW)
        .expect("create");
    store.revoke(&new.record.id, NOW + 5).expect("revoke");
    assert_eq!(
        store.verify(&new.printable, NOW + 5),
        Err(ApiKeyError::Revoked)
    );
    assert_eq!(
        store.revoke(&new.record.id, NOW + 6),
        Err(KeyStoreError::AlreadyRevoked(new.record.id.clone()))
    );
    assert_eq!(
        store.revoke("0000000000000000", NOW),
        Err(KeyStoreError::NotFound("0000000000000000".into()))
    );
    // The label is free again for a new key.
    assert!(
        store
            .create(&SystemRandom::new(), spec("a"), NOW + 7)
            .is_ok()
    );
}

#[test]
fn old_key_works_within_rotation_grace_and_fails_after() {
    let rng = SystemRandom::new();
    let mut store = ApiKeyStore::new();
    let old = store.create(&rng, spec("svc"), NOW).expect("create");
    let new = store
        .rotate(&rng, &old.record.id, DAY, NOW + 100)
        .expect("rotate");
    assert_eq!(
        new.record.rotated_from.as_deref(),
        Some(old.record.id.as_str())
    );
    assert_eq!(new.record.label, "svc");
    assert!(
        store.verify(&old.printable, NOW + 100 + DAY - 1).is_ok(),
        "inside grace"
    );
    assert_eq!(
        store.verify(&old.printable, NOW + 100 + DAY),
        Err(ApiKeyError::RotatedOut)
    );
    assert!(store.verify(&new.printable, NOW + 100 + DAY).is_ok());
    let status = |id: &str, t| {
        store
            .keys()
            .iter()
            .find(|k| k.id == id)
            .map(|k| k.status(t))
    };
    assert_eq!(status(&old.record.id, NOW + 101), Some(KeyStatus::Grace));
    assert_eq!(
        status(&old.record.id, NOW + 100 + DAY),
        Some(KeyStatus::RotatedOut)
    );
    assert_eq!(
        store
            .rotate(&rng, &old.record.id, DAY, NOW + 200)
            .map(|n| n.record),
        Err(KeyStoreError::AlreadyRotated(
            old.record.id.clone(),
            new.record.id.clone()
        ))
    );
}

#[test]
fn expiry_carries_over_rotation_and_grace_never_extends_it() {
    let rng = SystemRandom::new();
    let mut store = ApiKeyStore::new();
    let old = store
        .create(
            &rng,
            KeySpec {
                ttl_secs: Some(10 * DAY),
                ..spec("t")
            },
            NOW,
        )
        .expect("create");
    assert_eq!(
        store.verify(&old.printable, NOW + 10 * DAY),
        Err(ApiKeyError::Expired)
    );
    let new = store
        .rotate(&rng, &old.record.id, 30 * DAY, NOW + 9 * DAY)
        .expect("rotate");
    assert_eq!(new.record.expires, Some(NOW + 19 * DAY));
    assert_eq!(
        store.verify(&old.printable, NOW + 10 * DAY),
        Err(ApiKeyError::Expired)
    );
}

#[test]
fn bad_labels_and_duplicate_live_labels_are_refused() {
    let rng = SystemRandom::new();
    let mut store = ApiKeyStore::new();
    let first = store.create(&rng, spec("dup"), NOW).expect("create");
    assert_eq!(
        store.create(&rng, spec("dup"), NOW).map(|n| n.record),
        Err(KeyStoreError::LabelInUse("dup".into(), first.record.id))
    );
    for bad in ["", " x", "tab\there", &"l".repeat(200)] {
        assert!(
            matches!(
                store.create(&rng, spec(bad), NOW),
                Err(KeyStoreError::BadName(..))
            ),
            "{bad:?}"
        );
    }
}

#[test]
fn store_file_round_trips_and_a_running_gateway_sees_revocation() {
    let dir = TestDir::new("keys");
    let path = dir.path().join(STORE_FILE);
    assert_eq!(
        ApiKeyStore::load(&path)
            .expect("missing file is empty")
            .keys()
            .len(),
        0
    );
    let mut cli = ApiKeyStore::new();
    let key = cli
        .create(&SystemRandom::new(), spec("live"), NOW)
        .expect("create");
    cli.save(&path).expect("save");
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // The gateway loads it and remembers the stamp.
    let gateway = ApiKeyStore::load(&path).expect("load");
    let stamp = FileStamp::of(&path).expect("stat");
    assert!(gateway.verify(&key.printable, NOW).is_ok());
    // The CLI revokes; the gateway notices the change and reloads.
    let mut cli = ApiKeyStore::load(&path).expect("load");
    cli.revoke(&key.record.id, NOW + 1).expect("revoke");
    cli.save(&path).expect("save");
    assert_ne!(FileStamp::of(&path).expect("stat"), stamp);
    let gateway = ApiKeyStore::load(&path).expect("reload");
    assert_eq!(
        gateway.verify(&key.printable, NOW + 1),
        Err(ApiKeyError::Revoked)
    );
}

#[test]
fn bad_store_files_are_refused() {
    let dir = TestDir::new("keys-bad");
    let path = dir.path().join(STORE_FILE);
    let write = |s: &str| {
        std::fs::write(&path, s).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    };
    let hash = "0".repeat(64);
    let record = |id: &str, h: &str| {
        format!(
            r#"{{"id":"{id}","label":"x","roles":[],"scopes":[],"created":1,"expires":null,"revoked":null,"rotated_from":null,"replaced_by":null,"grace_until":null,"secret_sha256":"{h}"}}"#
        )
    };
    let cases = [
        (
            r#"{"version":1,"keys":[],"extra":1}"#.to_string(),
            "unknown field `extra`",
        ),
        (r#"{"version":2,"keys":[]}"#.into(), "unknown version 2"),
        (
            format!(
                r#"{{"version":1,"keys":[{}]}}"#,
                record("0011223344556677", "abc")
            ),
            "bad secret_sha256",
        ),
        (
            format!(
                r#"{{"version":1,"keys":[{},{}]}}"#,
                record("0011223344556677", &hash),
                record("0011223344556677", &hash)
            ),
            "duplicate id",
        ),
        ("not json".into(), "expected"),
    ];
    for (doc, expect) in cases {
        write(&doc);
        let err = ApiKeyStore::load(&path).expect_err(expect).to_string();
        assert!(err.contains(expect) && err.contains(STORE_FILE), "{err}");
    }
    write(r#"{"version":1,"keys":[]}"#);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let err = ApiKeyStore::load(&path)
        .expect_err("world-readable")
        .to_string();
    assert!(err.contains("chmod 600"), "{err}");
}

#[test]
fn watched_store_reloads_on_change_and_fails_secure() {
    let dir = TestDir::new("keys-watch");
    let path = dir.path().join(STORE_FILE);
    let mut cli = ApiKeyStore::new();
    let key = cli
        .create(&SystemRandom::new(), spec("w"), NOW)
        .expect("create");
    cli.save(&path).expect("save");
    let mut gateway = WatchedKeyStore::open(&path).expect("open");
    assert!(gateway.store().verify(&key.printable, NOW).is_ok());
    assert!(!gateway.reload_if_changed().expect("unchanged"));

    cli.revoke(&key.record.id, NOW).expect("revoke");
    cli.save(&path).expect("save");
    assert!(gateway.reload_if_changed().expect("changed"));
    assert_eq!(
        gateway.store().verify(&key.printable, NOW),
        Err(ApiKeyError::Revoked)
    );

    // A corrupted file: no API key authenticates until it is fixed.
    let mut cli = ApiKeyStore::new();
    let other = cli
        .create(&SystemRandom::new(), spec("x"), NOW)
        .expect("create");
    cli.save(&path).expect("save");
    assert!(gateway.reload_if_changed().expect("changed"));
    assert!(gateway.store().verify(&other.printable, NOW).is_ok());
    std::fs::write(&path, b"{ broken").expect("write");
    assert!(gateway.reload_if_changed().is_err());
    assert_eq!(
        gateway.store().verify(&other.printable, NOW),
        Err(ApiKeyError::Unknown)
    );
}
