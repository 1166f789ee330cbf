//! Indices into the per-CPU verdict counter array.
//!
//! Every packet the XDP program sees increments exactly one counter, so the
//! counters add up to the number of packets processed.

/// A verdict counter; its discriminant is its index in the counter map.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Passed: not IP, not to a protected port, or within its source's budget.
    Passed = 0,
    /// Source on the allowlist: passed without rate limiting.
    Allowlisted = 1,
    /// Dropped because the source is on the blocklist.
    DroppedBlocklist = 2,
    /// Dropped by the per-source packet bucket.
    DroppedRate = 3,
    /// Dropped by the per-source new-connection bucket (TCP SYN, QUIC Initial).
    DroppedConnRate = 4,
    /// Dropped because an IP or transport header was truncated or malformed.
    DroppedMalformed = 5,
    /// Monitor mode: would have been dropped, passed instead.
    WouldDrop = 6,
}

impl Counter {
    /// Number of counters, the size of the counter map.
    pub const COUNT: u32 = 7;

    /// Every counter in index order.
    pub const ALL: [Counter; Self::COUNT as usize] = [
        Counter::Passed,
        Counter::Allowlisted,
        Counter::DroppedBlocklist,
        Counter::DroppedRate,
        Counter::DroppedConnRate,
        Counter::DroppedMalformed,
        Counter::WouldDrop,
    ];

    /// Stable snake_case name used by the CLI and JSON output.
    pub const fn name(self) -> &'static str {
        match self {
            Counter::Passed => "passed",
            Counter::Allowlisted => "allowlisted",
            Counter::DroppedBlocklist => "dropped_blocklist",
            Counter::DroppedRate => "dropped_rate",
            Counter::DroppedConnRate => "dropped_new_conn_rate",
            Counter::DroppedMalformed => "dropped_malformed",
            Counter::WouldDrop => "would_drop",
        }
    }

    /// Whether this verdict dropped the packet.
    pub const fn is_drop(self) -> bool {
        matches!(
            self,
            Counter::DroppedBlocklist
                | Counter::DroppedRate
                | Counter::DroppedConnRate
                | Counter::DroppedMalformed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(*c as usize, i);
        }
    }
}
