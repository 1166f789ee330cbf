//! Test hosts in network namespaces joined by a veth pair, and raw
//! (AF_PACKET) senders and receivers inside them.
//!
//! Addresses come only from 198.18.0.0/15 and 2001:2::/48. Namespaces are
//! deleted when the [`Lab`] drops, also when a test panics.

use std::{
    collections::HashMap,
    fs::File,
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd},
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU32, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use crate::frames::{DST_MAC, SRC_MAC};

static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// Runs `ip` with `args`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("running `ip` (iproute2)");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Two namespaces, `tx` and `rx`, joined by a veth pair.
#[derive(Debug)]
pub struct Lab {
    /// Sender namespace.
    pub tx_ns: String,
    /// Receiver namespace (the protected host).
    pub rx_ns: String,
    /// The sender's end of the veth pair (in `tx_ns`).
    pub tx_if: String,
    /// The receiver's end (in `rx_ns`): XDP attaches here.
    pub rx_if: String,
}

impl Lab {
    /// Creates the namespaces and the link; `tag` (≤ 4 chars) names them.
    pub fn create(tag: &str) -> Self {
        let id =
            (std::process::id() % 10_000) * 100 + NEXT_LAB.fetch_add(1, Ordering::Relaxed) % 100;
        let lab = Self {
            tx_ns: format!("pc-{tag}-{id}-tx"),
            rx_ns: format!("pc-{tag}-{id}-rx"),
            tx_if: format!("pc{tag}{id}t"),
            rx_if: format!("pc{tag}{id}r"),
        };
        assert!(
            lab.rx_if.len() < 16,
            "interface name too long: {}",
            lab.rx_if
        );
        // From here on, Drop cleans up whatever was created.
        ip(&["netns", "add", &lab.tx_ns]);
        ip(&["netns", "add", &lab.rx_ns]);
        ip(&[
            "link", "add", &lab.tx_if, "type", "veth", "peer", "name", &lab.rx_if,
        ]);
        ip(&["link", "set", &lab.tx_if, "netns", &lab.tx_ns]);
        ip(&["link", "set", &lab.rx_if, "netns", &lab.rx_ns]);
        // Fixed MACs: frames built with frames::{SRC,DST}_MAC are then
        // addressed to the receiver itself and climb its IP stack.
        for (ns, ifname, v4, v6, mac) in [
            (
                &lab.tx_ns,
                &lab.tx_if,
                "198.18.1.2/24",
                "2001:2:0:1::2/64",
                SRC_MAC,
            ),
            (
                &lab.rx_ns,
                &lab.rx_if,
                "198.18.1.1/24",
                "2001:2:0:1::1/64",
                DST_MAC,
            ),
        ] {
            let mac = mac
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<Vec<_>>()
                .join(":");
            ip(&["-n", ns, "link", "set", ifname, "address", &mac]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "addr", "add", v4, "dev", ifname]);
            ip(&["-n", ns, "addr", "add", v6, "dev", ifname, "nodad"]);
            ip(&["-n", ns, "link", "set", ifname, "up"]);
        }
        lab
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Deleting a namespace destroys the veth end inside it, and with it
        // the peer. Errors are ignored: cleanup must not mask a test failure.
        for ns in [&self.tx_ns, &self.rx_ns] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Moves the calling thread into network namespace `ns`.
pub fn enter_netns(ns: &str) {
    let file = File::open(format!("/run/netns/{ns}"))
        .unwrap_or_else(|e| panic!("opening netns {ns}: {e}"));
    nix::sched::setns(file.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET)
        .unwrap_or_else(|e| panic!("setns {ns}: {e}"));
}

/// An AF_PACKET socket bound to one interface.
#[derive(Debug)]
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    /// Opens a raw packet socket on `ifname` in the calling thread's
    /// namespace, receiving every protocol.
    pub fn open(ifname: &str) -> io::Result<Self> {
        let ifindex = nix::net::if_::if_nametoindex(ifname).map_err(io::Error::from)? as i32;
        let protocol = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(protocol)) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own exclusively.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = protocol;
        addr.sll_ifindex = ifindex;
        // SAFETY: `addr` is a valid sockaddr_ll and the length matches it.
        let ret = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        if ret < 0 {
            return Err(io::Error::last_os_error());
        }
        let size: libc::c_int = 32 << 20;
        // SAFETY: setsockopt reads a c_int of the given size. Failure (not
        // root) leaves the default buffer, which is only less tolerant.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUFFORCE,
                (&size as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as u32,
            );
        }
        Ok(Self { fd, ifindex })
    }

    /// Sends one frame as is.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_ifindex = self.ifindex;
        addr.sll_halen = 6;
        loop {
            // SAFETY: the buffer and address are valid for the given lengths.
            let ret = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    frame.as_ptr().cast(),
                    frame.len(),
                    0,
                    (&addr as *const libc::sockaddr_ll).cast(),
                    std::mem::size_of::<libc::sockaddr_ll>() as u32,
                )
            };
            if ret >= 0 {
                return Ok(());
            }
            let err = io::Error::last_os_error();
            // The veth queue is full: the flood outran the receiver. Back
            // off briefly instead of losing the frame before the filter.
            if err.raw_os_error() == Some(libc::ENOBUFS) || err.raw_os_error() == Some(libc::EAGAIN)
            {
                thread::sleep(Duration::from_micros(50));
                continue;
            }
            return Err(err);
        }
    }

    /// Receives one frame into `buf`, waiting at most `timeout`.
    pub fn recv(&self, buf: &mut [u8], timeout: Duration) -> io::Result<Option<usize>> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as i32) };
        if ready < 0 {
            return Err(io::Error::last_os_error());
        }
        if ready == 0 {
            return Ok(None);
        }
        // SAFETY: `buf` is valid for writes of its length.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Some(n as usize))
    }
}

/// What a receiver counted: frames per (source address, IP protocol).
pub type Tally = HashMap<(IpAddr, u8), u64>;

/// Parses the IP source and protocol of a received frame (no VLANs).
pub fn source_of(frame: &[u8]) -> Option<(IpAddr, u8)> {
    let ether_type = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    match ether_type {
        0x0800 => {
            let ip = frame.get(14..34)?;
            Some((
                IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
                ip[9],
            ))
        }
        0x86dd => {
            let ip = frame.get(14..54)?;
            let mut src = [0u8; 16];
            src.copy_from_slice(&ip[8..24]);
            Some((IpAddr::V6(Ipv6Addr::from(src)), ip[6]))
        }
        _ => None,
    }
}

/// A receiver thread counting frames that reach `ifname` in `ns` (after
/// XDP: a dropped frame never reaches a packet socket).
#[derive(Debug)]
pub struct Receiver {
    stop: Arc<AtomicBool>,
    handle: thread::JoinHandle<Tally>,
}

impl Receiver {
    /// Starts counting; returns once the socket is open.
    pub fn start(ns: &str, ifname: &str) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (ns, ifname, flag) = (ns.to_owned(), ifname.to_owned(), stop.clone());
        let handle = thread::spawn(move || {
            enter_netns(&ns);
            let socket = PacketSocket::open(&ifname)
                .unwrap_or_else(|e| panic!("packet socket on {ifname}: {e}"));
            let _ = ready_tx.send(());
            let mut tally = Tally::new();
            let mut buf = vec![0u8; 65_536];
            // Keep draining until asked to stop and the socket is quiet.
            loop {
                match socket.recv(&mut buf, Duration::from_millis(200)) {
                    Ok(Some(n)) => {
                        if let Some(key) = source_of(&buf[..n]) {
                            *tally.entry(key).or_default() += 1;
                        }
                    }
                    Ok(None) if flag.load(Ordering::Relaxed) => break,
                    Ok(None) => {}
                    Err(e) => panic!("receiving on {ifname}: {e}"),
                }
            }
            tally
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("receiver did not start");
        Self { stop, handle }
    }

    /// Stops after the socket has been quiet for a moment; returns the tally.
    pub fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().expect("receiver thread panicked")
    }
}

/// Sends `frames` in order from `ifname` in `ns`, pacing them `gap` apart
/// (zero: as fast as possible), stopping early at `deadline`. Returns how
/// many were sent and how long sending took.
pub fn send_frames(
    ns: &str,
    ifname: &str,
    frames: Vec<Vec<u8>>,
    gap: Duration,
    deadline: Duration,
) -> (u64, Duration) {
    let sent = send_frames_measured(ns, ifname, frames, gap, deadline);
    (sent.frames, sent.elapsed)
}

/// What [`send_frames_measured`] did.
#[derive(Clone, Copy, Debug)]
pub struct Sent {
    /// Frames handed to the kernel.
    pub frames: u64,
    /// Wall time from the first send to the last.
    pub elapsed: Duration,
    /// CPU time of the sending thread (user and system) over the sends:
    /// on veth this includes the transmit path into the peer.
    pub thread_cpu: Duration,
}

/// [`send_frames`], also reporting the sending thread's own CPU time.
pub fn send_frames_measured(
    ns: &str,
    ifname: &str,
    frames: Vec<Vec<u8>>,
    gap: Duration,
    deadline: Duration,
) -> Sent {
    let (ns, ifname) = (ns.to_owned(), ifname.to_owned());
    thread::spawn(move || {
        enter_netns(&ns);
        let socket = PacketSocket::open(&ifname)
            .unwrap_or_else(|e| panic!("packet socket on {ifname}: {e}"));
        let cpu_start = thread_cpu_time();
        let started = Instant::now();
        let mut sent = 0u64;
        for (i, frame) in frames.iter().enumerate() {
            if started.elapsed() >= deadline {
                break;
            }
            if !gap.is_zero() {
                let due = gap * i as u32;
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    thread::sleep(wait);
                }
            }
            socket
                .send(frame)
                .unwrap_or_else(|e| panic!("sending on {ifname}: {e}"));
            sent += 1;
        }
        Sent {
            frames: sent,
            elapsed: started.elapsed(),
            thread_cpu: thread_cpu_time().saturating_sub(cpu_start),
        }
    })
    .join()
    .expect("sender thread panicked")
}

/// CPU time consumed by the calling thread.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant
    // the kernel always supports.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}
