//! `cargo xtask fuzz <target|all> [--seconds N]`: runs the cargo-fuzz
//! targets in `fuzz/` (nightly), each for a bounded time, installing
//! cargo-fuzz first if it is missing.
//!
//! The committed seeds in `fuzz/corpus/<target>/` are only read; what the
//! fuzzer discovers goes to `target/fuzz-corpus/<target>/` (git-ignored),
//! and crashes to `fuzz/artifacts/<target>/`.

use std::{fs, path::Path, process::Command};

use anyhow::{Context, Result, bail};

use crate::{cargo, run_step, step};

/// `cargo xtask fuzz`.
pub fn fuzz(root: &Path, which: &str, seconds: u64) -> Result<()> {
    if seconds == 0 {
        bail!("--seconds must be at least 1");
    }
    ensure_cargo_fuzz()?;
    let targets = list_targets(root)?;
    let chosen: Vec<&String> = match which {
        "all" => targets.iter().collect(),
        one => match targets.iter().find(|t| *t == one) {
            Some(t) => vec![t],
            None => bail!(
                "unknown fuzz target `{one}` (available: all, {})",
                targets.join(", ")
            ),
        },
    };
    run_step(
        "building the fuzz targets (nightly, sanitizers on)",
        fuzz_cmd(root).args(["build"]),
    )?;
    for target in chosen {
        let work = root.join("target/fuzz-corpus").join(target);
        fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
        let seeds = root.join("fuzz/corpus").join(target);
        let mut cmd = fuzz_cmd(root);
        cmd.args(["run", target])
            .arg(&work)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .args(["-timeout=10", "-print_final_stats=1"]);
        run_step(&format!("fuzzing {target} for {seconds}s"), &mut cmd).with_context(|| {
            format!("{target} failed: the input that broke it is in fuzz/artifacts/{target}/")
        })?;
    }
    Ok(())
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
