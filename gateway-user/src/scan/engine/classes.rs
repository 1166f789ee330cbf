//! A Teddy-style packed literal searcher with exact byte classes, for CPUs
//! with AVX-512 VBMI.
//!
//! aho-corasick's Teddy classifies a byte by its two nybbles (`pshufb` on
//! 16-entry tables), so a bucket holding several prefixes accepts every mix
//! of their nybbles, and each step pays for the nybble arithmetic. VBMI's
//! `vpermb` looks 64 bytes up in a 64-entry table in one instruction: a
//! bucket accepts the bytes its prefixes hold at each of the first (up to
//! five) offsets, by their low six bits. On the lowercased view that is exact
//! among letters; a letter shares its entry only with a digit or
//! punctuation (`p` with `0`), which can only add candidates. Candidates
//! are rare; each costs one probe of a table of the patterns' first four
//! bytes, then a comparison with the patterns found there, longest first.
//!
//! Matches are aho-corasick's leftmost-longest, non-overlapping ones; a
//! differential test and a fuzz target hold the searcher to that. Where the
//! CPU lacks VBMI, [`ClassSearcher::new`] returns `None` and the engine
//! keeps aho-corasick's searcher.

use std::{cmp::Reverse, ops::ControlFlow};

/// Buckets: one bit each in a class table entry.
pub(super) const BUCKETS: usize = 8;
/// How many leading bytes of each pattern are classified.
const FINGERPRINT: usize = 5;
/// Entries of a class table: bytes are looked up by their low six bits.
const ENTRIES: usize = 64;
/// Text positions screened per step (one 512-bit register).
const STEP: usize = 64;

/// The compiled searcher.
#[derive(Debug, Clone)]
pub(super) struct ClassSearcher {
    /// Per fingerprint offset, per byte (low six bits): the buckets whose
    /// patterns have that byte at that offset.
    tables: [[u8; ENTRIES]; FINGERPRINT],
    /// How many offsets any bucket classifies (1..=5): the rest are skipped.
    classified: usize,
    patterns: Vec<Vec<u8>>,
    /// Candidates are verified by their first four bytes: most fail there.
    heads: Heads,
}

/// The patterns by their first four bytes (a little-endian word), in an
/// open-addressing table: a candidate costs one probe, whatever its bucket.
#[derive(Debug, Clone)]
struct Heads {
    /// Per slot: the word, and the range of `ids` holding its patterns
    /// (longest first); an empty range is an empty slot.
    slots: Vec<(u32, u16, u16)>,
    /// Bits of the slot index.
    bits: u32,
    ids: Vec<usize>,
    /// Patterns shorter than four bytes: (word, mask of its bytes, id),
    /// longest first.
    short: Vec<(u32, u32, usize)>,
}

impl Heads {
    fn new(patterns: &[&[u8]]) -> Option<Self> {
        let mut long: Vec<(u32, usize)> = Vec::new();
        let mut short = Vec::new();
        for (id, p) in patterns.iter().enumerate() {
            let (word, mask) = head(p);
            if p.len() >= 4 {
                long.push((word, id));
            } else {
                short.push((word, mask, id));
            }
        }
        // Same head together, longest pattern first.
        long.sort_by_key(|&(word, id)| (word, Reverse(patterns.get(id).map_or(0, |p| p.len()))));
        short.sort_by_key(|&(_, _, id)| Reverse(patterns.get(id).map_or(0, |p| p.len())));
        let distinct = long.windows(2).filter(|w| w[0].0 != w[1].0).count() + 1;
        let bits = (4 * distinct).next_power_of_two().max(16).trailing_zeros();
        let mut slots = vec![(0u32, 0u16, 0u16); 1 << bits];
        let ids: Vec<usize> = long.iter().map(|&(_, id)| id).collect();
        let mut at = 0;
        while at < long.len() {
            let word = long.get(at)?.0;
            let count = long
                .get(at..)?
                .iter()
                .take_while(|&&(w, _)| w == word)
                .count();
            let mut slot = slot_of(word, bits);
            while slots.get(slot)?.2 != 0 {
                slot = (slot + 1) & ((1 << bits) - 1);
            }
            *slots.get_mut(slot)? = (word, u16::try_from(at).ok()?, u16::try_from(count).ok()?);
            at += count;
        }
        Some(Self {
            slots,
            bits,
            ids,
            short,
        })
    }

    /// The ids of the patterns of four or more bytes that start with `word`.
    #[inline(always)]
    fn long(&self, word: u32) -> &[usize] {
        let mask = (1usize << self.bits) - 1;
        let mut slot = slot_of(word, self.bits);
        loop {
            match self.slots.get(slot) {
                Some(&(_, _, 0)) | None => return &[],
                Some(&(w, from, count)) if w == word => {
                    let from = usize::from(from);
                    return self
                        .ids
                        .get(from..from + usize::from(count))
                        .unwrap_or_default();
                }
                Some(_) => slot = (slot + 1) & mask,
            }
        }
    }
}

#[inline(always)]
fn slot_of(word: u32, bits: u32) -> usize {
    (word.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

/// Whether this CPU can run the searcher.
pub(super) fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vbmi")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

impl ClassSearcher {
    /// A searcher for `patterns` (distinct, none empty), pattern `i` in
    /// bucket `bucket_of[i]`, classifying at most `max_fingerprint` bytes
    /// (1..=5: fewer is less work a step, more is fewer candidates);
    /// `None` when the CPU lacks AVX-512 VBMI or the input is not of that
    /// shape.
    pub(super) fn new(
        patterns: &[&[u8]],
        bucket_of: &[usize],
        max_fingerprint: usize,
    ) -> Option<Self> {
        if !supported()
            || patterns.is_empty()
            || patterns.len() != bucket_of.len()
            || patterns.iter().any(|p| p.is_empty())
        {
            return None;
        }
        let mut buckets: [Vec<usize>; BUCKETS] = Default::default();
        for (id, &bucket) in bucket_of.iter().enumerate() {
            buckets.get_mut(bucket)?.push(id);
        }
        if patterns.len() > usize::from(u16::MAX) {
            return None;
        }
        let mut tables = [[0u8; ENTRIES]; FINGERPRINT];
        let mut classified = 1;
        for (bucket, list) in buckets.iter_mut().enumerate() {
            let bit = 1u8 << bucket;
            // Each bucket classifies as many bytes as its shortest pattern
            // has (up to the limit); at later offsets it accepts every byte.
            let Some(len) = list
                .iter()
                .filter_map(|&id| patterns.get(id))
                .map(|p| p.len())
                .min()
            else {
                continue;
            };
            let len = len.min(max_fingerprint).clamp(1, FINGERPRINT);
            classified = classified.max(len);
            for &id in list.iter() {
                let pattern = patterns.get(id)?;
                for (table, &byte) in tables.iter_mut().zip(pattern.iter()).take(len) {
                    *table.get_mut(usize::from(byte) % ENTRIES)? |= bit;
                }
            }
            for table in tables.iter_mut().skip(len) {
                table.iter_mut().for_each(|entry| *entry |= bit);
            }
        }
        Some(Self {
            tables,
            classified,
            patterns: patterns.iter().map(|p| p.to_vec()).collect(),
            heads: Heads::new(patterns)?,
        })
    }

    /// Calls `f(pattern, start, end)` for each leftmost-longest,
    /// non-overlapping match in `hay`, in order.
    pub(super) fn for_each(&self, hay: &[u8], mut f: impl FnMut(usize, usize, usize)) {
        let mut resume = 0;
        self.blocks(hay, &mut |base, nonzero| {
            self.verify(hay, base, nonzero, &mut resume, &mut f);
            ControlFlow::Continue(())
        });
    }

    /// Calls `f(start)` for every position of `hay` where some pattern
    /// starts (overlapping ones too), in order, until `f` breaks.
    pub(super) fn for_each_start(&self, hay: &[u8], mut f: impl FnMut(usize) -> ControlFlow<()>) {
        self.blocks(hay, &mut |base, mut nonzero| {
            while nonzero != 0 {
                let start = base + nonzero.trailing_zeros() as usize;
                nonzero &= nonzero - 1;
                if self
                    .longest_at(hay.get(start..).unwrap_or_default())
                    .is_some()
                {
                    f(start)?;
                }
            }
            ControlFlow::Continue(())
        });
    }

    /// Calls `visit(base, nonzero)` for each step with candidates (bit `j`:
    /// text position `base + j`), in order, until it breaks.
    fn blocks(&self, hay: &[u8], visit: &mut impl FnMut(usize, u64) -> ControlFlow<()>) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a `ClassSearcher` exists only where `new` saw the CPU
        // support AVX-512 F, BW and VBMI, the features `scan` enables.
        unsafe {
            match self.classified {
                1 => self.scan::<1>(hay, visit),
                2 => self.scan::<2>(hay, visit),
                3 => self.scan::<3>(hay, visit),
                4 => self.scan::<4>(hay, visit),
                _ => self.scan::<5>(hay, visit),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (hay, visit);
        }
    }

    /// The longest pattern at the start of `rest`: (id, length).
    #[inline(always)]
    fn longest_at(&self, rest: &[u8]) -> Option<(usize, usize)> {
        let (word, _) = head(rest);
        let fits = |id: &usize| {
            self.patterns
                .get(*id)
                .filter(|p| rest.starts_with(p))
                .map(|p| (*id, p.len()))
        };
        // Longest first: a pattern of four or more bytes beats any shorter
        // one at the same start.
        let found = if rest.len() >= 4 {
            self.heads.long(word).iter().find_map(fits)
        } else {
            None
        };
        found.or_else(|| {
            self.heads
                .short
                .iter()
                .filter(|&&(w, mask, _)| word & mask == w)
                .find_map(|(_, _, id)| fits(id))
        })
    }

    /// Checks the candidates of one step: bit `j` of `nonzero` marks text
    /// position `base + j`.
    #[inline(always)]
    fn verify(
        &self,
        hay: &[u8],
        base: usize,
        mut nonzero: u64,
        resume: &mut usize,
        f: &mut impl FnMut(usize, usize, usize),
    ) {
        while nonzero != 0 {
            let start = base + nonzero.trailing_zeros() as usize;
            nonzero &= nonzero - 1;
            if start < *resume {
                continue;
            }
            let found = self.longest_at(hay.get(start..).unwrap_or_default());
            if let Some((id, len)) = found {
                f(id, start, start + len);
                *resume = start + len;
            }
        }
    }

    /// The search, classifying `N` offsets (`N` = `self.classified`).
    ///
    /// SAFETY: the CPU must support AVX-512 F, BW and VBMI.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
    unsafe fn scan<const N: usize>(
        &self,
        hay: &[u8],
        visit: &mut impl FnMut(usize, u64) -> ControlFlow<()>,
    ) {
        use std::arch::x86_64::_mm512_test_epi8_mask;

        // SAFETY: the caller guarantees the CPU features.
        let tables = unsafe { x86::Tables::load(&self.tables) };
        let n = hay.len();
        let mut at = 0;
        while at + STEP + FINGERPRINT - 1 <= n {
            // SAFETY: at + 68 <= n, so every load is inside `hay`.
            let m = unsafe { tables.classify::<N>(hay.as_ptr().add(at)) };
            let nonzero = _mm512_test_epi8_mask(m, m);
            if nonzero != 0 && visit(at, nonzero).is_break() {
                return;
            }
            at += STEP;
        }
        // The last (under 68) bytes, read with masked loads: bytes past the
        // end are neither read nor classified.
        while at < n {
            let live = n - at;
            // SAFETY: `classify_tail` reads only the `live` bytes from `at`,
            // which are inside `hay`.
            let m = unsafe { tables.classify_tail::<N>(hay.as_ptr().add(at), live) };
            let keep = if live >= STEP {
                u64::MAX
            } else {
                (1u64 << live) - 1
            };
            let nonzero = _mm512_test_epi8_mask(m, m) & keep;
            if nonzero != 0 && visit(at, nonzero).is_break() {
                return;
            }
            at += STEP;
        }
    }
}

/// The first (up to) four bytes of `bytes` as a little-endian word, and
/// the mask of the bytes present.
#[inline(always)]
fn head(bytes: &[u8]) -> (u32, u32) {
    if let Some(&four) = bytes.first_chunk::<4>() {
        return (u32::from_le_bytes(four), u32::MAX);
    }
    let mut word = [0u8; 4];
    let mut mask = [0u8; 4];
    for (k, &b) in bytes.iter().enumerate().take(4) {
        word[k] = b;
        mask[k] = u8::MAX;
    }
    (u32::from_le_bytes(word), u32::from_le_bytes(mask))
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m512i, _mm512_and_si512, _mm512_loadu_si512, _mm512_maskz_loadu_epi8,
        _mm512_permutexvar_epi8,
    };

    use super::{ENTRIES, FINGERPRINT, STEP};

    /// The class tables in registers, one per offset.
    pub(super) struct Tables {
        tables: [__m512i; FINGERPRINT],
    }

    impl Tables {
        /// SAFETY: the CPU must support AVX-512 F.
        #[target_feature(enable = "avx512f")]
        pub(super) unsafe fn load(tables: &[[u8; ENTRIES]; FINGERPRINT]) -> Self {
            // SAFETY: each table is 64 bytes, one unaligned load.
            Self {
                tables: tables.map(|t| unsafe { _mm512_loadu_si512(t.as_ptr().cast()) }),
            }
        }

        /// The buckets of the 64 text positions from `p`: byte `j` holds the
        /// buckets whose fingerprints match bytes `p + j .. p + j + N`.
        ///
        /// SAFETY: the CPU must support AVX-512 F and VBMI, and
        /// `p .. p + STEP + FINGERPRINT - 1` must be readable.
        #[target_feature(enable = "avx512f,avx512vbmi")]
        #[inline]
        pub(super) unsafe fn classify<const N: usize>(&self, p: *const u8) -> __m512i {
            // SAFETY: the caller guarantees the 68 bytes from p.
            unsafe {
                let mut m = _mm512_permutexvar_epi8(_mm512_loadu_si512(p.cast()), self.tables[0]);
                for k in 1..N.min(FINGERPRINT) {
                    let bytes = _mm512_loadu_si512(p.add(k).cast());
                    m = _mm512_and_si512(m, _mm512_permutexvar_epi8(bytes, self.tables[k]));
                }
                m
            }
        }

        /// [`Tables::classify`] where only the `live` bytes from `p` may be
        /// read: the rest load as zero (AVX-512 masked loads do not touch
        /// masked-off bytes), so no candidate reaches past them.
        ///
        /// SAFETY: the CPU must support AVX-512 F, BW and VBMI, and
        /// `p .. p + live` must be readable.
        #[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
        #[inline]
        pub(super) unsafe fn classify_tail<const N: usize>(
            &self,
            p: *const u8,
            live: usize,
        ) -> __m512i {
            let mask = |k: usize| match live.saturating_sub(k) {
                n if n >= STEP => u64::MAX,
                n => (1u64 << n) - 1,
            };
            // SAFETY: each load reads only bytes below `p + live`.
            unsafe {
                let mut m = _mm512_permutexvar_epi8(
                    _mm512_maskz_loadu_epi8(mask(0), p.cast()),
                    self.tables[0],
                );
                for k in 1..N.min(FINGERPRINT) {
                    let bytes = _mm512_maskz_loadu_epi8(mask(k), p.add(k).cast());
                    m = _mm512_and_si512(m, _mm512_permutexvar_epi8(bytes, self.tables[k]));
                }
                m
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use aho_corasick::{AhoCorasick, MatchKind};

    use super::{BUCKETS, ClassSearcher, supported};

    /// A small deterministic generator (xorshift): no test dependency.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Bytes from a small alphabet (so patterns overlap and recur), with
    /// look-alikes under the six-bit lookup (`p`/`0`, `a`/`!`) and bytes
    /// above 0x7f.
    const ALPHABET: &[u8] = b"abp0!. \xc3\xa9\x80";

    fn matches(
        hay: &[u8],
        patterns: &[Vec<u8>],
        bucket_of: &[usize],
    ) -> Vec<(usize, usize, usize)> {
        let slices: Vec<&[u8]> = patterns.iter().map(Vec::as_slice).collect();
        let searcher = ClassSearcher::new(&slices, bucket_of, 1 + bucket_of.len() % 5)
            .expect("the CPU has VBMI");
        let mut out = Vec::new();
        searcher.for_each(hay, |p, s, e| out.push((p, s, e)));
        out
    }

    #[test]
    fn matches_are_aho_corasick_leftmost_longest() {
        if !supported() {
            eprintln!("skipped: this CPU has no AVX-512 VBMI (the engine uses Teddy)");
            return;
        }
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..2000 {
            let count = 1 + rng.below(20);
            let mut patterns: Vec<Vec<u8>> = Vec::new();
            while patterns.len() < count {
                let len = 1 + rng.below(7);
                let p: Vec<u8> = (0..len)
                    .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                    .collect();
                if !patterns.contains(&p) {
                    patterns.push(p);
                }
            }
            let bucket_of: Vec<usize> = (0..count).map(|_| rng.below(BUCKETS)).collect();
            // Lengths around the 64-byte step and the 68-byte tail.
            let len = rng.below(300);
            let hay: Vec<u8> = (0..len)
                .map(|_| ALPHABET[rng.below(ALPHABET.len())])
                .collect();
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&patterns)
                .expect("automaton");
            let want: Vec<(usize, usize, usize)> = ac
                .find_iter(&hay)
                .map(|m| (m.pattern().as_usize(), m.start(), m.end()))
                .collect();
            assert_eq!(
                matches(&hay, &patterns, &bucket_of),
                want,
                "case {case}: patterns {patterns:?} in buckets {bucket_of:?}"
            );
        }
    }

    #[test]
    fn finds_matches_at_every_offset_of_the_step_and_the_tail() {
        if !supported() {
            eprintln!("skipped: this CPU has no AVX-512 VBMI (the engine uses Teddy)");
            return;
        }
        let patterns = vec![b"ystem".to_vec(), b"gnor".to_vec(), b"u are ".to_vec()];
        for len in [0, 3, 4, 63, 64, 67, 68, 69, 128, 131, 200] {
            for at in 0..len {
                let mut hay = vec![b'x'; len];
                let Some(slot) = hay.get_mut(at..at + 4) else {
                    continue;
                };
                slot.copy_from_slice(b"gnor");
                assert_eq!(
                    matches(&hay, &patterns, &[0, 1, 2]),
                    vec![(1, at, at + 4)],
                    "gnor at {at} of {len}"
                );
            }
        }
    }

    #[test]
    fn rejects_what_it_cannot_search() {
        let ok: Vec<&[u8]> = vec![b"abc"];
        assert!(ClassSearcher::new(&[], &[], 5).is_none());
        assert!(ClassSearcher::new(&[b"".as_slice()], &[0], 5).is_none());
        assert!(ClassSearcher::new(&ok, &[BUCKETS], 5).is_none());
        assert!(ClassSearcher::new(&ok, &[0, 1], 5).is_none());
    }
}
