//! The one place where gateway errors become wire responses: an HTTP status
//! and a JSON-RPC error body. Denials say what was refused, never what
//! exists behind the gateway.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};

use super::ProxyBody;
use crate::{
    mcp::{ErrorCode, RequestId, RpcError},
    upstream::UpstreamError,
};

/// A full (non-streaming) body.
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A JSON response with `status`.
pub fn json(status: StatusCode, body: Bytes) -> Response<ProxyBody> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The response for `error`.
pub fn rpc_error(error: &RpcError) -> Response<ProxyBody> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let body = serde_json::to_vec(&error.to_json()).unwrap_or_default();
    json(status, Bytes::from(body))
}

/// The error for an upstream failure: 502, or 504 for a timeout; logged
/// with its cause, answered without internals.
pub fn upstream_rpc_error(error: &UpstreamError, id: Option<RequestId>) -> RpcError {
    tracing::warn!(%error, cause = ?std::error::Error::source(error), "upstream failure");
    let status = match error {
        UpstreamError::Timeout { .. } => 504,
        _ => 502,
    };
    RpcError::new(ErrorCode::Upstream, status, error.to_string()).with_id(id)
}

/// An empty response with `status`.
pub fn empty(status: StatusCode) -> Response<ProxyBody> {
    let mut response = Response::new(full(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// 405 with the methods the MCP endpoint takes.
pub fn method_not_allowed(allow: &'static str) -> Response<ProxyBody> {
    let mut response = rpc_error(&RpcError::new(
        ErrorCode::InvalidRequest,
        405,
        "method not allowed on the MCP endpoint",
    ));
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}
