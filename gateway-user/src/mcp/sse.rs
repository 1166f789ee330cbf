//! Server-Sent Events framing: an incremental parser that yields whole
//! events from arbitrary chunks (so a stream is inspected event by event,
//! never buffered whole), and the encoder that writes them back.

use bytes::{Bytes, BytesMut};

/// Limits on what one event may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SseLimits {
    /// Largest event (all its lines) in bytes.
    pub max_event_bytes: usize,
}

impl Default for SseLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: 4 << 20,
        }
    }
}

/// One event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:`, the resumption cursor.
    pub id: Option<String>,
    /// `event:`, the type (absent means `message`).
    pub event: Option<String>,
    /// `data:` lines joined with `\n`.
    pub data: String,
    /// `retry:` in milliseconds.
    pub retry: Option<u64>,
}

impl SseEvent {
    /// A `message` event carrying `data`.
    pub fn message(data: impl Into<String>) -> Self {
        Self {
            data: data.into(),
            ..Self::default()
        }
    }

    /// Whether the event has any field worth sending.
    pub fn is_empty(&self) -> bool {
        self.id.is_none() && self.event.is_none() && self.data.is_empty() && self.retry.is_none()
    }

    /// The wire form, ending with the blank line. Field values never carry
    /// line breaks: ids and types are cut at the first one, data is split
    /// into `data:` lines.
    pub fn encode(&self) -> Bytes {
        let mut out = String::with_capacity(self.data.len() + 32);
        let single_line = |s: &str| s.split(['\r', '\n']).next().unwrap_or("").to_owned();
        if let Some(id) = &self.id {
            out.push_str("id: ");
            out.push_str(&single_line(id));
            out.push('\n');
        }
        if let Some(event) = &self.event {
            out.push_str("event: ");
            out.push_str(&single_line(event));
            out.push('\n');
        }
        if let Some(retry) = self.retry {
            out.push_str(&format!("retry: {retry}\n"));
        }
        if !self.data.is_empty() || self.event.is_some() {
            for line in self.data.split('\n') {
                out.push_str("data: ");
                out.push_str(line.strip_suffix('\r').unwrap_or(line));
                out.push('\n');
            }
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// A malformed or oversized stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SseError {
    /// An event larger than the limit.
    #[error("an event stream event is larger than {0} bytes")]
    TooLarge(usize),
    /// Not UTF-8.
    #[error("an event stream line is not valid UTF-8")]
    NotUtf8,
}

/// Incremental parser: feed chunks, take whole events.
#[derive(Debug, Default)]
pub struct SseParser {
    limits: SseLimits,
    buf: BytesMut,
    /// How much of `buf` is known to hold no line end, so each byte is
    /// searched once however small the chunks (no quadratic rescans).
    scanned: usize,
    current: SseEvent,
    current_bytes: usize,
    has_data: bool,
}

impl SseParser {
    /// A parser with `limits`.
    pub fn new(limits: SseLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Adds a chunk and returns the events it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, SseError> {
        self.buf.extend_from_slice(chunk);
        let mut events = Vec::new();
        loop {
            let unsearched = self.buf.get(self.scanned..).unwrap_or_default();
            let Some(found) = memchr::memchr2(b'\n', b'\r', unsearched) else {
                self.scanned = self.buf.len();
                break;
            };
            let end = self.scanned + found;
            let cr = self.buf.get(end) == Some(&b'\r');
            // A lone '\r' at the end of the buffer may be the first half of
            // "\r\n": wait for the next byte, and search it again then.
            if cr && end + 1 == self.buf.len() {
                self.scanned = end;
                break;
            }
            let skip = if cr && self.buf.get(end + 1) == Some(&b'\n') {
                2
            } else {
                1
            };
            let line = self.buf.split_to(end + skip);
            self.scanned = 0;
            if let Some(event) = self.line(line.get(..end).unwrap_or_default())? {
                events.push(event);
            }
        }
        // What is buffered belongs to the current event, except a pending
        // blank line (a lone '\r'), which ends it instead.
        let pending = if self.buf.as_ref() == b"\r" {
            0
        } else {
            self.buf.len()
        };
        if self.current_bytes + pending > self.limits.max_event_bytes {
            return Err(SseError::TooLarge(self.limits.max_event_bytes));
        }
        Ok(events)
    }

    fn line(&mut self, line: &[u8]) -> Result<Option<SseEvent>, SseError> {
        if line.is_empty() {
            let event = std::mem::take(&mut self.current);
            self.current_bytes = 0;
            self.has_data = false;
            return Ok((!event.is_empty()).then_some(event));
        }
        self.current_bytes += line.len() + 1;
        if self.current_bytes > self.limits.max_event_bytes {
            return Err(SseError::TooLarge(self.limits.max_event_bytes));
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.current.data.push('\n');
                }
                self.current.data.push_str(value);
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.current.id = Some(value.to_owned()),
            "event" => self.current.event = Some(value.to_owned()),
            "retry" => {
                if let Ok(ms) = value.parse() {
                    self.current.retry = Some(ms);
                }
            }
            _ => {}
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_across_arbitrary_chunks() {
        let stream = b"id: 1\r\nevent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\n: comment\n\ndata: two\n\n";
        for split in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.feed(&stream[..split]).unwrap();
            events.extend(parser.feed(&stream[split..]).unwrap());
            assert_eq!(events.len(), 2, "split at {split}");
            assert_eq!(events[0].id.as_deref(), Some("1"));
            assert_eq!(events[0].data, "{\"a\":\n1}");
            assert_eq!(events[1].data, "two");
        }
    }

    #[test]
    fn encode_round_trips() {
        let event = SseEvent {
            id: Some("7".into()),
            event: Some("message".into()),
            data: "line1\nline2".into(),
            retry: Some(1000),
        };
        let mut parser = SseParser::default();
        assert_eq!(parser.feed(&event.encode()).unwrap(), vec![event]);
        // A line break smuggled into an id does not inject a field.
        let evil = SseEvent {
            id: Some("1\ndata: injected".into()),
            ..SseEvent::message("x")
        };
        let parsed = SseParser::default().feed(&evil.encode()).unwrap();
        assert_eq!(parsed[0].data, "x");
        assert_eq!(parsed[0].id.as_deref(), Some("1"));
    }

    /// Found by the `sse` fuzz target: an event exactly at the size limit
    /// followed by a chunk ending in the blank line's `\r` was refused,
    /// while the same bytes in one chunk passed.
    #[test]
    fn a_pending_blank_line_does_not_count_toward_the_limit() {
        let limits = SseLimits {
            max_event_bytes: 12,
        };
        let mut parser = SseParser::new(limits);
        // "data: abcde" plus its line end is exactly 12 bytes.
        assert_eq!(parser.feed(b"data: abcde\n\r").unwrap(), vec![]);
        assert_eq!(
            parser.feed(b"\n").unwrap(),
            vec![SseEvent::message("abcde")]
        );
        crate::fuzz::sse(b"\x01\x00data: abcde\n\r\n");
    }

    #[test]
    fn a_long_line_in_small_chunks_is_searched_once() {
        let mut parser = SseParser::default();
        parser.feed(b"data: ").unwrap();
        for _ in 0..1000 {
            assert_eq!(parser.feed(b"xxxxxxxx").unwrap(), vec![]);
            // Only the new bytes are searched for a line end next time.
            assert_eq!(parser.scanned, parser.buf.len());
        }
        parser.feed(b"\r").unwrap();
        // A trailing '\r' stays unsearched until its next byte arrives.
        assert_eq!(parser.scanned, parser.buf.len() - 1);
        let events = parser.feed(b"\n\n").unwrap();
        assert_eq!(events[0].data.len(), 8000);
        assert_eq!(parser.scanned, 0);
    }

    #[test]
    fn oversized_and_non_utf8_events_fail() {
        let mut parser = SseParser::new(SseLimits {
            max_event_bytes: 16,
        });
        assert_eq!(
            parser.feed(b"data: 0123456789abcdefghij\n"),
            Err(SseError::TooLarge(16))
        );
        let mut parser = SseParser::new(SseLimits {
            max_event_bytes: 16,
        });
        // No line break yet, but already too big to ever fit.
        assert!(parser.feed(&[b'x'; 32]).is_err());
        assert_eq!(
            SseParser::default().feed(b"data: \xff\n\n"),
            Err(SseError::NotUtf8)
        );
    }
}
