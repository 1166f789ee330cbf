//! `cargo xtask bench xdp [--json]`: the XDP filter's cost, always beside a
//! baseline measured in the same run (this machine is shared and noisy).
//!
//! 1. ns/packet through BPF_PROG_TEST_RUN with a large in-kernel `repeat`,
//!    for the pass, rate-drop, blocklist, allowlist and IPv6 pass paths,
//!    each beside the empty `XDP_PASS` program on the same frame.
//! 2. A bounded UDP flood over a veth pair between two namespaces against
//!    (a) no filter, (b) an nftables per-source meter, (c) the XDP program,
//!    with the same per-source limit: drops per second and whole-machine CPU
//!    per million packets (sender included), and the nft/XDP ratio.

use std::{net::IpAddr, process::Command, sync::mpsc, time::Duration};

use anyhow::{Context, Result, bail};
use gateway_common::Counter;
use gateway_user::edge::{Cidr, EdgeLimits, EdgeProgram, ListKind};
use portcullis_tests::{
    frames::{Frame, L4, addr},
    netlab::{Lab, enter_netns, send_frames_measured},
};
use serde_json::{Value, json};

const PORT: u16 = 9000;
const REPEAT: u32 = 2_000_000;
const SAMPLES: usize = 5;
const FLOOD_FRAMES: usize = 400_000;
const FLOOD_DEADLINE: Duration = Duration::from_secs(8);
const FLOOD_PPS_LIMIT: u64 = 1_000;
const FLOOD_ROUNDS: usize = 3;

fn main() -> Result<()> {
    let json_out = std::env::args().any(|a| a == "--json");
    if !nix::unistd::geteuid().is_root() {
        bail!("the XDP benchmark needs root (BPF_PROG_TEST_RUN, network namespaces)");
    }
    let test_run = test_run_paths()?;
    let flood = veth_flood()?;
    let report = json!({
        "benchmark": "xdp",
        "machine": machine(),
        "test_run": test_run,
        "veth_flood": flood,
    });
    if json_out {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_human(&report);
    }
    Ok(())
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_owned();
    json!({"cpu": cpu, "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), "kernel": kernel})
}

/// Median ns/packet of `SAMPLES` runs of `REPEAT` repetitions each.
fn median_ns(mut run: impl FnMut() -> Result<Duration>) -> Result<f64> {
    let mut samples = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        samples.push(run()?.as_nanos() as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(samples[SAMPLES / 2])
}

fn test_run_paths() -> Result<Value> {
    let open = EdgeLimits {
        packets_per_sec: 1_000_000_000_000,
        packet_burst: 1_000_000_000,
        new_conns_per_sec: 1_000_000_000_000,
        new_conn_burst: 1_000_000_000,
        tcp_ports: vec![PORT],
        udp_ports: vec![PORT],
        ..EdgeLimits::default()
    };
    let tight = EdgeLimits {
        packets_per_sec: 1,
        packet_burst: 1,
        ..open.clone()
    };
    let mut program = EdgeProgram::load(&open).context("loading the XDP program")?;
    let dst = addr::v4(1, 1);
    let blocked: Cidr = "198.18.50.0/24".parse()?;
    let allowed: Cidr = "198.18.51.0/24".parse()?;
    program
        .maps_mut()
        .list_add(ListKind::Block, &blocked, None)?;
    program
        .maps_mut()
        .list_add(ListKind::Allow, &allowed, None)?;
    let tight_program = EdgeProgram::load(&tight)?;
    let drop_frame = Frame::new(addr::v4(52, 1), dst, L4::udp(PORT)).build();

    let paths: Vec<(&str, &EdgeProgram, Vec<u8>, u32)> = vec![
        (
            "ipv4_pass",
            &program,
            Frame::new(addr::v4(53, 1), dst, L4::udp(PORT)).build(),
            2,
        ),
        ("ipv4_rate_drop", &tight_program, drop_frame.clone(), 1),
        (
            "ipv4_blocklist_drop",
            &program,
            Frame::new(addr::v4(50, 1), dst, L4::udp(PORT)).build(),
            1,
        ),
        (
            "ipv4_allowlist_pass",
            &program,
            Frame::new(addr::v4(51, 1), dst, L4::udp(PORT)).build(),
            2,
        ),
        (
            "ipv6_pass",
            &program,
            Frame::new(addr::v6(53, 1), addr::v6(1, 1), L4::udp(PORT)).build(),
            2,
        ),
    ];
    let mut rows = Vec::new();
    for (name, prog, frame, expected) in paths {
        // Warm up; for the rate-drop path this also spends the one token
        // (re-earned at 1/s, so a handful of packets per measured second).
        let (verdict, _) = prog.test_run(&frame, 16)?;
        if verdict != expected {
            bail!(
                "{name}: verdict {verdict}, expected {expected}: the benchmark would measure the wrong path"
            );
        }
        // Interleave filter and baseline samples so drift hits both alike.
        let filter = median_ns(|| Ok(prog.test_run(&frame, REPEAT)?.1))?;
        let baseline = median_ns(|| Ok(prog.test_run_baseline(&frame, REPEAT)?.1))?;
        rows.push(json!({
            "path": name,
            "ns_per_packet": filter,
            "baseline_ns_per_packet": baseline,
            "added_ns": filter - baseline,
            "ratio": filter / baseline.max(0.001),
        }));
    }
    Ok(json!({"repeat": REPEAT, "samples": SAMPLES, "paths": rows}))
}

/// Softirq jiffies summed over all CPUs, from /proc/stat: where the
/// receive path of a veth runs. Other work on the machine (builds, other
/// tenants) hardly raises it, unlike whole-machine busy time.
fn softirq_jiffies() -> Result<u64> {
    let stat = std::fs::read_to_string("/proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    line.split_whitespace()
        .nth(7)
        .and_then(|f| f.parse().ok())
        .context("no softirq column in /proc/stat")
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as f64 } else { 100.0 }
}

#[derive(Default)]
struct FloodResult {
    sent: u64,
    seconds: f64,
    sender_cpu_seconds: f64,
    softirq_cpu_seconds: f64,
}

impl FloodResult {
    fn cpu_seconds(&self) -> f64 {
        self.sender_cpu_seconds + self.softirq_cpu_seconds
    }

    fn add(&mut self, other: &FloodResult) {
        self.sent += other.sent;
        self.seconds += other.seconds;
        self.sender_cpu_seconds += other.sender_cpu_seconds;
        self.softirq_cpu_seconds += other.softirq_cpu_seconds;
    }
}

fn flood(lab: &Lab, frames: &[Vec<u8>]) -> Result<FloodResult> {
    let soft0 = softirq_jiffies()?;
    let sent = send_frames_measured(
        &lab.tx_ns,
        &lab.tx_if,
        frames.to_vec(),
        Duration::ZERO,
        FLOOD_DEADLINE,
    );
    // Let the receiver's softirq backlog drain before reading the counters.
    std::thread::sleep(Duration::from_millis(100));
    let soft1 = softirq_jiffies()?;
    Ok(FloodResult {
        sent: sent.frames,
        seconds: sent.elapsed.as_secs_f64(),
        sender_cpu_seconds: sent.thread_cpu.as_secs_f64(),
        softirq_cpu_seconds: soft1.saturating_sub(soft0) as f64 / clk_tck(),
    })
}

fn nft(ns: &str, script: &str) -> Result<String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            if let Some(stdin) = child.stdin.as_mut() {
                stdin.write_all(script.as_bytes())?;
            }
            child.wait_with_output()
        })
        .context("running nft (install nftables; `cargo xtask bench xdp` does)")?;
    if !out.status.success() {
        bail!("nft failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn nft_dropped(ns: &str) -> Result<u64> {
    let out = Command::new("ip")
        .args([
            "netns", "exec", ns, "nft", "-j", "list", "table", "ip", "pcbench",
        ])
        .output()?;
    let v: Value = serde_json::from_slice(&out.stdout).context("parsing nft JSON")?;
    let packets = v["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["rule"]["expr"].as_array())
        .flatten()
        .find_map(|e| e["counter"]["packets"].as_u64());
    packets.context("no counter in the nft rule")
}

fn row(name: &str, result: &FloodResult, dropped: u64) -> Value {
    let per_packet_us = result.cpu_seconds() * 1e6 / result.sent.max(1) as f64;
    json!({
        "filter": name,
        "sent": result.sent,
        "seconds": result.seconds,
        "sent_pps": result.sent as f64 / result.seconds,
        "dropped": dropped,
        "dropped_pps": dropped as f64 / result.seconds,
        "sender_cpu_seconds": result.sender_cpu_seconds,
        "softirq_cpu_seconds": result.softirq_cpu_seconds,
        "cpu_us_per_packet": per_packet_us,
        "cpu_ms_per_million_packets": per_packet_us * 1e3,
    })
}

/// Runs the flood with the XDP program attached to the receiver; returns
/// the flood, the program's rate-drop count and the attach mode.
fn flood_with_xdp(lab: &Lab, frames: &[Vec<u8>]) -> Result<(FloodResult, u64, String)> {
    let limits = EdgeLimits {
        packets_per_sec: FLOOD_PPS_LIMIT,
        packet_burst: FLOOD_PPS_LIMIT,
        tcp_ports: vec![PORT],
        udp_ports: vec![PORT],
        ..EdgeLimits::default()
    };
    let (ready_tx, ready_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let (rx_ns, rx_if) = (lab.rx_ns.clone(), lab.rx_if.clone());
    let holder = std::thread::spawn(move || -> Result<u64> {
        enter_netns(&rx_ns);
        let (program, mode) = match EdgeProgram::start(&rx_if, &limits) {
            Ok(p) => p,
            Err(e) => {
                let _ = ready_tx.send(Err(e.to_string()));
                return Ok(0);
            }
        };
        let _ = ready_tx.send(Ok(mode.to_string()));
        let _ = stop_rx.recv_timeout(Duration::from_secs(60));
        Ok(program.maps().counters()?.get(Counter::DroppedRate))
    });
    let mode = ready_rx
        .recv_timeout(Duration::from_secs(30))
        .context("XDP attach timed out")?
        .map_err(anyhow::Error::msg)?;
    let result = flood(lab, frames);
    let _ = stop_tx.send(());
    let drops = holder
        .join()
        .map_err(|_| anyhow::anyhow!("XDP holder thread panicked"))??;
    Ok((result?, drops, mode))
}

fn veth_flood() -> Result<Value> {
    let lab = Lab::create("bx");
    let src: IpAddr = addr::v4(60, 1);
    let frames: Vec<Vec<u8>> =
        vec![Frame::new(src, addr::v4(1, 1), L4::udp(PORT)).build(); FLOOD_FRAMES];
    let meter = format!(
        "table ip pcbench {{\n set meter4 {{ type ipv4_addr; size 65535; flags dynamic; timeout 60s; }}\n \
         chain pre {{ type filter hook prerouting priority -300; policy accept;\n  \
         udp dport {PORT} update @meter4 {{ ip saddr limit rate over {FLOOD_PPS_LIMIT}/second burst {FLOOD_PPS_LIMIT} packets }} counter drop\n }}\n}}\n"
    );

    // Rounds interleave the three filters so drift on a shared machine
    // hits each of them alike.
    let (mut none, mut with_nft, mut with_xdp) = (
        FloodResult::default(),
        FloodResult::default(),
        FloodResult::default(),
    );
    let (mut nft_drops, mut xdp_drops, mut mode) = (0, 0, String::new());
    for _ in 0..FLOOD_ROUNDS {
        // (a) no filter: the frames climb the stack to a closed UDP port.
        none.add(&flood(&lab, &frames)?);

        // (b) nftables: a per-source meter at the earliest netfilter hook.
        nft(&lab.rx_ns, &meter)?;
        with_nft.add(&flood(&lab, &frames)?);
        nft_drops += nft_dropped(&lab.rx_ns)?;
        nft(&lab.rx_ns, "delete table ip pcbench\n")?;

        // (c) the XDP program with the same per-source limit.
        let (result, drops, attach_mode) = flood_with_xdp(&lab, &frames)?;
        with_xdp.add(&result);
        xdp_drops += drops;
        mode = attach_mode;
    }

    let per_pkt = |r: &FloodResult| r.cpu_seconds() / r.sent.max(1) as f64;
    Ok(json!({
        "frames_per_run": FLOOD_FRAMES,
        "rounds": FLOOD_ROUNDS,
        "per_source_limit_pps": FLOOD_PPS_LIMIT,
        "xdp_attach_mode": mode,
        "cpu_measure": "sending thread's CPU time (veth transmit path) + softirq time on all CPUs (receive path), summed over the rounds",
        "runs": [row("none", &none, 0), row("nftables_meter", &with_nft, nft_drops), row("xdp", &with_xdp, xdp_drops)],
        "nft_over_xdp_cpu_per_packet": per_pkt(&with_nft) / per_pkt(&with_xdp).max(1e-12),
        "none_over_xdp_cpu_per_packet": per_pkt(&none) / per_pkt(&with_xdp).max(1e-12),
        "xdp_over_nft_dropped_pps": (xdp_drops as f64 / with_xdp.seconds) / (nft_drops as f64 / with_nft.seconds).max(1e-9),
    }))
}

fn print_human(report: &Value) {
    println!("machine: {}", report["machine"]);
    println!(
        "\nBPF_PROG_TEST_RUN, median of {} × {} repeats",
        report["test_run"]["samples"], report["test_run"]["repeat"]
    );
    println!(
        "{:<22} {:>10} {:>12} {:>10} {:>8}",
        "path", "ns/pkt", "empty ns/pkt", "added ns", "ratio"
    );
    for r in report["test_run"]["paths"].as_array().into_iter().flatten() {
        println!(
            "{:<22} {:>10.1} {:>12.1} {:>10.1} {:>8.2}",
            r["path"].as_str().unwrap_or(""),
            r["ns_per_packet"].as_f64().unwrap_or(0.0),
            r["baseline_ns_per_packet"].as_f64().unwrap_or(0.0),
            r["added_ns"].as_f64().unwrap_or(0.0),
            r["ratio"].as_f64().unwrap_or(0.0)
        );
    }
    let f = &report["veth_flood"];
    println!(
        "\nveth flood: {} rounds of {} frames from one source, limit {}/s, XDP {}",
        f["rounds"], f["frames_per_run"], f["per_source_limit_pps"], f["xdp_attach_mode"]
    );
    println!(
        "{:<16} {:>10} {:>12} {:>12} {:>14}",
        "filter", "sent pps", "dropped", "dropped pps", "CPU µs/packet"
    );
    for r in f["runs"].as_array().into_iter().flatten() {
        println!(
            "{:<16} {:>10.0} {:>12} {:>12.0} {:>14.3}",
            r["filter"].as_str().unwrap_or(""),
            r["sent_pps"].as_f64().unwrap_or(0.0),
            r["dropped"],
            r["dropped_pps"].as_f64().unwrap_or(0.0),
            r["cpu_us_per_packet"].as_f64().unwrap_or(0.0)
        );
    }
    println!(
        "nftables / XDP CPU per packet: {:.2}×   no filter / XDP: {:.2}×   XDP / nftables drops per second: {:.2}×",
        f["nft_over_xdp_cpu_per_packet"].as_f64().unwrap_or(0.0),
        f["none_over_xdp_cpu_per_packet"].as_f64().unwrap_or(0.0),
        f["xdp_over_nft_dropped_pps"].as_f64().unwrap_or(0.0)
    );
}
