//! The sans-IO MCP layer: JSON-RPC bodies and the SSE stream parser.

use serde_json::Value;

use crate::mcp::{
    BodyLimits, ErrorCode, Incoming, Message, MessageKind, SseError, SseEvent, SseLimits,
    SseParser, parse_body,
};

/// Parses an arbitrary body under limits chosen by its first two bytes.
/// An accepted body respects every limit, each message's kind is what its
/// value says, and re-serializing it parses to the same messages; a
/// rejected one gets a well-formed JSON-RPC error.
pub fn jsonrpc(data: &[u8]) {
    let [depth, batch, body @ ..] = data else {
        return;
    };
    let limits = BodyLimits {
        max_bytes: 4096,
        max_depth: usize::from(depth % 80),
        max_batch: usize::from(batch % 8),
    };
    let incoming = match parse_body(body, &limits) {
        Ok(incoming) => incoming,
        Err(err) => {
            assert!(
                matches!(err.code, ErrorCode::Parse | ErrorCode::InvalidRequest),
                "unexpected code {:?}",
                err.code
            );
            assert!(matches!(err.status, 400 | 413), "status {}", err.status);
            if err.status == 413 {
                assert!(
                    body.len() > limits.max_bytes,
                    "413 for a body within the limit"
                );
            }
            let json = err.to_json();
            assert_eq!(json["jsonrpc"], "2.0");
            assert!(json["error"]["code"].is_i64() && json["error"]["message"].is_string());
            return;
        }
    };
    assert!(body.len() <= limits.max_bytes);
    if let Incoming::Batch(messages) = &incoming {
        assert!(
            !messages.is_empty() && messages.len() <= limits.max_batch,
            "batch of {} accepted with max_batch {}",
            messages.len(),
            limits.max_batch
        );
    }
    for message in incoming.messages() {
        check_message(message, &limits);
    }
    // The accepted messages survive a round trip (numbers may print
    // longer than they were written, so the size limit is lifted).
    let again: Vec<Value> = incoming
        .messages()
        .iter()
        .map(|m| m.value.clone())
        .collect();
    let text = match &incoming {
        Incoming::Single(m) => serde_json::to_vec(&m.value),
        Incoming::Batch(_) => serde_json::to_vec(&again),
    }
    .expect("a Value always serializes");
    let relaxed = BodyLimits {
        max_bytes: usize::MAX,
        ..limits
    };
    let reparsed = parse_body(&text, &relaxed).unwrap_or_else(|e| panic!("round trip: {e}"));
    assert_eq!(reparsed, incoming, "round trip changed the messages");
}

fn check_message(message: &Message, limits: &BodyLimits) {
    let object = message.value.as_object().expect("a message is an object");
    assert_eq!(object.get("jsonrpc").and_then(Value::as_str), Some("2.0"));
    assert!(
        depth(&message.value) <= limits.max_depth,
        "a message nested deeper than {} was accepted",
        limits.max_depth
    );
    match &message.kind {
        MessageKind::Request { method, .. } | MessageKind::Notification { method } => {
            assert!(!method.is_empty() && method.len() <= 256);
            assert_eq!(
                object.get("method").and_then(Value::as_str),
                Some(method.as_str())
            );
            assert!(object.get("params").is_none_or(Value::is_object));
            assert_eq!(
                object.contains_key("id"),
                matches!(message.kind, MessageKind::Request { .. })
            );
        }
        MessageKind::Response { is_error, .. } => {
            assert!(!object.contains_key("method"));
            assert_eq!(object.contains_key("error"), *is_error);
            assert_eq!(object.contains_key("result"), !is_error);
        }
    }
    if let Some(id) = message.id() {
        assert_eq!(object.get("id"), Some(&id.to_json()), "id changed");
    }
}

/// Nesting depth of arrays and objects (a scalar is 0).
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// What a parser made of a stream: the events it returned, and the error
/// that stopped it, if any.
#[derive(Debug, PartialEq)]
struct Outcome {
    events: Vec<SseEvent>,
    error: Option<SseError>,
}

fn feed_all<'a>(limits: SseLimits, chunks: impl IntoIterator<Item = &'a [u8]>) -> Outcome {
    let mut parser = SseParser::new(limits);
    let mut events = Vec::new();
    for chunk in chunks {
        match parser.feed(chunk) {
            Ok(more) => events.extend(more),
            Err(error) => {
                return Outcome {
                    events,
                    error: Some(error),
                };
            }
        }
    }
    Outcome {
        events,
        error: None,
    }
}

/// Chunk lengths from a small xorshift generator seeded by `seed`.
fn random_chunks(stream: &[u8], seed: u8) -> Vec<&[u8]> {
    let mut state = u32::from(seed) | 0x9e37_0000;
    let mut chunks = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let len = (state % 9) as usize;
        let (chunk, tail) = rest.split_at(len.min(rest.len()));
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// Feeds an arbitrary stream whole, byte by byte and in pseudo-random
/// chunks (byte 0 sets the event size limit, byte 1 the split): all three
/// give the same events and the same error. A stream that stops at an
/// error may have returned fewer events when fed in bigger chunks (the
/// events of the failing chunk are not returned), never different ones.
/// Every event survives encoding and parsing again.
pub fn sse(data: &[u8]) {
    let [limit, seed, stream @ ..] = data else {
        return;
    };
    let limits = SseLimits {
        max_event_bytes: 8 + usize::from(*limit) * 4,
    };
    let bytewise = feed_all(limits, stream.chunks(1));
    let whole = feed_all(limits, [stream]);
    let random = feed_all(limits, random_chunks(stream, *seed));
    for (name, other) in [("whole", &whole), ("random chunks", &random)] {
        assert_eq!(other.error, bytewise.error, "{name}: a different error");
        if bytewise.error.is_none() {
            assert_eq!(other.events, bytewise.events, "{name}: different events");
        } else {
            assert!(
                bytewise.events.starts_with(&other.events),
                "{name}: events that byte-by-byte feeding did not give"
            );
        }
    }
    for event in &bytewise.events {
        assert!(!event.is_empty(), "an empty event was returned");
        let encoded = event.encode();
        let parsed = SseParser::default()
            .feed(&encoded)
            .unwrap_or_else(|e| panic!("re-parsing an encoded event: {e}"));
        assert_eq!(parsed, vec![event.clone()], "encode/parse round trip");
    }
}
