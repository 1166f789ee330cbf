//! The prompt-injection scanner for everything an upstream returns.
//!
//! Sans-IO: [`Scanner::scan_text`] takes a string and returns findings
//! (rule id, family, severity, byte offsets into the original text — never
//! the matched text). [`Scanner::scan_mcp_result`] walks an MCP result,
//! applies a [`ScanPolicy`] and redacts in place.
//!
//! Speed: rule anchors (literals) go through one packed SIMD (Teddy)
//! searcher over an ASCII-lowercased copy, searched case-sensitively, with
//! its buckets planned so look-alike prefixes share them; markup anchors
//! through a second one. A rule's regex runs only in a narrow window around
//! a hit, and secondary anchors are searched only once a phrasing rule has
//! confirmed. Pure-ASCII text skips normalization; other text gets one pass
//! of NFKC, confusable folding and zero-width removal with an offset map.

mod comments;
mod encoded;
mod engine;
mod links;
mod lowercase;
mod mcp;
mod normalize;
mod policy;
mod rules;
mod spelled;
#[cfg(test)]
mod tests;
mod unicode;

use regex::bytes::Regex;
use serde::Serialize;

#[doc(hidden)]
pub use encoded::bench_find;
pub use policy::{Action, ScanPolicy, ScanVerdict, VerdictAction};
pub use rules::{BUILTIN_RULES, Family, RULES_VERSION, Severity};

use engine::{Engine, Hit};
use normalize::View;

/// Largest single text scanned; a longer one is a high finding (fail
/// secure). It bounds the side buffers of the non-ASCII path (about 24
/// bytes per input byte at worst).
pub const MAX_TEXT_BYTES: usize = 2 * 1024 * 1024;
/// How deep decoded blobs are rescanned (a blob inside a blob …).
const MAX_DECODE_DEPTH: usize = 2;
/// Distinct phrasing rules in one text that make a "stacked" finding.
const STACK_THRESHOLD: usize = 3;

/// Errors building a scanner from rules.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The rules file is not valid TOML for the rules schema.
    #[error("{origin}: {message}")]
    Parse {
        /// Which rules file.
        origin: String,
        /// The parser's message (with line and column).
        message: String,
    },
    /// The rules file declares a version this build does not know.
    #[error(
        "{origin}: rules version {found} is not supported (this build reads version {supported})"
    )]
    UnsupportedVersion {
        /// Which rules file.
        origin: String,
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A rule is malformed.
    #[error("{origin}: rule `{id}`: {reason}")]
    InvalidRule {
        /// Which rules file.
        origin: String,
        /// The rule's id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// Two rules share an id.
    #[error("rule id `{0}` is defined twice")]
    DuplicateRule(String),
    /// A rules file has too many rules.
    #[error("{origin}: more than {max} rules")]
    TooManyRules {
        /// Which rules file.
        origin: String,
        /// The limit.
        max: usize,
    },
    /// All rules together have too many literals.
    #[error("more than {max} literals across all rules")]
    TooManyLiterals {
        /// The limit.
        max: usize,
    },
    /// An allowlist entry is not a host name.
    #[error("image allowlist entry `{0}` is not a lowercase host name")]
    BadHost(String),
    /// The literal automaton could not be built.
    #[error("building the literal automaton: {0}")]
    Engine(String),
}

/// One finding. Offsets are bytes into the original text, on char
/// boundaries; the matched text itself is never carried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule's id, e.g. `override.ignore-instructions`.
    pub rule_id: String,
    /// The technique family.
    pub family: Family,
    /// How serious it is.
    pub severity: Severity,
    /// Start byte offset (inclusive).
    pub start: usize,
    /// End byte offset (exclusive).
    pub end: usize,
}

impl Finding {
    fn too_deep() -> Self {
        Self {
            rule_id: "limit.too-deep".into(),
            family: Family::Limit,
            severity: Severity::High,
            start: 0,
            end: 0,
        }
    }
}

/// Findings in view (lowercased buffer) coordinates, before mapping back.
pub(crate) type ViewFindings = Vec<Finding>;

/// The compiled scanner; cheap to share (`&self` everywhere).
#[derive(Debug)]
pub struct Scanner {
    engine: Engine,
    allowlist: Vec<String>,
    addressed: Regex,
}

/// Builds a [`Scanner`] from the built-in rules plus extras.
#[derive(Debug)]
pub struct ScannerBuilder {
    extra: Vec<(String, String)>,
    allowlist: Vec<String>,
    class_search: bool,
}

impl Default for ScannerBuilder {
    fn default() -> Self {
        Self {
            extra: Vec::new(),
            allowlist: Vec::new(),
            class_search: true,
        }
    }
}

impl ScannerBuilder {
    /// Adds an operator rules file (`origin` names it in errors).
    pub fn extra_rules(mut self, origin: &str, toml: &str) -> Self {
        self.extra.push((origin.to_owned(), toml.to_owned()));
        self
    }

    /// Hosts (and their subdomains) images may load from. When set, images
    /// to any other host are flagged (low); data-carrying ones are always high.
    pub fn image_allowlist<I: IntoIterator<Item = S>, S: Into<String>>(mut self, hosts: I) -> Self {
        self.allowlist = hosts.into_iter().map(Into::into).collect();
        self
    }

    /// Whether the literal searches (anchors, markup, confirm start
    /// strings) may use the class searcher where the CPU has AVX-512 VBMI
    /// (the default). `false` keeps aho-corasick's Teddy and the regexes'
    /// own search: for tests and benchmarks that compare the two. Findings
    /// are the same.
    pub fn class_search(mut self, enabled: bool) -> Self {
        self.class_search = enabled;
        self
    }

    /// Compiles everything.
    pub fn build(self) -> Result<Scanner, ScanError> {
        let mut rules = rules::parse_rules(BUILTIN_RULES, "builtin rules")?;
        for (origin, text) in &self.extra {
            rules.extend(rules::parse_rules(text, origin)?);
        }
        rules::check_set(&rules)?;
        for host in &self.allowlist {
            let ok = !host.is_empty()
                && host.len() <= 253
                && host
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b));
            if !ok {
                return Err(ScanError::BadHost(host.clone()));
            }
        }
        let addressed = Regex::new(
            r"\b(?:ai|assistant|agent|model|llm|chatbot|claude|gpt|copilot|gemini)s?\b[^\n]{0,80}?\b(?:must|should|always|never|do not|don't|ignore|instead|send|call|run|execute|tell|reveal|include|append|forward)\b",
        )
        .map_err(|e| ScanError::Engine(e.to_string()))?;
        Ok(Scanner {
            engine: Engine::new(rules, self.class_search)?,
            allowlist: self.allowlist,
            addressed,
        })
    }
}

impl Scanner {
    /// The built-in rules only.
    pub fn builtin() -> Result<Self, ScanError> {
        ScannerBuilder::default().build()
    }

    /// The built-in rules plus one operator rules file.
    pub fn with_extra_rules(toml: &str) -> Result<Self, ScanError> {
        ScannerBuilder::default()
            .extra_rules("extra rules", toml)
            .build()
    }

    /// A builder for extra rules files and the image allowlist.
    pub fn builder() -> ScannerBuilder {
        ScannerBuilder::default()
    }

    /// One regex per literal rule with the same meaning (case-insensitive,
    /// on the original text): the baseline the benchmark compares against.
    pub fn baseline_patterns(&self) -> Vec<String> {
        self.engine.baseline_patterns()
    }

    /// Whether the literal search runs on the packed SIMD (Teddy) searcher;
    /// false only when extra rules push the literal count past its limit.
    pub fn is_packed(&self) -> bool {
        self.engine.is_packed()
    }

    /// Whether the word literals run on the class searcher (AVX-512 VBMI)
    /// rather than aho-corasick's Teddy.
    pub fn uses_class_search(&self) -> bool {
        self.engine.uses_classes()
    }

    /// Scans one text; findings are sorted by start offset.
    pub fn scan_text(&self, text: &str) -> Vec<Finding> {
        self.scan_depth(text, 0)
    }

    fn scan_depth(&self, text: &str, depth: usize) -> Vec<Finding> {
        if text.len() > MAX_TEXT_BYTES {
            return vec![Finding {
                rule_id: "limit.oversized-text".into(),
                family: Family::Limit,
                severity: Severity::High,
                start: 0,
                end: text.len(),
            }];
        }
        let view = View::new(text);
        let mut hits: Vec<Hit> = Vec::new();
        let triggers = self.engine.scan(&view.lower, &mut hits);
        let mut in_view: ViewFindings = hits
            .iter()
            .filter_map(|h| {
                let rule = self.engine.rule(h.rule)?;
                Some(Finding {
                    rule_id: rule.id.clone(),
                    family: rule.family,
                    severity: rule.severity,
                    start: h.start,
                    end: h.end,
                })
            })
            .collect();
        if triggers.flood {
            in_view.push(Finding {
                rule_id: "limit.trigger-flood".into(),
                family: Family::Limit,
                severity: Severity::Medium,
                start: 0,
                end: view.lower.len(),
            });
        }
        if triggers.links.any() {
            links::scan(&view.lower, &triggers.links, &self.allowlist, &mut in_view);
        }
        if triggers.comments {
            self.scan_comments(&view.lower, &mut in_view);
        }
        let mut out: Vec<Finding> = in_view
            .into_iter()
            .map(|mut f| {
                (f.start, f.end) = view.to_original(f.start, f.end, text.len());
                f
            })
            .collect();
        if !view.is_ascii() && unicode::may_contain_invisible(text.as_bytes()) {
            unicode::scan(text, &mut out);
        }
        if depth < MAX_DECODE_DEPTH {
            let mut blobs = encoded::find_in(text, view.is_ascii());
            if triggers.nato {
                blobs.extend(spelled::nato(text));
            }
            for blob in blobs {
                let hostile = if blob.encoding == encoded::Encoding::Nato {
                    spelled::spaceless_hostile(&blob.plain)
                } else {
                    let inner = self.scan_depth(&blob.plain, depth + 1);
                    inner.iter().any(|f| engine::decoded_is_hostile(f.family))
                };
                if hostile {
                    out.push(Finding {
                        rule_id: blob.encoding.rule_id().into(),
                        family: Family::EncodedPayload,
                        severity: Severity::High,
                        start: blob.start,
                        end: blob.end,
                    });
                }
            }
        }
        stack(&mut out);
        merge(out)
    }

    fn scan_comments(&self, lower: &[u8], out: &mut ViewFindings) {
        for (start, end, body_start, body_end) in comments::comments(lower) {
            let Some(body) = lower.get(body_start..body_end) else {
                continue;
            };
            if self.engine.has_phrasing(body, Severity::Low) {
                comments::push(
                    out,
                    "comment.hidden-instructions",
                    Severity::High,
                    start,
                    end,
                );
            } else if comments::addresses_model(body, &self.addressed) {
                comments::push(
                    out,
                    "comment.addressed-to-model",
                    Severity::Medium,
                    start,
                    end,
                );
            }
        }
    }
}

/// Sorts findings and merges overlapping ones of the same rule (a rule can
/// fire from several anchors of one sentence).
fn merge(mut out: Vec<Finding>) -> Vec<Finding> {
    out.sort_by(|a, b| (&a.rule_id, a.start).cmp(&(&b.rule_id, b.start)));
    let mut merged: Vec<Finding> = Vec::with_capacity(out.len());
    for f in out {
        match merged.last_mut() {
            Some(last) if last.rule_id == f.rule_id && f.start <= last.end => {
                last.end = last.end.max(f.end);
            }
            _ => merged.push(f),
        }
    }
    merged.sort_by_key(|f| (f.start, f.end));
    merged
}

/// Several distinct phrasing techniques in one text are a strong signal
/// even when each alone is weak (jailbreak templates).
fn stack(out: &mut Vec<Finding>) {
    let mut ids: Vec<&str> = out
        .iter()
        .filter(|f| f.family.is_phrasing())
        .map(|f| f.rule_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() < STACK_THRESHOLD {
        return;
    }
    let phrasing = out.iter().filter(|f| f.family.is_phrasing());
    let start = phrasing.clone().map(|f| f.start).min().unwrap_or(0);
    let end = phrasing.map(|f| f.end).max().unwrap_or(0);
    out.push(Finding {
        rule_id: "combined.stacked-techniques".into(),
        family: Family::Combined,
        severity: Severity::High,
        start,
        end,
    });
}
