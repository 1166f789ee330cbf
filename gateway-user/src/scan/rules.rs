//! The rules file: a versioned TOML list of literal-triggered rules, parsed
//! strictly, plus the built-in set compiled into the binary.

use regex::bytes::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::ScanError;

/// The rules-file format version this build understands.
pub const RULES_VERSION: u32 = 1;
/// The built-in rules, compiled into the binary.
pub const BUILTIN_RULES: &str = include_str!("../../rules/builtin.toml");

const MAX_RULES: usize = 512;
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
    literals: Vec<String>,
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

/// One compiled rule.
#[derive(Debug)]
pub(crate) struct Rule {
    pub id: String,
    pub family: Family,
    pub severity: Severity,
    pub literals: Vec<String>,
    pub confirm: Option<Regex>,
    /// The confirm regex's source, for baseline comparisons.
    pub confirm_src: Option<String>,
    pub before: usize,
    pub after: usize,
}

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
    if spec.literals.is_empty() || spec.literals.len() > 64 {
        return Err(bad("a rule needs 1-64 literals".into()));
    }
    for lit in &spec.literals {
        let ok = (2..=64).contains(&lit.len())
            && lit
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && !b.is_ascii_uppercase());
        if !ok {
            return Err(bad(format!(
                "literal {lit:?} must be 2-64 bytes of lowercase printable ASCII"
            )));
        }
        if lit.len() < 4
            && lit
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
        {
            return Err(bad(format!(
                "literal {lit:?}: literals shorter than 4 bytes must start with punctuation"
            )));
        }
    }
    let before = spec.before.unwrap_or(0);
    let after = spec.after.unwrap_or(160);
    if before > MAX_WINDOW || after > MAX_WINDOW {
        return Err(bad(format!("before/after must be at most {MAX_WINDOW}")));
    }
    let confirm = match spec.confirm.as_deref() {
        None => None,
        Some(src) if src.len() > MAX_REGEX_BYTES => {
            return Err(bad(format!(
                "confirm must be at most {MAX_REGEX_BYTES} bytes"
            )));
        }
        Some(src) => Some(
            RegexBuilder::new(src)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| bad(format!("confirm regex: {e}")))?,
        ),
    };
    Ok(Rule {
        id: spec.id,
        family: spec.family,
        severity: spec.severity,
        literals: spec.literals,
        confirm,
        confirm_src: spec.confirm,
        before,
        after,
    })
}

/// Checks ids are unique and the literal budget holds across all rules.
pub(crate) fn check_set(rules: &[Rule]) -> Result<(), ScanError> {
    let mut seen = std::collections::HashSet::new();
    let mut literals = 0usize;
    for rule in rules {
        if !seen.insert(rule.id.as_str()) {
            return Err(ScanError::DuplicateRule(rule.id.clone()));
        }
        literals += rule.literals.len();
    }
    if literals > MAX_LITERALS {
        return Err(ScanError::TooManyLiterals { max: MAX_LITERALS });
    }
    Ok(())
}
