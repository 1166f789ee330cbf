//! The screen that keeps `find` cheap on clean text: it proves, a few
//! bytes at a time, that no blob alphabet run of `MIN_BLOB` bytes can pass
//! a sample point, and hands the caller only the regions it cannot clear.
//!
//! Every blob alphabet lies inside one of two byte families: *dense*
//! (`0x21..=0x7F`: base64, base32, hex, Ascii85) or *spaced* (`0x20..=0x60`:
//! Morse, uuencode). A word holding a byte outside a family is evidence
//! that no run of that family crosses it. Prose has a space (not dense)
//! and a lowercase letter or a non-ASCII byte (not spaced) in almost every
//! 8 bytes, so one SWAR test of one word per `SAMPLE` bytes clears it.

use std::ops::{ControlFlow, Range};

use super::{MIN_BLOB, STRIDE, alphabet};

/// Sample spacing: every run of `MIN_BLOB` bytes holds a whole word
/// starting at a multiple of `SAMPLE` (`MIN_BLOB - 8 + 1` start points).
const SAMPLE: usize = MIN_BLOB - 8;
const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;
/// A word with no evidence at all (stands in for words past the text).
const NO_EVIDENCE: u64 = u64::from_le_bytes(*b"AAAAAAAA");

/// Some byte of `x` is outside `0x21..=0x7F`. Never true without one: a
/// borrow only starts at a byte below `0x21`.
fn not_dense(x: u64) -> bool {
    (x.wrapping_sub(0x21 * ONES) | x) & HIGHS != 0
}

/// Some byte of `x` is outside `0x20..=0x60`. Never true without one: a
/// borrow starts only at a byte below `0x20`, a carry only at one above
/// `0xE0`.
fn not_spaced(x: u64) -> bool {
    ((x.wrapping_sub(0x20 * ONES) & !x) | x.wrapping_add(0x1F * ONES) | x) & HIGHS != 0
}

fn word(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map_or(NO_EVIDENCE, |w| u64::from_le_bytes(*w))
}

/// The word at `at`, padded past the end of the text with `0x00` (outside
/// both families: the end of the text bounds every run).
fn padded_word(bytes: &[u8], at: usize) -> u64 {
    if let Some(w) = bytes.get(at..).and_then(<[u8]>::first_chunk::<8>) {
        return u64::from_le_bytes(*w);
    }
    let mut w = [0u8; 8];
    let tail = bytes.get(at..).unwrap_or_default();
    let n = tail.len().min(8);
    if let (Some(dst), Some(src)) = (w.get_mut(..n), tail.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(w)
}

/// The high bit of each byte of `x` outside `0x21..=0x7F`, exactly (no
/// carries cross bytes: the low seven bits plus `0x5F` stay below `0x100`).
fn dense_evidence(x: u64) -> u64 {
    let t = (x & !HIGHS) + 0x5F * ONES;
    (!t | x) & HIGHS
}

/// The high bit of each byte of `x` outside `0x20..=0x60`, exactly.
fn spaced_evidence(x: u64) -> u64 {
    let low = x & !HIGHS;
    let at_least_space = low + 0x60 * ONES;
    let above_backtick = low + 0x1F * ONES;
    (!at_least_space | above_backtick | x) & HIGHS
}

/// Bounds of the family run crossing the word at `q`: the first byte
/// after the nearest evidence before it and the nearest evidence after it
/// (or the ends of the text), looked for within three words either side.
fn run_bounds(
    bytes: &[u8],
    q: usize,
    evidence: impl Fn(u64) -> u64,
) -> (Option<usize>, Option<usize>) {
    let mut from = None;
    for i in 1..=3 {
        let Some(at) = q.checked_sub(8 * i) else {
            from = Some(0);
            break;
        };
        let m = evidence(padded_word(bytes, at));
        if m != 0 {
            from = Some(at + (63 - m.leading_zeros() as usize) / 8 + 1);
            break;
        }
        if at == 0 {
            from = Some(0);
            break;
        }
    }
    let mut to = None;
    for j in 1..=3 {
        let at = q + 8 * j;
        if at >= bytes.len() {
            to = Some(bytes.len());
            break;
        }
        let m = evidence(padded_word(bytes, at));
        if m != 0 {
            to = Some(at + m.trailing_zeros() as usize / 8);
            break;
        }
    }
    (from, to)
}

/// The aligned block starts to examine near the sample at `q` (word `w`),
/// or `None` when no run of `MIN_BLOB` of either family crosses it.
#[inline(always)]
fn region(bytes: &[u8], q: usize, w: u64) -> Option<Range<usize>> {
    let (left, right) = match q.checked_sub(8) {
        Some(l) => (word(bytes, l), word(bytes, q + 8)),
        None => (NO_EVIDENCE, word(bytes, q + 8)),
    };
    // Cheap first: evidence in both neighbours bounds the run to 22 bytes.
    let dense = not_dense(w) || (not_dense(left) && not_dense(right));
    let spaced = not_spaced(w) || (not_spaced(left) && not_spaced(right));
    if dense && spaced {
        return None;
    }
    // Every block `blocks_near` could return starts in this range: if
    // none of them could start a blob (a URL, a path), the walk would
    // find nothing here.
    if !alphabet::may_start_blob(bytes, q.saturating_sub(SAMPLE)..q + STRIDE) {
        return None;
    }
    blocks_near(bytes, q, dense, spaced)
}

#[derive(Clone, Copy)]
enum Family {
    Dense,
    Spaced,
}

/// A run of `MIN_BLOB` whose first sample is `q` starts in
/// `q - SAMPLE ..= q`, so its first whole aligned block starts in
/// `q - SAMPLE .. q + STRIDE`, and inside the run's bounds.
#[inline(never)]
fn blocks_near(bytes: &[u8], q: usize, dense: bool, spaced: bool) -> Option<Range<usize>> {
    let (lo, hi) = (q.saturating_sub(SAMPLE), q + STRIDE);
    let mut span: Option<Range<usize>> = None;
    for (cleared, family) in [(dense, Family::Dense), (spaced, Family::Spaced)] {
        if cleared {
            continue;
        }
        let (from, to) = match family {
            Family::Dense => run_bounds(bytes, q, dense_evidence),
            Family::Spaced => run_bounds(bytes, q, spaced_evidence),
        };
        if let (Some(f), Some(t)) = (from, to)
            && t.saturating_sub(f) < MIN_BLOB
        {
            continue;
        }
        let start = from.unwrap_or(lo).max(lo);
        let end = to.map_or(hi, |t| (t + 1).saturating_sub(STRIDE).min(hi));
        span = Some(match span {
            Some(s) => s.start.min(start)..s.end.max(end),
            None => start..end,
        });
    }
    span
}

/// Calls `visit` with the ranges of block starts (increasing, possibly
/// overlapping) that may hold a blob; every other aligned block is proven
/// to start no run of `MIN_BLOB` alphabet bytes. Stops when `visit` does.
pub(super) fn regions(bytes: &[u8], mut visit: impl FnMut(Range<usize>) -> ControlFlow<()>) {
    let mut chunks = bytes.chunks_exact(SAMPLE);
    for (k, chunk) in chunks.by_ref().enumerate() {
        let Some(w) = chunk.first_chunk::<8>() else {
            return;
        };
        let w = u64::from_le_bytes(*w);
        if not_dense(w) & not_spaced(w) {
            continue;
        }
        if let Some(r) = region(bytes, k * SAMPLE, w)
            && visit(r).is_break()
        {
            return;
        }
    }
    let q = bytes.len() - chunks.remainder().len();
    if q + 8 <= bytes.len()
        && let Some(r) = region(bytes, q, word(bytes, q))
    {
        let _ = visit(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytewise(x: u64, outside: impl Fn(u8) -> bool) -> bool {
        x.to_le_bytes().into_iter().any(outside)
    }

    #[test]
    fn evidence_matches_a_bytewise_check() {
        // Every byte value in every lane, and mixed words.
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for i in 0..20_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let x = if i < 2048 {
                let b = (i % 256) as u8;
                let lane = (i / 256) as u32;
                u64::from_le_bytes(*b"AAAAAAAA") & !(0xFF << (8 * lane))
                    | u64::from(b) << (8 * lane)
            } else {
                seed
            };
            assert_eq!(
                not_dense(x),
                bytewise(x, |b| !(0x21..=0x7F).contains(&b)),
                "{x:#x}"
            );
            assert_eq!(
                not_spaced(x),
                bytewise(x, |b| !(0x20..=0x60).contains(&b)),
                "{x:#x}"
            );
            let lanes = |outside: fn(u8) -> bool| {
                x.to_le_bytes()
                    .into_iter()
                    .enumerate()
                    .fold(0u64, |m, (i, b)| m | u64::from(outside(b)) << (8 * i + 7))
            };
            assert_eq!(dense_evidence(x), lanes(|b| !(0x21..=0x7F).contains(&b)));
            assert_eq!(spaced_evidence(x), lanes(|b| !(0x20..=0x60).contains(&b)));
        }
    }

    fn short_run(bytes: &[u8], q: usize, evidence: fn(u64) -> u64) -> bool {
        matches!(run_bounds(bytes, q, evidence), (Some(f), Some(t)) if t - f < MIN_BLOB)
    }

    #[test]
    fn run_bounds_are_exact() {
        // A 31-byte dense run is cleared, a 32-byte one is not, wherever
        // it sits around the sample at 24.
        for len in [31, 32] {
            for start in 0..=24 {
                let mut text = vec![b' '; 64];
                text[start..start + len].fill(b'Q');
                if !(start..start + len).contains(&24) || start + len < 32 {
                    continue;
                }
                assert_eq!(
                    short_run(&text, 24, dense_evidence),
                    len < 32,
                    "{start} {len}"
                );
                let blocks = blocks_near(&text, 24, false, true).map(|r| r.len());
                assert_eq!(blocks.is_none(), len < 32, "{start} {len}");
            }
        }
        // The ends of the text bound runs; a long word far from them does not.
        assert!(short_run(
            b"QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ",
            8,
            dense_evidence
        ));
        assert!(!short_run(&[b'Q'; 40], 8, dense_evidence));
    }

    #[test]
    fn prose_is_cleared_and_runs_are_not() {
        let prose = "The quarterly report is ready; please review the numbers by Friday. ";
        let text = prose.repeat(20);
        let mut n = 0;
        regions(text.as_bytes(), |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        assert_eq!(n, 0);
        let text = format!("{}{}{}", prose, "QUJD".repeat(8), prose);
        let mut found = Vec::new();
        regions(text.as_bytes(), |r| {
            found.push(r);
            ControlFlow::Continue(())
        });
        assert!(
            found
                .iter()
                .any(|r| r.contains(&prose.len().next_multiple_of(16)))
        );
        assert!(found.len() <= 3, "{found:?}");
    }
}
