//! Finds the XDP object built by `cargo xtask build` and embeds it.
//!
//! Without it (a plain `cargo build` on a machine lacking the eBPF
//! toolchain) the binary still builds; the edge layer then reports itself
//! unavailable at runtime.
use std::path::PathBuf;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(portcullis_ebpf)");
    println!("cargo::rustc-check-cfg=cfg(fuzzing)");
    println!("cargo::rerun-if-env-changed=PORTCULLIS_EBPF_OBJECT");
    let path = match std::env::var_os("PORTCULLIS_EBPF_OBJECT") {
        Some(path) => PathBuf::from(path),
        None => {
            let manifest_dir =
                PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
            manifest_dir.join("../target/ebpf/bpfel-unknown-none/release/gateway-ebpf")
        }
    };
    if path.is_file() {
        println!("cargo::rerun-if-changed={}", path.display());
        println!("cargo::rustc-cfg=portcullis_ebpf");
        println!(
            "cargo::rustc-env=PORTCULLIS_EBPF_OBJECT_PATH={}",
            path.display()
        );
    } else {
        // Watching a missing file would make cargo rerun this script, and
        // rebuild the crate, on every build. `cargo xtask build` sets
        // PORTCULLIS_EBPF_OBJECT, which is watched above, so the object is
        // still picked up once it exists.
        println!("cargo::rerun-if-changed=build.rs");
        println!(
            "cargo::warning=XDP object not found at {}: the edge layer will be unavailable (build it with `cargo xtask build`)",
            path.display()
        );
    }
}
