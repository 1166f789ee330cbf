//! The literal engine: word literals (anchors) and markup literals (`<…`,
//! `{…`, `[…`, `](`) go into two packed SIMD searchers over the
//! ASCII-lowercased view, searched case-sensitively: the class searcher
//! ([`classes`], AVX-512 VBMI) where the CPU has it, else aho-corasick's
//! Teddy with its buckets planned ([`plan`]) so that look-alike prefixes
//! share them. A rule's regex then confirms each hit inside a narrow window
//! around it; where the regex's matches all start with one of a few short
//! strings, the class searcher finds those in the window and the regex runs
//! anchored there, which costs less than its own prefilter on a short
//! window and finds the same matches.
//!
//! The searchers stay fast only while candidates are rare, so the built-in
//! rules share a small set of anchors chosen for prefixes that are rare in
//! ordinary text (`gnor`, `ystem`, `xactly`). Secondary literals (common
//! words that add evidence: `role`, `moral`, `sorry`) are searched by a
//! second automaton, and only in a text where a phrasing rule has already
//! confirmed: clean text never pays for them.

mod classes;
mod plan;
#[cfg(test)]
mod tests;
mod words;

use std::ops::ControlFlow;

use classes::ClassSearcher;
use regex_automata::{Anchored, Input};
use words::{Kind, Search, Words};

use super::{
    ScanError,
    links::{Link, LinkMarks},
    rules::{Anchor, Family, MARKUP_STARTS, Rule, Severity},
};

/// A rule hit in view coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub rule: usize,
    pub start: usize,
    pub end: usize,
}

/// Which structural detectors the text needs (their needles are in the
/// same searchers, so clean text costs no extra pass).
#[derive(Debug, Clone, Default)]
pub(crate) struct Triggers {
    pub links: LinkMarks,
    pub comments: bool,
    pub nato: bool,
    /// More literal hits than `MAX_CONFIRMS`, or more confirmed hits than
    /// `MAX_HITS`: the rest were not confirmed (reported, never silent).
    pub flood: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// A rule, with the anchor's confirm window; `word_end`: only when no
    /// letter or digit follows the hit.
    Rule {
        rule: usize,
        word_end: bool,
        before: usize,
        after: usize,
    },
    Link(Link),
    Image,
    Comments,
    Nato,
}

/// Markup needles of the link detector: markdown links and images
/// (`[..](..)`, `![..](..)`), reference definitions (`[..]: ..`), `<img`.
const LINK_NEEDLES: [(&str, Owner); 3] = [
    ("](", Owner::Link(Link::Inline)),
    ("]: ", Owner::Link(Link::Reference)),
    ("<img", Owner::Image),
];
const COMMENT_NEEDLES: [&str; 3] = ["<!--", "[//]", "[comment]"];
/// NATO-alphabet spelling almost always holds `echo` (E is the commonest
/// letter), a rare word in prose.
const NATO_NEEDLE: &str = "echo ";

/// Hard cap on hits one text can produce (bounded work and output).
pub(crate) const MAX_HITS: usize = 256;
/// Hard cap on regex confirmations per text (bounded work on a text made
/// of trigger words).
pub(crate) const MAX_CONFIRMS: usize = 16_384;

/// Compiled rules and their searchers.
#[derive(Debug)]
pub(crate) struct Engine {
    rules: Vec<Rule>,
    /// Word literals, searched in every text.
    primary: Option<Words>,
    /// Markup literals, searched in every text.
    markup: Option<Words>,
    /// Secondary word literals, searched after a phrasing rule confirmed.
    secondary: Option<Words>,
    /// Per rule, a searcher for what its confirm regex's matches start with
    /// (the class searcher, where the CPU has it).
    starts: Vec<Option<ClassSearcher>>,
}

/// Budget and triggers of one scan.
#[derive(Debug)]
struct State {
    triggers: Triggers,
    budget: usize,
}

fn is_markup(lit: &str) -> bool {
    lit.bytes()
        .next()
        .is_some_and(|b| MARKUP_STARTS.contains(&b))
}

impl Engine {
    /// `class_search`: whether the word and markup literals and the confirm
    /// start strings may use the class searcher (where the CPU has AVX-512
    /// VBMI); otherwise aho-corasick's Teddy and the regexes' own search.
    pub fn new(rules: Vec<Rule>, class_search: bool) -> Result<Self, ScanError> {
        let mut words: Vec<(String, Owner)> = Vec::new();
        let mut markup: Vec<(String, Owner)> = Vec::new();
        let mut secondary: Vec<(String, Owner)> = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let owner = |anchor: &Anchor| {
                let owner = Owner::Rule {
                    rule: index,
                    word_end: anchor.word_end,
                    before: anchor.before,
                    after: anchor.after,
                };
                (anchor.text.clone(), owner)
            };
            for anchor in &rule.literals {
                let target = if is_markup(&anchor.text) {
                    &mut markup
                } else {
                    &mut words
                };
                target.push(owner(anchor));
            }
            secondary.extend(rule.secondary.iter().map(owner));
        }
        words.push((NATO_NEEDLE.to_owned(), Owner::Nato));
        let classes_or_teddy = |fingerprint| {
            if class_search {
                Kind::Classes { fingerprint }
            } else {
                Kind::Packed
            }
        };
        markup.extend(LINK_NEEDLES.iter().map(|&(n, o)| (n.to_owned(), o)));
        markup.extend(
            COMMENT_NEEDLES
                .iter()
                .map(|n| (n.to_string(), Owner::Comments)),
        );
        let starts = rules
            .iter()
            .map(|rule| {
                let literals = rule.confirm.as_ref()?.starts.as_ref()?;
                let literals: Vec<&[u8]> = literals.iter().map(Vec::as_slice).collect();
                class_search
                    .then(|| words::planned_class_searcher(&literals, 4))
                    .flatten()
            })
            .collect();
        Ok(Self {
            starts,
            // Measured on the benign corpus: four classified bytes beat
            // three (more candidates) and five (more work a step) for
            // words; markup is rare in prose, and two bytes a step are
            // half the work.
            primary: Words::build(&words, classes_or_teddy(4))?,
            markup: Words::build(&markup, classes_or_teddy(2))?,
            secondary: Words::build(&secondary, Kind::Automaton)?,
            rules,
        })
    }

    /// Whether the word literals use a packed SIMD searcher.
    pub fn is_packed(&self) -> bool {
        self.primary
            .as_ref()
            .is_some_and(|w| matches!(w.search, Search::Packed(_) | Search::Classes(_)))
    }

    /// Whether the word literals use the class searcher (AVX-512 VBMI).
    pub fn uses_classes(&self) -> bool {
        self.primary
            .as_ref()
            .is_some_and(|w| matches!(w.search, Search::Classes(_)))
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
                    let alts: Vec<String> = r
                        .literals
                        .iter()
                        .chain(&r.secondary)
                        .map(|a| regex::escape(&a.text))
                        .collect();
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
        let mut state = State {
            triggers: Triggers::default(),
            budget: MAX_CONFIRMS,
        };
        for words in [&self.primary, &self.markup].into_iter().flatten() {
            words.for_each(lower, |owners, start, end| {
                self.handle(owners, lower, (start, end), out, &mut state);
            });
        }
        if let Some(secondary) = &self.secondary
            && out.iter().any(|h| {
                self.rules
                    .get(h.rule)
                    .is_some_and(|r| r.family.is_phrasing())
            })
        {
            secondary.for_each(lower, |owners, start, end| {
                self.handle(owners, lower, (start, end), out, &mut state);
            });
        }
        state.triggers
    }

    fn handle(
        &self,
        owners: &[Owner],
        lower: &[u8],
        (start, end): (usize, usize),
        out: &mut Vec<Hit>,
        state: &mut State,
    ) {
        for &owner in owners {
            let (rule_index, before, after) = match owner {
                Owner::Link(link) => {
                    state.triggers.links.close(start, link);
                    continue;
                }
                Owner::Image => {
                    state.triggers.links.img = true;
                    continue;
                }
                Owner::Comments => {
                    state.triggers.comments = true;
                    continue;
                }
                Owner::Nato => {
                    state.triggers.nato = true;
                    continue;
                }
                Owner::Rule { word_end: true, .. }
                    if lower.get(end).is_some_and(u8::is_ascii_alphanumeric) =>
                {
                    continue;
                }
                Owner::Rule {
                    rule,
                    before,
                    after,
                    ..
                } => (rule, before, after),
            };
            if out.len() >= MAX_HITS || state.budget == 0 {
                state.triggers.flood = true;
                return;
            }
            state.budget -= 1;
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
            let starts = self.starts.get(rule_index).and_then(Option::as_ref);
            if let Some(hit) = confirm(
                rule,
                starts,
                rule_index,
                lower,
                (start, end),
                (before, after),
            ) {
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

fn confirm(
    rule: &Rule,
    starts: Option<&ClassSearcher>,
    index: usize,
    lower: &[u8],
    (start, end): (usize, usize),
    (before, after): (usize, usize),
) -> Option<Hit> {
    let Some(confirm) = &rule.confirm else {
        return Some(Hit {
            rule: index,
            start,
            end,
        });
    };
    let regex = &confirm.regex;
    let from = start.saturating_sub(before);
    let to = end.saturating_add(after).min(lower.len());
    let window = lower.get(from..to)?;
    // Nearly every hit in clean text fails. Every match starts with one of
    // the regex's start strings, so trying it anchored at each of them
    // (found by the class searcher) is the same test as an unanchored
    // search, without the regex's own prefilter start-up on a short window.
    let matched = match starts {
        Some(starts) => {
            let mut matched = false;
            starts.for_each_start(window, |at| {
                let anchored = Input::new(window).range(at..).anchored(Anchored::Yes);
                if regex.is_match(anchored) {
                    matched = true;
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            });
            matched
        }
        None => regex.is_match(window),
    };
    if !matched {
        return None;
    }
    // A match exists; should `find` disagree, the hit still stands on its
    // own span (fail secure: never drop a confirmed hit).
    let (ms, me) = regex
        .find(window)
        .map_or((start, end), |m| (from + m.start(), from + m.end()));
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
