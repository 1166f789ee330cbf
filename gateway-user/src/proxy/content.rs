//! Content stages on tool traffic: tools/list results are pinned (changed,
//! renamed or new tools are held back until an operator approves them) and
//! their schemas compiled; tools/call arguments are validated against the
//! pinned `inputSchema` before they leave the gateway, and results against
//! the CallToolResult shape and `outputSchema` before they reach the client.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};

use crate::{
    auth::Principal,
    mcp::{ErrorCode, Message, MessageKind, RequestId, RpcError},
    pin::{PinError, PinMode, PinStore},
    policy::Policy,
    scan::{ScanPolicy, ScanVerdict, Scanner, VerdictAction},
    validate::{SchemaCache, ValidationLimits},
};

/// One client request a response may answer.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The request's id.
    pub id: RequestId,
    /// Its method.
    pub method: String,
    /// For tools/call, the tool.
    pub tool: Option<String>,
}

/// What the gateway remembers about the client requests (one, or a batch)
/// whose answers an upstream response carries.
#[derive(Clone, Debug, Default)]
pub struct Exchange {
    /// The requests, in order.
    pub requests: Vec<Pending>,
    /// Who asked: list results are filtered to what they may use.
    pub principal: Option<Arc<Principal>>,
}

impl Exchange {
    /// The exchange the client's `messages` open; notifications and
    /// client responses leave nothing to match answers against.
    pub fn of(messages: &[Message], principal: Option<Arc<Principal>>) -> Self {
        let requests = messages
            .iter()
            .filter_map(|message| {
                let MessageKind::Request { id, method } = &message.kind else {
                    return None;
                };
                let tool = (method == "tools/call")
                    .then(|| {
                        message
                            .params()
                            .and_then(|p| p.get("name"))
                            .and_then(Value::as_str)
                    })
                    .flatten()
                    .map(str::to_owned);
                Some(Pending {
                    id: id.clone(),
                    method: method.clone(),
                    tool,
                })
            })
            .collect();
        Self {
            requests,
            principal,
        }
    }

    /// The request `message` answers, if it answers one of them.
    pub fn answered_by(&self, message: &Value) -> Option<&Pending> {
        let id = message.get("id")?;
        self.requests.iter().find(|p| &p.id.to_json() == id)
    }

    /// The first request's id (for errors that answer the whole exchange).
    pub fn first_id(&self) -> Option<RequestId> {
        self.requests.first().map(|p| p.id.clone())
    }
}

type ListFilter =
    fn(&Policy, &Principal, &str, &mut Value) -> Result<usize, crate::policy::FilterError>;

/// What scanning did to a message.
enum ScanOutcome {
    Unchanged,
    Rewritten,
    Replace(Value),
}

/// A JSON id back as a request id (for error answers).
fn request_id(id: &Value) -> Option<RequestId> {
    match id {
        Value::String(s) => Some(RequestId::String(s.clone())),
        Value::Number(n) => n.as_i64().map(RequestId::Number),
        _ => None,
    }
}

/// Pins, schemas, list filters and the scanner, for every upstream.
#[derive(Debug)]
pub struct ContentStages {
    pins: Mutex<PinStore>,
    pin_file: Option<PathBuf>,
    schemas: SchemaCache,
    policy: Option<Arc<Policy>>,
    scanner: Arc<Scanner>,
    scan_policies: HashMap<String, ScanPolicy>,
    /// Tools whose definitions the scanner blocked (tool poisoning): not
    /// listed, not callable.
    poisoned: Mutex<HashSet<(String, String)>>,
}

/// The content-stage settings for one upstream.
#[derive(Clone, Debug, Default)]
pub struct UpstreamContent {
    /// The route name.
    pub name: String,
    /// Pinning mode.
    pub pin_mode: PinMode,
    /// Scanner actions by severity.
    pub scan: ScanPolicy,
}

fn log_findings(upstream: &str, what: &str, verdict: &ScanVerdict) {
    if verdict.findings.is_empty() {
        return;
    }
    // Rule ids and JSON pointers only: never the matched text.
    let rules: Vec<&str> = verdict
        .findings
        .iter()
        .map(|(_, f)| f.rule_id.as_str())
        .collect();
    let pointers: Vec<&str> = verdict.findings.iter().map(|(p, _)| p.as_str()).collect();
    tracing::warn!(
        mcp.upstream = upstream,
        scan.target = what,
        scan.action = ?verdict.action,
        scan.rules = ?rules,
        scan.pointers = ?pointers,
        "prompt-injection findings"
    );
}

fn blocked_rules(verdict: &ScanVerdict) -> String {
    let mut rules: Vec<&str> = verdict
        .findings
        .iter()
        .map(|(_, f)| f.rule_id.as_str())
        .collect();
    rules.sort_unstable();
    rules.dedup();
    rules.join(", ")
}

impl ContentStages {
    /// Stages with pins persisted in `pin_file` (in memory only without
    /// one) and `modes` per upstream.
    pub fn new(
        pin_file: Option<PathBuf>,
        upstreams: &[UpstreamContent],
        limits: ValidationLimits,
        policy: Option<Arc<Policy>>,
        scanner: Arc<Scanner>,
    ) -> Result<Self, PinError> {
        let mut pins = match &pin_file {
            Some(path) => PinStore::load_or_new(path)?,
            None => PinStore::new(),
        };
        for upstream in upstreams {
            pins.set_mode(&upstream.name, upstream.pin_mode);
        }
        Ok(Self {
            pins: Mutex::new(pins),
            pin_file,
            schemas: SchemaCache::new(limits),
            policy,
            scanner,
            scan_policies: upstreams.iter().map(|u| (u.name.clone(), u.scan)).collect(),
            poisoned: Mutex::new(HashSet::new()),
        })
    }

    fn scan_policy(&self, upstream: &str) -> ScanPolicy {
        self.scan_policies
            .get(upstream)
            .copied()
            .unwrap_or_default()
    }

    fn is_poisoned(&self, upstream: &str, tool: &str) -> bool {
        self.poisoned
            .lock()
            .map(|p| p.contains(&(upstream.to_owned(), tool.to_owned())))
            // Fail secure: an unreadable set refuses.
            .unwrap_or(true)
    }

    /// Checks a client request before it is forwarded.
    pub fn check_request(&self, upstream: &str, message: &Message) -> Result<(), RpcError> {
        if message.method() != Some("tools/call") {
            return Ok(());
        }
        let id = message.id().cloned();
        let params = message.params();
        let Some(tool) = params.and_then(|p| p.get("name")).and_then(Value::as_str) else {
            return Err(RpcError::new(
                ErrorCode::InvalidParams,
                200,
                "tools/call needs params.name",
            )
            .with_id(id));
        };
        if self.is_poisoned(upstream, tool) {
            tracing::warn!(
                mcp.upstream = upstream,
                mcp.tool = tool,
                "tools/call denied: the tool's definition was blocked by the scanner"
            );
            return Err(RpcError::new(
                ErrorCode::Denied,
                200,
                "denied by policy: this tool's definition was blocked by content policy",
            )
            .with_id(id));
        }
        let pins = self.pins.lock().map_err(|_| {
            RpcError::new(ErrorCode::Internal, 500, "pin store unavailable").with_id(id.clone())
        })?;
        let Some(definition) = pins
            .is_callable(upstream, tool)
            .then(|| pins.tool_def(upstream, tool))
            .flatten()
        else {
            tracing::warn!(
                mcp.upstream = upstream,
                mcp.tool = tool,
                "tools/call denied: tool not pinned and approved"
            );
            return Err(RpcError::new(
                ErrorCode::Denied,
                200,
                "denied by policy: this tool is not approved (list tools first; changed tools wait for an operator)",
            )
            .with_id(id));
        };
        let arguments = params
            .and_then(|p| p.get("arguments"))
            .unwrap_or(&Value::Null);
        self.schemas
            .validate_arguments(upstream, definition, arguments)
            .map_err(|e| {
                tracing::info!(mcp.upstream = upstream, mcp.tool = tool, error = %e, "tools/call arguments refused");
                RpcError::new(ErrorCode::InvalidParams, 200, format!("invalid arguments: {e}")).with_id(id)
            })
    }

    /// Inspects one upstream message (an answer to `exchange`, or a
    /// notification or request of the upstream's own); returns the
    /// replacement, or `None` to pass it unchanged byte for byte. `Err`
    /// refuses it.
    pub fn inspect(
        &self,
        upstream: &str,
        exchange: &Exchange,
        message: Value,
    ) -> Result<Option<Value>, String> {
        if message.get("result").is_some() {
            // A result this exchange did not ask for (events replayed on a
            // resumed stream, say) has no known method: every string in it
            // is scanned.
            let pending = exchange.answered_by(&message).cloned();
            return self.inspect_answer(upstream, pending.as_ref(), exchange, message);
        }
        if message.get("method").is_some() {
            return self.inspect_upstream_initiated(upstream, message);
        }
        if message.get("error").is_some() {
            return Ok(self.scan_error(upstream, message));
        }
        Ok(None)
    }

    /// An error's message and data reach the model too: a blocked or
    /// redacted one is replaced by a plain error that says so.
    fn scan_error(&self, upstream: &str, mut message: Value) -> Option<Value> {
        let policy = self.scan_policy(upstream);
        let error = message.get_mut("error")?;
        let verdict = self.scanner.scan_mcp_result("", error, &policy);
        log_findings(upstream, "error", &verdict);
        match verdict.action {
            VerdictAction::Clean | VerdictAction::Flagged => None,
            VerdictAction::Redacted => Some(message),
            VerdictAction::Blocked => {
                let id = message.get("id").cloned().unwrap_or(Value::Null);
                Some(
                    RpcError::new(
                        ErrorCode::Upstream,
                        200,
                        format!(
                            "the upstream's error was blocked by content policy ({})",
                            blocked_rules(&verdict)
                        ),
                    )
                    .with_id(request_id(&id))
                    .to_json(),
                )
            }
        }
    }

    fn inspect_answer(
        &self,
        upstream: &str,
        pending: Option<&Pending>,
        exchange: &Exchange,
        message: Value,
    ) -> Result<Option<Value>, String> {
        let method = pending.map_or("", |p| p.method.as_str());
        let mut changed = None;
        match method {
            "tools/list" => changed = Some(self.tools_list(upstream, &message)?),
            "tools/call" => {
                let tool = pending.and_then(|p| p.tool.as_deref());
                if let Some(withheld) = self.tools_call_result(upstream, tool, &message) {
                    return Ok(Some(withheld));
                }
            }
            _ => {}
        }
        if let (Some(policy), Some(principal)) = (&self.policy, &exchange.principal) {
            let filter = match method {
                "tools/list" => Some(Policy::filter_tools_list as ListFilter),
                "resources/list" => Some(Policy::filter_resources_list as ListFilter),
                "resources/templates/list" => {
                    Some(Policy::filter_resource_templates_list as ListFilter)
                }
                "prompts/list" => Some(Policy::filter_prompts_list as ListFilter),
                _ => None,
            };
            if let Some(filter) = filter {
                let mut value = changed.take().unwrap_or_else(|| message.clone());
                let Some(result) = value.get_mut("result") else {
                    return Err("a list answer without a result".into());
                };
                // Fail secure: a list the filter cannot read is refused whole.
                filter(policy, principal, upstream, result)
                    .map_err(|e| format!("list filter: {e}"))?;
                changed = Some(value);
            }
        }
        let was_changed_before = changed.is_some();
        let mut value = changed.unwrap_or(message);
        let scan = self.scan_answer(upstream, method, &mut value);
        match scan {
            ScanOutcome::Unchanged if !was_changed_before => Ok(None),
            ScanOutcome::Unchanged | ScanOutcome::Rewritten => Ok(Some(value)),
            ScanOutcome::Replace(replacement) => Ok(Some(replacement)),
        }
    }

    /// Scans what the client's model will read in an answer.
    fn scan_answer(&self, upstream: &str, method: &str, message: &mut Value) -> ScanOutcome {
        let policy = self.scan_policy(upstream);
        let id = message.get("id").cloned().unwrap_or(Value::Null);
        let Some(result) = message.get_mut("result") else {
            return ScanOutcome::Unchanged;
        };
        if method == "tools/list" {
            return self.scan_tool_definitions(upstream, result, &policy);
        }
        let verdict = self.scanner.scan_mcp_result(method, result, &policy);
        log_findings(upstream, method, &verdict);
        match verdict.action {
            VerdictAction::Clean | VerdictAction::Flagged => ScanOutcome::Unchanged,
            VerdictAction::Redacted => ScanOutcome::Rewritten,
            VerdictAction::Blocked if method == "tools/call" => {
                let tagged = result.get("resultType").is_some().then_some("complete");
                let text = format!(
                    "portcullis blocked this tool result: it matched prompt-injection rules ({})",
                    blocked_rules(&verdict)
                );
                ScanOutcome::Replace(self.withheld(&json!({ "id": id }), tagged, text))
            }
            VerdictAction::Blocked => ScanOutcome::Replace(
                RpcError::new(
                    ErrorCode::Denied,
                    200,
                    format!("blocked by content policy ({})", blocked_rules(&verdict)),
                )
                .with_id(request_id(&id))
                .to_json(),
            ),
        }
    }

    /// Tool poisoning: each tool definition is scanned; a tool with a
    /// finding the policy would block or redact is removed from the list
    /// and refused if called (a description is instructions to the model,
    /// so a redacted one is no more trustworthy than the original).
    fn scan_tool_definitions(
        &self,
        upstream: &str,
        result: &mut Value,
        policy: &ScanPolicy,
    ) -> ScanOutcome {
        let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
            return ScanOutcome::Unchanged;
        };
        let mut outcome = ScanOutcome::Unchanged;
        let mut blocked = Vec::new();
        tools.retain_mut(|tool| {
            let name = tool
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let verdict = self.scanner.scan_mcp_result("", tool, policy);
            log_findings(upstream, "tools/list", &verdict);
            match verdict.action {
                VerdictAction::Blocked | VerdictAction::Redacted => {
                    blocked.push(name);
                    outcome = ScanOutcome::Rewritten;
                    false
                }
                VerdictAction::Clean | VerdictAction::Flagged => true,
            }
        });
        if !blocked.is_empty()
            && let Ok(mut poisoned) = self.poisoned.lock()
        {
            for name in blocked {
                tracing::warn!(mcp.upstream = upstream, mcp.tool = %name, "tool definition blocked (tool poisoning); tool hidden");
                poisoned.insert((upstream.to_owned(), name));
            }
        }
        outcome
    }

    /// Notifications and requests the upstream sends on its own (progress,
    /// logging, sampling requests…) carry text a model may read too.
    fn inspect_upstream_initiated(
        &self,
        upstream: &str,
        mut message: Value,
    ) -> Result<Option<Value>, String> {
        let policy = self.scan_policy(upstream);
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let Some(params) = message.get_mut("params") else {
            return Ok(None);
        };
        let verdict = self.scanner.scan_mcp_result("", params, &policy);
        log_findings(upstream, &method, &verdict);
        match verdict.action {
            VerdictAction::Clean | VerdictAction::Flagged => Ok(None),
            VerdictAction::Redacted => Ok(Some(message)),
            VerdictAction::Blocked => Err(format!(
                "`{method}` from the upstream blocked by content policy ({})",
                blocked_rules(&verdict)
            )),
        }
    }

    fn tools_list(&self, upstream: &str, message: &Value) -> Result<Value, String> {
        let tools = message
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .ok_or("a tools/list result without a tools array")?;
        let now = super::now_secs();
        let mut pins = self.pins.lock().map_err(|_| "pin store unavailable")?;
        let outcome = match &self.pin_file {
            Some(path) => pins
                .locked_update(path, |store| {
                    Ok(store.observe_tools_list(upstream, tools, now))
                })
                .map_err(|e| format!("pin state: {e}"))?,
            None => pins.observe_tools_list(upstream, tools, now),
        };
        drop(pins);
        for change in &outcome.held {
            tracing::warn!(
                mcp.upstream = upstream,
                mcp.tool = %change.tool,
                pin.change = ?change.kind,
                "tool definition changed: held back until approved (portcullis tools diff|approve)"
            );
        }
        for rejected in &outcome.rejected {
            tracing::warn!(
                mcp.upstream = upstream,
                reason = rejected.reason,
                "tool refused outright"
            );
        }
        let allowed: Vec<Value> = outcome
            .allowed
            .into_iter()
            .filter(|tool| match self.schemas.check_tool(upstream, tool) {
                Ok(()) => true,
                Err(error) => {
                    tracing::warn!(mcp.upstream = upstream, mcp.tool = ?tool.get("name"), %error, "tool schema refused; tool hidden");
                    false
                }
            })
            .collect();
        let mut rewritten = message.clone();
        if let Some(slot) = rewritten.pointer_mut("/result/tools") {
            *slot = Value::Array(allowed);
        }
        Ok(rewritten)
    }

    fn tools_call_result(
        &self,
        upstream: &str,
        tool: Option<&str>,
        message: &Value,
    ) -> Option<Value> {
        // A tools/call without a readable tool name never got past
        // check_request; withhold rather than pass unvalidated.
        let Some(tool) = tool else {
            return Some(self.withheld(message, None, "the call named no tool".into()));
        };
        let result = message.get("result")?;
        let result_type = result.get("resultType").and_then(Value::as_str);
        let verdict = match result_type {
            // 2026-07-28: a request for more input, not the tool's result;
            // the retried call's final result is validated in turn.
            Some("input_required") => return None,
            Some("complete") | None => self.validate_tool_result(upstream, tool, result),
            Some(_) => Err("an unsupported result type".to_owned()),
        };
        let reason = verdict.err()?;
        tracing::warn!(mcp.upstream = upstream, mcp.tool = tool, %reason, "tool result withheld");
        Some(self.withheld(
            message,
            result_type,
            format!("portcullis withheld this tool result: {reason}"),
        ))
    }

    /// An `isError` tool result saying why the real one was not passed on
    /// (tagged `resultType: complete` where the original was tagged).
    fn withheld(&self, message: &Value, result_type: Option<&str>, text: String) -> Value {
        let mut result = json!({
            "content": [{"type": "text", "text": text}],
            "isError": true,
        });
        if result_type.is_some() {
            result["resultType"] = Value::from("complete");
        }
        json!({
            "jsonrpc": "2.0",
            "id": message.get("id").cloned().unwrap_or(Value::Null),
            "result": result,
        })
    }

    fn validate_tool_result(
        &self,
        upstream: &str,
        tool: &str,
        result: &Value,
    ) -> Result<(), String> {
        match self.pins.lock() {
            Ok(pins) => match pins.tool_def(upstream, tool) {
                Some(definition) => self
                    .schemas
                    .validate_result(upstream, definition, result)
                    .map_err(|e| e.to_string()),
                None => Err("the tool is no longer pinned".to_owned()),
            },
            Err(_) => Err("pin store unavailable".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests;
