//! One literal searcher: the planned packed (Teddy) searcher for word and
//! markup literals, an automaton where Teddy does not fit, and per pattern
//! the owners a hit belongs to.

use aho_corasick::{AhoCorasick, MatchKind, packed};

use super::{Owner, classes::ClassSearcher, plan};
use crate::scan::ScanError;

/// aho-corasick builds Teddy for at most this many patterns.
const TEDDY_MAX_PATTERNS: usize = 64;
/// Slim Teddy (8 buckets, 32 bytes a step) beats fat Teddy (16 buckets, 16
/// bytes a step) up to about three prefixes a bucket.
const SLIM_MAX_GROUPS: usize = 24;

/// Which searcher a literal set asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// The class searcher classifying up to `fingerprint` bytes, where the
    /// CPU has AVX-512 VBMI; else Teddy.
    Classes { fingerprint: usize },
    /// aho-corasick's planned Teddy.
    Packed,
    /// aho-corasick's automaton.
    Automaton,
}

#[derive(Debug)]
pub(super) enum Search {
    /// The class searcher (AVX-512 VBMI).
    Classes(Box<ClassSearcher>),
    /// aho-corasick's Teddy.
    Packed(packed::Searcher),
    Automaton(AhoCorasick),
}

/// One literal searcher and, per searcher pattern id, the owners of a hit.
#[derive(Debug)]
pub(super) struct Words {
    pub(super) search: Search,
    owners: Vec<Vec<Owner>>,
}

impl Words {
    /// `kind`: which searcher to try first; the automaton (with its own
    /// prefilter) is the fallback for every kind.
    pub(super) fn build(
        entries: &[(String, Owner)],
        kind: Kind,
    ) -> Result<Option<Self>, ScanError> {
        let (pats, owners) = patterns(entries);
        if pats.is_empty() {
            return Ok(None);
        }
        if let Kind::Classes { fingerprint } = kind
            && pats.len() <= TEDDY_MAX_PATTERNS
            && let Some(words) = Self::classes(&pats, &owners, fingerprint)
        {
            return Ok(Some(words));
        }
        if kind != Kind::Automaton
            && pats.len() <= TEDDY_MAX_PATTERNS
            && let Some(words) = Self::packed(&pats, &owners)
        {
            return Ok(Some(words));
        }
        let ac = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&pats)
            .map_err(|e| ScanError::Engine(e.to_string()))?;
        Ok(Some(Self {
            search: Search::Automaton(ac),
            owners,
        }))
    }

    fn classes(pats: &[String], owners: &[Vec<Owner>], fingerprint: usize) -> Option<Self> {
        let bytes: Vec<&[u8]> = pats.iter().map(|p| p.as_bytes()).collect();
        let buckets = plan::class_buckets(&bytes, super::classes::BUCKETS, fingerprint);
        Some(Self {
            search: Search::Classes(Box::new(ClassSearcher::new(&bytes, &buckets, fingerprint)?)),
            owners: owners.to_vec(),
        })
    }

    fn packed(pats: &[String], owners: &[Vec<Owner>]) -> Option<Self> {
        let fat = plan::group_count(pats) > SLIM_MAX_GROUPS;
        let order = plan::teddy_order(pats, if fat { 16 } else { 8 });
        let ordered: Vec<&String> = order.iter().filter_map(|&i| pats.get(i)).collect();
        let build = |fat: Option<bool>| {
            packed::Config::new()
                .match_kind(packed::MatchKind::LeftmostLongest)
                .only_teddy_fat(fat)
                .builder()
                .extend(&ordered)
                .build()
        };
        // Fat Teddy needs AVX2; without it take whatever Teddy there is.
        let searcher = build(Some(fat)).or_else(|| build(None))?;
        Some(Self {
            search: Search::Packed(searcher),
            owners: order
                .iter()
                .map(|&i| owners.get(i).cloned().unwrap_or_default())
                .collect(),
        })
    }

    pub(super) fn for_each(&self, lower: &[u8], mut f: impl FnMut(&[Owner], usize, usize)) {
        let mut call = |pattern: usize, start: usize, end: usize| {
            if let Some(owners) = self.owners.get(pattern) {
                f(owners, start, end);
            }
        };
        match &self.search {
            Search::Classes(searcher) => searcher.for_each(lower, call),
            Search::Packed(searcher) => searcher
                .find_iter(lower)
                .for_each(|m| call(m.pattern().as_usize(), m.start(), m.end())),
            Search::Automaton(ac) => ac
                .find_iter(lower)
                .for_each(|m| call(m.pattern().as_usize(), m.start(), m.end())),
        }
    }
}

/// A class searcher for `patterns` with planned buckets, classifying up to
/// `fingerprint` bytes; `None` where the CPU lacks AVX-512 VBMI.
pub(super) fn planned_class_searcher(
    patterns: &[&[u8]],
    fingerprint: usize,
) -> Option<ClassSearcher> {
    let buckets = plan::class_buckets(patterns, super::classes::BUCKETS, fingerprint);
    ClassSearcher::new(patterns, &buckets, fingerprint)
}

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
                .filter(|(lit, owner)| match owner {
                    // The boundary is checked at the hit's end.
                    Owner::Rule { word_end: true, .. } => p.ends_with(lit.as_str()),
                    _ => p.contains(lit.as_str()),
                })
                .map(|&(_, owner)| owner)
                .collect();
            o.dedup();
            o
        })
        .collect();
    (pats, owners)
}
