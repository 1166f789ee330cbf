//! Plain data shared by the Portcullis XDP program (`gateway-ebpf`) and the
//! userspace gateway: BPF map layouts, counter indices and the integer
//! token-bucket arithmetic.
//!
//! Everything here is `#![no_std]`, allocation-free and builds for
//! `bpfel-unknown-none` as well as the host, so the bucket math that runs in
//! the kernel is the same code the host unit tests exercise.
#![no_std]

pub mod bucket;
pub mod counters;
pub mod layout;

pub use bucket::{NANOS_PER_SEC, Rate, TokenBucket};
pub use counters::Counter;
pub use layout::*;
