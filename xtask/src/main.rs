//! Orchestration for Portcullis: `cargo xtask setup|build|run|test|bench|fuzz`.
//!
//! Every command sets up what it needs first (idempotently), so a fresh
//! machine needs nothing installed by hand beyond rustup and a C compiler.

mod e2e;
mod fuzz;
mod scan;
mod setup;

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Portcullis build orchestration")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the pieces the kernel build needs (idempotent): nightly
    /// rust-src and bpf-linker built against the nightly toolchain's LLVM.
    Setup,
    /// Build the XDP object, then the userspace binary embedding it.
    Build {
        /// Build the userspace binary in release mode.
        #[arg(long)]
        release: bool,
    },
    /// Set up, build (release) and run the gateway on its embedded defaults,
    /// with the demo MCP upstream beside it.
    Run {
        /// Arguments passed to `portcullis run`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Set up, build and run every test (unit, kernel, network namespace).
    Test {
        /// Arguments passed to `cargo test` after `--`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Quality evaluations: `scan` (injection corpus detection/FP rates).
    Eval {
        /// Which evaluation: `scan`.
        which: String,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the fuzz targets in `fuzz/` (nightly; installs cargo-fuzz).
    Fuzz {
        /// Target names, or `all`.
        #[arg(required = true)]
        targets: Vec<String>,
        /// How long to fuzz each target.
        #[arg(long, default_value_t = 30)]
        seconds: u64,
    },
    /// Benchmarks.
    Bench {
        /// Which benchmark: `xdp`, `proxy` or `scan`.
        which: String,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.command {
        Cmd::Setup => setup::setup(&root).map(|_| ()),
        Cmd::Build { release } => build(&root, release),
        Cmd::Run { args } => run(&root, &args),
        Cmd::Test { args } => test(&root, &args),
        Cmd::Eval { which, json } => scan::eval(&root, &which, json),
        Cmd::Fuzz { targets, seconds } => fuzz::fuzz(&root, &targets, seconds),
        Cmd::Bench { which, json } if which == "scan" => scan::bench(&root, json),
        Cmd::Bench { which, json } => bench(&root, &which, json),
    }
}

/// The demo upstream `run` starts beside the gateway; the embedded default
/// config routes `/mcp/demo` to it.
const DEMO_UPSTREAM_ADDR: &str = "127.0.0.1:8931";

/// Kills the demo upstream when `run` ends, however it ends.
struct ChildGuard(std::process::Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(root: &Path, args: &[String]) -> Result<()> {
    build(root, true)?;
    build_demo_upstream(root)?;
    if std::net::TcpStream::connect(DEMO_UPSTREAM_ADDR).is_ok() {
        bail!(
            "{DEMO_UPSTREAM_ADDR} is already in use: stop what listens there (the demo upstream's port)"
        );
    }
    step(&format!(
        "starting the demo MCP upstream on {DEMO_UPSTREAM_ADDR}"
    ));
    let _demo = ChildGuard(
        Command::new(root.join("target/release/portcullis-demo-upstream"))
            .args(["--listen", DEMO_UPSTREAM_ADDR, "--stateful"])
            .spawn()
            .context("starting the demo upstream")?,
    );
    let cert = root.join("target/dev-cert.pem");
    let bin = root.join("target/release/portcullis");
    step("starting portcullis (Ctrl-C to stop)");
    eprintln!(
        "    MCP endpoint: https://127.0.0.1:8443/mcp/demo (development certificate: {})",
        cert.display()
    );
    let status = Command::new(&bin)
        .arg("run")
        .arg("--write-dev-cert")
        .arg(&cert)
        .args(args)
        .status()
        .with_context(|| format!("running {}", bin.display()))?;
    if !status.success() {
        bail!("portcullis exited with {status}");
    }
    Ok(())
}

/// The demo MCP upstream (rmcp), optimised: `run` serves it, the proxy
/// benchmark measures against it.
fn build_demo_upstream(root: &Path) -> Result<()> {
    let mut demo = cargo(None);
    demo.current_dir(root).args([
        "build",
        "--locked",
        "--release",
        "-p",
        "portcullis-tests",
        "--bin",
        "portcullis-demo-upstream",
    ]);
    run_step("building the demo MCP upstream (rmcp)", &mut demo)
}

fn workspace_root() -> Result<PathBuf> {
    let manifest =
        std::env::var_os("CARGO_MANIFEST_DIR").context("run this through `cargo xtask`")?;
    Ok(Path::new(&manifest)
        .parent()
        .context("xtask has no parent directory")?
        .to_owned())
}

/// Prints a named step to stderr.
pub fn step(what: &str) {
    eprintln!("\x1b[1m==> {what}\x1b[0m");
}

/// Runs `cmd`, failing with its description if it fails; prints how long it took.
pub fn run_step(what: &str, cmd: &mut Command) -> Result<()> {
    step(what);
    let started = Instant::now();
    let status = cmd
        .status()
        .with_context(|| format!("{what}: could not start {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{what}: failed ({status})");
    }
    eprintln!("    done in {:.1}s", started.elapsed().as_secs_f64());
    Ok(())
}

/// A cargo command without the variables of the cargo that runs xtask, so a
/// nested toolchain choice is not overridden.
pub fn cargo(toolchain: Option<&str>) -> Command {
    let mut cmd = Command::new("cargo");
    if let Some(toolchain) = toolchain {
        cmd.arg(format!("+{toolchain}"));
    }
    for var in [
        "RUSTUP_TOOLCHAIN",
        "RUSTC",
        "RUSTDOC",
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn build_ebpf(root: &Path) -> Result<PathBuf> {
    let tools = setup::setup(root)?;
    let mut cmd = cargo(Some("nightly"));
    cmd.current_dir(root.join("gateway-ebpf"))
        .args(["build", "--release", "--locked"])
        .env("CARGO_TARGET_DIR", root.join("target/ebpf"))
        .env("PATH", tools.path_with_linker());
    run_step(
        "building the XDP program (gateway-ebpf, bpfel-unknown-none)",
        &mut cmd,
    )?;
    let object = root.join("target/ebpf/bpfel-unknown-none/release/gateway-ebpf");
    if !object.is_file() {
        bail!(
            "the eBPF build succeeded but {} is missing",
            object.display()
        );
    }
    Ok(object)
}

fn build(root: &Path, release: bool) -> Result<()> {
    let object = build_ebpf(root)?;
    let mut cmd = cargo(None);
    cmd.current_dir(root)
        .args(["build", "--locked", "-p", "gateway-user", "--bins"]);
    if release {
        cmd.arg("--release");
    }
    cmd.env("PORTCULLIS_EBPF_OBJECT", &object);
    run_step(
        "building portcullis (userspace, embedding the XDP object)",
        &mut cmd,
    )
}

fn test(root: &Path, args: &[String]) -> Result<()> {
    build(root, false)?;
    let e2e = e2e::ensure_e2e(root)?;
    let object = root.join("target/ebpf/bpfel-unknown-none/release/gateway-ebpf");
    let mut cmd = cargo(None);
    cmd.current_dir(root)
        .args(["test", "--locked", "--workspace"])
        .env("PORTCULLIS_EBPF_OBJECT", &object)
        .env("PORTCULLIS_BIN", root.join("target/debug/portcullis"))
        .envs(e2e.env());
    if !args.is_empty() {
        cmd.arg("--").args(args);
    }
    run_step("running every test", &mut cmd)
}

fn bench(root: &Path, which: &str, json: bool) -> Result<()> {
    let bin = match which {
        "xdp" => "bench-xdp",
        "proxy" => "bench-proxy",
        other => bail!("unknown benchmark `{other}` (available: xdp, proxy, scan)"),
    };
    let object = build_ebpf(root)?;
    if which == "xdp" {
        setup::ensure_nft()?;
    }
    if which == "proxy" {
        // The gateway and the demo upstream, both optimised, as deployed.
        build(root, true)?;
        build_demo_upstream(root)?;
    }
    let mut cmd = cargo(None);
    cmd.current_dir(root)
        .args([
            "run",
            "--locked",
            "--release",
            "-p",
            "portcullis-benches",
            "--bin",
            bin,
            "--",
        ])
        .env("PORTCULLIS_EBPF_OBJECT", &object)
        .env("PORTCULLIS_BIN", root.join("target/release/portcullis"))
        .env(
            "PORTCULLIS_DEMO_UPSTREAM_BIN",
            root.join("target/release/portcullis-demo-upstream"),
        );
    if json {
        cmd.arg("--json");
    }
    run_step(&format!("benchmark {which}"), &mut cmd)
}
