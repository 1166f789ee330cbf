//! `cargo xtask bench proxy [--json]`: tools/call round trips through the
//! gateway and straight to the same upstream, in the same run, at fixed
//! concurrency (1, 16, 64 keep-alive HTTP/1.1 connections).
//!
//! Reported per level: p50/p99 latency and requests/s for the gateway (TLS
//! 1.3) and direct (plain HTTP), the added latency as a difference and a
//! ratio, the gateway's CPU time per call (from /proc/<pid>/stat over the
//! run) and its RSS. The upstream is the Rust demo upstream (rmcp), fast
//! enough not to be the bottleneck.

use std::{
    net::SocketAddr,
    path::PathBuf,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use portcullis_tests::{e2e::DemoUpstream, gateway::GatewayProcess};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncWrite};

const LEVELS: [usize; 3] = [1, 16, 64];
/// Each measurement stops at this many calls or this long, whichever first.
const MAX_CALLS: usize = 20_000;
const MAX_TIME: Duration = Duration::from_secs(4);
const ROUNDS: usize = 2;

const CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"benchmark"}}}"#;
const LIST: &str = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}"#;

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

#[derive(Clone)]
enum Target {
    Direct(SocketAddr),
    /// The gateway, its TLS trust and a bearer token.
    Gateway(SocketAddr, Arc<rustls::ClientConfig>, Arc<str>),
}

async fn handshake<S>(io: S) -> Result<Sender>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(io)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

async fn connect(target: &Target) -> Result<Sender> {
    match target {
        Target::Direct(addr) => {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            handshake(tcp).await
        }
        Target::Gateway(addr, tls, _) => {
            let tcp = tokio::net::TcpStream::connect(addr).await?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from("127.0.0.1")?;
            let stream = tokio_rustls::TlsConnector::from(Arc::clone(tls))
                .connect(name, tcp)
                .await?;
            handshake(stream).await
        }
    }
}

async fn post(
    sender: &mut Sender,
    path: &str,
    token: Option<&str>,
    session: Option<&str>,
    body: &'static str,
) -> Result<(u16, Option<String>, Bytes)> {
    sender.ready().await?;
    let mut request = http::Request::post(path)
        .header("host", "127.0.0.1")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    if let Some(session) = session {
        request = request
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", "2025-11-25");
    }
    let response = sender
        .send_request(request.body(Full::new(Bytes::from_static(body.as_bytes())))?)
        .await?;
    let status = response.status().as_u16();
    let session = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, session, body))
}

/// One connection's loop: initialize (the gateway needs a session), then
/// calls until the shared budget or deadline runs out.
async fn worker(
    target: Target,
    path: String,
    budget: Arc<std::sync::atomic::AtomicUsize>,
    deadline: Instant,
) -> Result<Vec<Duration>> {
    let mut sender = connect(&target).await?;
    let token = match &target {
        Target::Gateway(_, _, token) => Some(Arc::clone(token)),
        Target::Direct(_) => None,
    };
    let token = token.as_deref();
    let session = match target {
        Target::Gateway(..) => {
            let (status, session, body) = post(&mut sender, &path, token, None, INIT).await?;
            if status != 200 {
                bail!("initialize through the gateway: {status} {body:?}");
            }
            let session = session.context("the gateway issued no session")?;
            // The gateway only forwards calls to tools it has seen listed
            // (and pinned): list once, as a client does.
            let (status, _, body) = post(&mut sender, &path, token, Some(&session), LIST).await?;
            if status != 200 {
                bail!("tools/list through the gateway: {status} {body:?}");
            }
            Some(session)
        }
        Target::Direct(_) => None,
    };
    let mut latencies = Vec::new();
    while Instant::now() < deadline && budget.fetch_sub(1, std::sync::atomic::Ordering::Relaxed) > 0
    {
        let started = Instant::now();
        let (status, _, body) = post(&mut sender, &path, token, session.as_deref(), CALL).await?;
        latencies.push(started.elapsed());
        if status != 200 || !body.windows(9).any(|w| w == b"benchmark") {
            bail!(
                "tools/call failed: {status} {}",
                String::from_utf8_lossy(&body)
            );
        }
    }
    Ok(latencies)
}

struct Run {
    latencies: Vec<Duration>,
    seconds: f64,
}

async fn measure(target: &Target, path: &str, concurrency: usize) -> Result<Run> {
    let budget = Arc::new(std::sync::atomic::AtomicUsize::new(MAX_CALLS));
    let started = Instant::now();
    let deadline = started + MAX_TIME;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            tokio::spawn(worker(
                target.clone(),
                path.to_owned(),
                Arc::clone(&budget),
                deadline,
            ))
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    Ok(Run {
        seconds: started.elapsed().as_secs_f64(),
        latencies,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// utime + stime of `pid`, in seconds.
fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')').context("malformed /proc stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11).context("no utime")?.parse::<f64>()?
        + fields.get(12).context("no stime")?.parse::<f64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    Ok(ticks / hz.max(1.0))
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn summary(run: &Run) -> Value {
    let mut sorted = run.latencies.clone();
    sorted.sort();
    json!({
        "calls": sorted.len(),
        "seconds": run.seconds,
        "requests_per_sec": sorted.len() as f64 / run.seconds.max(1e-9),
        "p50_ms": percentile(&sorted, 0.50),
        "p99_ms": percentile(&sorted, 0.99),
    })
}

fn tls_config(cert: &PathBuf) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for der in CertificateDer::pem_file_iter(cert)? {
        roots.add(der?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

fn main() -> Result<()> {
    let json_out = std::env::args().any(|a| a == "--json");
    let upstream = DemoUpstream::start();
    let gateway = GatewayProcess::start(&[("demo", upstream.url())], "");
    let gateway_pid = gateway.guard.pid();
    let idle_rss = rss_mib(gateway_pid);
    let direct = Target::Direct(SocketAddr::from(([127, 0, 0, 1], upstream.port)));
    let through = Target::Gateway(
        SocketAddr::from(([127, 0, 0, 1], gateway.port)),
        tls_config(&gateway.cert)?,
        Arc::from(gateway.token.as_str()),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut levels = Vec::new();
    let mut peak_rss: f64 = idle_rss;
    runtime.block_on(async {
        // Warm both paths (connections, allocator, caches).
        measure(&direct, "/mcp", 4).await?;
        measure(&through, "/mcp/demo", 4).await?;
        for concurrency in LEVELS {
            let (mut direct_runs, mut gateway_runs) = (Vec::new(), Vec::new());
            let (mut cpu, mut calls) = (0.0, 0usize);
            for _ in 0..ROUNDS {
                direct_runs.push(measure(&direct, "/mcp", concurrency).await?);
                let cpu0 = cpu_seconds(gateway_pid)?;
                let run = measure(&through, "/mcp/demo", concurrency).await?;
                cpu += cpu_seconds(gateway_pid)? - cpu0;
                calls += run.latencies.len() + 2 * concurrency; // + initialize, tools/list
                peak_rss = peak_rss.max(rss_mib(gateway_pid));
                gateway_runs.push(run);
            }
            let merge = |runs: Vec<Run>| Run {
                seconds: runs.iter().map(|r| r.seconds).sum(),
                latencies: runs.into_iter().flat_map(|r| r.latencies).collect(),
            };
            let (d, g) = (summary(&merge(direct_runs)), summary(&merge(gateway_runs)));
            let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or(0.0);
            levels.push(json!({
                "concurrency": concurrency,
                "direct": d,
                "gateway": g,
                "added_p50_ms": f(&g, "p50_ms") - f(&d, "p50_ms"),
                "added_p99_ms": f(&g, "p99_ms") - f(&d, "p99_ms"),
                "p50_ratio": f(&g, "p50_ms") / f(&d, "p50_ms").max(1e-9),
                "throughput_ratio": f(&g, "requests_per_sec") / f(&d, "requests_per_sec").max(1e-9),
                "gateway_cpu_ms_per_call": cpu * 1e3 / calls.max(1) as f64,
            }));
        }
        anyhow::Ok(())
    })?;
    let report = json!({
        "benchmark": "proxy",
        "upstream": "portcullis-demo-upstream (rmcp), stateless JSON responses",
        "gateway_path": "HTTP/1.1 over TLS 1.3, bearer JWT, session per connection; authn, policy, pinning, schema validation and injection scanning on; edge layer off",
        "direct_path": "HTTP/1.1 plain to the upstream",
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "gateway_rss_idle_mib": idle_rss,
        "gateway_rss_peak_mib": peak_rss,
        "levels": levels,
    });
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("tools/call through the gateway (TLS) vs direct (plain), same run");
        println!(
            "{:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
            "conc",
            "direct p50",
            "gw p50",
            "direct p99",
            "gw p99",
            "direct r/s",
            "gw r/s",
            "+p50 ms",
            "cpu ms"
        );
        for l in report["levels"].as_array().into_iter().flatten() {
            let f = |p: &str| l.pointer(p).and_then(Value::as_f64).unwrap_or(0.0);
            println!(
                "{:>5} {:>10.3} {:>10.3} {:>10.3} {:>10.3} {:>10.0} {:>10.0} {:>9.3} {:>9.3}",
                l["concurrency"],
                f("/direct/p50_ms"),
                f("/gateway/p50_ms"),
                f("/direct/p99_ms"),
                f("/gateway/p99_ms"),
                f("/direct/requests_per_sec"),
                f("/gateway/requests_per_sec"),
                f("/added_p50_ms"),
                f("/gateway_cpu_ms_per_call")
            );
        }
        println!(
            "gateway RSS: {:.1} MiB idle, {:.1} MiB peak under load",
            idle_rss, peak_rss
        );
    }
    Ok(())
}
