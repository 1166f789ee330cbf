//! The clock the XDP program reads.

/// `CLOCK_MONOTONIC` in nanoseconds: the clock behind `bpf_ktime_get_ns`,
/// against which list entries expire.
pub fn monotonic_now_ns() -> u64 {
    // CLOCK_MONOTONIC is always available on Linux; on the impossible error
    // we return 0, which makes every timed entry look unexpired and every
    // new TTL relative to boot: conservative for a blocklist.
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|ts| {
            (ts.tv_sec() as u64)
                .saturating_mul(1_000_000_000)
                .saturating_add(ts.tv_nsec() as u64)
        })
        .unwrap_or(0)
}
