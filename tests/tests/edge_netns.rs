//! End to end on a real veth link between two network-namespace hosts: the
//! `portcullis` binary attaches its XDP program to the receiver's interface,
//! a flooding source and a well-behaved source send UDP and TCP SYN to the
//! protected port, and a packet socket on the receiver counts what arrives
//! (XDP runs before packet sockets, so a dropped frame is never counted).
//! Then `portcullis ctl` retunes the running program without a reload.

use std::{
    net::IpAddr,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use portcullis_tests::{
    frames::{Frame, L4, addr},
    netlab::{Lab, Receiver, send_frames},
    portcullis_bin, require_root,
};

const PORT: u16 = 9000;
const PPS: u64 = 200;
const BURST: u64 = 50;
const CONN_RATE: u64 = 20;
const CONN_BURST: u64 = 10;

/// The running `portcullis run` process; stopped with SIGTERM on drop.
struct Daemon {
    child: Child,
    iface: String,
}

impl Daemon {
    fn start(lab: &Lab, dir: &std::path::Path) -> Self {
        let config = dir.join("portcullis.toml");
        std::fs::write(
            &config,
            format!(
                "[edge]\ninterface = \"{}\"\n[edge.limits]\npackets_per_sec = {PPS}\npacket_burst = {BURST}\n\
                 new_conns_per_sec = {CONN_RATE}\nnew_conn_burst = {CONN_BURST}\ntcp_ports = [{PORT}]\nudp_ports = [{PORT}]\n",
                lab.rx_if
            ),
        )
        .expect("writing config");
        let child = Command::new(portcullis_bin())
            .args([
                "run",
                "--netns",
                &lab.rx_ns,
                "--stats-interval",
                "0",
                "--config",
            ])
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .expect("starting portcullis run");
        let daemon = Self {
            child,
            iface: lab.rx_if.clone(),
        };
        let started = Instant::now();
        while daemon.ctl_status(&["limits", "show"]).0.is_none() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "portcullis did not come up on {}",
                lab.rx_if
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        daemon
    }

    /// Runs `portcullis ctl --iface IFACE ARGS`; returns stdout on success.
    fn ctl_status(&self, args: &[&str]) -> (Option<String>, String) {
        let out = Command::new(portcullis_bin())
            .args(["ctl", "--iface", &self.iface])
            .args(args)
            .output()
            .expect("running portcullis ctl");
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        (
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).into_owned()),
            stderr,
        )
    }

    fn ctl(&self, args: &[&str]) -> String {
        match self.ctl_status(args) {
            (Some(stdout), _) => stdout,
            (None, stderr) => panic!("portcullis ctl {args:?} failed: {stderr}"),
        }
    }

    fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().expect("polling portcullis").is_none(),
            "portcullis exited"
        );
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::SIGTERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn frames(src: IpAddr, dst: IpAddr, l4: L4, n: usize) -> Vec<Vec<u8>> {
    let frame = Frame::new(src, dst, l4).build();
    vec![frame; n]
}

/// One round: the flooder sends `flood` as fast as it can while the good
/// source paces `good` 20 ms apart; returns (flood sent, flood received,
/// flood seconds, good sent, good received).
fn round(
    lab: &Lab,
    flooder: IpAddr,
    flood: Vec<Vec<u8>>,
    good_src: IpAddr,
    good: Vec<Vec<u8>>,
) -> (u64, u64, f64, u64, u64) {
    let receiver = Receiver::start(&lab.rx_ns, &lab.rx_if);
    let (tx_ns, tx_if) = (lab.tx_ns.clone(), lab.tx_if.clone());
    let good_sender = std::thread::spawn(move || {
        send_frames(
            &tx_ns,
            &tx_if,
            good,
            Duration::from_millis(20),
            Duration::from_secs(10),
        )
    });
    let (flood_sent, flood_time) = send_frames(
        &lab.tx_ns,
        &lab.tx_if,
        flood,
        Duration::ZERO,
        Duration::from_secs(3),
    );
    let (good_sent, _) = good_sender.join().expect("good sender");
    let tally = receiver.finish();
    let count = |src: IpAddr| {
        tally
            .iter()
            .filter(|((s, _), _)| *s == src)
            .map(|(_, n)| *n)
            .sum::<u64>()
    };
    (
        flood_sent,
        count(flooder),
        flood_time.as_secs_f64(),
        good_sent,
        count(good_src),
    )
}

/// Slack on the flood's duration: the sender's clock stops after its last
/// `sendto`, the last frames may still be in the receiver's queue.
const CLOCK_SLACK_SECS: f64 = 0.05;

/// The bound: at most rate × time + burst from the flooder, where time is the
/// flood's wall time as the sender measured it (plus [`CLOCK_SLACK_SECS`]).
fn assert_bounded(what: &str, received: u64, rate: u64, burst: u64, seconds: f64) {
    let seconds = seconds + CLOCK_SLACK_SECS;
    let bound = (rate as f64 * seconds).ceil() as u64 + burst;
    assert!(
        received <= bound,
        "{what}: flooder got {received} frames through, bound is {bound} ({rate}/s × {seconds:.2}s + {burst})"
    );
    assert!(
        received >= burst.min(1),
        "{what}: nothing from the flooder arrived; is traffic flowing at all?"
    );
}

fn scenario(family: &str, dst: IpAddr, flooder: IpAddr, good: IpAddr, good_block: &str) {
    let lab = Lab::create(if family == "v4" { "e4" } else { "e6" });
    let dir = std::env::temp_dir().join(format!("portcullis-{}-{}", family, std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut daemon = Daemon::start(&lab, &dir);

    // 1. UDP flood against the packet bucket.
    let (sent, got, secs, good_sent, good_got) = round(
        &lab,
        flooder,
        frames(flooder, dst, L4::udp(PORT), 20_000),
        good,
        frames(good, dst, L4::udp(PORT), 40),
    );
    eprintln!(
        "{family} udp: flooder sent {sent} in {secs:.2}s, {got} arrived; good {good_got}/{good_sent}"
    );
    assert!(
        sent > BURST * 4,
        "the flood must exceed the budget to test anything (sent {sent})"
    );
    assert_bounded(&format!("{family} UDP flood"), got, PPS, BURST, secs);
    assert_eq!(
        good_got, good_sent,
        "{family}: the well-behaved UDP source lost packets"
    );

    // 2. SYN flood against the new-connection bucket. Fresh source addresses
    //    would be fresh buckets, so the flooder keeps its address and the
    //    connection bucket (10 burst, 20/s) is what binds.
    let flooder_syn = frames(flooder, dst, L4::syn(PORT), 20_000);
    let good_syn = frames(good, dst, L4::syn(PORT), 8);
    let (sent, got, secs, good_sent, good_got) = round(&lab, flooder, flooder_syn, good, good_syn);
    eprintln!(
        "{family} syn: flooder sent {sent} in {secs:.2}s, {got} arrived; good {good_got}/{good_sent}"
    );
    assert_bounded(
        &format!("{family} SYN flood"),
        got,
        CONN_RATE,
        CONN_BURST,
        secs,
    );
    assert_eq!(
        good_got, good_sent,
        "{family}: the well-behaved SYN source lost packets"
    );

    // 3. Raise the limits at runtime: the same flood now passes whole.
    daemon.ctl(&["limits", "set", "--pps", "1000000", "--burst", "1000000"]);
    let shown = daemon.ctl(&["limits", "show", "--json"]);
    assert!(shown.contains("\"packets_per_sec\": 1000000"), "{shown}");
    let (sent, got, _, _, _) = round(
        &lab,
        flooder,
        frames(flooder, dst, L4::udp(PORT), 2_000),
        good,
        Vec::new(),
    );
    assert_eq!(
        got, sent,
        "{family}: after `limits set` nothing should be dropped"
    );

    // 4. Block the good source at runtime, then unblock it.
    daemon.ctl(&["block", "add", good_block, "--ttl", "10m"]);
    let (_, _, _, good_sent, good_got) = round(
        &lab,
        flooder,
        Vec::new(),
        good,
        frames(good, dst, L4::udp(PORT), 20),
    );
    assert_eq!(
        (good_sent, good_got),
        (20, 0),
        "{family}: blocked source got through"
    );
    daemon.ctl(&["block", "rm", good_block]);
    let (_, _, _, good_sent, good_got) = round(
        &lab,
        flooder,
        Vec::new(),
        good,
        frames(good, dst, L4::udp(PORT), 20),
    );
    assert_eq!(
        good_got, good_sent,
        "{family}: unblocked source still dropped"
    );

    // Bad input changes nothing.
    assert!(
        daemon
            .ctl_status(&["block", "add", "198.18.1.300/32"])
            .0
            .is_none()
    );
    assert!(
        daemon
            .ctl_status(&["limits", "set", "--burst", "0"])
            .0
            .is_none()
    );
    assert!(
        daemon
            .ctl(&["limits", "show", "--json"])
            .contains("\"packet_burst\": 1000000")
    );

    // The counters and top list saw all of it.
    let stats = daemon.ctl(&["stats", "--json", "--interval", "1"]);
    let stats: serde_json::Value = serde_json::from_str(&stats).expect("stats JSON");
    assert!(
        stats["counters"]["dropped_rate"]["total"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{stats}"
    );
    assert!(
        stats["counters"]["dropped_new_conn_rate"]["total"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{stats}"
    );
    assert!(
        stats["counters"]["dropped_blocklist"]["total"]
            .as_u64()
            .unwrap_or(0)
            >= 20,
        "{stats}"
    );
    let top = daemon.ctl(&["top", "-n", "1"]);
    let flooder_prefix = if family == "v4" {
        format!("{flooder}/32")
    } else {
        "2001:2:0:2::/64".to_owned()
    };
    assert!(
        top.contains(&flooder_prefix),
        "the flooder should top the drops:\n{top}"
    );
    daemon.assert_alive();
    drop(daemon);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        !gateway_user::edge::pin_dir(&lab.rx_if).exists(),
        "pins left behind after SIGTERM"
    );
}

#[test]
fn ipv4_flood_is_bounded_and_retuned_at_runtime() {
    if !require_root("ipv4_flood_is_bounded_and_retuned_at_runtime") {
        return;
    }
    scenario(
        "v4",
        addr::v4(1, 1),
        addr::v4(2, 2),
        addr::v4(3, 3),
        "198.18.3.3/32",
    );
}

#[test]
fn ipv6_flood_is_bounded_and_retuned_at_runtime() {
    if !require_root("ipv6_flood_is_bounded_and_retuned_at_runtime") {
        return;
    }
    scenario(
        "v6",
        addr::v6(1, 1),
        addr::v6(2, 2),
        addr::v6(3, 3),
        "2001:2:0:3::/64",
    );
}

#[test]
fn ctl_without_a_running_program_fails_clearly() {
    let out = Command::new(portcullis_bin())
        .args(["ctl", "--iface", "pcnothing0", "limits", "show"])
        .output()
        .expect("running portcullis ctl");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("no Portcullis XDP program is running on `pcnothing0`"),
        "{stderr}"
    );
}
