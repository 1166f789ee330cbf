//! The Streamable HTTP rules for a POST, decided from its headers and its
//! validated body: which era it belongs to, whether it opens a session, and
//! whether its MCP headers agree with its body.

use serde_json::Value;

use super::{
    error::{ErrorCode, RpcError},
    jsonrpc::{Incoming, MessageKind},
    version::ProtocolVersion,
};

/// The request headers the transport rules read, already taken out of the
/// HTTP request (values that were not visible ASCII count as absent).
#[derive(Clone, Debug, Default)]
pub struct HeaderView<'a> {
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<&'a str>,
    /// `Mcp-Session-Id`.
    pub session_id: Option<&'a str>,
    /// `Mcp-Method` (2026-07-28).
    pub mcp_method: Option<&'a str>,
    /// `Mcp-Name` (2026-07-28).
    pub mcp_name: Option<&'a str>,
}

/// How a POST relates to sessions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionMode {
    /// An `initialize` request: the gateway opens a session if the upstream
    /// accepts it. Carries the revision the client asked for.
    Initialize {
        /// `params.protocolVersion` as sent.
        requested: String,
    },
    /// A message within the session with this (gateway) id.
    Session {
        /// The gateway's session id, as presented.
        id: String,
    },
    /// A stateless (2026-07-28) request.
    Stateless,
}

/// What the proxy should do with a valid POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostPlan {
    /// Its relation to sessions.
    pub mode: SessionMode,
    /// Whether any message is a request (otherwise the answer is 202).
    pub expects_response: bool,
}

/// Decides a POST; `Err` is the answer to send instead of forwarding.
pub fn plan_post(headers: &HeaderView<'_>, body: &Incoming) -> Result<PostPlan, RpcError> {
    let first_id = body.messages().iter().find_map(|m| m.id().cloned());
    let declared = match headers.protocol_version {
        Some(v) => Some(ProtocolVersion::parse(v).ok_or_else(|| {
            RpcError::invalid("unsupported MCP-Protocol-Version").with_id(first_id.clone())
        })?),
        None => None,
    };
    let expects_response = body
        .messages()
        .iter()
        .any(|m| matches!(m.kind, MessageKind::Request { .. }));

    if declared.is_some_and(ProtocolVersion::is_stateless) {
        check_stateless(headers, body).map_err(|e| e.with_id(first_id))?;
        return Ok(PostPlan {
            mode: SessionMode::Stateless,
            expects_response,
        });
    }

    let initialize = body
        .messages()
        .iter()
        .any(|m| m.method() == Some("initialize"));
    if initialize {
        let Incoming::Single(message) = body else {
            return Err(
                RpcError::invalid("initialize must not be part of a batch").with_id(first_id)
            );
        };
        if !matches!(message.kind, MessageKind::Request { .. }) {
            return Err(RpcError::invalid("initialize must be a request"));
        }
        let requested = message
            .params()
            .and_then(|p| p.get("protocolVersion"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                RpcError::new(
                    ErrorCode::InvalidParams,
                    400,
                    "initialize needs params.protocolVersion",
                )
                .with_id(first_id.clone())
            })?;
        return Ok(PostPlan {
            mode: SessionMode::Initialize {
                requested: requested.to_owned(),
            },
            expects_response,
        });
    }

    let id = headers.session_id.ok_or_else(|| {
        RpcError::invalid("missing Mcp-Session-Id (initialize first)").with_id(first_id)
    })?;
    Ok(PostPlan {
        mode: SessionMode::Session { id: id.to_owned() },
        expects_response,
    })
}

/// Checks a message sent in an existing session against the revision that
/// session negotiated.
pub fn check_session_message(
    headers: &HeaderView<'_>,
    body: &Incoming,
    negotiated: ProtocolVersion,
) -> Result<(), RpcError> {
    let first_id = body.messages().iter().find_map(|m| m.id().cloned());
    if let Some(declared) = headers.protocol_version
        && declared != negotiated.as_str()
    {
        return Err(RpcError::invalid(format!(
            "MCP-Protocol-Version does not match the session's {negotiated}"
        ))
        .with_id(first_id));
    }
    if matches!(body, Incoming::Batch(_)) && !negotiated.allows_batch() {
        return Err(RpcError::invalid(format!(
            "batches are not allowed in protocol revision {negotiated}"
        ))
        .with_id(first_id));
    }
    Ok(())
}

fn mismatch(message: &str) -> RpcError {
    RpcError::new(ErrorCode::HeaderMismatch, 400, message)
}

/// 2026-07-28: one message per POST, and `Mcp-Method`/`Mcp-Name` (and any
/// `_meta` protocol version) must agree with the body.
fn check_stateless(headers: &HeaderView<'_>, body: &Incoming) -> Result<(), RpcError> {
    let Incoming::Single(message) = body else {
        return Err(RpcError::invalid(
            "batches are not allowed in protocol revision 2026-07-28",
        ));
    };
    let Some(method) = message.method() else {
        return Err(RpcError::invalid(
            "protocol revision 2026-07-28 takes no client responses",
        ));
    };
    match headers.mcp_method {
        None => return Err(mismatch("missing Mcp-Method header")),
        Some(h) if h != method => return Err(mismatch("Mcp-Method does not match the body")),
        Some(_) => {}
    }
    let params = message.params();
    let name_field = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(field) = name_field {
        let in_body = params.and_then(|p| p.get(field)).and_then(Value::as_str);
        match (headers.mcp_name, in_body) {
            (None, _) => return Err(mismatch("missing Mcp-Name header")),
            (Some(h), Some(b)) if h == b => {}
            _ => return Err(mismatch("Mcp-Name does not match the body")),
        }
    }
    let meta_version = params
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.get("io.modelcontextprotocol/protocolVersion"));
    if let Some(v) = meta_version
        && v.as_str() != Some(ProtocolVersion::V2026_07_28.as_str())
    {
        return Err(mismatch(
            "_meta protocol version does not match MCP-Protocol-Version",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::{BodyLimits, parse_body};

    fn body(s: &str) -> Incoming {
        parse_body(s.as_bytes(), &BodyLimits::default()).unwrap()
    }

    const CALL: &str =
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}"#;

    fn stateless<'a>(method: Option<&'a str>, name: Option<&'a str>) -> HeaderView<'a> {
        HeaderView {
            protocol_version: Some("2026-07-28"),
            mcp_method: method,
            mcp_name: name,
            ..HeaderView::default()
        }
    }

    #[test]
    fn stateless_headers_must_match_the_body() {
        let plan = plan_post(&stateless(Some("tools/call"), Some("echo")), &body(CALL)).unwrap();
        assert_eq!(plan.mode, SessionMode::Stateless);
        for (method, name) in [
            (None, Some("echo")),
            (Some("tools/list"), Some("echo")),
            (Some("tools/call"), None),
            (Some("tools/call"), Some("other")),
        ] {
            let err = plan_post(&stateless(method, name), &body(CALL)).unwrap_err();
            assert_eq!(err.code, ErrorCode::HeaderMismatch, "{method:?} {name:?}");
            assert_eq!(err.status, 400);
            assert_eq!(err.id, Some(crate::mcp::RequestId::Number(1)));
        }
        let meta = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-06-18"}}}"#;
        let err = plan_post(&stateless(Some("tools/list"), None), &body(meta)).unwrap_err();
        assert_eq!(err.code, ErrorCode::HeaderMismatch);
        let read =
            r#"{"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"file:///a"}}"#;
        plan_post(
            &stateless(Some("resources/read"), Some("file:///a")),
            &body(read),
        )
        .unwrap();
    }

    #[test]
    fn session_rules() {
        let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
        let plan = plan_post(&HeaderView::default(), &body(init)).unwrap();
        assert_eq!(
            plan.mode,
            SessionMode::Initialize {
                requested: "2025-06-18".into()
            }
        );
        let err = plan_post(&HeaderView::default(), &body(CALL)).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.message.contains("Mcp-Session-Id"));
        let headers = HeaderView {
            session_id: Some("abc"),
            protocol_version: Some("2025-11-25"),
            ..HeaderView::default()
        };
        let plan = plan_post(&headers, &body(CALL)).unwrap();
        assert!(plan.expects_response);
        let err =
            check_session_message(&headers, &body(CALL), ProtocolVersion::V2025_06_18).unwrap_err();
        assert!(err.message.contains("does not match"));
        check_session_message(&headers, &body(CALL), ProtocolVersion::V2025_11_25).unwrap();
        let unknown = HeaderView {
            protocol_version: Some("1999-01-01"),
            ..headers.clone()
        };
        assert!(plan_post(&unknown, &body(CALL)).is_err());
    }

    #[test]
    fn batches_only_where_allowed() {
        let batch = body(&format!("[{CALL},{CALL}]"));
        let headers = HeaderView {
            session_id: Some("s"),
            ..HeaderView::default()
        };
        check_session_message(&headers, &batch, ProtocolVersion::V2025_03_26).unwrap();
        assert!(check_session_message(&headers, &batch, ProtocolVersion::V2025_11_25).is_err());
        let init = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-03-26"}}"#;
        assert!(plan_post(&headers, &body(&format!("[{init}]"))).is_err());
        assert!(plan_post(&stateless(Some("tools/call"), Some("echo")), &batch).is_err());
    }

    #[test]
    fn notifications_expect_no_response() {
        let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
        let headers = HeaderView {
            session_id: Some("s"),
            ..HeaderView::default()
        };
        assert!(!plan_post(&headers, &body(note)).unwrap().expects_response);
    }
}
