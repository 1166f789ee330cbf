//! What to do with findings: severity → action, and the verdict over a
//! whole message.

use serde::{Deserialize, Serialize};

use super::{Finding, rules::Severity};

/// What the gateway does with content that has a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Pass the content; record the finding.
    Flag,
    /// Replace the matched span with a marker; keep the JSON valid.
    Redact,
    /// Do not pass the content: the client gets an error result.
    Block,
}

/// Severity → action; the defaults block high and critical, redact medium
/// and flag low.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScanPolicy {
    /// Action for low-severity findings.
    pub low: Action,
    /// Action for medium-severity findings.
    pub medium: Action,
    /// Action for high-severity findings.
    pub high: Action,
    /// Action for critical findings.
    pub critical: Action,
}

impl Default for ScanPolicy {
    fn default() -> Self {
        Self {
            low: Action::Flag,
            medium: Action::Redact,
            high: Action::Block,
            critical: Action::Block,
        }
    }
}

impl ScanPolicy {
    /// The action for one severity.
    pub fn action(&self, severity: Severity) -> Action {
        match severity {
            Severity::Low => self.low,
            Severity::Medium => self.medium,
            Severity::High => self.high,
            Severity::Critical => self.critical,
        }
    }
}

/// The outcome for a whole message, the strongest action any finding asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VerdictAction {
    /// No findings.
    Clean,
    /// Findings recorded; content unchanged.
    Flagged,
    /// Some spans were replaced with markers.
    Redacted,
    /// The content must not be passed on.
    Blocked,
}

impl From<Action> for VerdictAction {
    fn from(action: Action) -> Self {
        match action {
            Action::Flag => Self::Flagged,
            Action::Redact => Self::Redacted,
            Action::Block => Self::Blocked,
        }
    }
}

/// Findings over a message (each with the JSON pointer of its string) and
/// the resulting action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanVerdict {
    /// `(json_pointer, finding)`; offsets are into that string's original text.
    pub findings: Vec<(String, Finding)>,
    /// What to do with the message.
    pub action: VerdictAction,
}
