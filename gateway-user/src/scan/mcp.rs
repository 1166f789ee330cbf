//! Walks every text a client's model will read in an MCP result, scans it,
//! and applies the policy (redacting in place).

use serde_json::Value;

use super::{Action, Finding, ScanPolicy, ScanVerdict, Scanner, VerdictAction};

/// Deepest JSON nesting walked; deeper content is a finding (fail secure).
const MAX_DEPTH: usize = 64;

impl Scanner {
    /// Scans the `result` of an MCP response to `method`, redacting spans in
    /// place per `policy`. Methods without a known shape have every string
    /// scanned.
    pub fn scan_mcp_result(
        &self,
        method: &str,
        result: &mut Value,
        policy: &ScanPolicy,
    ) -> ScanVerdict {
        let mut walk = Walk {
            scanner: self,
            policy,
            findings: Vec::new(),
            action: VerdictAction::Clean,
        };
        match method {
            "tools/call" => {
                if let Some(items) = result.get_mut("content").and_then(Value::as_array_mut) {
                    for (i, item) in items.iter_mut().enumerate() {
                        walk.content_item(item, &format!("/content/{i}"));
                    }
                }
                if let Some(sc) = result.get_mut("structuredContent") {
                    walk.all_strings(sc, "/structuredContent".into(), 0);
                }
            }
            "resources/read" => {
                if let Some(items) = result.get_mut("contents").and_then(Value::as_array_mut) {
                    for (i, item) in items.iter_mut().enumerate() {
                        walk.field(item, "text", &format!("/contents/{i}"));
                    }
                }
            }
            "prompts/get" => {
                walk.field(result, "description", "");
                if let Some(items) = result.get_mut("messages").and_then(Value::as_array_mut) {
                    for (i, message) in items.iter_mut().enumerate() {
                        let base = format!("/messages/{i}/content");
                        match message.get_mut("content") {
                            Some(Value::Array(parts)) => {
                                for (j, part) in parts.iter_mut().enumerate() {
                                    walk.content_item(part, &format!("{base}/{j}"));
                                }
                            }
                            Some(part) => walk.content_item(part, &base),
                            None => {}
                        }
                    }
                }
            }
            "tools/list" => {
                if let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) {
                    for (i, tool) in tools.iter_mut().enumerate() {
                        walk.all_strings(tool, format!("/tools/{i}"), 0);
                    }
                }
            }
            _ => walk.all_strings(result, String::new(), 0),
        }
        ScanVerdict {
            findings: walk.findings,
            action: walk.action,
        }
    }
}

struct Walk<'a> {
    scanner: &'a Scanner,
    policy: &'a ScanPolicy,
    findings: Vec<(String, Finding)>,
    action: VerdictAction,
}

impl Walk<'_> {
    /// A content block: text, or an embedded resource's text.
    fn content_item(&mut self, item: &mut Value, base: &str) {
        self.field(item, "text", base);
        if let Some(resource) = item.get_mut("resource") {
            self.field(resource, "text", &format!("{base}/resource"));
        }
    }

    fn field(&mut self, object: &mut Value, key: &str, base: &str) {
        if let Some(value) = object.get_mut(key) {
            let pointer = format!("{base}/{}", escape(key));
            self.string(value, pointer);
        }
    }

    fn all_strings(&mut self, value: &mut Value, pointer: String, depth: usize) {
        if depth > MAX_DEPTH {
            self.record(pointer, Finding::too_deep());
            return;
        }
        match value {
            Value::String(_) => self.string(value, pointer),
            Value::Array(items) => {
                for (i, item) in items.iter_mut().enumerate() {
                    self.all_strings(item, format!("{pointer}/{i}"), depth + 1);
                }
            }
            Value::Object(map) => {
                for (key, item) in map.iter_mut() {
                    let child = format!("{pointer}/{}", escape(key));
                    self.all_strings(item, child, depth + 1);
                }
            }
            _ => {}
        }
    }

    fn string(&mut self, value: &mut Value, pointer: String) {
        let Value::String(text) = value else { return };
        let findings = self.scanner.scan_text(text);
        if findings.is_empty() {
            return;
        }
        let redact: Vec<&Finding> = findings
            .iter()
            .filter(|f| self.policy.action(f.severity) == Action::Redact)
            .collect();
        if !redact.is_empty() {
            *text = redact_spans(text, &redact);
        }
        for finding in findings {
            self.record(pointer.clone(), finding);
        }
    }

    fn record(&mut self, pointer: String, finding: Finding) {
        let action = VerdictAction::from(self.policy.action(finding.severity));
        self.action = self.action.max(action);
        self.findings.push((pointer, finding));
    }
}

/// Replaces each span with `[redacted:RULE_ID]`; overlapping spans merge.
/// Spans lie on char boundaries; any that does not is widened to one.
pub(crate) fn redact_spans(text: &str, findings: &[&Finding]) -> String {
    let mut spans: Vec<(usize, usize, &str)> = findings
        .iter()
        .map(|f| {
            (
                f.start.min(text.len()),
                f.end.min(text.len()),
                f.rule_id.as_str(),
            )
        })
        .collect();
    spans.sort_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0usize;
    for (start, end, id) in spans {
        let mut start = start.max(cursor);
        let mut end = end.max(start);
        while start > cursor && !text.is_char_boundary(start) {
            start -= 1;
        }
        while end < text.len() && !text.is_char_boundary(end) {
            end += 1;
        }
        if end <= cursor {
            continue;
        }
        out.push_str(text.get(cursor..start).unwrap_or_default());
        out.push_str("[redacted:");
        out.push_str(id);
        out.push(']');
        cursor = end;
    }
    out.push_str(text.get(cursor..).unwrap_or_default());
    out
}

/// JSON pointer escaping (RFC 6901).
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
