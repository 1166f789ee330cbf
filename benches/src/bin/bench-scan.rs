//! Scanner throughput (GB/s) on 1 KB, 64 KB and 1 MB responses — clean
//! ASCII, clean multilingual and malicious — beside a `regex::RegexSet` of
//! the same rules, measured in the same run; prints ratios, `--json` for JSON.
//! Where the CPU has AVX-512 VBMI (the scanner's class searcher), the same
//! scanner on aho-corasick's Teddy is measured beside it too.
//!
//! Inputs come from the injection dev corpus (benign cases for the clean
//! inputs, malicious cases for the malicious one; path as for `eval-scan`)
//! with a built-in multilingual sample mixed into the multilingual input.
//! Rates are per second of the benchmark thread's CPU time (the machine is
//! shared; wall time would count other processes' turns).
//!
//! `--only-find` measures the encoded-blob finder alone (its budget is a
//! small part of the scanner's), with no baseline.

use std::{hint::black_box, path::PathBuf, time::Instant};

use anyhow::{Context, Result, bail};
use gateway_user::scan::Scanner;
use regex::RegexSetBuilder;
use serde_json::{Value, json};

/// Minimum measuring time per case (the machine is shared and noisy).
const MIN_SECONDS: f64 = 0.4;
const SIZES: [(&str, usize); 3] = [("1KB", 1024), ("64KB", 64 * 1024), ("1MB", 1024 * 1024)];

const MULTILINGUAL: &str = "Der Bericht wurde gestern veröffentlicht; die Ergebnisse sind überraschend gut. \
Le comité a approuvé le budget révisé pour l'année prochaine. \
El próximo tren sale a las 9:30 desde la estación central. \
Отчёт о продажах за третий квартал готов к проверке. \
会議は午後三時から第二会議室で始まります。資料は共有フォルダにあります。 \
회의록은 오늘 오후까지 공유 드라이브에 올려 주세요. \
می\u{200c}خواهم فردا ساعت \u{200e}9:30\u{200e} به دفتر بیایم. \
സഭ വൈകുന്നേരം നാലിന് ആരംഭിക്കും. Η συνάντηση μεταφέρθηκε για την Πέμπτη. \
Congrats to our 👩\u{200d}⚕\u{fe0f} nurses! ";

fn main() -> Result<()> {
    let mut json_out = false;
    let mut baseline = true;
    let mut only: Option<String> = None;
    let mut only_find = false;
    // For profiling: a fixed amount of work (clean ASCII scans of
    // `--size=BYTES`, 64 KB unless given), no timing.
    let mut fixed: Option<u64> = None;
    let mut fixed_size = 64 * 1024;
    let mut path: Option<PathBuf> = std::env::var_os("PORTCULLIS_CORPUS").map(PathBuf::from);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json_out = true,
            // For profiling the scanner alone.
            "--no-baseline" => baseline = false,
            "--only-find" => only_find = true,
            other if other.starts_with("--only=") => only = Some(other[7..].to_owned()),
            other if other.starts_with("--size=") => {
                fixed_size = other[7..].parse().context("--size=BYTES")?;
            }
            other if other.starts_with("--iterations=") => {
                fixed = Some(other[13..].parse().context("--iterations=N")?);
            }
            other if other.starts_with('-') => bail!("unknown option {other}"),
            other => path = Some(PathBuf::from(other)),
        }
    }
    let path = match path {
        Some(p) => p,
        None => match std::env::var_os("CARGO_MANIFEST_DIR") {
            Some(dir) => PathBuf::from(dir).join("../../shared/corpus/injection/dev.jsonl"),
            None => PathBuf::from("../shared/corpus/injection/dev.jsonl"),
        },
    };
    let corpus = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the corpus at {}", path.display()))?;
    let (benign, malicious) = texts(&corpus)?;
    let ascii: String = benign
        .chars()
        .map(|c| if c.is_ascii() { c } else { ' ' })
        .collect();
    let multilingual = format!("{MULTILINGUAL}{benign}");

    let scanner = Scanner::builtin()?;
    // The same rules on aho-corasick's Teddy, when the class searcher is in
    // use (otherwise the two are the same scanner).
    let teddy = if scanner.uses_class_search() {
        Some(Scanner::builder().class_search(false).build()?)
    } else {
        None
    };
    if let Some(n) = fixed {
        let input = fill(&ascii, fixed_size);
        let mut findings = 0;
        for _ in 0..n {
            findings += black_box(scanner.scan_text(black_box(&input))).len();
        }
        println!("{n} scans of {fixed_size} bytes of clean ASCII: {findings} findings");
        return Ok(());
    }
    let set = RegexSetBuilder::new(scanner.baseline_patterns())
        .size_limit(512 << 20)
        .dfa_size_limit(512 << 20)
        .build()
        .context("building the RegexSet baseline")?;

    let mut rows = Vec::new();
    for (kind, source) in [
        ("clean_ascii", &ascii),
        ("clean_multilingual", &multilingual),
        ("malicious", &malicious),
    ] {
        if only.as_deref().is_some_and(|o| o != kind) {
            continue;
        }
        for (label, size) in SIZES {
            let input = fill(source, size);
            if only_find {
                let gbps = measure(input.len(), || {
                    gateway_user::scan::bench_find(black_box(&input))
                });
                if !json_out {
                    println!("{kind:<19} {label:>5}: encoded::find {gbps:7.2} GB/s");
                }
                rows.push(
                    json!({"input": kind, "size": label, "bytes": input.len(), "find_gbps": gbps}),
                );
                continue;
            }
            let ours = measure(input.len(), || {
                black_box(scanner.scan_text(black_box(&input))).len()
            });
            let on_teddy = teddy.as_ref().map(|t| {
                measure(input.len(), || {
                    black_box(t.scan_text(black_box(&input))).len()
                })
            });
            let base = if baseline {
                measure(input.len(), || {
                    black_box(set.matches(black_box(&input))).iter().count()
                })
            } else {
                f64::NAN
            };
            let row = json!({
                "input": kind, "size": label, "bytes": input.len(),
                "scanner_gbps": ours, "regexset_gbps": base, "ratio": ours / base,
                "class_search": teddy.is_some(),
                "teddy_gbps": on_teddy, "class_vs_teddy": on_teddy.map(|t| ours / t),
            });
            if !json_out {
                let versus = on_teddy.map_or(String::new(), |t| {
                    format!("   on Teddy {t:7.3} GB/s ({:.2}x)", ours / t)
                });
                println!(
                    "{kind:<19} {label:>5}: scanner {ours:7.3} GB/s   RegexSet {base:7.3} GB/s   ratio {:6.1}x{versus}",
                    ours / base
                );
            }
            rows.push(row);
        }
    }
    if json_out {
        let out = json!({"benchmark": "bench-scan", "corpus": path.display().to_string(), "results": rows});
        println!("{}", serde_json::to_string_pretty(&out)?);
    }
    Ok(())
}

/// Benign and malicious texts of the corpus, each joined with newlines.
fn texts(corpus: &str) -> Result<(String, String)> {
    let (mut benign, mut malicious) = (String::new(), String::new());
    for line in corpus.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).context("corpus line")?;
        let target = match case.get("label").and_then(Value::as_str) {
            Some("benign") => &mut benign,
            Some("malicious") => &mut malicious,
            _ => continue,
        };
        let body = case.get("result").or_else(|| case.get("tools"));
        collect(body.unwrap_or(&Value::Null), target);
    }
    if benign.is_empty() || malicious.is_empty() {
        bail!("the corpus has no benign or no malicious cases");
    }
    Ok((benign, malicious))
}

fn collect(value: &Value, out: &mut String) {
    match value {
        Value::String(s) => {
            out.push_str(s);
            out.push('\n');
        }
        Value::Array(items) => items.iter().for_each(|v| collect(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect(v, out)),
        _ => {}
    }
}

/// `source` repeated to `size` bytes, cut on a char boundary.
fn fill(source: &str, size: usize) -> String {
    let mut out = String::with_capacity(size + 4);
    while out.len() < size {
        for c in source.chars() {
            if out.len() + c.len_utf8() > size {
                return out;
            }
            out.push(c);
        }
    }
    out
}

/// This thread's CPU time in seconds: on a shared machine the wall clock
/// also counts time the scheduler gave to other processes.
fn cpu_seconds() -> f64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_THREAD_CPUTIME_ID)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(f64::NAN)
}

/// GB/s of `f` over `bytes`-sized input, per second of this thread's CPU
/// time, measured for at least MIN_SECONDS of it. The clock is read once
/// per batch of about 1 MB of input: reading it costs about a microsecond,
/// as much as scanning 1 KB.
fn measure(bytes: usize, mut f: impl FnMut() -> usize) -> f64 {
    f();
    let batch = ((1 << 20) / bytes.max(1)).max(1) as u64;
    let mut iterations = 0u64;
    let started = cpu_seconds();
    let wall = Instant::now();
    loop {
        for _ in 0..batch {
            black_box(f());
        }
        iterations += batch;
        let elapsed = cpu_seconds() - started;
        if elapsed >= MIN_SECONDS || wall.elapsed().as_secs_f64() > 20.0 * MIN_SECONDS {
            return bytes as f64 * iterations as f64 / elapsed / 1e9;
        }
    }
}
