//! Size and depth of JSON values, measured without recursion and with an
//! early stop once a bound is passed.

use std::io;

use serde_json::Value;

/// A bound that a value passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exceeded {
    /// Compact JSON is longer than the byte bound.
    Bytes,
    /// Nesting is deeper than the depth bound.
    Depth,
}

impl Exceeded {
    /// A short name for the bound, for error messages.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Self::Bytes => "size in bytes",
            Self::Depth => "nesting depth",
        }
    }
}

/// Checks that `value` nests at most `max_depth` levels (a scalar is depth
/// 0, `[]` is 1) and serializes to at most `max_bytes` of compact JSON.
/// Depth is checked first, iteratively, so serialization never recurses
/// deeper than the bound.
pub(crate) fn check_bounds(
    value: &Value,
    max_bytes: usize,
    max_depth: usize,
) -> Result<usize, Exceeded> {
    if depth_exceeds(value, max_depth) {
        return Err(Exceeded::Depth);
    }
    serialized_len(value, max_bytes).ok_or(Exceeded::Bytes)
}

/// True when `value` nests deeper than `max_depth`.
pub(crate) fn depth_exceeds(value: &Value, max_depth: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(value, 0)];
    while let Some((v, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        let inner = depth + 1;
        if inner > max_depth {
            return true;
        }
        stack.extend(children.map(|c| (c, inner)));
    }
    false
}

/// The compact JSON length of `value`, or `None` once it passes `max_bytes`.
/// The caller must bound the depth first.
pub(crate) fn serialized_len(value: &Value, max_bytes: usize) -> Option<usize> {
    let mut counter = Counter {
        written: 0,
        limit: max_bytes,
    };
    serde_json::to_writer(&mut counter, value).ok()?;
    Some(counter.written)
}

struct Counter {
    written: usize,
    limit: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written = self.written.saturating_add(buf.len());
        if self.written > self.limit {
            return Err(io::Error::other("limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_containers() {
        assert!(!depth_exceeds(&json!(1), 0));
        assert!(depth_exceeds(&json!([]), 0));
        assert!(!depth_exceeds(&json!({"a": [1]}), 2));
        assert!(depth_exceeds(&json!({"a": [[1]]}), 2));
    }

    #[test]
    fn size_stops_at_limit() {
        let v = json!({"a": "x".repeat(100)});
        assert_eq!(serialized_len(&v, 1000), Some(108));
        assert_eq!(serialized_len(&v, 107), None);
        assert_eq!(check_bounds(&v, 107, 8), Err(Exceeded::Bytes));
        assert_eq!(check_bounds(&json!([[[]]]), 100, 2), Err(Exceeded::Depth));
    }
}
