//! Integer token buckets with nanosecond credit.
//!
//! A bucket holds *credit* measured in nano-tokens: one token (one packet or
//! one new connection) costs [`NANOS_PER_SEC`] credit, and a rate of `r`
//! tokens per second earns exactly `r` credit per elapsed nanosecond. That
//! keeps the refill a single multiplication with no division on the hot path
//! and no floating point (the BPF instruction set has none).
//!
//! Overflow is avoided by construction rather than by saturating arithmetic
//! (which lowers to 128-bit intrinsics the BPF backend lacks): rates and
//! bursts are clamped to [`Rate::MAX_PER_SEC`] and [`Rate::MAX_BURST`], and an
//! idle period long enough to fill the bucket short-circuits to "full" before
//! the multiplication.

/// Nanoseconds per second, and the credit one token costs.
pub const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A refill rate and the bucket depth.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rate {
    /// Tokens earned per second. Zero means the bucket never refills.
    pub per_sec: u64,
    /// Bucket depth in tokens: the most that can be spent at once.
    pub burst: u64,
}

impl Rate {
    /// Largest rate honoured (10^12 tokens/s); larger values are clamped.
    pub const MAX_PER_SEC: u64 = 1_000_000_000_000;
    /// Largest burst honoured (10^9 tokens); larger values are clamped, so
    /// the credit cap `burst * 10^9` always fits in a `u64`.
    pub const MAX_BURST: u64 = 1_000_000_000;

    /// Creates a rate of `per_sec` tokens per second with depth `burst`.
    pub const fn new(per_sec: u64, burst: u64) -> Self {
        Self { per_sec, burst }
    }

    /// The credit a full bucket holds.
    #[inline(always)]
    pub const fn capacity(&self) -> u64 {
        let burst = if self.burst > Self::MAX_BURST {
            Self::MAX_BURST
        } else {
            self.burst
        };
        burst * NANOS_PER_SEC
    }

    #[inline(always)]
    const fn clamped_per_sec(&self) -> u64 {
        if self.per_sec > Self::MAX_PER_SEC {
            Self::MAX_PER_SEC
        } else {
            self.per_sec
        }
    }
}

/// One token bucket's state: its credit and when it was last refilled.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenBucket {
    /// Credit in nano-tokens (see the module docs).
    pub credit: u64,
    /// Monotonic time of the last refill, in nanoseconds.
    pub last_ns: u64,
}

impl TokenBucket {
    /// A bucket that starts full at `now_ns`, as a new source's does.
    #[inline(always)]
    pub const fn full(rate: &Rate, now_ns: u64) -> Self {
        Self {
            credit: rate.capacity(),
            last_ns: now_ns,
        }
    }

    /// Refills for the time elapsed up to `now_ns`, then spends one token if
    /// the bucket holds one. Returns whether the token was granted.
    ///
    /// A clock that appears to go backwards (two CPUs racing on the same
    /// source, or a caller bug) earns no credit and never moves `last_ns`
    /// backwards, so it cannot mint tokens.
    #[inline(always)]
    pub fn try_take(&mut self, rate: &Rate, now_ns: u64) -> bool {
        self.refill(rate, now_ns);
        if self.credit >= NANOS_PER_SEC {
            self.credit -= NANOS_PER_SEC;
            true
        } else {
            false
        }
    }

    /// Adds the credit earned since `last_ns`, capped at the bucket depth.
    #[inline(always)]
    pub fn refill(&mut self, rate: &Rate, now_ns: u64) {
        let cap = rate.capacity();
        if now_ns <= self.last_ns {
            // Also pulls credit down to a burst that was lowered at runtime.
            if self.credit > cap {
                self.credit = cap;
            }
            return;
        }
        let elapsed = now_ns - self.last_ns;
        self.last_ns = now_ns;
        let per_sec = rate.clamped_per_sec();
        if per_sec == 0 {
            if self.credit > cap {
                self.credit = cap;
            }
            return;
        }
        // Idle for longer than it takes to fill an empty bucket: full. This
        // also guarantees `elapsed * per_sec < cap` below, so no overflow.
        if elapsed >= cap / per_sec {
            self.credit = cap;
            return;
        }
        let earned = elapsed * per_sec;
        let room = cap.saturating_sub(self.credit);
        self.credit = if earned >= room {
            cap
        } else {
            self.credit + earned
        };
    }

    /// Whole tokens currently held (without refilling).
    pub const fn tokens(&self) -> u64 {
        self.credit / NANOS_PER_SEC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = NANOS_PER_SEC;

    fn drain(bucket: &mut TokenBucket, rate: &Rate, now: u64) -> u64 {
        let mut granted = 0;
        while bucket.try_take(rate, now) {
            granted += 1;
            assert!(granted <= Rate::MAX_BURST, "bucket never ran dry");
        }
        granted
    }

    #[test]
    fn new_bucket_grants_exactly_the_burst() {
        let rate = Rate::new(10, 5);
        let mut b = TokenBucket::full(&rate, 1_000);
        assert_eq!(drain(&mut b, &rate, 1_000), 5);
    }

    #[test]
    fn refills_at_the_configured_rate() {
        let rate = Rate::new(10, 5);
        let mut b = TokenBucket::full(&rate, 0);
        drain(&mut b, &rate, 0);
        // 100 ms at 10/s earns exactly one token.
        assert!(b.try_take(&rate, SEC / 10));
        assert!(!b.try_take(&rate, SEC / 10));
        // 99 ms more is not yet a token; 1 ms after that is.
        assert!(!b.try_take(&rate, SEC / 10 + 99 * SEC / 1000));
        assert!(b.try_take(&rate, SEC / 5));
    }

    #[test]
    fn fractional_credit_accumulates_without_loss() {
        // 3 tokens/s: 1/3 s is not representable in whole nanoseconds, yet
        // over one second exactly three tokens are earned. (Depth 2 so the
        // sub-token remainder is never cut off by the cap.)
        let rate = Rate::new(3, 2);
        let mut b = TokenBucket::full(&rate, 0);
        drain(&mut b, &rate, 0);
        let mut granted = 0;
        for ms in 1..=1000u64 {
            if b.try_take(&rate, ms * SEC / 1000) {
                granted += 1;
            }
        }
        assert_eq!(granted, 3);
    }

    #[test]
    fn burst_caps_credit_after_long_idle() {
        let rate = Rate::new(1_000, 20);
        let mut b = TokenBucket::full(&rate, 0);
        drain(&mut b, &rate, 0);
        // A day of idling still yields only the burst.
        assert_eq!(drain(&mut b, &rate, 86_400 * SEC), 20);
    }

    #[test]
    fn clock_going_backwards_mints_nothing() {
        let rate = Rate::new(1_000, 10);
        let mut b = TokenBucket::full(&rate, 10 * SEC);
        drain(&mut b, &rate, 10 * SEC);
        assert!(!b.try_take(&rate, 5 * SEC), "earlier time must not refill");
        assert_eq!(b.last_ns, 10 * SEC, "last_ns never moves backwards");
        // Only time after the latest seen instant counts.
        assert!(!b.try_take(&rate, 10 * SEC + SEC / 2000));
        assert!(b.try_take(&rate, 10 * SEC + SEC / 1000));
    }

    #[test]
    fn extreme_rates_and_bursts_do_not_overflow() {
        let rate = Rate::new(u64::MAX, u64::MAX);
        assert_eq!(rate.capacity(), Rate::MAX_BURST * SEC);
        let mut b = TokenBucket::full(&rate, 0);
        for _ in 0..1_000 {
            assert!(b.try_take(&rate, 0));
        }
        // Any elapsed time at this rate refills to the cap without wrapping.
        b.refill(&rate, u64::MAX);
        assert_eq!(b.credit, rate.capacity());
        let mut b = TokenBucket {
            credit: 0,
            last_ns: 0,
        };
        b.refill(&rate, 1);
        assert_eq!(b.credit, Rate::MAX_PER_SEC.min(rate.capacity()));
    }

    #[test]
    fn zero_rate_never_refills_and_zero_burst_never_grants() {
        let rate = Rate::new(0, 2);
        let mut b = TokenBucket::full(&rate, 0);
        assert_eq!(drain(&mut b, &rate, 100 * SEC), 2);
        assert!(!b.try_take(&rate, 1_000 * SEC));
        let none = Rate::new(1_000, 0);
        let mut b = TokenBucket::full(&none, 0);
        assert!(!b.try_take(&none, 10 * SEC));
    }

    #[test]
    fn lowering_the_burst_at_runtime_caps_existing_credit() {
        let big = Rate::new(10, 100);
        let mut b = TokenBucket::full(&big, 0);
        let small = Rate::new(10, 3);
        assert_eq!(drain(&mut b, &small, 0), 3);
    }
}
