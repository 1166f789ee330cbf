//! Shared pieces of Portcullis's end-to-end and kernel tests (and of the
//! benchmarks): frame builders, network-namespace test hosts, and the rule
//! that root-only tests fail rather than skip under CI.

pub mod e2e;
pub mod frames;
pub mod gateway;
pub mod idp;
pub mod netlab;

use std::path::PathBuf;

/// Whether this process may load BPF programs and create namespaces.
///
/// Without root, a test returns early with a note, except under `CI=true`,
/// where it panics: CI runs as root, so a skip there would hide a broken
/// setup behind a green run.
pub fn require_root(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test} needs root (BPF, network namespaces) and CI must run as root");
    }
    eprintln!("skipping {test}: needs root");
    false
}

/// The `portcullis` binary under test: `PORTCULLIS_BIN` (set by
/// `cargo xtask test`), else the workspace's debug build.
pub fn portcullis_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PORTCULLIS_BIN") {
        return PathBuf::from(path);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug/portcullis")
}
