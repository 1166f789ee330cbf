//! Content stages on tool traffic: tools/list results are pinned (changed,
//! renamed or new tools are held back until an operator approves them) and
//! their schemas compiled; tools/call arguments are validated against the
//! pinned `inputSchema` before they leave the gateway, and results against
//! the CallToolResult shape and `outputSchema` before they reach the client.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};

use crate::{
    auth::Principal,
    mcp::{ErrorCode, Message, MessageKind, RequestId, RpcError},
    pin::{PinError, PinMode, PinStore},
    policy::Policy,
    validate::{SchemaCache, ValidationLimits},
};

/// What the gateway remembers about the client request a response answers.
#[derive(Clone, Debug, Default)]
pub struct Exchange {
    /// The request's id.
    pub id: Option<RequestId>,
    /// Its method.
    pub method: Option<String>,
    /// For tools/call, the tool.
    pub tool: Option<String>,
    /// Who asked: list results are filtered to what they may use.
    pub principal: Option<Arc<Principal>>,
}

impl Exchange {
    /// The exchange a single client request opens; batches and
    /// notifications get an empty one (nothing to match answers against).
    pub fn of(message: Option<&Message>, principal: Option<Arc<Principal>>) -> Self {
        let Some(message) = message else {
            return Self::default();
        };
        let MessageKind::Request { id, method } = &message.kind else {
            return Self::default();
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
        Self {
            id: Some(id.clone()),
            method: Some(method.clone()),
            tool,
            principal,
        }
    }
}

/// Pins and schemas for every upstream.
#[derive(Debug)]
pub struct ContentStages {
    pins: Mutex<PinStore>,
    pin_file: Option<PathBuf>,
    schemas: SchemaCache,
    policy: Option<Arc<Policy>>,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl ContentStages {
    /// Stages with pins persisted in `pin_file` (in memory only without
    /// one) and `modes` per upstream.
    pub fn new(
        pin_file: Option<PathBuf>,
        modes: &[(String, PinMode)],
        limits: ValidationLimits,
        policy: Option<Arc<Policy>>,
    ) -> Result<Self, PinError> {
        let mut pins = match &pin_file {
            Some(path) => PinStore::load_or_new(path)?,
            None => PinStore::new(),
        };
        for (upstream, mode) in modes {
            pins.set_mode(upstream, *mode);
        }
        Ok(Self {
            pins: Mutex::new(pins),
            pin_file,
            schemas: SchemaCache::new(limits),
            policy,
        })
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

    /// Inspects one upstream message answering `exchange`; returns the
    /// replacement, or `None` to pass it unchanged.
    pub fn inspect(
        &self,
        upstream: &str,
        exchange: &Exchange,
        message: &Value,
    ) -> Result<Option<Value>, String> {
        let answers = exchange
            .id
            .as_ref()
            .is_some_and(|id| message.get("id") == Some(&id.to_json()));
        if !answers || message.get("result").is_none() {
            return Ok(None);
        }
        let method = exchange.method.as_deref();
        let mut rewritten = match method {
            Some("tools/list") => Some(self.tools_list(upstream, message)?),
            Some("tools/call") => return Ok(self.tools_call_result(upstream, exchange, message)),
            _ => None,
        };
        if let (Some(policy), Some(principal)) = (&self.policy, &exchange.principal) {
            let filter = match method {
                Some("tools/list") => Policy::filter_tools_list,
                Some("resources/list") => Policy::filter_resources_list,
                Some("resources/templates/list") => Policy::filter_resource_templates_list,
                Some("prompts/list") => Policy::filter_prompts_list,
                _ => return Ok(rewritten),
            };
            let mut value = rewritten.take().unwrap_or_else(|| message.clone());
            let Some(result) = value.get_mut("result") else {
                return Err("a list answer without a result".into());
            };
            // Fail secure: a list the filter cannot read is refused whole.
            filter(policy, principal, upstream, result).map_err(|e| format!("list filter: {e}"))?;
            rewritten = Some(value);
        }
        Ok(rewritten)
    }

    fn tools_list(&self, upstream: &str, message: &Value) -> Result<Value, String> {
        let tools = message
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .ok_or("a tools/list result without a tools array")?;
        let now = now_secs();
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
        exchange: &Exchange,
        message: &Value,
    ) -> Option<Value> {
        let tool = exchange.tool.as_deref()?;
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
        let mut withheld = json!({
            "content": [{"type": "text", "text": format!("portcullis withheld this tool result: {reason}")}],
            "isError": true,
        });
        if result_type.is_some() {
            withheld["resultType"] = Value::from("complete");
        }
        Some(json!({
            "jsonrpc": "2.0",
            "id": message.get("id").cloned().unwrap_or(Value::Null),
            "result": withheld,
        }))
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
