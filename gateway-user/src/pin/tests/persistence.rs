use std::{
    fs,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use serde_json::json;

use super::{seeded, t};
use crate::pin::{Approve, PinError, PinMode, PinStore};

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("portcullis-pin-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        Self(dir)
    }

    fn file(&self) -> PathBuf {
        PinStore::state_file(&self.0)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn corrupt_reason(path: &Path) -> String {
    match PinStore::load(path) {
        Err(PinError::Corrupt { reason, path: p }) => {
            assert_eq!(p, path);
            reason
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn round_trip_keeps_pins_and_pending_changes() {
    let dir = TempDir::new("roundtrip");
    let mut s = seeded();
    s.observe_tools_list("up", &[t("search", "changed"), t("fetch", "Fetch.")], 200);
    s.save(&dir.file()).expect("save");
    let mode = fs::metadata(dir.file()).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let loaded = PinStore::load(&dir.file()).expect("load");
    assert_eq!(loaded.upstreams, s.upstreams);
    assert!(!loaded.is_callable("up", "search") && loaded.is_callable("up", "fetch"));
    assert_eq!(loaded.diff("up"), s.diff("up"));
    // No temp files are left behind.
    assert_eq!(fs::read_dir(&dir.0).expect("ls").count(), 1);
}

#[test]
fn approve_through_the_file_and_reload_keeps_modes() {
    let dir = TempDir::new("reload");
    let mut gateway = seeded();
    gateway.set_mode("up", PinMode::Warn);
    gateway.observe_tools_list("up", &[t("search", "v2"), t("fetch", "Fetch.")], 200);
    gateway.save(&dir.file()).expect("save");
    // The operator approves from another process.
    let mut cli = PinStore::load(&dir.file()).expect("load");
    cli.locked_update(&dir.file(), |s| s.approve("up", &Approve::All, 300))
        .expect("approved");
    gateway.reload(&dir.file()).expect("reload");
    assert_eq!(gateway.mode("up"), PinMode::Warn);
    assert!(gateway.pending("up").next().is_none());
    assert_eq!(gateway.tool_def("up", "search"), Some(&t("search", "v2")));
}

#[test]
fn missing_file_is_an_error_for_load_and_empty_for_load_or_new() {
    let dir = TempDir::new("missing");
    assert!(matches!(
        PinStore::load(&dir.file()),
        Err(PinError::NotFound(_))
    ));
    let s = PinStore::load_or_new(&dir.file()).expect("empty");
    assert_eq!(s.upstreams().count(), 0);
}

#[test]
fn corrupt_files_are_errors_never_re_trusted() {
    let dir = TempDir::new("corrupt");
    let path = dir.file();
    let write = |text: &str| {
        fs::write(&path, text).expect("write");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    };
    write("{not json");
    assert!(corrupt_reason(&path).contains("key must be a string"));
    write(r#"{"version": 1, "upstreams": {}, "extra": 1}"#);
    assert!(corrupt_reason(&path).contains("unknown field"));
    write(r#"{"version": 2, "upstreams": {}}"#);
    assert_eq!(corrupt_reason(&path), "unsupported version 2");
    // A pin whose definition was edited without its hash.
    let mut s = seeded();
    s.save(&path).expect("save");
    let edited = fs::read_to_string(&path)
        .expect("read")
        .replace("Search.", "Search. Also exfiltrate.");
    write(&edited);
    assert_eq!(
        corrupt_reason(&path),
        "pin `up/search` does not match its hash"
    );
    // A pin stored under another tool's name.
    let text = fs::read_to_string(&path).expect("read");
    let mut v: serde_json::Value = serde_json::from_str(&text).expect("json");
    let fetch = v["upstreams"]["up"]["pinned"]["fetch"].clone();
    v["upstreams"]["up"]["pinned"]["search"] = fetch;
    write(&v.to_string());
    assert_eq!(
        corrupt_reason(&path),
        "pin `up/search` holds another tool's definition"
    );
    // Pending change with a mismatched definition.
    s.observe_tools_list("up", &[t("search", "new"), t("fetch", "Fetch.")], 2);
    s.save(&path).expect("save");
    let edited = fs::read_to_string(&path)
        .expect("read")
        .replace("\"new\"", "\"newer\"");
    write(&edited);
    assert_eq!(
        corrupt_reason(&path),
        "pending change `up/search` is inconsistent"
    );
    // locked_update refuses too, and does not overwrite the file.
    let before = fs::read(&path).expect("read");
    let err = PinStore::new()
        .locked_update(&path, |_| Ok(()))
        .expect_err("corrupt");
    assert!(matches!(err, PinError::Corrupt { .. }));
    assert_eq!(fs::read(&path).expect("read"), before);
    // A failed reload leaves the in-memory store as it was.
    let mut live = seeded();
    assert!(live.reload(&path).is_err());
    assert!(live.is_callable("up", "search"));
}

#[test]
fn insecure_or_oversized_files_are_refused() {
    let dir = TempDir::new("perms");
    let path = dir.file();
    seeded().save(&path).expect("save");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).expect("chmod");
    assert!(matches!(
        PinStore::load(&path),
        Err(PinError::InsecurePermissions(_))
    ));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
    let file = fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("open");
    file.set_len(crate::pin::MAX_STATE_BYTES + 1)
        .expect("grow sparse");
    assert!(matches!(
        PinStore::load(&path),
        Err(PinError::TooLarge { .. })
    ));
}

#[test]
fn from_json_rejects_garbage_without_a_path() {
    let err = PinStore::from_json(b"[]").expect_err("array");
    assert!(matches!(err, PinError::Corrupt { .. }));
    let s = PinStore::from_json(&seeded().to_json()).expect("own output parses");
    assert!(s.is_callable("up", "fetch"));
    assert_eq!(json!(s.upstreams().collect::<Vec<_>>()), json!(["up"]));
}
