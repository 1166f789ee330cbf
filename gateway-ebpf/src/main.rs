//! The Portcullis XDP program.
//!
//! For every frame: find the IP source and, where it can, the transport
//! destination port; then allowlist (pass, never limited) beats blocklist
//! (drop) beats the per-source token buckets (packets to protected ports, and
//! new connections: TCP SYN without ACK, QUIC long-header Initial). Each frame
//! increments exactly one verdict counter.
#![no_std]
#![no_main]

mod parse;

use aya_ebpf::{
    bindings::{xdp_action, BPF_F_NO_PREALLOC},
    helpers::bpf_ktime_get_ns,
    macros::{map, xdp},
    maps::{lpm_trie::Key, Array, LpmTrie, LruHashMap, PerCpuArray},
    programs::XdpContext,
};
use aya_log_ebpf::warn;
use gateway_common::{
    Counter, EdgeConfig, ListEntry, SourceKey, SourceState, TokenBucket, MAX_LIST_ENTRIES,
    MAX_SOURCES, V4_MAPPED_PREFIX,
};
use parse::{parse, Parsed, Transport};

#[map(name = "PC_CONFIG")]
static CONFIG: Array<EdgeConfig> = Array::with_max_entries(1, 0);

#[map(name = "PC_SOURCES")]
static SOURCES: LruHashMap<SourceKey, SourceState> = LruHashMap::with_max_entries(MAX_SOURCES, 0);

#[map(name = "PC_ALLOW")]
static ALLOW: LpmTrie<[u8; 16], ListEntry> =
    LpmTrie::with_max_entries(MAX_LIST_ENTRIES, BPF_F_NO_PREALLOC);

#[map(name = "PC_BLOCK")]
static BLOCK: LpmTrie<[u8; 16], ListEntry> =
    LpmTrie::with_max_entries(MAX_LIST_ENTRIES, BPF_F_NO_PREALLOC);

#[map(name = "PC_COUNTERS")]
static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(Counter::COUNT, 0);

/// The edge filter.
///
/// Fail-closed choice: a frame whose IP or transport header is truncated or
/// malformed is dropped (`dropped_malformed`), because it cannot be
/// attributed to a source and no legitimate stack sends it. A frame that is
/// not IP at all (ARP, LLDP, …) passes: the edge layer filters IP sources only.
#[xdp]
pub fn portcullis(ctx: XdpContext) -> u32 {
    let verdict = match parse(&ctx) {
        Ok(Parsed::NotIp) => Counter::Passed,
        Ok(Parsed::Ip(packet)) => judge(&ctx, &packet),
        Err(_) => Counter::DroppedMalformed,
    };
    count(verdict);
    if verdict.is_drop() {
        xdp_action::XDP_DROP
    } else {
        xdp_action::XDP_PASS
    }
}

/// An empty program that passes everything: the baseline benchmarks measure
/// the filter against, in the same run.
#[xdp]
pub fn portcullis_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

#[inline(always)]
fn judge(ctx: &XdpContext, packet: &parse::IpPacket) -> Counter {
    let now = unsafe {
        // SAFETY: bpf_ktime_get_ns has no preconditions; it reads
        // CLOCK_MONOTONIC, the clock userspace uses for list expiry.
        bpf_ktime_get_ns()
    };
    let exact = Key::new(128, packet.src);
    if let Some(entry) = ALLOW.get(&exact) {
        if entry.is_active(now) {
            return Counter::Allowlisted;
        }
    }
    if let Some(entry) = BLOCK.get(&exact) {
        if entry.is_active(now) {
            return Counter::DroppedBlocklist;
        }
    }
    // No config written yet (program loaded but not configured): nothing is
    // protected, so only the lists above apply.
    let Some(config) = CONFIG.get(0) else {
        return Counter::Passed;
    };
    let new_conn = match packet.transport {
        Transport::Tcp { dst_port, syn_only } => {
            if !config.protects_tcp(dst_port) {
                return Counter::Passed;
            }
            syn_only
        }
        Transport::Udp { dst_port, quic_initial } => {
            if !config.protects_udp(dst_port) {
                return Counter::Passed;
            }
            quic_initial
        }
        // Non-first fragments and packets whose transport header lies past
        // the extension-header budget cannot be port-matched: charge them
        // to their source.
        Transport::Unattributable => false,
        Transport::Other => return Counter::Passed,
    };
    let verdict = charge_source(ctx, config, packet, new_conn, now);
    if verdict.is_drop() && config.is_monitor() {
        Counter::WouldDrop
    } else {
        verdict
    }
}

#[inline(always)]
fn charge_source(
    ctx: &XdpContext,
    config: &EdgeConfig,
    packet: &parse::IpPacket,
    new_conn: bool,
    now: u64,
) -> Counter {
    let prefix_len = if packet.is_v4 {
        V4_MAPPED_PREFIX + u32::from(config.v4_prefix_len)
    } else {
        u32::from(config.v6_prefix_len)
    };
    let key = SourceKey::masked(packet.src, prefix_len);
    let state = match SOURCES.get_ptr_mut(&key) {
        Some(state) => state,
        None => {
            let fresh = SourceState {
                packets: TokenBucket::full(&config.packets, now),
                new_conns: TokenBucket::full(&config.new_conns, now),
                passed: 0,
                dropped: 0,
            };
            if SOURCES.insert(&key, &fresh, 0).is_err() {
                // Rare: the LRU always makes room, so this means the map is
                // broken. Log it; the packet is judged on a fresh bucket.
                warn!(ctx, "portcullis: source table insert failed");
            }
            match SOURCES.get_ptr_mut(&key) {
                Some(state) => state,
                None => return Counter::Passed,
            }
        }
    };
    // SAFETY: `state` points at a live value of SOURCES returned by the
    // kernel for this key; BPF hash values stay valid for the duration of the
    // program (RCU). Concurrent updates from other CPUs can race on the
    // buckets, which at worst admits a few extra packets; it cannot corrupt
    // memory.
    let state = unsafe { &mut *state };
    let verdict = if !state.packets.try_take(&config.packets, now) {
        Counter::DroppedRate
    } else if new_conn && !state.new_conns.try_take(&config.new_conns, now) {
        Counter::DroppedConnRate
    } else {
        Counter::Passed
    };
    if verdict.is_drop() {
        state.dropped += 1;
    } else {
        state.passed += 1;
    }
    verdict
}

#[inline(always)]
fn count(counter: Counter) {
    if let Some(slot) = COUNTERS.get_ptr_mut(counter as u32) {
        // SAFETY: per-CPU array slot for this CPU; nothing else writes it
        // while this program runs on this CPU (preemption is disabled).
        unsafe { *slot += 1 };
    }
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 13] = *b"Dual MIT/GPL\0";
