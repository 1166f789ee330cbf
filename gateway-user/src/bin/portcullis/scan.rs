//! `portcullis scan [FILE|-] [--json]`: scans a tool result, a JSON-RPC
//! message or plain text offline and prints the findings and the verdict.
//! Exit code: 0 clean, 1 findings, 2 error (see `main`).

use std::io::Read;

use anyhow::{Context, Result, bail};
use gateway_user::scan::{ScanPolicy, ScanVerdict, Scanner, VerdictAction};
use serde_json::{Value, json};

use crate::cli::ScanArgs;

/// Largest input read (the scanner has its own per-string limit too).
const MAX_INPUT: u64 = 64 * 1024 * 1024;

/// Runs the scan; `Ok(true)` when there were findings.
pub fn scan(args: ScanArgs) -> Result<bool> {
    let input = read_input(args.file.as_deref())?;
    let mut builder = Scanner::builder();
    if let Some(path) = &args.rules {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading rules file {}", path.display()))?;
        builder = builder.extra_rules(&path.display().to_string(), &text);
    }
    if !args.allow_image_host.is_empty() {
        builder = builder.image_allowlist(args.allow_image_host.clone());
    }
    let scanner = builder.build()?;
    let policy = ScanPolicy::default();

    let (kind, method, verdict) = match serde_json::from_str::<Value>(&input) {
        Ok(value) if value.is_object() => {
            let (method, mut result) = classify(value, args.method.as_deref())?;
            let verdict = scanner.scan_mcp_result(&method, &mut result, &policy);
            ("json", method, verdict)
        }
        _ => {
            let mut value = Value::String(input);
            let verdict = scanner.scan_mcp_result("text", &mut value, &policy);
            ("text", "text".to_owned(), verdict)
        }
    };
    print(&verdict, kind, &method, args.json)?;
    Ok(!verdict.findings.is_empty())
}

fn read_input(file: Option<&std::path::Path>) -> Result<String> {
    let mut bytes = Vec::new();
    match file {
        None => std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .context("reading standard input")?,
        Some(p) if p.as_os_str() == "-" => std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .context("reading standard input")?,
        Some(p) => std::fs::File::open(p)
            .with_context(|| format!("opening {}", p.display()))?
            .take(MAX_INPUT + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("reading {}", p.display()))?,
    };
    if bytes.len() as u64 > MAX_INPUT {
        bail!("input is larger than {MAX_INPUT} bytes");
    }
    String::from_utf8(bytes).context("input is not UTF-8")
}

/// The MCP method whose result shape `value` has, and the result itself: a
/// JSON-RPC response is unwrapped; otherwise the shape decides.
fn classify(value: Value, forced: Option<&str>) -> Result<(String, Value)> {
    let result = match value.get("result") {
        Some(r) if value.get("jsonrpc").is_some() => r.clone(),
        _ if value.get("jsonrpc").is_some() && value.get("method").is_some() => {
            // A request or notification: scan its params wholesale.
            let params = value.get("params").cloned().unwrap_or(Value::Null);
            return Ok((forced.unwrap_or("params").to_owned(), params));
        }
        _ if value.get("jsonrpc").is_some() => bail!("a JSON-RPC message without result or method"),
        _ => value,
    };
    if let Some(m) = forced {
        return Ok((m.to_owned(), result));
    }
    let method = if result.get("tools").is_some() {
        "tools/list"
    } else if result.get("contents").is_some() {
        "resources/read"
    } else if result.get("messages").is_some() {
        "prompts/get"
    } else if result.get("content").is_some() || result.get("structuredContent").is_some() {
        "tools/call"
    } else {
        "unknown"
    };
    Ok((method.to_owned(), result))
}

fn print(verdict: &ScanVerdict, kind: &str, method: &str, as_json: bool) -> Result<()> {
    let action = match verdict.action {
        VerdictAction::Clean => "clean",
        VerdictAction::Flagged => "flagged",
        VerdictAction::Redacted => "redacted",
        VerdictAction::Blocked => "blocked",
    };
    if as_json {
        let findings: Vec<Value> = verdict
            .findings
            .iter()
            .map(|(pointer, f)| {
                json!({
                    "pointer": pointer, "rule_id": f.rule_id, "family": f.family.as_str(),
                    "severity": f.severity.as_str(), "start": f.start, "end": f.end,
                })
            })
            .collect();
        let out = json!({"input": kind, "method": method, "verdict": action, "findings": findings});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    for (pointer, f) in &verdict.findings {
        let at = if pointer.is_empty() {
            "(text)"
        } else {
            pointer
        };
        println!(
            "{:<8} {:<34} {:<20} {at} bytes {}..{}",
            f.severity.as_str(),
            f.rule_id,
            f.family.as_str(),
            f.start,
            f.end
        );
    }
    println!(
        "verdict: {action} ({} findings; input: {kind}, as {method})",
        verdict.findings.len()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_unwraps_responses_and_guesses_the_method() {
        let cases = [
            (
                json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": []}}),
                "tools/list",
            ),
            (
                json!({"contents": [{"uri": "x", "text": "t"}]}),
                "resources/read",
            ),
            (json!({"messages": []}), "prompts/get"),
            (json!({"content": []}), "tools/call"),
            (
                json!({"jsonrpc": "2.0", "method": "tools/call", "params": {}}),
                "params",
            ),
            (json!({"other": 1}), "unknown"),
        ];
        for (value, expected) in cases {
            let (method, _) = classify(value, None).expect("classifies");
            assert_eq!(method, expected);
        }
        let (method, _) = classify(json!({"content": []}), Some("prompts/get")).expect("forced");
        assert_eq!(method, "prompts/get");
    }

    #[test]
    fn classify_rejects_a_jsonrpc_message_without_result_or_method() {
        let err =
            classify(json!({"jsonrpc": "2.0", "id": 1, "error": {}}), None).expect_err("no result");
        assert!(
            err.to_string().contains("without result or method"),
            "{err}"
        );
    }
}
