//! The literal engine: one Aho-Corasick automaton (Teddy/SIMD prefilter)
//! over every rule literal, searched case-sensitively in the lowercased
//! view, with a regex confirmation in a narrow window around each hit.

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};

use super::{
    ScanError,
    rules::{Family, Rule, Severity},
};

/// A rule hit in view coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
}

/// Compiled rules and their automaton.
#[derive(Debug)]
pub(crate) struct Engine {
    rules: Vec<Rule>,
    ac: AhoCorasick,
    /// For each automaton pattern, the rules that use it.
    owners: Vec<Vec<usize>>,
}

/// Hard cap on hits one text can produce (bounded work and output).
pub(crate) const MAX_HITS: usize = 256;

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Result<Self, ScanError> {
        let mut patterns: Vec<String> = Vec::new();
        let mut owners: Vec<Vec<usize>> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            for lit in &rule.literals {
                match patterns.iter().position(|p| p == lit) {
                    Some(at) => owners.get_mut(at).into_iter().for_each(|o| o.push(index)),
                    None => {
                        patterns.push(lit.clone());
                        owners.push(vec![index]);
                    }
                }
            }
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .kind(Some(AhoCorasickKind::DFA))
            .prefilter(true)
            .build(&patterns)
            .map_err(|e| ScanError::Engine(e.to_string()))?;
        Ok(Self { rules, ac, owners })
    }

    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index)
    }

    /// Runs every rule over `lower`, appending confirmed hits.
    pub fn scan(&self, lower: &[u8], out: &mut Vec<Hit>) {
        for m in self.ac.find_overlapping_iter(lower) {
            let Some(owners) = self.owners.get(m.pattern().as_usize()) else {
                continue;
            };
            for &rule_index in owners {
                if out.len() >= MAX_HITS {
                    return;
                }
                let Some(rule) = self.rules.get(rule_index) else {
                    continue;
                };
                // One hit per rule per region: skip literal hits already covered.
                if out
                    .iter()
                    .any(|h| h.rule == rule_index && h.start <= m.start() && m.start() < h.end)
                {
                    continue;
                }
                if let Some(hit) = confirm(rule, rule_index, lower, m.start(), m.end()) {
                    out.push(hit);
                }
            }
        }
    }

    /// True when any rule of a phrasing family (override, jailbreak, ...)
    /// with at least `min` severity matches `lower`.
    pub fn has_phrasing(&self, lower: &[u8], min: Severity) -> bool {
        let mut hits = Vec::new();
        self.scan(lower, &mut hits);
        hits.iter().any(|h| {
            self.rules
                .get(h.rule)
                .is_some_and(|r| r.family.is_phrasing() && r.severity >= min)
        })
    }
}

fn confirm(rule: &Rule, index: usize, lower: &[u8], start: usize, end: usize) -> Option<Hit> {
    let Some(regex) = &rule.confirm else {
        return Some(Hit {
            rule: index,
            start,
            end,
        });
    };
    let from = start.saturating_sub(rule.before);
    let to = end.saturating_add(rule.after).min(lower.len());
    let window = lower.get(from..to)?;
    let m = regex.find(window)?;
    let (ms, me) = (from + m.start(), from + m.end());
    Some(Hit {
        rule: index,
        start: ms.min(start),
        end: me.max(end),
    })
}

/// Families whose hits in decoded text make the encoded blob hostile.
pub(crate) fn decoded_is_hostile(family: Family) -> bool {
    family.is_phrasing() || family == Family::DataExfiltration
}
