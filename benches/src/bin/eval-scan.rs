//! Detection and false-positive rates of the injection scanner on the dev
//! corpus (`../shared/corpus/injection/dev.jsonl` from the repo root, or the
//! path given as the first argument or in `PORTCULLIS_CORPUS`).
//!
//! A malicious case counts as detected when the default policy would block
//! or redact it; a benign case is a false positive when it would be blocked
//! or redacted. Flag-only findings are reported separately.

use std::{collections::BTreeMap, path::PathBuf};

use anyhow::{Context, Result, bail};
use gateway_user::scan::{ScanPolicy, Scanner, VerdictAction};
use serde_json::{Value, json};

fn main() -> Result<()> {
    let mut json_out = false;
    let mut verbose = false;
    let mut path: Option<PathBuf> = std::env::var_os("PORTCULLIS_CORPUS").map(PathBuf::from);
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json_out = true,
            "--verbose" | "-v" => verbose = true,
            other if other.starts_with('-') => bail!("unknown option {other}"),
            other => path = Some(PathBuf::from(other)),
        }
    }
    let path = match path {
        Some(p) => p,
        None => repo_root()?.join("../shared/corpus/injection/dev.jsonl"),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the corpus at {}", path.display()))?;
    let scanner = Scanner::builtin()?;
    let policy = ScanPolicy::default();

    let (mut malicious, mut detected, mut benign, mut fp, mut benign_flagged) = (0, 0, 0, 0, 0);
    let mut misses: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    let mut fp_families: BTreeMap<String, u32> = BTreeMap::new();
    let mut fired: BTreeMap<String, u32> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: Value =
            serde_json::from_str(line).with_context(|| format!("corpus line {}", n + 1))?;
        let label = case.get("label").and_then(Value::as_str).unwrap_or("");
        let family = case
            .get("family")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let id = case
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let (method, mut body) = if let Some(tools) = case.get("tools") {
            ("tools/list", tools.clone())
        } else {
            (
                "tools/call",
                case.get("result").cloned().unwrap_or(Value::Null),
            )
        };
        let verdict = scanner.scan_mcp_result(method, &mut body, &policy);
        let acted = matches!(
            verdict.action,
            VerdictAction::Blocked | VerdictAction::Redacted
        );
        let entry = misses.entry(family.clone()).or_default();
        entry.0 += 1;
        for (_, f) in &verdict.findings {
            if label == "benign" || !acted || verbose {
                *fired.entry(format!("{label}:{}", f.rule_id)).or_default() += 0;
            }
            *fired.entry(format!("{label}:{}", f.rule_id)).or_default() += 1;
        }
        match label {
            "malicious" => {
                malicious += 1;
                if acted {
                    detected += 1;
                } else {
                    entry.1 += 1;
                    if verbose {
                        eprintln!("MISS {id} {family}");
                    }
                }
            }
            "benign" => {
                benign += 1;
                if acted {
                    fp += 1;
                    *fp_families.entry(family.clone()).or_default() += 1;
                    if verbose {
                        let rules: Vec<&str> = verdict
                            .findings
                            .iter()
                            .map(|(_, f)| f.rule_id.as_str())
                            .collect();
                        eprintln!("FP {id} {family} {rules:?}");
                    }
                } else if verdict.action == VerdictAction::Flagged {
                    benign_flagged += 1;
                }
            }
            other => bail!("corpus line {}: unknown label {other:?}", n + 1),
        }
    }
    let detection = ratio(detected, malicious);
    let fp_rate = ratio(fp, benign);
    let per_family: BTreeMap<&String, Value> = misses
        .iter()
        .filter(|(_, (_, missed))| *missed > 0)
        .map(|(f, (total, missed))| (f, json!({"cases": total, "missed": missed})))
        .collect();
    if json_out {
        let out = json!({
            "benchmark": "eval-scan",
            "corpus": path.display().to_string(),
            "malicious": malicious, "detected": detected, "detection_rate": detection,
            "benign": benign, "false_positives": fp, "false_positive_rate": fp_rate,
            "benign_flagged_only": benign_flagged,
            "misses_by_family": per_family,
            "false_positives_by_family": fp_families,
            "findings_by_rule": fired,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!("corpus: {}", path.display());
        println!(
            "detection: {detected}/{malicious} = {:.2}% (blocked or redacted)",
            detection * 100.0
        );
        println!(
            "false positives: {fp}/{benign} = {:.2}% (blocked or redacted); flagged only: {benign_flagged}",
            fp_rate * 100.0
        );
        for (family, v) in &per_family {
            println!("  missed {family}: {v}");
        }
        for (family, n) in &fp_families {
            println!("  false positive {family}: {n}");
        }
        if verbose {
            for (rule, n) in &fired {
                println!("  rule {rule}: {n}");
            }
        }
    }
    Ok(())
}

fn ratio(a: u32, b: u32) -> f64 {
    if b == 0 {
        0.0
    } else {
        f64::from(a) / f64::from(b)
    }
}

/// The workspace root: `CARGO_MANIFEST_DIR/..` when run by cargo, else the
/// current directory.
fn repo_root() -> Result<PathBuf> {
    match std::env::var_os("CARGO_MANIFEST_DIR") {
        Some(dir) => Ok(PathBuf::from(dir).join("..")),
        None => std::env::current_dir().context("current directory"),
    }
}
