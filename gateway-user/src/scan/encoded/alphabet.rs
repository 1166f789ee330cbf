//! Blob alphabets and the classes of an aligned block: which alphabets a
//! `STRIDE` block lies wholly inside (the walk grows a run only from such a
//! block, and decodes it only when it holds `MIN_BLOB` bytes).
//! [`may_start_blob`] answers, for the few blocks near one screen sample,
//! whether any could start a blob: on AVX-512 BW with one 64-byte load, so
//! that dense runs that are no blob (URLs and paths: `:`, `.` and `#` cut
//! base64 into short runs, lowercase letters break Ascii85's leads) cost a
//! few instructions instead of run bounds and a block walk.

use std::ops::Range;

use super::{MAX_BLOB, MIN_BLOB, STRIDE, base};

const B64_BIT: u8 = 1;
pub(super) const A85_BIT: u8 = 2;
pub(super) const MORSE_BIT: u8 = 4;
pub(super) const UU_BIT: u8 = 8;
/// The order alphabets are tried in when a block belongs to several.
pub(super) const ALPHABETS: [u8; 4] = [B64_BIT, A85_BIT, MORSE_BIT, UU_BIT];

/// Per byte: which blob alphabets it belongs to.
static CLASSES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_') {
            t[i] |= B64_BIT;
        }
        if matches!(b, b'!'..=b'u' | b'z') {
            t[i] |= A85_BIT;
        }
        if matches!(b, b'.' | b'-' | b' ' | b'/') {
            t[i] |= MORSE_BIT;
        }
        if matches!(b, b' '..=b'`') {
            t[i] |= UU_BIT;
        }
        i += 1;
    }
    t
};

fn member(bit: u8) -> impl Fn(&u8) -> bool {
    move |&b| CLASSES[usize::from(b)] & bit != 0
}

/// The alphabets `block` lies wholly inside, less two that cannot start a
/// blob here: uuencode for an all-blank block (its blanks are zeros, not
/// text, and a blank run would try every column as a length character) and
/// Ascii85 when no alignment of the block leads its groups like Ascii85 of
/// text (its alphabet takes in URLs and paths).
pub(super) fn block_classes(block: &[u8; STRIDE]) -> u8 {
    let mut classes = block
        .iter()
        .fold(0xFF, |acc, &b| acc & CLASSES[usize::from(b)]);
    if block.iter().all(|&b| b == b' ') {
        classes &= !UU_BIT;
    }
    if classes & A85_BIT != 0 && !base::ascii85_leads_like_text(block) {
        classes &= !A85_BIT;
    }
    classes
}

/// Whether the walk could start a blob from an aligned block starting in
/// `starts` (and wholly inside `bytes`): whether such a block has a class
/// whose run around it, grown as the walk grows it, holds `MIN_BLOB`
/// bytes (the screen asks about 40 at a time). Never false where the walk
/// would decode a run; true in a few cases it would not (runs that leave
/// the one load of the fast path).
pub(super) fn may_start_blob(bytes: &[u8], starts: Range<usize>) -> bool {
    // A longer range would hold blocks past the fast path's one load: the
    // exact walk answers for it instead (never a false "no").
    #[cfg(target_arch = "x86_64")]
    if starts.len() <= 48 && std::arch::is_x86_feature_detected!("avx512bw") {
        // SAFETY: the CPU supports AVX-512 BW (and F, which BW implies).
        return unsafe { x86::may_start_blob(bytes, starts) };
    }
    may_start_blob_scalar(bytes, starts)
}

/// [`may_start_blob`], exactly, a block at a time.
fn may_start_blob_scalar(bytes: &[u8], starts: Range<usize>) -> bool {
    let mut at = starts.start.next_multiple_of(STRIDE);
    while at < starts.end {
        let Some(block) = bytes.get(at..).and_then(<[u8]>::first_chunk::<STRIDE>) else {
            return false;
        };
        let classes = block_classes(block);
        let long = |&bit: &u8| {
            classes & bit != 0 && {
                let (start, end) = grow(bytes, at, bit);
                end - start >= MIN_BLOB
            }
        };
        if ALPHABETS.iter().any(long) {
            return true;
        }
        at += STRIDE;
    }
    false
}

/// The maximal run of `bit` bytes around `at`, at most `MAX_BLOB` either way.
pub(super) fn grow(bytes: &[u8], at: usize, bit: u8) -> (usize, usize) {
    let inside = member(bit);
    let floor = at.saturating_sub(MAX_BLOB);
    let mut start = at;
    while start > floor && bytes.get(start - 1).is_some_and(&inside) {
        start -= 1;
    }
    let ceil = at.saturating_add(MAX_BLOB).min(bytes.len());
    let mut end = at;
    while end < ceil && bytes.get(end).is_some_and(&inside) {
        end += 1;
    }
    (start, end)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_cmplt_epu8_mask, _mm512_maskz_loadu_epi8,
        _mm512_or_si512, _mm512_set1_epi8, _mm512_sub_epi8,
    };
    use std::ops::Range;

    use super::{MIN_BLOB, STRIDE};

    /// Bit `i`: byte `i` of `v` is in `lo..lo + n`.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn in_range(v: __m512i, lo: u8, n: u8) -> u64 {
        _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(v, _mm512_set1_epi8(lo as i8)),
            _mm512_set1_epi8(n as i8),
        )
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn eq(v: __m512i, b: u8) -> u64 {
        _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(b as i8))
    }

    /// Whether the block at bit `at` of `members` (bit `i`: loaded byte `i`
    /// is in the alphabet) lies wholly in a run that holds `MIN_BLOB`
    /// bytes, or in one that leaves the load (`open_left`: the load does not
    /// start the text; bits past the text are zero, so a run can leave only
    /// at bit 63 on the right).
    fn long_run(members: u64, at: usize, open_left: bool) -> bool {
        if (members >> at) & 0xFFFF != 0xFFFF {
            return false;
        }
        let gaps = !members;
        let below = gaps & ((1u64 << at) - 1);
        let start = match below {
            0 if open_left => return true,
            0 => 0,
            _ => 64 - below.leading_zeros() as usize,
        };
        let above = gaps & u64::MAX.checked_shl((at + STRIDE) as u32).unwrap_or(0);
        if above == 0 {
            return true;
        }
        above.trailing_zeros() as usize - start >= MIN_BLOB
    }

    /// `starts` spans at most 48 bytes, so its blocks lie in the one load.
    ///
    /// SAFETY: the CPU must support AVX-512 F and BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn may_start_blob(bytes: &[u8], starts: Range<usize>) -> bool {
        let first = starts.start.next_multiple_of(STRIDE);
        // Eight bytes before the first block (where there are any) and
        // at least eight after the last: a run of one alphabet through a
        // block mostly ends inside the load.
        let base = first.saturating_sub(8);
        let Some(live) = bytes.len().checked_sub(base) else {
            return false;
        };
        let live = live.min(64);
        // The low `live` bits: a short tail is loaded with zeros, a byte
        // of no alphabet.
        let load = u64::MAX.checked_shr(64 - live as u32).unwrap_or(0);
        // SAFETY: masked-off bytes are not read (AVX-512 masked loads
        // suppress faults) and the `live` bytes at `base` are inside
        // `bytes`.
        let v = unsafe { _mm512_maskz_loadu_epi8(load, bytes.as_ptr().wrapping_add(base).cast()) };
        // Letters of both cases in one range: `| 0x20` folds them and sends
        // no other byte into `a..=z`.
        let letters = in_range(_mm512_or_si512(v, _mm512_set1_epi8(0x20)), b'a', 26);
        let b64 = letters
            | in_range(v, b'0', 10)
            | eq(v, b'+')
            | eq(v, b'/')
            | eq(v, b'=')
            | eq(v, b'-')
            | eq(v, b'_');
        let a85 = in_range(v, b'!', b'u' - b'!' + 1) | eq(v, b'z');
        let blank = eq(v, b' ');
        let morse = eq(v, b'.') | eq(v, b'-') | blank | eq(v, b'/');
        let uu = in_range(v, b' ', b'`' - b' ' + 1);
        let lead = in_range(v, b'#', b'I' - b'#' + 1);
        // Leads five and ten bytes on: a block leads like Ascii85 of text
        // when, for some skip in 0..5, every fifth byte from the skip is
        // one (four of them for skip 0, three otherwise).
        let leads = lead & (lead >> 5) & (lead >> 10);
        let leads_from_0 = leads & (lead >> 15);
        let open_left = base > 0;
        let mut at = first - base;
        while base + at < starts.end && at + STRIDE <= live {
            let led = (leads_from_0 >> at) & 1 != 0 || (leads >> (at + 1)) & 0xF != 0;
            let long = |members| long_run(members, at, open_left);
            let all_blank = (blank >> at) & 0xFFFF == 0xFFFF;
            if long(b64) || long(morse) || (long(uu) && !all_blank) || (led && long(a85)) {
                return true;
            }
            at += STRIDE;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Texts that put every alphabet (and its edges) into blocks: random
    /// bytes drawn from one alphabet at a time, with strays.
    fn texts() -> Vec<Vec<u8>> {
        let pools: [&[u8]; 7] = [
            b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo+/=-_09azAZ",
            b"!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHI`atuz{~",
            b"#$%&()*+9:;<=>?@ABCDEFGHI",
            b".-/ ",
            b" !\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`",
            b"        ",
            b"http://json-schema.org/draft-07/schema#\x00\x7f\x80\xff@[`{",
        ];
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut out = Vec::new();
        for round in 0..3000 {
            // Runs of one pool, some as long as the text and some shorter
            // than a blob.
            let len = (next() % 130) as usize;
            let mut text = Vec::with_capacity(len);
            while text.len() < len {
                let pool = pools[(round + (next() % 3) as usize) % pools.len()];
                let run = 1 + (next() % if round % 2 == 0 { 130 } else { 40 }) as usize;
                text.extend((0..run).map(|_| pool[(next() % pool.len() as u64) as usize]));
            }
            text.truncate(len);
            if round % 3 == 0 && len > 0 {
                let at = (next() % len as u64) as usize;
                text[at] = (next() & 0xFF) as u8;
            }
            out.push(text);
        }
        out
    }

    #[test]
    fn the_fast_path_never_clears_what_the_walk_would_grow() {
        let (mut kept, mut extra, mut cleared) = (0, 0, 0);
        for text in texts() {
            for lo in 0..=text.len() {
                for span in [1, 16, 17, 40, 48, 64, 100] {
                    let starts = lo..lo + span;
                    let exact = may_start_blob_scalar(&text, starts.clone());
                    let fast = may_start_blob(&text, starts.clone());
                    assert!(
                        fast || !exact,
                        "{starts:?} in {:?}",
                        String::from_utf8_lossy(&text)
                    );
                    match (exact, fast) {
                        (true, _) => kept += 1,
                        (false, true) => extra += 1,
                        (false, false) => cleared += 1,
                    }
                }
            }
        }
        // Every answer occurs often, and the fast path is nearly exact.
        assert!(kept > 10_000 && cleared > 10_000, "{kept} {cleared}");
        assert!(extra * 20 < kept + cleared, "{extra} of {}", kept + cleared);
    }

    #[test]
    fn urls_start_no_blob_and_blobs_do() {
        let url = b"see http://json-schema.org/draft-07/schema# here";
        for lo in 0..16 {
            assert!(!may_start_blob(url, lo..lo + 40), "{lo}");
        }
        let blob = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=";
        assert!(may_start_blob(blob, 0..1));
        // A short run of the alphabet (19 bytes) starts no blob.
        assert!(!may_start_blob(b"x.org/draft-07/schema#.", 0..1));
        assert_eq!(block_classes(b"QUJDREVGR0hJSktM") & B64_BIT, B64_BIT);
        assert_eq!(block_classes(b"                ") & UU_BIT, 0);
    }
}
