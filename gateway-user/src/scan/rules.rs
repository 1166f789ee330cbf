//! The rules file: a versioned TOML list of literal-triggered rules, parsed
//! strictly, plus the built-in set compiled into the binary.

use regex_automata::meta::Regex;
use regex_syntax::hir::{
    Hir,
    literal::{ExtractKind, Extractor},
};
use serde::{Deserialize, Serialize};

use super::ScanError;

/// The rules-file format version this build understands.
pub const RULES_VERSION: u32 = 1;
/// The built-in rules, compiled into the binary.
pub const BUILTIN_RULES: &str = include_str!("../../rules/builtin.toml");

const MAX_RULES: usize = 512;
/// Literals starting with one of these bytes (markup) are searched by the
/// markup searcher (two-byte fingerprints); the rest (words) by the word
/// searcher (four-byte fingerprints).
pub(crate) const MARKUP_STARTS: [u8; 3] = [b'<', b'{', b'['];
const MAX_LITERALS: usize = 1024;
const MAX_WINDOW: usize = 1024;
const MAX_REGEX_BYTES: usize = 4 * 1024;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How serious a finding is; the policy maps it to an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth recording; the content passes.
    Low,
    /// Likely hostile; redacted by default.
    Medium,
    /// Hostile; blocked by default.
    High,
    /// Unambiguous attack; blocked by default.
    Critical,
}

impl Severity {
    /// The lowercase name used in rules files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

/// The attack technique a rule belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// "Ignore the previous instructions", new-task hijacks.
    InstructionOverride,
    /// Persona switches ("you are now …", "act as …").
    RoleHijack,
    /// Jailbreak framing: no restrictions, developer mode, refusal suppression.
    Jailbreak,
    /// Requests to reveal the system prompt or hidden instructions.
    PromptLeak,
    /// Fake system/developer messages, authority claims, chat-template tokens.
    FakeSystem,
    /// Coercion to call tools, run code or send data somewhere.
    ToolCoercion,
    /// Links and images that carry data to outside hosts.
    DataExfiltration,
    /// Invisible Unicode: tag characters, zero-width runs, bidi overrides.
    InvisibleUnicode,
    /// Encoded blobs (base64, hex, ciphers) that decode to instructions.
    EncodedPayload,
    /// HTML/markdown comments carrying instructions.
    HiddenComment,
    /// Code-injection payloads (template, script, shell) aimed at the model.
    CodeInjection,
    /// Several techniques stacked in one text.
    Combined,
    /// Input the scanner refuses to scan (too large).
    Limit,
}

impl Family {
    /// The snake_case name used in rules files and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InstructionOverride => "instruction_override",
            Self::RoleHijack => "role_hijack",
            Self::Jailbreak => "jailbreak",
            Self::PromptLeak => "prompt_leak",
            Self::FakeSystem => "fake_system",
            Self::ToolCoercion => "tool_coercion",
            Self::DataExfiltration => "data_exfiltration",
            Self::InvisibleUnicode => "invisible_unicode",
            Self::EncodedPayload => "encoded_payload",
            Self::HiddenComment => "hidden_comment",
            Self::CodeInjection => "code_injection",
            Self::Combined => "combined",
            Self::Limit => "limit",
        }
    }

    /// Families of natural-language injection phrasing (counted for stacking).
    pub(crate) fn is_phrasing(self) -> bool {
        matches!(
            self,
            Self::InstructionOverride
                | Self::RoleHijack
                | Self::Jailbreak
                | Self::PromptLeak
                | Self::FakeSystem
                | Self::ToolCoercion
                | Self::CodeInjection
        )
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    version: u32,
    #[serde(default, rename = "rule")]
    rules: Vec<RuleSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    family: Family,
    severity: Severity,
    #[serde(default)]
    literals: Vec<LiteralSpec>,
    #[serde(default)]
    secondary_literals: Vec<LiteralSpec>,
    #[serde(default)]
    confirm: Option<String>,
    #[serde(default)]
    before: Option<usize>,
    #[serde(default)]
    after: Option<usize>,
    #[serde(default)]
    #[expect(
        dead_code,
        reason = "documentation for operators; parsed to stay strict"
    )]
    description: Option<String>,
}

/// A literal as written: a string, or a table giving it its own window
/// (`{ literal = "gnor", before = 4, after = 120 }`).
#[derive(Debug, Deserialize)]
#[serde(
    untagged,
    expecting = "a literal: a string, or a table with `literal` and optional `before`/`after` (no other keys)"
)]
enum LiteralSpec {
    Plain(String),
    Windowed(WindowedLiteral),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowedLiteral {
    literal: String,
    #[serde(default)]
    before: Option<usize>,
    #[serde(default)]
    after: Option<usize>,
}

impl LiteralSpec {
    fn text(&self) -> &str {
        match self {
            Self::Plain(text) => text,
            Self::Windowed(w) => &w.literal,
        }
    }
}

/// A compiled literal: what to search for and the confirm window around
/// its hits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    /// Lowercase ASCII text.
    pub text: String,
    /// Only a hit followed by no letter or digit counts (`\b` suffix).
    pub word_end: bool,
    /// Bytes before the hit the confirm regex may start.
    pub before: usize,
    /// Bytes after the hit the confirm regex may end.
    pub after: usize,
}

/// One compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub id: String,
    pub family: Family,
    pub severity: Severity,
    /// Anchors searched in every text.
    pub literals: Vec<Anchor>,
    /// Anchors searched only in a text where a phrasing rule already
    /// confirmed (they add evidence; they never cost a pass on clean text).
    pub secondary: Vec<Anchor>,
    pub confirm: Option<Confirm>,
    /// The confirm regex's source, for baseline comparisons.
    pub confirm_src: Option<String>,
}

/// A compiled confirm regex (over the lowercased view: bytes, not
/// necessarily UTF-8), and what its matches start with.
#[derive(Debug)]
pub(crate) struct Confirm {
    pub regex: Regex,
    /// Byte strings (two to four bytes) one of which starts every match,
    /// when there are at most `MAX_STARTS`: the engine looks for them in
    /// a window and tries the regex anchored there, instead of an
    /// unanchored search with the regex's own prefilter.
    pub starts: Option<Vec<Vec<u8>>>,
}

/// Most match starts kept for a confirm regex.
pub(crate) const MAX_STARTS: usize = 64;

/// Parses a rules file; `origin` names it in errors.
pub(crate) fn parse_rules(text: &str, origin: &str) -> Result<Vec<Rule>, ScanError> {
    let file: RulesFile = toml::from_str(text).map_err(|e| ScanError::Parse {
        origin: origin.to_owned(),
        message: e.to_string(),
    })?;
    if file.version != RULES_VERSION {
        return Err(ScanError::UnsupportedVersion {
            origin: origin.to_owned(),
            found: file.version,
            supported: RULES_VERSION,
        });
    }
    if file.rules.len() > MAX_RULES {
        return Err(ScanError::TooManyRules {
            origin: origin.to_owned(),
            max: MAX_RULES,
        });
    }
    file.rules.into_iter().map(|s| compile(s, origin)).collect()
}

fn compile(spec: RuleSpec, origin: &str) -> Result<Rule, ScanError> {
    let bad = |reason: String| ScanError::InvalidRule {
        origin: origin.to_owned(),
        id: spec.id.clone(),
        reason,
    };
    let id_ok = !spec.id.is_empty()
        && spec.id.len() <= 64
        && spec
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !id_ok {
        return Err(bad(
            "id must be 1-64 characters of a-z, 0-9, '.', '_', '-'".into()
        ));
    }
    let count = spec.literals.len() + spec.secondary_literals.len();
    if count == 0 || count > 64 {
        return Err(bad(
            "a rule needs 1-64 literals (literals and secondary_literals together)".into(),
        ));
    }
    if let Some(lit) = spec
        .secondary_literals
        .iter()
        .map(LiteralSpec::text)
        .find(|l| l.bytes().next().is_some_and(|b| MARKUP_STARTS.contains(&b)))
    {
        return Err(bad(format!(
            "secondary literal {lit:?} starts with markup; markup literals belong in `literals`"
        )));
    }
    let before = spec.before.unwrap_or(0);
    let after = spec.after.unwrap_or(160);
    if before > MAX_WINDOW || after > MAX_WINDOW {
        return Err(bad(format!("before/after must be at most {MAX_WINDOW}")));
    }
    let anchors = |list: &[LiteralSpec]| -> Result<Vec<Anchor>, ScanError> {
        list.iter()
            .map(|l| anchor(l, before, after).map_err(&bad))
            .collect()
    };
    let literals = anchors(&spec.literals)?;
    let secondary = anchors(&spec.secondary_literals)?;
    let confirm = match spec.confirm.as_deref() {
        None => None,
        Some(src) if src.len() > MAX_REGEX_BYTES => {
            return Err(bad(format!(
                "confirm must be at most {MAX_REGEX_BYTES} bytes"
            )));
        }
        Some(src) => Some(
            // The view is lowercased and normalized toward ASCII, and the
            // anchors are ASCII: ASCII-only `\w`, `\b` and `\s` keep the
            // confirm DFAs small and fast. A pattern that needs Unicode
            // (a non-ASCII literal or class) gets Unicode mode.
            confirm_regex(src, false)
                .or_else(|_| confirm_regex(src, true))
                .map_err(|e| bad(format!("confirm regex: {e}")))?,
        ),
    };
    Ok(Rule {
        id: spec.id,
        family: spec.family,
        severity: spec.severity,
        literals,
        secondary,
        confirm,
        confirm_src: spec.confirm,
    })
}

/// Compiles a confirm regex, in ASCII (`unicode == false`) or Unicode mode.
fn confirm_regex(src: &str, unicode: bool) -> Result<Confirm, String> {
    let hir = regex_syntax::ParserBuilder::new()
        .unicode(unicode)
        .utf8(false)
        .build()
        .parse(src)
        .map_err(|e| e.to_string())?;
    let regex = Regex::builder()
        .configure(Regex::config().nfa_size_limit(Some(REGEX_SIZE_LIMIT)))
        .build_from_hir(&hir)
        .map_err(|e| e.to_string())?;
    Ok(Confirm {
        regex,
        starts: match_starts(&hir),
    })
}

/// The first (up to four) bytes every match of `hir` starts with, when
/// they are few and none is shorter than two bytes; `None` otherwise.
fn match_starts(hir: &Hir) -> Option<Vec<Vec<u8>>> {
    let mut seq = Extractor::new().kind(ExtractKind::Prefix).extract(hir);
    seq.keep_first_bytes(4);
    seq.dedup();
    let literals = seq.literals()?;
    if literals.is_empty() || literals.len() > MAX_STARTS || literals.iter().any(|l| l.len() < 2) {
        return None;
    }
    let mut starts: Vec<Vec<u8>> = literals.iter().map(|l| l.as_bytes().to_vec()).collect();
    starts.sort_unstable();
    starts.dedup();
    Some(starts)
}

/// Validates one literal and resolves its window (the rule's by default).
fn anchor(spec: &LiteralSpec, before: usize, after: usize) -> Result<Anchor, String> {
    let full = spec.text();
    let (lit, word_end) = split_boundary(full);
    let ok = (2..=64).contains(&lit.len())
        && lit
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && !b.is_ascii_uppercase() && b != b'\\');
    if !ok {
        return Err(format!(
            "literal {full:?} must be 2-64 bytes of lowercase printable ASCII \
             (a backslash only in a trailing `\\b`)"
        ));
    }
    if lit.len() < 4
        && lit
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
    {
        return Err(format!(
            "literal {lit:?}: literals shorter than 4 bytes must start with punctuation"
        ));
    }
    let (before, after) = match spec {
        LiteralSpec::Plain(_) => (before, after),
        LiteralSpec::Windowed(w) => (w.before.unwrap_or(before), w.after.unwrap_or(after)),
    };
    if before > MAX_WINDOW || after > MAX_WINDOW {
        return Err(format!("before/after must be at most {MAX_WINDOW}"));
    }
    Ok(Anchor {
        text: lit.to_owned(),
        word_end,
        before,
        after,
    })
}

/// A literal and whether it ends in `\b` (no letter or digit may follow
/// its match), with the marker removed.
pub(crate) fn split_boundary(lit: &str) -> (&str, bool) {
    match lit.strip_suffix("\\b") {
        Some(body) => (body, true),
        None => (lit, false),
    }
}

/// Checks ids are unique and the literal budget holds across all rules.
pub(crate) fn check_set(rules: &[Rule]) -> Result<(), ScanError> {
    let mut seen = std::collections::HashSet::new();
    let mut literals = 0usize;
    for rule in rules {
        if !seen.insert(rule.id.as_str()) {
            return Err(ScanError::DuplicateRule(rule.id.clone()));
        }
        literals += rule.literals.len() + rule.secondary.len();
    }
    if literals > MAX_LITERALS {
        return Err(ScanError::TooManyLiterals { max: MAX_LITERALS });
    }
    Ok(())
}
