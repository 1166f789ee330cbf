//! The per-message stage for traffic from an upstream: every JSON-RPC
//! message an upstream sends (JSON body or SSE event) passes here before it
//! reaches the client: the envelope is enforced, then the content stages
//! (pinning, result validation) look at answers to the client's request.

use serde_json::Value;

use super::content::{ContentStages, Exchange};
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
    /// A content stage refused it.
    #[error("refused by a content stage: {0}")]
    Refused(String),
}

/// Checks one upstream message. `Ok(None)` passes it unchanged (byte for
/// byte); `Ok(Some(text))` replaces it; `Err` refuses it.
pub fn inspect_upstream_message(
    stages: &ContentStages,
    upstream: &str,
    exchange: &Exchange,
    direction: Direction,
    data: &[u8],
) -> Result<Option<String>, InspectError> {
    let limits = BodyLimits {
        // The caller bounded the size already (response or event limit).
        max_bytes: usize::MAX,
        ..BodyLimits::default()
    };
    let parsed = parse_body(data, &limits).map_err(|e| InspectError::Envelope(e.message))?;
    let messages = match parsed {
        Incoming::Single(message) => {
            return match stages.inspect(upstream, exchange, message.value) {
                Ok(None) => Ok(None),
                Ok(Some(rewritten)) => Ok(Some(rewritten.to_string())),
                Err(reason) => Err(InspectError::Refused(reason)),
            };
        }
        Incoming::Batch(_) if direction == Direction::Stream => {
            return Err(InspectError::Envelope("a batch inside one event".into()));
        }
        Incoming::Batch(messages) => messages,
    };
    // A batch answers a batch: every element goes through the stages, and
    // one refusal refuses the whole answer.
    let mut changed = false;
    let mut out = Vec::with_capacity(messages.len());
    for message in messages {
        let original = message.value.clone();
        match stages.inspect(upstream, exchange, message.value) {
            Ok(None) => out.push(original),
            Ok(Some(rewritten)) => {
                changed = true;
                out.push(rewritten);
            }
            Err(reason) => return Err(InspectError::Refused(reason)),
        }
    }
    Ok(changed.then(|| Value::Array(out).to_string()))
}
