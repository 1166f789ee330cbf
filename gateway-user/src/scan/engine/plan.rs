//! Bucket planning for the packed (Teddy) searcher.
//!
//! Teddy screens 32 bytes at a time against the low and high nybbles of
//! the first (up to) four bytes of its patterns, with the patterns spread
//! over 8 buckets (16 for "fat" Teddy). A bucket holding several distinct
//! prefixes accepts every nybble combination of them, so two prefixes that
//! look alike (`igno`, `inst`) can share a bucket almost for free, while
//! two that differ everywhere (`yste`, `gnor`) multiply its false
//! candidates; each candidate costs a verification. With a few dozen
//! patterns the difference is several times the search speed.
//!
//! aho-corasick puts patterns with the same low-nybble prefix in one bucket
//! and gives every other prefix the bucket `B - 1 - (id % B)` of its first
//! pattern (in its iteration order: longest first, ties by id). It does not
//! promise that layout; if it changes, only speed changes, never matches,
//! and `cargo xtask bench scan` shows it.
//!
//! The planner groups patterns by prefix, estimates each bucket's candidate
//! rate from English-text byte frequencies, improves a balanced assignment
//! by swapping groups, and returns the insertion order that yields it.

/// Relative frequency of a byte in lowercased English prose and code
/// (per mille; a small floor for everything else).
fn frequency(b: u8) -> f64 {
    let per_mille = match b {
        b' ' => 170.0,
        b'e' => 95.0,
        b't' => 68.0,
        b'a' => 62.0,
        b'o' => 60.0,
        b'i' => 56.0,
        b'n' => 55.0,
        b's' => 50.0,
        b'r' => 47.0,
        b'h' => 42.0,
        b'l' => 32.0,
        b'd' => 31.0,
        b'c' => 24.0,
        b'u' => 22.0,
        b'm' => 20.0,
        b'p' => 17.0,
        b'f' => 17.0,
        b'g' => 16.0,
        b'w' => 16.0,
        b'y' => 15.0,
        b'b' => 12.0,
        b'.' | b',' => 10.0,
        b'v' => 8.0,
        b'\n' | b'0'..=b'9' => 6.0,
        b'k' => 6.0,
        b'"' | b'\'' | b'-' | b'_' | b':' | b'/' | b'(' | b')' => 3.0,
        b'x' | b'j' | b'q' | b'z' => 1.2,
        _ => 0.3,
    };
    per_mille / 1000.0
}

/// How a searcher's bucket classifies a text byte at a fingerprint offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Classes {
    /// aho-corasick's Teddy: by low and high nybble, so a bucket accepts
    /// every mix of its prefixes' nybbles.
    Nybbles,
    /// The class searcher: the exact byte.
    Bytes,
}

/// `frequency` summed over the bytes sharing each low-six-bit class (the
/// class searcher's table index).
fn class_frequencies() -> &'static [f64; 64] {
    static TABLE: std::sync::OnceLock<[f64; 64]> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = [0.0; 64];
        for b in 0..=255u8 {
            t[usize::from(b % 64)] += frequency(b);
        }
        t
    })
}

/// The indices of the set bits of `bits`.
fn set_bits(mut bits: u64) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        let i = bits.trailing_zeros() as usize;
        bits &= bits.checked_sub(1)?;
        Some(i)
    })
    .take(64)
}

/// Estimated probability that a text position is a candidate for a bucket
/// holding these prefixes (each `mask_len` bytes long).
fn bucket_cost(prefixes: &[&[u8]], mask_len: usize, classes: Classes) -> f64 {
    if prefixes.is_empty() {
        return 0.0;
    }
    let mut p = 1.0;
    for k in 0..mask_len {
        let bytes = prefixes.iter().filter_map(|prefix| prefix.get(k).copied());
        p *= match classes {
            Classes::Bytes => {
                let set = bytes.fold(0u64, |set, b| set | 1 << (b % 64));
                let table = class_frequencies();
                set_bits(set).filter_map(|c| table.get(c)).sum::<f64>()
            }
            Classes::Nybbles => {
                let (lo, hi) = bytes.fold((0u64, 0u64), |(lo, hi), b| {
                    (lo | 1 << (b & 0xf), hi | 1 << (b >> 4))
                });
                set_bits(lo)
                    .flat_map(|l| set_bits(hi).map(move |h| frequency((h << 4 | l) as u8)))
                    .sum::<f64>()
            }
        };
    }
    p
}

/// How many distinct low-nybble prefixes (Teddy's bucket keys) `patterns`
/// have.
pub(super) fn group_count(patterns: &[String]) -> usize {
    let mask_len = patterns.iter().map(String::len).min().unwrap_or(0).min(4);
    let mut keys: Vec<Vec<u8>> = patterns
        .iter()
        .map(|p| p.bytes().take(mask_len).map(|b| b & 0xf).collect())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys.len()
}

/// Swap passes before the planner settles for what it has.
const MAX_PASSES: usize = 32;

/// The order in which to insert `patterns` into a packed searcher with
/// `buckets` buckets (8 or 16): indices into `patterns`.
pub(super) fn teddy_order(patterns: &[String], buckets: usize) -> Vec<usize> {
    let mask_len = patterns.iter().map(String::len).min().unwrap_or(0).min(4);
    // Groups of patterns with the same low-nybble prefix, longest first.
    let mut groups: Vec<(Vec<u8>, Vec<usize>)> = Vec::new();
    for (i, p) in patterns.iter().enumerate() {
        let key: Vec<u8> = p.bytes().take(mask_len).map(|b| b & 0xf).collect();
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(i),
            None => groups.push((key, vec![i])),
        }
    }
    for (_, members) in &mut groups {
        // Stable: among equally long patterns the first keeps the lead.
        members.sort_by_key(|&i| std::cmp::Reverse(patterns.get(i).map_or(0, String::len)));
    }
    let prefixes: Vec<Vec<&[u8]>> = groups
        .iter()
        .map(|(_, members)| {
            members
                .iter()
                .filter_map(|&i| patterns.get(i))
                .map(|p| p.as_bytes().get(..mask_len).unwrap_or_default())
                .collect()
        })
        .collect();
    let assignment = plan(&prefixes, buckets, mask_len, Classes::Nybbles);
    // Representative j (insertion id j) lands in Teddy bucket
    // B - 1 - (j % B): round r of the order holds, for each residue k, the
    // r-th group of planned bucket k. Planned buckets are balanced with the
    // larger ones first, so the last round fills residues 0.. contiguously.
    let mut order = Vec::with_capacity(patterns.len());
    let rounds = assignment.iter().map(Vec::len).max().unwrap_or(0);
    for r in 0..rounds {
        for bucket in &assignment {
            if let Some((_, members)) = bucket.get(r).and_then(|&g| groups.get(g)) {
                order.extend(members.first());
            }
        }
    }
    for (_, members) in &groups {
        order.extend(members.iter().skip(1));
    }
    order
}

/// The bucket of each of `patterns` for the class searcher with `buckets`
/// buckets classifying up to `fingerprint` bytes: patterns with the same
/// fingerprint share one, and the planner spreads the fingerprints.
pub(super) fn class_buckets(patterns: &[&[u8]], buckets: usize, fingerprint: usize) -> Vec<usize> {
    let mask_len = patterns
        .iter()
        .map(|p| p.len())
        .min()
        .unwrap_or(0)
        .min(fingerprint);
    let mut keys: Vec<&[u8]> = patterns
        .iter()
        .map(|p| p.get(..mask_len).unwrap_or_default())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let prefixes: Vec<Vec<&[u8]>> = keys.iter().map(|&k| vec![k]).collect();
    let assignment = plan(&prefixes, buckets, mask_len, Classes::Bytes);
    patterns
        .iter()
        .map(|p| {
            let key = p.get(..mask_len).unwrap_or_default();
            let group = keys.binary_search(&key).unwrap_or(0);
            assignment
                .iter()
                .position(|bucket| bucket.contains(&group))
                .unwrap_or(0)
        })
        .collect()
}

/// Groups per planned bucket: balanced sizes (larger buckets first), then
/// swaps that lower the total estimated candidate rate.
fn plan(
    prefixes: &[Vec<&[u8]>],
    buckets: usize,
    mask_len: usize,
    classes: Classes,
) -> Vec<Vec<usize>> {
    let groups = prefixes.len();
    let buckets = buckets.max(1);
    // The commonest prefixes first, dealt round-robin: they start apart.
    let mut by_cost: Vec<usize> = (0..groups).collect();
    let own = |g: usize| {
        prefixes
            .get(g)
            .map_or(0.0, |p| bucket_cost(p, mask_len, classes))
    };
    by_cost.sort_by(|&a, &b| own(b).total_cmp(&own(a)));
    let mut assignment: Vec<Vec<usize>> = vec![Vec::new(); buckets];
    for (i, g) in by_cost.into_iter().enumerate() {
        if let Some(bucket) = assignment.get_mut(i % buckets) {
            bucket.push(g);
        }
    }
    let cost = |bucket: &[usize]| {
        let all: Vec<&[u8]> = bucket
            .iter()
            .filter_map(|&g| prefixes.get(g))
            .flatten()
            .copied()
            .collect();
        bucket_cost(&all, mask_len, classes)
    };
    for _ in 0..MAX_PASSES {
        let mut improved = false;
        for a in 0..buckets {
            for b in a + 1..buckets {
                for i in 0..assignment[a].len() {
                    for j in 0..assignment[b].len() {
                        let before = cost(&assignment[a]) + cost(&assignment[b]);
                        let (ga, gb) = (assignment[a][i], assignment[b][j]);
                        assignment[a][i] = gb;
                        assignment[b][j] = ga;
                        if cost(&assignment[a]) + cost(&assignment[b]) < before * 0.999 {
                            improved = true;
                        } else {
                            assignment[a][i] = ga;
                            assignment[b][j] = gb;
                        }
                    }
                }
            }
        }
        if !improved {
            break;
        }
    }
    assignment.sort_by_key(|bucket| std::cmp::Reverse(bucket.len()));
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn order_is_a_permutation_with_representatives_first() {
        let pats = strings(&[
            "you are ",
            "you will ",
            "gnor",
            "ystem",
            "xactly",
            "you must",
        ]);
        let order = teddy_order(&pats, 8);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..pats.len()).collect::<Vec<_>>());
        // Four prefixes (you, gnor, yste, xact): four representatives, and
        // the longest "you " pattern represents its group.
        let reps: Vec<&str> = order.iter().take(4).map(|&i| pats[i].as_str()).collect();
        assert!(reps.contains(&"you will "), "{reps:?}");
        assert!(!order[4..].iter().any(|&i| pats[i] == "gnor"));
    }

    #[test]
    fn planning_pairs_look_alikes_and_beats_round_robin() {
        // 16 prefixes in 8 buckets: two a bucket.
        let pats = strings(&[
            "igno", "ignx", "yste", "ystx", "xact", "xacx", "romp", "romx", "ncod", "ncox", "ecod",
            "ecox", "ailb", "ailx", "vafg", "vafx",
        ]);
        let order = teddy_order(&pats, 8);
        // Insertion ids j and j + 8 share a bucket.
        let partner = |p: &str| {
            let j = order.iter().position(|&i| pats[i] == p).expect("planned");
            pats[order[(j + 8) % 16]].clone()
        };
        assert_eq!(partner("igno"), "ignx");
        assert_eq!(partner("vafg"), "vafx");
        let cost = |order: &[usize]| -> f64 {
            (0..8)
                .map(|b| {
                    let prefixes: Vec<&[u8]> = [b, b + 8]
                        .iter()
                        .map(|&j| pats[order[j]].as_bytes())
                        .collect();
                    bucket_cost(&prefixes, 4, Classes::Nybbles)
                })
                .sum()
        };
        let naive: Vec<usize> = (0..16).collect();
        assert!(cost(&order) < cost(&naive) / 2.0, "{order:?}");
    }

    #[test]
    fn cost_grows_with_unlike_prefixes() {
        let alike = bucket_cost(&[b"igno", b"ignx"], 4, Classes::Nybbles);
        let unlike = bucket_cost(&[b"igno", b"yste"], 4, Classes::Nybbles);
        assert!(alike < unlike, "{alike} vs {unlike}");
    }
}
