//! Relaying upstream responses to the client: JSON read whole (bounded) and
//! checked; event streams relayed event by event, each event parsed,
//! checked and re-encoded, never the whole stream buffered.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use bytes::Bytes;
use http_body::{Body, Frame};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Sleep;

use std::sync::Arc;

use super::{
    content::{ContentStages, Exchange},
    inspect::{Direction, inspect_upstream_message},
};
use crate::mcp::{ErrorCode, RpcError, SseEvent, SseLimits, SseParser};

/// Boxed error for streamed bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why an upstream body could not be relayed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// Larger than the upstream's response limit.
    #[error("upstream response larger than {0} bytes")]
    TooLarge(usize),
    /// The upstream broke off.
    #[error("upstream response failed: {0}")]
    Body(#[from] hyper::Error),
    /// Silent for longer than the idle timeout.
    #[error("upstream response idle for more than {0:?}")]
    Idle(Duration),
}

/// Reads a whole body, refusing past `limit` bytes, with `idle` allowed
/// between frames.
pub async fn read_limited(
    mut body: Incoming,
    limit: usize,
    idle: Duration,
) -> Result<Bytes, RelayError> {
    let mut out = Vec::new();
    loop {
        let frame = match tokio::time::timeout(idle, body.frame()).await {
            Err(_) => return Err(RelayError::Idle(idle)),
            Ok(None) => break,
            Ok(Some(frame)) => frame?,
        };
        if let Ok(data) = frame.into_data() {
            if out.len() + data.len() > limit {
                return Err(RelayError::TooLarge(limit));
            }
            out.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(out))
}

/// Parses a whole SSE body (used where the gateway must read the response
/// before answering, such as `initialize`).
pub fn parse_sse_whole(body: &[u8], limit: usize) -> Option<Vec<SseEvent>> {
    let mut parser = SseParser::new(SseLimits {
        max_event_bytes: limit,
    });
    let mut events = parser.feed(body).ok()?;
    events.extend(parser.feed(b"\n\n").ok()?);
    Some(events)
}

/// A streamed SSE body: upstream chunks in, checked events out.
pub struct SseRelay {
    upstream: Incoming,
    parser: SseParser,
    queue: VecDeque<Bytes>,
    idle_timeout: Duration,
    idle: Pin<Box<Sleep>>,
    route: String,
    stages: Arc<ContentStages>,
    exchange: Exchange,
    done: bool,
}

impl std::fmt::Debug for SseRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SseRelay")
            .field("route", &self.route)
            .finish()
    }
}

impl SseRelay {
    /// Relays `upstream` for route `route`.
    pub fn new(
        upstream: Incoming,
        route: &str,
        stages: Arc<ContentStages>,
        exchange: Exchange,
        max_event_bytes: usize,
        idle_timeout: Duration,
    ) -> Self {
        Self {
            upstream,
            parser: SseParser::new(SseLimits { max_event_bytes }),
            queue: VecDeque::new(),
            idle_timeout,
            idle: Box::pin(tokio::time::sleep(idle_timeout)),
            route: route.to_owned(),
            stages,
            exchange,
            done: false,
        }
    }

    fn accept_chunk(&mut self, chunk: &[u8]) -> Result<(), BoxError> {
        for event in self.parser.feed(chunk)? {
            if let Some(out) = relay_event(&self.stages, &self.route, &self.exchange, event) {
                self.queue.push_back(out);
            }
        }
        Ok(())
    }
}

/// Checks one event; returns its wire form, or `None` to drop it. A refused
/// answer to the client's request is replaced by a JSON-RPC error, so the
/// client is told rather than left waiting.
fn relay_event(
    stages: &ContentStages,
    route: &str,
    exchange: &Exchange,
    mut event: SseEvent,
) -> Option<Bytes> {
    let is_message = matches!(event.event.as_deref(), None | Some("message"));
    if !is_message && !event.data.is_empty() {
        // MCP sends messages only; data under another event type is not
        // inspected, so it is not passed on either.
        tracing::warn!(
            mcp.upstream = route,
            "dropped a non-message event carrying data"
        );
        return None;
    }
    if !event.data.is_empty() {
        match inspect_upstream_message(
            stages,
            route,
            exchange,
            Direction::Stream,
            event.data.as_bytes(),
        ) {
            Ok(Some(rewritten)) => event.data = rewritten,
            Ok(None) => {}
            Err(reason) => {
                tracing::warn!(mcp.upstream = route, %reason, "refused a message on the upstream stream");
                let answered = serde_json::from_str::<serde_json::Value>(&event.data)
                    .ok()
                    .and_then(|v| exchange.answered_by(&v).map(|p| p.id.clone()));
                let id = answered?;
                let error = RpcError::new(
                    ErrorCode::Upstream,
                    502,
                    "the upstream's answer was refused by the gateway",
                )
                .with_id(Some(id));
                event.data = error.to_json().to_string();
            }
        }
    }
    Some(event.encode())
}

impl Body for SseRelay {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        loop {
            if let Some(bytes) = self.queue.pop_front() {
                return Poll::Ready(Some(Ok(Frame::data(bytes))));
            }
            if self.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.upstream).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    let deadline = tokio::time::Instant::now() + self.idle_timeout;
                    self.idle.as_mut().reset(deadline);
                    if let Ok(data) = frame.into_data()
                        && let Err(error) = self.accept_chunk(&data)
                    {
                        tracing::warn!(mcp.upstream = %self.route, %error, "upstream event stream is malformed; closing it");
                        self.done = true;
                    }
                }
                Poll::Ready(Some(Err(error))) => {
                    tracing::debug!(mcp.upstream = %self.route, %error, "upstream event stream broke off");
                    self.done = true;
                }
                Poll::Ready(None) => self.done = true,
                Poll::Pending => {
                    ready!(self.idle.as_mut().poll(cx));
                    tracing::info!(mcp.upstream = %self.route, "upstream event stream idle; closing it");
                    self.done = true;
                }
            }
        }
    }
}
