//! `cargo xtask eval scan` and `cargo xtask bench scan`: the injection
//! scanner's detection/false-positive rates on the dev corpus and its
//! throughput beside a RegexSet baseline. Neither needs the eBPF build.

use std::path::Path;

use anyhow::{Result, bail};

use crate::{cargo, run_step};

/// `cargo xtask eval <which>`.
pub fn eval(root: &Path, which: &str, json: bool) -> Result<()> {
    match which {
        "scan" => run_bench_bin(root, "eval-scan", "evaluation scan", json),
        other => bail!("unknown evaluation `{other}` (available: scan)"),
    }
}

/// `cargo xtask bench scan`.
pub fn bench(root: &Path, json: bool) -> Result<()> {
    run_bench_bin(root, "bench-scan", "benchmark scan", json)
}

fn run_bench_bin(root: &Path, bin: &str, what: &str, json: bool) -> Result<()> {
    let mut cmd = cargo(None);
    cmd.current_dir(root).args([
        "run",
        "--locked",
        "--release",
        "-q",
        "-p",
        "portcullis-benches",
        "--bin",
        bin,
        "--",
    ]);
    if json {
        cmd.arg("--json");
    }
    run_step(what, &mut cmd)
}
