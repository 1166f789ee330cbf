//! Map names, keys and values of the XDP program, laid out `#[repr(C)]`
//! with explicit padding so kernel and userspace agree byte for byte.
//!
//! Addresses are stored as 16 bytes in network order; IPv4 addresses are
//! IPv4-mapped (`::ffff:a.b.c.d`), so one trie and one source table serve
//! both families.

use crate::bucket::{Rate, TokenBucket};

/// Name of the single-entry config array (at most 15 bytes: BPF_OBJ_NAME_LEN).
pub const MAP_CONFIG: &str = "PC_CONFIG";
/// Name of the per-source LRU state table.
pub const MAP_SOURCES: &str = "PC_SOURCES";
/// Name of the allowlist LPM trie.
pub const MAP_ALLOW: &str = "PC_ALLOW";
/// Name of the blocklist LPM trie.
pub const MAP_BLOCK: &str = "PC_BLOCK";
/// Name of the per-CPU verdict counters.
pub const MAP_COUNTERS: &str = "PC_COUNTERS";
/// Name of the XDP program in the object file.
pub const PROGRAM_NAME: &str = "portcullis";
/// Name of the empty `XDP_PASS` program benchmarks compare against.
pub const BASELINE_PROGRAM_NAME: &str = "portcullis_pass";

/// Sources tracked at once; the LRU evicts the least recently seen, so a
/// spoofed flood cannot grow kernel memory.
pub const MAX_SOURCES: u32 = 65_536;
/// Entries per allow/block list.
pub const MAX_LIST_ENTRIES: u32 = 16_384;
/// Protected ports per transport.
pub const MAX_PORTS: usize = 8;
/// IPv6 extension headers skipped before giving up on finding the transport
/// header (the packet is then charged to its source like a fragment).
pub const MAX_IPV6_EXT_HEADERS: usize = 6;

/// Prefix-length offset of an IPv4-mapped address inside 128 bits.
pub const V4_MAPPED_PREFIX: u32 = 96;

/// What the program does with packets its buckets reject.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Drop them.
    Enforce = 0,
    /// Count them as `would_drop` and pass them.
    Monitor = 1,
}

/// Runtime configuration; entry 0 of [`MAP_CONFIG`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeConfig {
    /// Per-source budget for all packets to protected ports.
    pub packets: Rate,
    /// Per-source budget for new connections (TCP SYN, QUIC Initial).
    pub new_conns: Rate,
    /// Protected TCP destination ports; 0 marks an unused slot.
    pub tcp_ports: [u16; MAX_PORTS],
    /// Protected UDP destination ports; 0 marks an unused slot.
    pub udp_ports: [u16; MAX_PORTS],
    /// IPv4 sources are grouped by this prefix length (1..=32).
    pub v4_prefix_len: u8,
    /// IPv6 sources are grouped by this prefix length (1..=128).
    pub v6_prefix_len: u8,
    /// A [`Mode`] discriminant.
    pub mode: u8,
    /// Reserved, zero.
    pub _reserved: [u8; 5],
}

impl EdgeConfig {
    /// Whether `port` is a protected TCP port.
    #[inline(always)]
    pub fn protects_tcp(&self, port: u16) -> bool {
        port != 0 && contains_port(&self.tcp_ports, port)
    }

    /// Whether `port` is a protected UDP port.
    #[inline(always)]
    pub fn protects_udp(&self, port: u16) -> bool {
        port != 0 && contains_port(&self.udp_ports, port)
    }

    /// Whether rejected packets are passed (monitor mode).
    #[inline(always)]
    pub fn is_monitor(&self) -> bool {
        self.mode == Mode::Monitor as u8
    }
}

#[inline(always)]
fn contains_port(ports: &[u16; MAX_PORTS], port: u16) -> bool {
    let mut i = 0;
    while i < MAX_PORTS {
        if ports[i] == port {
            return true;
        }
        i += 1;
    }
    false
}

/// Key of the source table: a source address masked to its prefix.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SourceKey {
    /// IPv6 or IPv4-mapped address, host bits cleared.
    pub addr: [u8; 16],
}

impl SourceKey {
    /// Builds the key for `addr`, keeping `prefix_len` leading bits of the
    /// 128-bit (IPv4-mapped) address.
    #[inline(always)]
    pub fn masked(mut addr: [u8; 16], prefix_len: u32) -> Self {
        mask_prefix(&mut addr, prefix_len);
        Self { addr }
    }
}

/// Clears every bit after the first `prefix_len` bits of `addr`.
#[inline(always)]
pub fn mask_prefix(addr: &mut [u8; 16], prefix_len: u32) {
    let mut i = 0usize;
    while i < 16 {
        let start = (i as u32) * 8;
        if prefix_len <= start {
            addr[i] = 0;
        } else if prefix_len < start + 8 {
            let keep = prefix_len - start;
            addr[i] &= 0xffu8 << (8 - keep);
        }
        i += 1;
    }
}

/// Builds the IPv4-mapped form of an IPv4 address given as 4 bytes.
#[inline(always)]
pub const fn v4_mapped(v4: [u8; 4]) -> [u8; 16] {
    [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, v4[0], v4[1], v4[2], v4[3],
    ]
}

/// Per-source state: both buckets and what the source has cost so far.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceState {
    /// Bucket for all packets to protected ports.
    pub packets: TokenBucket,
    /// Bucket for new connections.
    pub new_conns: TokenBucket,
    /// Packets from this source that passed the buckets.
    pub passed: u64,
    /// Packets from this source dropped (or, in monitor mode, that would
    /// have been) by either bucket.
    pub dropped: u64,
}

/// Value of an allow/block list entry.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ListEntry {
    /// `CLOCK_MONOTONIC` nanoseconds after which the entry no longer
    /// applies; 0 means never.
    pub expires_at_ns: u64,
    /// Who added it: one of the `REASON_*` constants.
    pub reason: u32,
    /// Reserved, zero.
    pub _reserved: u32,
}

/// Entry added by an operator.
pub const REASON_OPERATOR: u32 = 0;
/// Entry added automatically by the gateway (repeated L7 failures).
pub const REASON_AUTOMATIC: u32 = 1;

impl ListEntry {
    /// Whether the entry applies at monotonic time `now_ns`.
    #[inline(always)]
    pub const fn is_active(&self, now_ns: u64) -> bool {
        self.expires_at_ns == 0 || now_ns < self.expires_at_ns
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: each type is #[repr(C)], Copy, made only of integers and
    // integer arrays, and laid out with no implicit padding (checked by the
    // size assertions below), so every bit pattern is a valid value.
    unsafe impl aya::Pod for super::EdgeConfig {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SourceKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::SourceState {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::ListEntry {}
}

// No implicit padding: the kernel and userspace views must match exactly.
const _: () = assert!(core::mem::size_of::<EdgeConfig>() == 72);
const _: () = assert!(core::mem::size_of::<SourceState>() == 48);
const _: () = assert!(core::mem::size_of::<ListEntry>() == 16);
const _: () = assert!(core::mem::size_of::<SourceKey>() == 16);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_v4_mapped_to_slash_24() {
        let k = SourceKey::masked(v4_mapped([198, 18, 7, 9]), V4_MAPPED_PREFIX + 24);
        assert_eq!(k.addr, v4_mapped([198, 18, 7, 0]));
    }

    #[test]
    fn masks_partial_bytes() {
        let mut a = [0xffu8; 16];
        mask_prefix(&mut a, 61);
        assert_eq!(&a[..7], &[0xff; 7]);
        assert_eq!(a[7], 0b1111_1000);
        assert_eq!(&a[8..], &[0; 8]);
        let mut b = [0xffu8; 16];
        mask_prefix(&mut b, 128);
        assert_eq!(b, [0xff; 16]);
        mask_prefix(&mut b, 0);
        assert_eq!(b, [0; 16]);
    }

    #[test]
    fn ports_zero_is_never_protected() {
        let mut cfg = EdgeConfig {
            packets: Rate::new(1, 1),
            new_conns: Rate::new(1, 1),
            tcp_ports: [0; MAX_PORTS],
            udp_ports: [0; MAX_PORTS],
            v4_prefix_len: 32,
            v6_prefix_len: 64,
            mode: Mode::Enforce as u8,
            _reserved: [0; 5],
        };
        assert!(!cfg.protects_tcp(0));
        cfg.tcp_ports[3] = 8443;
        assert!(cfg.protects_tcp(8443));
        assert!(!cfg.protects_udp(8443));
    }

    #[test]
    fn list_entry_expiry() {
        let forever = ListEntry::default();
        assert!(forever.is_active(u64::MAX));
        let e = ListEntry {
            expires_at_ns: 100,
            ..Default::default()
        };
        assert!(e.is_active(99));
        assert!(!e.is_active(100));
    }
}
