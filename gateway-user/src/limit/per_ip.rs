//! A bounded count per client IP (connections, requests in flight), with a
//! guard that gives the slot back when dropped.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
};

/// Counts concurrent holders per IP, refusing past `max`.
#[derive(Debug, Clone)]
pub struct PerIpCounter {
    max: usize,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One held slot; released on drop.
#[derive(Debug)]
pub struct PerIpGuard {
    ip: IpAddr,
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerIpCounter {
    /// At most `max` concurrent holders per IP.
    pub fn new(max: usize) -> Self {
        Self {
            max,
            counts: Arc::default(),
        }
    }

    /// Takes a slot for `ip`, or `None` when it already holds `max`.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<PerIpGuard> {
        // A poisoned lock means a panic while counting; refusing is the
        // fail-secure answer.
        let mut counts = self.counts.lock().ok()?;
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(PerIpGuard {
            ip,
            counts: Arc::clone(&self.counts),
        })
    }

    /// Slots `ip` holds now.
    pub fn held(&self, ip: IpAddr) -> usize {
        self.counts
            .lock()
            .map(|c| c.get(&ip).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

impl Drop for PerIpGuard {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(count) = counts.get_mut(&self.ip)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_per_ip_and_released_on_drop() {
        let counter = PerIpCounter::new(2);
        let a: IpAddr = "198.18.0.1".parse().unwrap();
        let b: IpAddr = "2001:2::1".parse().unwrap();
        let g1 = counter.try_acquire(a).unwrap();
        let _g2 = counter.try_acquire(a).unwrap();
        assert!(counter.try_acquire(a).is_none());
        assert!(counter.try_acquire(b).is_some(), "other IPs are unaffected");
        drop(g1);
        assert_eq!(counter.held(a), 1);
        assert!(counter.try_acquire(a).is_some());
    }
}
