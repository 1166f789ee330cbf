//! The JSON-RPC 2.0 envelope of MCP messages, checked strictly at the
//! boundary: size, UTF-8, nesting depth, then shape.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::error::RpcError;

/// Limits applied to every JSON-RPC body before it is parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BodyLimits {
    /// Largest body accepted, in bytes.
    pub max_bytes: usize,
    /// Deepest nesting of arrays and objects accepted.
    pub max_depth: usize,
    /// Most messages in one batch (where batches are allowed at all).
    pub max_batch: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        Self {
            max_bytes: 4 << 20,
            max_depth: 64,
            max_batch: 64,
        }
    }
}

/// Longest method name accepted.
const MAX_METHOD_LEN: usize = 256;
/// Longest string id accepted.
const MAX_ID_LEN: usize = 256;

/// A JSON-RPC request id: MCP allows strings and integers, never null.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// An integer id.
    Number(i64),
    /// A string id.
    String(String),
}

impl RequestId {
    fn from_json(value: &Value) -> Result<Self, RpcError> {
        match value {
            Value::String(s) if s.len() <= MAX_ID_LEN => Ok(RequestId::String(s.clone())),
            Value::String(_) => Err(RpcError::invalid("id is too long")),
            Value::Number(n) => n
                .as_i64()
                .map(RequestId::Number)
                .ok_or_else(|| RpcError::invalid("id must be a string or an integer")),
            _ => Err(RpcError::invalid("id must be a string or an integer")),
        }
    }

    /// The id as JSON.
    pub fn to_json(&self) -> Value {
        match self {
            RequestId::Number(n) => Value::from(*n),
            RequestId::String(s) => Value::from(s.as_str()),
        }
    }
}

/// What a message is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// A request expecting a response.
    Request {
        /// Its id.
        id: RequestId,
        /// Its method.
        method: String,
    },
    /// A notification (no id, no response).
    Notification {
        /// Its method.
        method: String,
    },
    /// A response to a request the other side sent.
    Response {
        /// The id it answers.
        id: RequestId,
        /// Whether it carries `error` rather than `result`.
        is_error: bool,
    },
}

/// One validated JSON-RPC message, with its parsed value kept for the later
/// stages that inspect it.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    /// What it is.
    pub kind: MessageKind,
    /// The whole message.
    pub value: Value,
}

impl Message {
    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        match &self.kind {
            MessageKind::Request { method, .. } | MessageKind::Notification { method } => {
                Some(method)
            }
            MessageKind::Response { .. } => None,
        }
    }

    /// The id of a request or response.
    pub fn id(&self) -> Option<&RequestId> {
        match &self.kind {
            MessageKind::Request { id, .. } | MessageKind::Response { id, .. } => Some(id),
            MessageKind::Notification { .. } => None,
        }
    }

    /// `params`, when present.
    pub fn params(&self) -> Option<&Map<String, Value>> {
        self.value.get("params").and_then(Value::as_object)
    }

    /// Validates one parsed JSON value as a JSON-RPC message.
    pub fn from_value(value: Value) -> Result<Self, RpcError> {
        let Some(object) = value.as_object() else {
            return Err(RpcError::invalid("a JSON-RPC message must be an object"));
        };
        // The id, if readable, is attached to any later error.
        let id = object.get("id").and_then(|v| RequestId::from_json(v).ok());
        Self::check(object)
            .map(|kind| Message {
                kind,
                value: value.clone(),
            })
            .map_err(|e| e.with_id(id))
    }

    fn check(object: &Map<String, Value>) -> Result<MessageKind, RpcError> {
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(RpcError::invalid("`jsonrpc` must be \"2.0\""));
        }
        if let Some(method) = object.get("method") {
            for key in object.keys() {
                if !matches!(key.as_str(), "jsonrpc" | "id" | "method" | "params") {
                    return Err(RpcError::invalid("unexpected member in a request"));
                }
            }
            let method = method
                .as_str()
                .ok_or_else(|| RpcError::invalid("`method` must be a string"))?;
            if method.is_empty() || method.len() > MAX_METHOD_LEN {
                return Err(RpcError::invalid("`method` must be 1-256 bytes"));
            }
            if let Some(params) = object.get("params")
                && !params.is_object()
            {
                return Err(RpcError::invalid("`params` must be an object"));
            }
            return Ok(match object.get("id") {
                Some(id) => MessageKind::Request {
                    id: RequestId::from_json(id)?,
                    method: method.to_owned(),
                },
                None => MessageKind::Notification {
                    method: method.to_owned(),
                },
            });
        }
        for key in object.keys() {
            if !matches!(key.as_str(), "jsonrpc" | "id" | "result" | "error") {
                return Err(RpcError::invalid("unexpected member in a response"));
            }
        }
        let id = object
            .get("id")
            .ok_or_else(|| RpcError::invalid("a message needs `method` or `id`"))?;
        let id = RequestId::from_json(id)?;
        match (object.get("result"), object.get("error")) {
            (Some(result), None) if result.is_object() => Ok(MessageKind::Response {
                id,
                is_error: false,
            }),
            (Some(_), None) => Err(RpcError::invalid("`result` must be an object")),
            (None, Some(error)) => {
                let code_ok = error.get("code").is_some_and(|c| c.as_i64().is_some());
                let message_ok = error.get("message").is_some_and(Value::is_string);
                if !(code_ok && message_ok) {
                    return Err(RpcError::invalid(
                        "`error` needs an integer `code` and a string `message`",
                    ));
                }
                Ok(MessageKind::Response { id, is_error: true })
            }
            _ => Err(RpcError::invalid(
                "a response needs exactly one of `result` and `error`",
            )),
        }
    }
}

/// A POST body: one message, or a batch (only some revisions allow them).
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// A single message.
    Single(Message),
    /// A JSON array of messages.
    Batch(Vec<Message>),
}

impl Incoming {
    /// The messages, in order.
    pub fn messages(&self) -> &[Message] {
        match self {
            Incoming::Single(message) => std::slice::from_ref(message),
            Incoming::Batch(messages) => messages,
        }
    }
}

/// Parses and validates a JSON-RPC body: size, UTF-8, depth, JSON, envelope.
pub fn parse_body(body: &[u8], limits: &BodyLimits) -> Result<Incoming, RpcError> {
    if body.len() > limits.max_bytes {
        return Err(RpcError::new(
            super::ErrorCode::InvalidRequest,
            413,
            format!("body larger than {} bytes", limits.max_bytes),
        ));
    }
    let text = std::str::from_utf8(body).map_err(|_| RpcError::parse("body is not valid UTF-8"))?;
    check_depth(text.as_bytes(), limits.max_depth)?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| RpcError::parse(format!("invalid JSON: {e}")))?;
    match value {
        Value::Array(items) => {
            if items.is_empty() {
                return Err(RpcError::invalid("an empty batch"));
            }
            if items.len() > limits.max_batch {
                return Err(RpcError::invalid(format!(
                    "a batch of more than {} messages",
                    limits.max_batch
                )));
            }
            items
                .into_iter()
                .map(Message::from_value)
                .collect::<Result<_, _>>()
                .map(Incoming::Batch)
        }
        value => Message::from_value(value).map(Incoming::Single),
    }
}

/// Rejects JSON nested deeper than `max_depth` before any parser recurses
/// into it. Counts brackets outside strings; malformed JSON is left for the
/// parser to report.
fn check_depth(bytes: &[u8], max_depth: usize) -> Result<(), RpcError> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &b in bytes {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(RpcError::parse(format!(
                        "JSON nested deeper than {max_depth} levels"
                    )));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::ErrorCode;

    fn parse(body: &str) -> Result<Incoming, RpcError> {
        parse_body(body.as_bytes(), &BodyLimits::default())
    }

    #[test]
    fn request_notification_response() {
        let m = parse(r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#).unwrap();
        assert_eq!(
            m.messages()[0].kind,
            MessageKind::Request {
                id: RequestId::Number(7),
                method: "tools/list".into()
            }
        );
        let m = parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert_eq!(m.messages()[0].method(), Some("notifications/initialized"));
        let m = parse(r#"{"jsonrpc":"2.0","id":"a","result":{}}"#).unwrap();
        assert!(matches!(
            m.messages()[0].kind,
            MessageKind::Response {
                is_error: false,
                ..
            }
        ));
    }

    #[test]
    fn bad_envelopes_are_invalid_requests() {
        for body in [
            r#"{"id":1,"method":"x"}"#,
            r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"x"}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":3}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":""}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"x","extra":1}"#,
            r#"{"jsonrpc":"2.0","id":1}"#,
            r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}"#,
            r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x","message":"m"}}"#,
            r#"{"jsonrpc":"2.0","method":"x","params":1}"#,
            r#""just a string""#,
            r#"[]"#,
        ] {
            let err = parse(body).unwrap_err();
            assert_eq!(err.code, ErrorCode::InvalidRequest, "{body}: {err}");
            assert_eq!(err.status, 400, "{body}");
        }
    }

    #[test]
    fn errors_carry_the_id_when_readable() {
        let err = parse(r#"{"jsonrpc":"2.0","id":9,"method":"x","params":[]}"#).unwrap_err();
        assert_eq!(err.id, Some(RequestId::Number(9)));
        assert_eq!(err.to_json()["id"], 9);
    }

    #[test]
    fn not_json_not_utf8_too_deep_too_big() {
        assert_eq!(parse("{nope").unwrap_err().code, ErrorCode::Parse);
        let err = parse_body(b"{\"a\":\"\xff\"}", &BodyLimits::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::Parse);
        assert!(err.message.contains("UTF-8"));
        let deep = format!("{}{}", "[".repeat(65), "]".repeat(65));
        let err = parse(&deep).unwrap_err();
        assert_eq!(err.code, ErrorCode::Parse);
        assert!(err.message.contains("deeper"));
        // Brackets inside strings do not count.
        let ok = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"x","params":{{"s":"{}\"{}"}}}}"#,
            "[".repeat(100),
            "{".repeat(100)
        );
        parse(&ok).unwrap();
        let limits = BodyLimits {
            max_bytes: 10,
            ..BodyLimits::default()
        };
        let err = parse_body(br#"{"jsonrpc":"2.0","id":1,"method":"x"}"#, &limits).unwrap_err();
        assert_eq!(err.status, 413);
    }

    #[test]
    fn batches_are_bounded() {
        let one = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        let batch = format!("[{}]", vec![one; 65].join(","));
        assert!(parse(&batch).unwrap_err().message.contains("batch"));
        let batch = format!("[{one},{one}]");
        assert_eq!(parse(&batch).unwrap().messages().len(), 2);
    }
}
