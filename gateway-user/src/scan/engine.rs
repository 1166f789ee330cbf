//! The literal engine: the word literals (anchors) go into one packed
//! (Teddy, SIMD) searcher over the ASCII-lowercased view, searched
//! case-sensitively; markup literals (`<…`, `{…`, `[…`) go into a small
//! automaton whose start-byte prefilter is memchr3. A rule's regex then
//! confirms each hit inside a narrow window around it.
//!
//! Teddy stays fast only with a couple of dozen patterns, so the built-in
//! rules share a small set of anchor words and look for the rest of the
//! technique in their confirm window.

use aho_corasick::{AhoCorasick, MatchKind, packed};

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

/// Which structural detectors the text needs (their needles are in the
/// same searcher, so clean text costs one pass).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Triggers {
    pub links: bool,
    pub comments: bool,
    pub nato: bool,
    /// More literal hits than `MAX_CONFIRMS`: the rest were not confirmed.
    pub flood: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Rule(usize),
    Links,
    Comments,
    Nato,
}

const LINK_NEEDLES: [&str; 3] = ["](ht", "]: ht", "<img"];
const COMMENT_NEEDLES: [&str; 3] = ["<!--", "[//]", "[comment]"];
/// Literals starting with one of these bytes (markup) go to the small
/// automaton, whose prefilter is memchr3 over exactly these bytes; the rest
/// (words) go to the packed SIMD searcher.
const MARKUP_STARTS: [u8; 3] = [b'<', b'{', b'['];

#[derive(Debug)]
enum Long {
    /// Slim Teddy searchers over consecutive groups of patterns, each with
    /// the index of its first pattern.
    Packed(Vec<(packed::Searcher, usize)>),
    Automaton(AhoCorasick),
}

/// Compiled rules and their searchers.
#[derive(Debug)]
pub(crate) struct Engine {
    rules: Vec<Rule>,
    long: Long,
    long_owners: Vec<Vec<Owner>>,
    short: Option<AhoCorasick>,
    short_owners: Vec<Vec<Owner>>,
}

/// Patterns per Teddy searcher: slim Teddy (8 buckets) stays fast to
/// about two dozen; more groups cost one more SIMD pass each.
const TEDDY_GROUP: usize = 22;
/// Beyond this many groups one automaton pass is cheaper.
const MAX_TEDDY_GROUPS: usize = 4;

/// Hard cap on hits one text can produce (bounded work and output).
pub(crate) const MAX_HITS: usize = 256;
/// Hard cap on regex confirmations per text (bounded work on a text made
/// of trigger words).
pub(crate) const MAX_CONFIRMS: usize = 16_384;

/// Patterns with their owners; a pattern also owns the rules of every
/// other pattern it contains (the searchers report one match per position).
fn patterns(entries: &[(String, Owner)]) -> (Vec<String>, Vec<Vec<Owner>>) {
    let mut pats: Vec<String> = Vec::new();
    for (lit, _) in entries {
        if !pats.contains(lit) {
            pats.push(lit.clone());
        }
    }
    let owners = pats
        .iter()
        .map(|p| {
            let mut o: Vec<Owner> = entries
                .iter()
                .filter(|(lit, _)| p.contains(lit.as_str()))
                .map(|&(_, owner)| owner)
                .collect();
            o.dedup();
            o
        })
        .collect();
    (pats, owners)
}

impl Engine {
    pub fn new(rules: Vec<Rule>) -> Result<Self, ScanError> {
        let mut entries: Vec<(String, Owner)> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            for lit in &rule.literals {
                entries.push((lit.clone(), Owner::Rule(index)));
            }
        }
        entries.extend(LINK_NEEDLES.iter().map(|n| (n.to_string(), Owner::Links)));
        entries.push(("echo ".to_owned(), Owner::Nato));
        entries.extend(
            COMMENT_NEEDLES
                .iter()
                .map(|n| (n.to_string(), Owner::Comments)),
        );
        let (long_entries, short_entries): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|(lit, _)| {
                !lit.bytes()
                    .next()
                    .is_some_and(|b| MARKUP_STARTS.contains(&b))
            });
        let (long_pats, long_owners) = patterns(&long_entries);
        let (short_pats, short_owners) = patterns(&short_entries);
        let packed: Option<Vec<(packed::Searcher, usize)>> = long_pats
            .chunks(TEDDY_GROUP)
            .enumerate()
            .map(|(i, group)| {
                packed::Config::new()
                    .match_kind(packed::MatchKind::LeftmostLongest)
                    .builder()
                    .extend(group)
                    .build()
                    .map(|searcher| (searcher, i * TEDDY_GROUP))
            })
            .collect();
        let long = match packed {
            Some(searchers) if searchers.len() <= MAX_TEDDY_GROUPS => Long::Packed(searchers),
            // More patterns than Teddy takes: a DFA, slower but complete.
            _ => Long::Automaton(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&long_pats)
                    .map_err(|e| ScanError::Engine(e.to_string()))?,
            ),
        };
        let short = if short_pats.is_empty() {
            None
        } else {
            Some(
                AhoCorasick::builder()
                    .match_kind(MatchKind::LeftmostLongest)
                    .build(&short_pats)
                    .map_err(|e| ScanError::Engine(e.to_string()))?,
            )
        };
        Ok(Self {
            rules,
            long,
            long_owners,
            short,
            short_owners,
        })
    }

    /// Whether the long literals use the packed SIMD searcher.
    pub fn is_packed(&self) -> bool {
        matches!(self.long, Long::Packed(_))
    }

    /// One regex per rule with the same meaning, for a `RegexSet` baseline:
    /// the confirm regex (unanchored), or the literals as an alternation.
    pub fn baseline_patterns(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| match &r.confirm_src {
                Some(src) => {
                    let src = src.strip_prefix('^').unwrap_or(src);
                    format!("(?i){src}")
                }
                None => {
                    let alts: Vec<String> = r.literals.iter().map(|l| regex::escape(l)).collect();
                    format!("(?i){}", alts.join("|"))
                }
            })
            .collect()
    }

    pub fn rule(&self, index: usize) -> Option<&Rule> {
        self.rules.get(index)
    }

    /// Runs every rule over `lower`, appending confirmed hits; returns which
    /// structural detectors are needed.
    pub fn scan(&self, lower: &[u8], out: &mut Vec<Hit>) -> Triggers {
        let mut triggers = Triggers::default();
        let mut budget = MAX_CONFIRMS;
        match &self.long {
            Long::Packed(searchers) => {
                for (searcher, first) in searchers {
                    for m in searcher.find_iter(lower) {
                        let owners = self.long_owners.get(first + m.pattern().as_usize());
                        self.handle(
                            owners,
                            lower,
                            (m.start(), m.end()),
                            out,
                            &mut triggers,
                            &mut budget,
                        );
                    }
                }
            }
            Long::Automaton(ac) => {
                for m in ac.find_iter(lower) {
                    let owners = self.long_owners.get(m.pattern().as_usize());
                    self.handle(
                        owners,
                        lower,
                        (m.start(), m.end()),
                        out,
                        &mut triggers,
                        &mut budget,
                    );
                }
            }
        }
        if let Some(ac) = &self.short {
            for m in ac.find_iter(lower) {
                let owners = self.short_owners.get(m.pattern().as_usize());
                self.handle(
                    owners,
                    lower,
                    (m.start(), m.end()),
                    out,
                    &mut triggers,
                    &mut budget,
                );
            }
        }
        triggers
    }

    fn handle(
        &self,
        owners: Option<&Vec<Owner>>,
        lower: &[u8],
        (start, end): (usize, usize),
        out: &mut Vec<Hit>,
        triggers: &mut Triggers,
        budget: &mut usize,
    ) {
        for &owner in owners.into_iter().flatten() {
            let rule_index = match owner {
                Owner::Links => {
                    triggers.links = true;
                    continue;
                }
                Owner::Comments => {
                    triggers.comments = true;
                    continue;
                }
                Owner::Nato => {
                    triggers.nato = true;
                    continue;
                }
                Owner::Rule(i) => i,
            };
            if out.len() >= MAX_HITS {
                return;
            }
            if *budget == 0 {
                triggers.flood = true;
                return;
            }
            *budget -= 1;
            let Some(rule) = self.rules.get(rule_index) else {
                continue;
            };
            // One hit per rule per region: skip literal hits already covered.
            if out
                .iter()
                .any(|h| h.rule == rule_index && h.start <= start && start < h.end)
            {
                continue;
            }
            if let Some(hit) = confirm(rule, rule_index, lower, start, end) {
                out.push(hit);
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
