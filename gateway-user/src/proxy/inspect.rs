//! The per-message stage for traffic from an upstream: every JSON-RPC
//! message an upstream sends (JSON body or SSE event) passes here before it
//! reaches the client. Today it enforces the envelope; later stages
//! (result validation, scanning, list filtering) plug in here.

use crate::mcp::{BodyLimits, Incoming, parse_body};

/// Where a message came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// A JSON response body.
    Json,
    /// An event on an SSE stream.
    Stream,
}

/// Why a message from an upstream was refused.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// Not a valid JSON-RPC message.
    #[error("invalid JSON-RPC from the upstream: {0}")]
    Envelope(String),
}

/// Checks one upstream message. `Ok(None)` passes it unchanged (byte for
/// byte); `Ok(Some(text))` replaces it; `Err` refuses it.
pub fn inspect_upstream_message(
    _route: &str,
    direction: Direction,
    data: &[u8],
) -> Result<Option<String>, InspectError> {
    let limits = BodyLimits {
        // The caller bounded the size already (response or event limit).
        max_bytes: usize::MAX,
        ..BodyLimits::default()
    };
    let parsed = parse_body(data, &limits).map_err(|e| InspectError::Envelope(e.message))?;
    if direction == Direction::Stream && matches!(parsed, Incoming::Batch(_)) {
        return Err(InspectError::Envelope("a batch inside one event".into()));
    }
    Ok(None)
}
