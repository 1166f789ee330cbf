//! `cargo xtask setup`: the kernel toolchain, built locally and idempotently.
//!
//! - the nightly toolchain with `rust-src` (for `-Z build-std=core`);
//! - `bpf-linker`, built from crates.io against the nightly toolchain's own
//!   libLLVM (no system LLVM of the right version exists here), into
//!   `.toolchain/` (git-ignored). A stamp file records what it was built
//!   against, so a nightly update triggers a rebuild and nothing else does.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::{cargo, run_step, step};

const BPF_LINKER_VERSION: &str = "0.13.0";

/// What setup produced.
pub struct Tools {
    bin_dir: PathBuf,
}

impl Tools {
    /// `PATH` with the project's bpf-linker first.
    pub fn path_with_linker(&self) -> std::ffi::OsString {
        let mut paths = vec![self.bin_dir.clone()];
        if let Some(path) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&path));
        }
        std::env::join_paths(paths).unwrap_or_default()
    }
}

pub fn setup(root: &Path) -> Result<Tools> {
    require(
        "rustup",
        "install rustup from your distribution or rustup.rs",
    )?;
    require(
        "cc",
        "install a C toolchain (Debian: apt-get install build-essential)",
    )?;
    ensure_nightly()?;
    let toolchain_dir = root.join(".toolchain");
    ensure_bpf_linker(&toolchain_dir)?;
    Ok(Tools {
        bin_dir: toolchain_dir.join("bin"),
    })
}

fn require(program: &str, hint: &str) -> Result<()> {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !found {
        bail!("`{program}` is not installed: {hint}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .output()
        .with_context(|| format!("running {:?}", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{:?} failed: {}",
            cmd,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn ensure_nightly() -> Result<()> {
    let toolchains = output(Command::new("rustup").args(["toolchain", "list"]))?;
    if !toolchains.lines().any(|l| l.starts_with("nightly")) {
        run_step(
            "installing the nightly toolchain (minimal profile)",
            Command::new("rustup").args([
                "toolchain",
                "install",
                "nightly",
                "--profile",
                "minimal",
            ]),
        )?;
    }
    let components = output(Command::new("rustup").args([
        "component",
        "list",
        "--toolchain",
        "nightly",
        "--installed",
    ]))?;
    if components.lines().any(|l| l.starts_with("rust-src")) {
        step("nightly rust-src: present");
    } else {
        run_step(
            "adding rust-src to the nightly toolchain",
            Command::new("rustup").args(["component", "add", "rust-src", "--toolchain", "nightly"]),
        )?;
    }
    Ok(())
}

/// The nightly rustc's commit hash and LLVM major version.
fn nightly_llvm() -> Result<(String, String)> {
    let info = output(Command::new("rustc").args(["+nightly", "-vV"]))?;
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .with_context(|| format!("`rustc +nightly -vV` printed no `{name}` line"))
    };
    let commit = field("commit-hash:")?;
    let llvm = field("LLVM version:")?;
    let major = llvm.split('.').next().unwrap_or_default().to_owned();
    if major.is_empty() || !major.bytes().all(|b| b.is_ascii_digit()) {
        bail!("cannot read the LLVM major version from `{llvm}`");
    }
    Ok((commit, major))
}

fn ensure_bpf_linker(toolchain_dir: &Path) -> Result<()> {
    let (commit, llvm_major) = nightly_llvm()?;
    let stamp = format!("bpf-linker {BPF_LINKER_VERSION} llvm-{llvm_major} rustc {commit}\n");
    let stamp_path = toolchain_dir.join("bpf-linker.stamp");
    let linker = toolchain_dir.join("bin/bpf-linker");
    if linker.is_file() && fs::read_to_string(&stamp_path).ok().as_deref() == Some(stamp.as_str()) {
        step(&format!(
            "bpf-linker {BPF_LINKER_VERSION} (LLVM {llvm_major}): present in {}",
            linker.display()
        ));
        return Ok(());
    }

    // The nightly toolchain ships libLLVM as a shared library; bpf-linker's
    // llvm-sys links against `<prefix>/lib/libLLVM.so`. Point a prefix of
    // our own at it, under both names the linker and loader look for.
    let sysroot = output(Command::new("rustc").args(["+nightly", "--print", "sysroot"]))?;
    let sysroot_lib = PathBuf::from(sysroot.trim()).join("lib");
    let libllvm = fs::read_dir(&sysroot_lib)
        .with_context(|| format!("reading {}", sysroot_lib.display()))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("libLLVM.so."))
        .with_context(|| {
            format!(
                "no libLLVM.so.* in {}; the nightly toolchain is incomplete (reinstall it)",
                sysroot_lib.display()
            )
        })?;
    let prefix = toolchain_dir.join("llvm");
    let lib = prefix.join("lib");
    fs::create_dir_all(&lib).with_context(|| format!("creating {}", lib.display()))?;
    for name in ["libLLVM.so", libllvm.as_str()] {
        let link = lib.join(name);
        let _ = fs::remove_file(&link);
        std::os::unix::fs::symlink(sysroot_lib.join(&libllvm), &link)
            .with_context(|| format!("linking {}", link.display()))?;
    }

    let mut cmd = cargo(None);
    cmd.args([
        "install",
        "bpf-linker",
        "--version",
        BPF_LINKER_VERSION,
        "--locked",
        "--force",
        "--root",
    ])
    .arg(toolchain_dir)
    .args([
        "--no-default-features",
        "--features",
        &format!("llvm-{llvm_major}"),
    ])
    .env("LLVM_PREFIX", &prefix);
    run_step(
        &format!(
            "building bpf-linker {BPF_LINKER_VERSION} from crates.io against the nightly LLVM {llvm_major} (~2 min)"
        ),
        &mut cmd,
    )?;
    fs::write(&stamp_path, stamp).with_context(|| format!("writing {}", stamp_path.display()))?;
    Ok(())
}

/// Installs nftables from the distribution if `nft` is missing (benchmarks
/// compare the XDP filter with an nftables meter).
pub fn ensure_nft() -> Result<()> {
    if require("nft", "").is_ok() {
        return Ok(());
    }
    require("apt-get", "install nftables with your package manager")?;
    run_step(
        "apt-get update",
        Command::new("apt-get").args(["update", "-qq"]),
    )?;
    run_step(
        "installing nftables",
        Command::new("apt-get")
            .args(["install", "-y", "-qq", "nftables"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}
