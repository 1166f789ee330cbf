//! The real MCP clients and servers the end-to-end tests drive: the official
//! Python SDK (`tests/e2e/requirements.txt`, into the venv `.e2e/venv`) and
//! the official TypeScript SDK plus `server-everything`
//! (`tests/e2e/package.json` + lockfile, into `tests/e2e/node_modules`).
//!
//! Idempotent: a stamp file (`.e2e/stamp`) records a hash of the manifests
//! and of the interpreter versions; when it matches and the installs exist,
//! nothing runs. Any change reinstalls from scratch, so what the tests see is
//! exactly what the manifests pin.

use std::{
    ffi::OsString,
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

use crate::{run_step, step};

/// Where the installed tools are; exported to the test process as
/// environment variables (see [`E2eTools::env`]).
#[derive(Debug)]
pub struct E2eTools {
    /// The venv's Python interpreter (has `mcp` installed).
    pub python: PathBuf,
    /// The Node.js binary that runs the TypeScript client and server-everything.
    pub node: PathBuf,
    /// `tests/e2e`: the scripts, with `node_modules` inside.
    pub dir: PathBuf,
}

impl E2eTools {
    /// The variables `portcullis_tests::e2e` reads.
    pub fn env(&self) -> [(&'static str, OsString); 3] {
        [
            (
                "PORTCULLIS_E2E_PYTHON",
                self.python.clone().into_os_string(),
            ),
            ("PORTCULLIS_E2E_NODE", self.node.clone().into_os_string()),
            ("PORTCULLIS_E2E_DIR", self.dir.clone().into_os_string()),
        ]
    }
}

const MANIFESTS: [&str; 3] = ["requirements.txt", "package.json", "package-lock.json"];

/// Installs the end-to-end test dependencies unless the stamp says they are current.
pub fn ensure_e2e(root: &Path) -> Result<E2eTools> {
    let python3 = find(
        "python3",
        "install Python 3.11+ with venv (Debian: apt-get install python3 python3-venv)",
    )?;
    let node = find(
        "node",
        "install Node.js 20+ (Debian: apt-get install nodejs npm)",
    )?;
    let npm = find("npm", "install npm (Debian: apt-get install npm)")?;

    let dir = root.join("tests/e2e");
    let state = root.join(".e2e");
    let venv = state.join("venv");
    let tools = E2eTools {
        python: venv.join("bin/python"),
        node: node.clone(),
        dir: dir.clone(),
    };

    let stamp_file = state.join("stamp");
    let stamp = stamp(&dir, &python3, &node)?;
    let installed = tools.python.is_file() && dir.join("node_modules/.package-lock.json").is_file();
    if installed && fs::read_to_string(&stamp_file).is_ok_and(|s| s == stamp) {
        step("end-to-end test clients and servers are up to date (.e2e/stamp)");
        return Ok(tools);
    }

    fs::create_dir_all(&state).with_context(|| format!("creating {}", state.display()))?;
    // A half-written stamp must not survive a failed install.
    let _ = fs::remove_file(&stamp_file);
    if venv.exists() {
        fs::remove_dir_all(&venv).with_context(|| format!("removing {}", venv.display()))?;
    }
    run_step(
        "creating the Python venv for the e2e tests (.e2e/venv)",
        Command::new(&python3).args(["-m", "venv"]).arg(&venv),
    )?;
    run_step(
        "installing the Python MCP SDK (tests/e2e/requirements.txt)",
        Command::new(&tools.python)
            .args([
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-q",
                "-r",
            ])
            .arg(dir.join("requirements.txt")),
    )?;
    run_step(
        "installing the TypeScript MCP SDK and server-everything (npm ci in tests/e2e)",
        Command::new(&npm)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir),
    )?;
    fs::write(&stamp_file, &stamp).with_context(|| format!("writing {}", stamp_file.display()))?;
    Ok(tools)
}

/// Locates `program` on `PATH`, or fails saying what to install.
fn find(program: &str, hint: &str) -> Result<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("`{program}` is not installed (the e2e tests need it): {hint}"))
}

/// What the install depends on: the manifests' bytes and the interpreters' versions.
fn stamp(dir: &Path, python3: &Path, node: &Path) -> Result<String> {
    let mut hash = Fnv64::default();
    for name in MANIFESTS {
        let path = dir.join(name);
        let bytes = fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        hash.write(name.as_bytes());
        hash.write(&bytes);
    }
    for tool in [python3, node] {
        let version = version_of(tool)?;
        hash.write(version.as_bytes());
    }
    Ok(format!("{:016x}\n", hash.0))
}

fn version_of(tool: &Path) -> Result<String> {
    let out = Command::new(tool)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version", tool.display()))?;
    if !out.status.success() {
        bail!("{} --version failed", tool.display());
    }
    // Python 3 < 3.4 printed to stderr; take both.
    Ok(format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

/// FNV-1a, 64 bit: a change detector for the stamp, not a security boundary.
struct Fnv64(u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
        // Separate fields so ("ab", "c") and ("a", "bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
    }
}
