//! The injection scanner, on arbitrary text and arbitrary MCP results.

use std::sync::OnceLock;

use serde_json::Value;

use crate::scan::{Action, Finding, ScanPolicy, Scanner, VerdictAction};

/// The methods whose result shapes the scanner knows, and one it does not.
const METHODS: [&str; 5] = [
    "tools/call",
    "resources/read",
    "prompts/get",
    "tools/list",
    "other/method",
];

/// Rule of a finding for JSON nested too deep to walk (no text offsets).
const TOO_DEEP: &str = "limit.too-deep";

fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| Scanner::builtin().expect("the built-in rules compile"))
}

/// The built-in rules on aho-corasick's Teddy, never the class searcher.
fn teddy_scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        Scanner::builder()
            .class_search(false)
            .build()
            .expect("the built-in rules compile")
    })
}

/// Scans arbitrary text with both literal searchers: the class searcher
/// (where the CPU has AVX-512 VBMI) and aho-corasick's Teddy must produce
/// the same findings.
pub fn scan_backends(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let classes = scanner().scan_text(&text);
    let teddy = teddy_scanner().scan_text(&text);
    assert_eq!(classes, teddy, "the two literal searchers disagree");
}

/// Scans arbitrary (lossily decoded) text: every finding lies on char
/// boundaries inside the text, and findings are sorted.
pub fn scan_text(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let findings = scanner().scan_text(&text);
    check_findings(&text, &findings);
}

fn check_findings(text: &str, findings: &[Finding]) {
    for f in findings {
        assert!(!f.rule_id.is_empty(), "a finding without a rule id");
        assert!(
            f.start <= f.end && f.end <= text.len(),
            "{} at {}..{} outside a text of {} bytes",
            f.rule_id,
            f.start,
            f.end,
            text.len()
        );
        assert!(
            text.is_char_boundary(f.start) && text.is_char_boundary(f.end),
            "{} at {}..{} is not on char boundaries",
            f.rule_id,
            f.start,
            f.end
        );
    }
    assert!(
        findings
            .windows(2)
            .all(|w| (w[0].start, w[0].end) <= (w[1].start, w[1].end)),
        "findings are not sorted by offset"
    );
}

/// The policy one byte selects: two bits per severity.
fn policy(byte: u8) -> ScanPolicy {
    let action = |bits: u8| match bits & 3 {
        0 => Action::Flag,
        1 | 3 => Action::Redact,
        _ => Action::Block,
    };
    ScanPolicy {
        low: action(byte),
        medium: action(byte >> 2),
        high: action(byte >> 4),
        critical: action(byte >> 6),
    }
}

/// Scans an arbitrary JSON result: byte 0 picks the method, byte 1 the
/// policy, the rest is the result. Every finding's pointer names a string
/// of the original result and its offsets lie on char boundaries inside
/// it; the redacted result is still valid JSON; the verdict is the
/// strongest action asked for; nothing changes unless something was
/// redacted, and a redacted string carries the marker.
pub fn scan_mcp_result(data: &[u8]) {
    let [method, policy_byte, rest @ ..] = data else {
        return;
    };
    let Ok(original) = serde_json::from_slice::<Value>(rest) else {
        return;
    };
    let method = METHODS[usize::from(*method) % METHODS.len()];
    let policy = policy(*policy_byte);
    let mut result = original.clone();
    let verdict = scanner().scan_mcp_result(method, &mut result, &policy);

    let mut strongest = VerdictAction::Clean;
    let mut redacted_pointers = Vec::new();
    for (pointer, finding) in &verdict.findings {
        let action = policy.action(finding.severity);
        strongest = strongest.max(VerdictAction::from(action));
        let target = original
            .pointer(pointer)
            .unwrap_or_else(|| panic!("pointer {pointer:?} names nothing in the result"));
        if finding.rule_id == TOO_DEEP {
            assert_eq!((finding.start, finding.end), (0, 0), "{pointer}");
            continue;
        }
        let text = target
            .as_str()
            .unwrap_or_else(|| panic!("pointer {pointer:?} names a non-string"));
        check_findings(text, std::slice::from_ref(finding));
        if action == Action::Redact {
            redacted_pointers.push(pointer.as_str());
        }
    }
    assert_eq!(
        verdict.action, strongest,
        "verdict is not the strongest action"
    );

    let json = serde_json::to_string(&result).expect("a Value always serializes");
    let reparsed: Value = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the redacted result is not valid JSON: {e}"));
    assert_eq!(reparsed, result, "the redacted result does not round-trip");

    if redacted_pointers.is_empty() {
        assert_eq!(result, original, "changed without a redaction");
    }
    for pointer in redacted_pointers {
        let text = result
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("redacted string {pointer:?} is gone"));
        assert!(
            text.contains("[redacted:"),
            "redacted string {pointer:?} carries no marker"
        );
    }
}
