//! Replays the committed seed corpora through the harnesses, so their
//! invariants run in every `cargo test` (stable, no fuzzer needed), and
//! keeps the harness table and the fuzz crate's targets in step.

use std::{collections::BTreeSet, fs, path::PathBuf};

use super::TARGETS;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

#[test]
fn seed_corpora_pass_the_harnesses() {
    for (name, harness) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(name);
        let entries = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("seed corpus {} missing: {e}", dir.display()));
        let mut seeds = 0;
        for entry in entries {
            let path = entry.expect("reading a corpus entry").path();
            let data = fs::read(&path).expect("reading a seed");
            // A panic names the seed through the thread's backtrace; print it
            // first so the failing file is obvious.
            eprintln!("{name}: {}", path.display());
            harness(&data);
            seeds += 1;
        }
        assert!(seeds > 0, "seed corpus for {name} is empty");
    }
}

#[test]
fn every_harness_has_a_fuzz_target_and_back() {
    let dir = fuzz_dir().join("fuzz_targets");
    let files: BTreeSet<String> = fs::read_dir(&dir)
        .expect("fuzz/fuzz_targets exists")
        .map(|e| {
            let name = e.expect("reading fuzz_targets").file_name();
            let name = name.to_string_lossy();
            name.strip_suffix(".rs").unwrap_or(&name).to_owned()
        })
        .collect();
    let table: BTreeSet<String> = TARGETS.iter().map(|(n, _)| (*n).to_owned()).collect();
    assert_eq!(files, table, "fuzz/fuzz_targets and fuzz::TARGETS differ");
    let manifest = fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in &table {
        assert!(
            manifest.contains(&format!("name = \"{name}\"")),
            "fuzz/Cargo.toml has no [[bin]] for {name}"
        );
    }
}
