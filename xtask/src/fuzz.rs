//! `cargo xtask fuzz <target|all> [--seconds N]`: runs the cargo-fuzz
//! targets in `fuzz/` (nightly), each for a bounded time, installing
//! cargo-fuzz first if it is missing.
//!
//! The committed seeds in `fuzz/corpus/<target>/` are only read; what the
//! fuzzer discovers goes to `target/fuzz-corpus/<target>/` (git-ignored),
//! and crashes to `fuzz/artifacts/<target>/` (git-ignored too).

use std::{fs, path::Path, process::Command};

use anyhow::{Context, Result, bail};

use crate::{cargo, run_step, step};

/// `cargo xtask fuzz`: `which` is one or more target names, or `all`.
pub fn fuzz(root: &Path, which: &[String], seconds: u64) -> Result<()> {
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    ensure_cargo_fuzz()?;
    let targets = list_targets(root)?;
    let chosen: Vec<&String> = if which.iter().any(|w| w == "all") {
        targets.iter().collect()
    } else {
        which
            .iter()
            .map(|one| {
                targets.iter().find(|t| *t == one).with_context(|| {
                    format!(
                        "unknown fuzz target `{one}` (available: all, {})",
                        targets.join(", ")
                    )
                })
            })
            .collect::<Result<_>>()?
    };
    // Built once; the binaries are then run directly, as `cargo fuzz run`
    // would, so no target waits on a rebuild.
    run_step(
        "building the fuzz targets (nightly, sanitizers on)",
        fuzz_cmd(root).args(["build"]),
    )?;
    let bin_dir = root
        .join("fuzz/target")
        .join(host_triple()?)
        .join("release");
    for target in chosen {
        let work = root.join("target/fuzz-corpus").join(target);
        let artifacts = root.join("fuzz/artifacts").join(target);
        for dir in [&work, &artifacts] {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        let mut cmd = Command::new(bin_dir.join(target));
        cmd.current_dir(root)
            .arg(&work)
            .arg(root.join("fuzz/corpus").join(target))
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .args(["-timeout=10", "-print_final_stats=1"]);
        if std::env::var_os("ASAN_OPTIONS").is_none() {
            cmd.env("ASAN_OPTIONS", "detect_odr_violation=0");
        }
        run_step(&format!("fuzzing {target} for {seconds}s"), &mut cmd).with_context(|| {
            format!(
                "{target} failed: the input that broke it is in {}",
                artifacts.display()
            )
        })?;
    }
    Ok(())
}

/// The host target triple, where cargo-fuzz puts the binaries.
fn host_triple() -> Result<String> {
    let out = Command::new("rustc")
        .args(["+nightly", "-vV"])
        .output()
        .context("running rustc +nightly -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host triple")
}

fn fuzz_cmd(root: &Path) -> Command {
    let mut cmd = cargo(Some("nightly"));
    cmd.current_dir(root).arg("fuzz");
    cmd
}

fn ensure_cargo_fuzz() -> Result<()> {
    let present = cargo(Some("nightly"))
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        step("cargo-fuzz: present");
        return Ok(());
    }
    run_step(
        "installing cargo-fuzz",
        cargo(None).args(["install", "--locked", "cargo-fuzz"]),
    )
}

/// The targets `fuzz/Cargo.toml` declares, as cargo-fuzz reports them.
fn list_targets(root: &Path) -> Result<Vec<String>> {
    let out = fuzz_cmd(root)
        .arg("list")
        .output()
        .context("running cargo fuzz list")?;
    if !out.status.success() {
        bail!(
            "cargo fuzz list failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect())
}
