//! A small glob matcher for tool names, prompt names and resource URIs.
//!
//! `*` matches any run of characters (including none, and including `/`),
//! `?` matches exactly one character, `\` makes the next character literal.
//! Everything else matches itself. No character classes, no braces: a
//! pattern reads the same to the operator who writes it and to the matcher.

use std::fmt;

/// Longest pattern accepted, in bytes.
pub const MAX_GLOB_LEN: usize = 1024;

/// A glob that cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GlobError {
    /// The empty pattern matches nothing useful and is almost always a typo.
    #[error("empty pattern")]
    Empty,
    /// Longer than [`MAX_GLOB_LEN`].
    #[error("pattern longer than {MAX_GLOB_LEN} bytes")]
    TooLong,
    /// A trailing `\` escapes nothing.
    #[error("pattern `{0}` ends with a lone `\\`")]
    TrailingEscape(String),
    /// Control characters never occur in names or URIs we match.
    #[error("pattern contains a control character")]
    ControlChar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Literal(char),
    AnyOne,
    AnyRun,
}

/// A compiled glob pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    source: String,
    tokens: Vec<Token>,
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.source)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Glob {
    /// Compiles `pattern`.
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        if pattern.len() > MAX_GLOB_LEN {
            return Err(GlobError::TooLong);
        }
        let mut tokens = Vec::with_capacity(pattern.len());
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c.is_control() {
                return Err(GlobError::ControlChar);
            }
            let token = match c {
                '*' => Token::AnyRun,
                '?' => Token::AnyOne,
                '\\' => match chars.next() {
                    Some(next) if next.is_control() => return Err(GlobError::ControlChar),
                    Some(next) => Token::Literal(next),
                    None => return Err(GlobError::TrailingEscape(pattern.to_owned())),
                },
                other => Token::Literal(other),
            };
            // Collapse runs of `*`: they mean the same and cost backtracking.
            if token == Token::AnyRun && tokens.last() == Some(&Token::AnyRun) {
                continue;
            }
            tokens.push(token);
        }
        Ok(Self {
            source: pattern.to_owned(),
            tokens,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the pattern has no wildcard (it matches one string).
    pub fn is_literal(&self) -> bool {
        self.tokens.iter().all(|t| matches!(t, Token::Literal(_)))
    }

    /// Whether `text` matches the whole pattern.
    ///
    /// Iterative with single-star backtracking: O(len(text) × len(pattern))
    /// in the worst case, no recursion, no allocation beyond the text's chars.
    pub fn matches(&self, text: &str) -> bool {
        let text: Vec<char> = text.chars().collect();
        let pat = &self.tokens;
        let (mut t, mut p) = (0usize, 0usize);
        // Where the last `*` was, and the text position it has consumed up to.
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match pat.get(p) {
                Some(Token::AnyRun) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(Token::AnyOne) => {
                    t += 1;
                    p += 1;
                }
                Some(Token::Literal(c)) if text.get(t) == Some(c) => {
                    t += 1;
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        pat.get(p..)
            .is_some_and(|rest| rest.iter().all(|t| *t == Token::AnyRun))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).expect("valid pattern").matches(t)
    }

    #[test]
    fn literals_match_only_themselves() {
        assert!(m("read_file", "read_file"));
        assert!(!m("read_file", "read_files"));
        assert!(!m("read_file", "read_fil"));
        assert!(!m("read_file", ""));
        assert!(Glob::new("read_file").expect("valid").is_literal());
    }

    #[test]
    fn star_matches_any_run_including_slashes_and_nothing() {
        assert!(m("read_*", "read_"));
        assert!(m("read_*", "read_file"));
        assert!(!m("read_*", "write_file"));
        assert!(m("file:///srv/*", "file:///srv/a/b/c.txt"));
        assert!(!m("file:///srv/*", "file:///etc/passwd"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("*.txt", "x.txt.txt"));
        assert!(!Glob::new("a*").expect("valid").is_literal());
    }

    #[test]
    fn question_mark_is_exactly_one_char() {
        assert!(m("v?", "v1"));
        assert!(!m("v?", "v"));
        assert!(!m("v?", "v12"));
        assert!(m("h?llo", "hällo"));
    }

    #[test]
    fn escapes_make_wildcards_literal() {
        assert!(m(r"a\*", "a*"));
        assert!(!m(r"a\*", "ab"));
        assert!(m(r"a\?b", "a?b"));
        assert!(!m(r"a\?b", "axb"));
    }

    #[test]
    fn pathological_pattern_terminates() {
        let text = "a".repeat(2000);
        assert!(!m("*a*a*a*a*a*a*a*b", &text));
        assert!(m("*a*a*a*a*a*a*a*", &text));
    }

    #[test]
    fn bad_patterns_are_refused() {
        assert_eq!(Glob::new(""), Err(GlobError::Empty));
        assert_eq!(
            Glob::new(&"a".repeat(MAX_GLOB_LEN + 1)),
            Err(GlobError::TooLong)
        );
        assert_eq!(
            Glob::new(r"abc\"),
            Err(GlobError::TrailingEscape(r"abc\".into()))
        );
        assert_eq!(Glob::new("a\nb"), Err(GlobError::ControlChar));
    }
}
