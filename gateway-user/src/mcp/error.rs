//! JSON-RPC errors as the gateway answers them: a code, a message safe to
//! show a client, and the HTTP status the transport rules call for.

use serde_json::{Value, json};

use super::jsonrpc::RequestId;

/// JSON-RPC and MCP error codes the gateway uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// -32700: the body is not JSON (or not UTF-8, or too deep).
    Parse,
    /// -32600: JSON, but not a valid JSON-RPC message.
    InvalidRequest,
    /// -32601: a method the route does not offer.
    MethodNotFound,
    /// -32602: parameters of the wrong shape.
    InvalidParams,
    /// -32603: the gateway failed.
    Internal,
    /// -32001: an MCP header disagrees with the body (2026-07-28).
    HeaderMismatch,
    /// -32000: the upstream failed or timed out.
    Upstream,
    /// -32002: refused by a gateway rule (policy, limits, validation).
    Denied,
}

impl ErrorCode {
    /// The numeric JSON-RPC code.
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::Parse => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::Internal => -32603,
            ErrorCode::HeaderMismatch => -32001,
            ErrorCode::Upstream => -32000,
            ErrorCode::Denied => -32002,
        }
    }
}

/// An error answered to the client as an HTTP status with a JSON-RPC error
/// body. The message never echoes untrusted input back at length.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} (HTTP {status}, JSON-RPC {})", code.code())]
pub struct RpcError {
    /// The JSON-RPC code.
    pub code: ErrorCode,
    /// HTTP status to answer with.
    pub status: u16,
    /// Human-readable and safe to show.
    pub message: String,
    /// The id of the request it answers, when one could be read.
    pub id: Option<RequestId>,
}

impl RpcError {
    /// A new error without an id.
    pub fn new(code: ErrorCode, status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            status,
            message: message.into(),
            id: None,
        }
    }

    /// The same error, answering request `id`.
    pub fn with_id(mut self, id: Option<RequestId>) -> Self {
        if self.id.is_none() {
            self.id = id;
        }
        self
    }

    /// -32700 with HTTP 400.
    pub fn parse(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Parse, 400, message)
    }

    /// -32600 with HTTP 400.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, 400, message)
    }

    /// The JSON-RPC error object as a complete message.
    pub fn to_json(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": self.id.as_ref().map(RequestId::to_json).unwrap_or(Value::Null),
            "error": { "code": self.code.code(), "message": self.message },
        })
    }
}
