//! Real MCP clients and servers for the end-to-end tests: upstream servers
//! started as child processes (the Python SDK server `tests/e2e/server.py`,
//! `@modelcontextprotocol/server-everything`, the Rust demo upstream), and
//! the client scenarios `tests/e2e/client.py` / `client.mjs`, whose one-line
//! JSON output is returned for assertions.
//!
//! `cargo xtask test` installs the SDKs and exports `PORTCULLIS_E2E_PYTHON`,
//! `PORTCULLIS_E2E_NODE` and `PORTCULLIS_E2E_DIR`; without them the repo's
//! default locations (`.e2e/venv`, `node` on `PATH`, `tests/e2e`) are tried.
//! A test calls [`require_e2e`] first: without the tools it skips, except
//! under `CI=true`, where it fails.
//!
//! Every server is owned by a guard that kills it on drop. Ports are picked by
//! binding port 0, and readiness is a bounded poll of the port.

use std::{
    io::{Read, Write},
    net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::atomic::{AtomicU64, Ordering},
    time::{Duration, Instant},
};

/// How long a server may take to start listening.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// How long one client scenario may run before it is killed.
const CLIENT_DEADLINE: Duration = Duration::from_secs(120);

/// Where the installed end-to-end tools are.
#[derive(Debug, Clone)]
pub struct E2eTools {
    /// Python with the `mcp` SDK installed.
    pub python: PathBuf,
    /// Node.js for the TypeScript client and server-everything.
    pub node: PathBuf,
    /// `tests/e2e`: scripts and `node_modules`.
    pub dir: PathBuf,
}

impl E2eTools {
    /// The tools from the environment (or the repo defaults), if all exist.
    pub fn find() -> Result<Self, String> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let python =
            env_path("PORTCULLIS_E2E_PYTHON").unwrap_or_else(|| root.join(".e2e/venv/bin/python"));
        let node = env_path("PORTCULLIS_E2E_NODE")
            .or_else(|| on_path("node"))
            .unwrap_or_else(|| PathBuf::from("node"));
        let dir = env_path("PORTCULLIS_E2E_DIR").unwrap_or_else(|| root.join("tests/e2e"));
        let tools = Self { python, node, dir };
        for (what, path) in [
            ("the e2e Python venv", &tools.python),
            ("node", &tools.node),
            ("server-everything", &tools.everything_entry()),
            ("client.py", &tools.dir.join("client.py")),
        ] {
            if !path.is_file() {
                return Err(format!(
                    "{what} not found at {} (run `cargo xtask test`, which installs the e2e tools, \
                     or set PORTCULLIS_E2E_PYTHON/NODE/DIR)",
                    path.display()
                ));
            }
        }
        Ok(tools)
    }

    /// server-everything's entry point.
    pub fn everything_entry(&self) -> PathBuf {
        self.dir
            .join("node_modules/@modelcontextprotocol/server-everything/dist/index.js")
    }
}

fn env_path(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn on_path(program: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Whether the e2e tools are installed. Without them a test returns early
/// with a note, except under `CI=true`, where this panics: a skip there
/// would hide a broken install behind a green run.
pub fn require_e2e(test: &str) -> bool {
    match E2eTools::find() {
        Ok(_) => true,
        Err(why) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{test}: e2e tools missing under CI: {why}")
        }
        Err(why) => {
            eprintln!("skipping {test}: {why}");
            false
        }
    }
}

fn tools() -> E2eTools {
    E2eTools::find().unwrap_or_else(|why| panic!("{why}"))
}

/// A free loopback TCP port (bound to port 0, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding 127.0.0.1:0");
    listener
        .local_addr()
        .expect("local address of a bound socket")
        .port()
}

/// A number not returned before in this process (for temp file names).
fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A child process that is killed (and reaped) when the guard drops.
#[derive(Debug)]
pub struct ChildGuard {
    name: String,
    child: Child,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `cmd` with stdout and stderr going to a log file in the temp dir.
    pub fn spawn(name: &str, cmd: &mut Command) -> Self {
        let log = std::env::temp_dir().join(format!(
            "portcullis-e2e-{name}-{}-{}.log",
            std::process::id(),
            unique()
        ));
        let file = std::fs::File::create(&log)
            .unwrap_or_else(|e| panic!("creating {}: {e}", log.display()));
        let err = file.try_clone().expect("cloning a log file handle");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({:?}): {e}", cmd.get_program()));
        Self {
            name: name.to_owned(),
            child,
            log,
        }
    }

    /// The process id (for /proc measurements).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                _ => return None,
            }
        }
    }

    /// What the process has written so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until `port` on loopback accepts connections; panics with the
    /// process's log if it exits first or the deadline passes.
    pub fn wait_for_port(&mut self, port: u16) {
        if let Err(why) = self.wait_ready(port) {
            panic!("{why}");
        }
    }

    fn wait_ready(&mut self, port: u16) -> Result<(), String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let deadline = Instant::now() + READY_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before listening on {addr}:\n{}",
                    self.name,
                    self.log()
                ));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on {addr} within {READY_DEADLINE:?}:\n{}",
                    self.name,
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts a server on a free port and waits until it listens. The port is
/// free when picked but may be taken before the server binds it; then (the
/// process exits saying the address is in use) it retries on another port.
pub fn start_on_free_port(
    name: &str,
    mut command_for: impl FnMut(u16) -> Command,
) -> (ChildGuard, u16) {
    let mut last = String::new();
    for _ in 0..3 {
        let port = free_port();
        let mut guard = ChildGuard::spawn(name, &mut command_for(port));
        match guard.wait_ready(port) {
            Ok(()) => return (guard, port),
            Err(why) if why.to_lowercase().contains("in use") => last = why,
            Err(why) => panic!("{why}"),
        }
    }
    panic!("{name}: no free port after 3 tries: {last}")
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

/// The Python SDK upstream (`tests/e2e/server.py`): tools echo, add,
/// slow_count (progress), ask_llm (sampling), confirm (elicitation), weather
/// (outputSchema); resource `portcullis://greeting`; prompt `review`.
#[derive(Debug)]
pub struct PyServer {
    /// The server process.
    pub guard: ChildGuard,
    /// Its loopback port.
    pub port: u16,
    /// With [`PyServer::start_tls`]: the directory holding `cert.pem`.
    tls_dir: Option<PathBuf>,
}

impl Drop for PyServer {
    fn drop(&mut self) {
        if let Some(dir) = &self.tls_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl PyServer {
    /// Starts it; `poison` makes its tool results and the echo description hostile.
    pub fn start(poison: bool) -> Self {
        Self::start_with(poison, &[])
    }

    /// Starts it with extra `server.py` flags (`--json-response`, `--stateless`).
    pub fn start_with(poison: bool, extra: &[&str]) -> Self {
        let tools = tools();
        let (guard, port) = start_on_free_port("py-server", |port| {
            let mut cmd = Command::new(&tools.python);
            cmd.arg(tools.dir.join("server.py"))
                .args(["--port", &port.to_string()])
                .args(extra);
            if poison {
                cmd.arg("--poison");
            }
            cmd
        });
        Self {
            guard,
            port,
            tls_dir: None,
        }
    }

    /// Starts it serving HTTPS with a fresh self-signed certificate for
    /// 127.0.0.1 (see [`PyServer::cert`]), to exercise the clients' TLS options.
    pub fn start_tls() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "portcullis-e2e-tls-{}-{}",
            std::process::id(),
            unique()
        ));
        let dir_arg = dir.to_str().expect("temp dir path is UTF-8").to_owned();
        let mut server = Self::start_with(false, &["--tls-dir", &dir_arg]);
        server.tls_dir = Some(dir);
        server
    }

    /// The PEM certificate of a [`PyServer::start_tls`] server.
    pub fn cert(&self) -> Option<PathBuf> {
        self.tls_dir.as_ref().map(|d| d.join("cert.pem"))
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        let scheme = if self.tls_dir.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://127.0.0.1:{}/mcp", self.port)
    }

    /// Requests the server has seen, by HTTP method and `total`, and
    /// `last_headers` of the latest one (from `GET /_stats`; plain-HTTP
    /// servers only).
    pub fn stats(&self) -> serde_json::Value {
        http_get_json(self.port, "/_stats")
    }

    /// How many HTTP requests reached the MCP endpoint.
    pub fn requests_seen(&self) -> u64 {
        self.stats()
            .get("total")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0)
    }

    /// A header of the latest request that reached the server (name in lower case).
    pub fn last_header(&self, name: &str) -> Option<String> {
        self.stats()["last_headers"][name]
            .as_str()
            .map(str::to_owned)
    }
}

/// `@modelcontextprotocol/server-everything` in streamableHttp mode
/// (`PORT=<port> node …/dist/index.js streamableHttp`), endpoint `/mcp`.
/// Tools used by the scenarios: echo, get-sum, trigger-long-running-operation
/// (progress), trigger-sampling-request, trigger-elicitation-request,
/// get-structured-content. Note: it listens on all interfaces, not only loopback.
#[derive(Debug)]
pub struct EverythingServer {
    /// The server process.
    pub guard: ChildGuard,
    /// Its port.
    pub port: u16,
}

impl EverythingServer {
    /// Starts it on a free port.
    pub fn start() -> Self {
        let tools = tools();
        let (guard, port) = start_on_free_port("server-everything", |port| {
            let mut cmd = Command::new(&tools.node);
            cmd.arg(tools.everything_entry())
                .arg("streamableHttp")
                .env("PORT", port.to_string())
                .current_dir(&tools.dir);
            cmd
        });
        Self { guard, port }
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

/// The Rust demo upstream (`portcullis-demo-upstream`, rmcp): tools echo and add.
#[derive(Debug)]
pub struct DemoUpstream {
    /// The server process.
    pub guard: ChildGuard,
    /// Its loopback port.
    pub port: u16,
}

impl DemoUpstream {
    /// Starts the stateless, JSON-response demo upstream.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts it with extra flags (`--stateful`).
    pub fn start_with(extra: &[&str]) -> Self {
        let bin = demo_upstream_bin();
        let (guard, port) = start_on_free_port("demo-upstream", |port| {
            let mut cmd = Command::new(&bin);
            cmd.args(["--listen", &format!("127.0.0.1:{port}")])
                .args(extra);
            cmd
        });
        Self { guard, port }
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

/// The demo upstream binary: `PORTCULLIS_DEMO_UPSTREAM_BIN`, else next to the
/// running test's target directory (cargo builds it for this crate's tests).
pub fn demo_upstream_bin() -> PathBuf {
    if let Some(path) = env_path("PORTCULLIS_DEMO_UPSTREAM_BIN") {
        return path;
    }
    let exe = std::env::current_exe().expect("path of the running test binary");
    // target/<profile>/deps/<test> -> target/<profile>/portcullis-demo-upstream
    let candidate = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("portcullis-demo-upstream"));
    match candidate {
        Some(path) if path.is_file() => path,
        _ => panic!(
            "portcullis-demo-upstream not found next to {} (build it: cargo build -p portcullis-tests \
             --bin portcullis-demo-upstream, or set PORTCULLIS_DEMO_UPSTREAM_BIN)",
            exe.display()
        ),
    }
}

/// One run of a client scenario.
#[derive(Debug)]
pub struct ClientRun {
    /// The process's exit status.
    pub status: ExitStatus,
    /// Its JSON output (`{"ok": false, "error": …}` on failure), if it printed any.
    pub json: Option<serde_json::Value>,
    /// Its stderr (diagnostics, tracebacks).
    pub stderr: String,
}

/// Runs `tests/e2e/client.py URL ARGS…`; panics unless the scenario succeeds.
pub fn run_python_client(url: &str, extra_args: &[&str]) -> serde_json::Value {
    expect_ok("client.py", try_python_client(url, extra_args))
}

/// Runs `tests/e2e/client.mjs URL ARGS…`; panics unless the scenario succeeds.
pub fn run_ts_client(url: &str, extra_args: &[&str]) -> serde_json::Value {
    expect_ok("client.mjs", try_ts_client(url, extra_args))
}

/// Runs the Python scenario and returns whatever happened (for tests that expect failure).
pub fn try_python_client(url: &str, extra_args: &[&str]) -> ClientRun {
    let tools = tools();
    let mut cmd = Command::new(&tools.python);
    cmd.arg(tools.dir.join("client.py"))
        .arg(url)
        .args(extra_args);
    run_client(&mut cmd)
}

/// Runs the TypeScript scenario and returns whatever happened.
pub fn try_ts_client(url: &str, extra_args: &[&str]) -> ClientRun {
    let tools = tools();
    let mut cmd = Command::new(&tools.node);
    cmd.arg(tools.dir.join("client.mjs"))
        .arg(url)
        .args(extra_args)
        .current_dir(&tools.dir);
    run_client(&mut cmd)
}

fn expect_ok(script: &str, run: ClientRun) -> serde_json::Value {
    let ok = run
        .json
        .as_ref()
        .and_then(|j| j.get("ok"))
        .and_then(serde_json::Value::as_bool);
    match (run.status.success(), ok, run.json) {
        (true, Some(true), Some(json)) => json,
        (_, _, json) => panic!(
            "{script} failed ({}): {}\nstderr:\n{}",
            run.status,
            json.map_or_else(|| "no JSON output".to_owned(), |j| j.to_string()),
            run.stderr
        ),
    }
}

fn run_client(cmd: &mut Command) -> ClientRun {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {:?}: {e}", cmd.get_program()));
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + CLIENT_DEADLINE;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{:?} ran longer than {CLIENT_DEADLINE:?}; killed",
                    cmd.get_program()
                );
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => panic!("waiting for {:?}: {e}", cmd.get_program()),
        }
    };
    let stdout = out_reader.join().unwrap_or_default();
    let stderr = err_reader.join().unwrap_or_default();
    let json = stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line.trim()).ok());
    ClientRun {
        status,
        json,
        stderr,
    }
}

/// `GET path` on loopback `port`, parsed as JSON; panics unless it is a 200
/// (for the servers' side channels such as `/_stats`).
pub fn http_get_json(port: u16, path: &str) -> serde_json::Value {
    let (status, body) = http_get(port, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body:?}"))
}

/// `GET path` on loopback `port` with a tiny HTTP/1.1 client: (status, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .unwrap_or_else(|e| panic!("connecting to 127.0.0.1:{port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("setting a read timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("sending the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("malformed HTTP response: {response:?}"));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status code in {head:?}"));
    (status, body.to_owned())
}

/// CPU time (user + system) a process has used so far, from
/// `/proc/<pid>/stat`: for "gateway CPU per call" over a benchmark run.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let ticks = cpu_ticks_from_stat(&stat)?;
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|&hz| hz > 0)?;
    Some(Duration::from_nanos(ticks.checked_mul(1_000_000_000)? / hz))
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The
/// command name (field 2) may hold spaces and parentheses, so fields are
/// counted after its last `)`.
fn cpu_ticks_from_stat(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    utime.checked_add(stime)
}

/// Resident set size of a process in bytes (`VmRSS` of `/proc/<pid>/status`).
pub fn process_rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_count_fields_after_the_command_name() {
        let stat =
            "4242 (we ird) name)) S 1 4242 4242 0 -1 4194560 100 0 0 0 17 5 0 0 20 0 1 0 9 1000 50";
        assert_eq!(cpu_ticks_from_stat(stat), Some(22));
    }

    #[test]
    fn cpu_ticks_reject_a_truncated_stat_line() {
        assert_eq!(cpu_ticks_from_stat("4242 (x) S 1 2 3"), None);
        assert_eq!(cpu_ticks_from_stat("no parenthesis at all"), None);
    }

    #[test]
    fn own_process_has_cpu_and_rss() {
        let pid = std::process::id();
        assert!(process_rss_bytes(pid).is_some_and(|rss| rss > 0));
        assert!(process_cpu(pid).is_some());
        assert_eq!(process_rss_bytes(u32::MAX), None, "no such process");
    }
}
