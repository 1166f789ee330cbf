//! Hidden comments: HTML `<!-- … -->` and markdown `[//]: # (…)` comments
//! are invisible once rendered; one that carries injection phrasing, or
//! addresses the model, is hostile.

use memchr::memmem;

use super::rules::{Family, Severity};
use super::{Finding, ViewFindings};

const MAX_COMMENT: usize = 16 * 1024;
const MAX_COMMENTS: usize = 64;

/// Finds comment bodies in the lowercased view: `(start, end, body_start, body_end)`.
pub(crate) fn comments(lower: &[u8]) -> Vec<(usize, usize, usize, usize)> {
    let mut out = Vec::new();
    for at in memmem::find_iter(lower, b"<!--").take(MAX_COMMENTS) {
        let body = at + 4;
        let rest = lower.get(body..).unwrap_or_default();
        let limit = rest.len().min(MAX_COMMENT);
        let close = memmem::find(rest.get(..limit).unwrap_or_default(), b"-->");
        let (body_end, end) = match close {
            Some(c) => (body + c, body + c + 3),
            None => (body + limit, body + limit),
        };
        out.push((at, end, body, body_end));
    }
    for needle in [
        &b"[//]: # ("[..],
        b"[comment]: # (",
        b"[//]: <> (",
        b"[comment]: <> (",
    ] {
        for at in memmem::find_iter(lower, needle).take(MAX_COMMENTS) {
            let body = at + needle.len();
            let rest = lower.get(body..).unwrap_or_default();
            let limit = rest.len().min(MAX_COMMENT);
            let close =
                memchr::memchr(b'\n', rest.get(..limit).unwrap_or_default()).unwrap_or(limit);
            out.push((at, body + close, body, body + close));
        }
    }
    out
}

/// Whether a comment body talks to the model ("AI/assistant … must/ignore …").
pub(crate) fn addresses_model(body: &[u8], regex: &regex::bytes::Regex) -> bool {
    regex.is_match(body)
}

/// Records one hostile comment.
pub(crate) fn push(
    out: &mut ViewFindings,
    id: &'static str,
    severity: Severity,
    start: usize,
    end: usize,
) {
    out.push(Finding {
        rule_id: id.to_owned(),
        family: Family::HiddenComment,
        severity,
        start,
        end,
    });
}
