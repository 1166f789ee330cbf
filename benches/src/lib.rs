//! Benchmarks live in `src/bin/`; run them through `cargo xtask bench`.
