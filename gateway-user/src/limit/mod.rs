//! Limits the gateway enforces in userspace, so it stays safe when the XDP
//! layer is unavailable: connections and requests in flight per client IP.

mod per_ip;

pub use per_ip::{PerIpCounter, PerIpGuard};
