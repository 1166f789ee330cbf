//! The ASCII fast path's one pass: check that a text is ASCII and copy it
//! lowercased, together (AVX-512 BW where the CPU has it, 64 bytes a step),
//! instead of an `is_ascii` pass and then a lowercasing pass.

/// Appends `bytes`, ASCII-lowercased, to `out` and returns true when every
/// byte is ASCII; on a non-ASCII byte returns false with `out` as it was.
pub(crate) fn lowercase_ascii(bytes: &[u8], out: &mut Vec<u8>) -> bool {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512bw") {
        // SAFETY: the CPU supports AVX-512 BW (and F, which BW implies).
        return unsafe { x86::lowercase_ascii(bytes, out) };
    }
    if !bytes.is_ascii() {
        return false;
    }
    out.extend(bytes.iter().map(u8::to_ascii_lowercase));
    true
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::{
        __m512i, _mm512_cmplt_epu8_mask, _mm512_mask_add_epi8, _mm512_mask_storeu_epi8,
        _mm512_maskz_loadu_epi8, _mm512_movepi8_mask, _mm512_set1_epi8, _mm512_sub_epi8,
    };

    const STEP: usize = 64;

    /// The lowercased bytes of `v` and whether any byte of it is above 0x7f.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    fn lower_step(v: __m512i) -> (__m512i, bool) {
        let upper = _mm512_cmplt_epu8_mask(
            _mm512_sub_epi8(v, _mm512_set1_epi8(0x41)),
            _mm512_set1_epi8(26),
        );
        let lowered = _mm512_mask_add_epi8(v, upper, v, _mm512_set1_epi8(0x20));
        (lowered, _mm512_movepi8_mask(v) != 0)
    }

    /// SAFETY: the CPU must support AVX-512 F and BW.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn lowercase_ascii(bytes: &[u8], out: &mut Vec<u8>) -> bool {
        let n = bytes.len();
        out.reserve(n);
        let base = out.len();
        let src = bytes.as_ptr();
        // SAFETY: `reserve` made room for `n` bytes after `base`.
        let dst = unsafe { out.as_mut_ptr().add(base) };
        let mut at = 0;
        while at < n {
            let live = (n - at).min(STEP);
            // All ones for a whole step, the low `live` bits for the tail.
            let mask = u64::MAX >> (STEP - live);
            // SAFETY: masked-off bytes are neither read nor written (AVX-512
            // masked accesses suppress faults), and the `live` bytes at
            // `at` are inside `bytes` and inside the reserved room of `out`.
            unsafe {
                let v = _mm512_maskz_loadu_epi8(mask, src.add(at).cast());
                let (lowered, non_ascii) = lower_step(v);
                if non_ascii {
                    return false;
                }
                _mm512_mask_storeu_epi8(dst.add(at).cast(), mask, lowered);
            }
            at += live;
        }
        // SAFETY: the loop wrote all `n` bytes after `base` (a non-ASCII
        // byte returns before this, leaving the length unchanged).
        unsafe { out.set_len(base + n) };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::lowercase_ascii;

    #[test]
    fn lowercases_ascii_of_every_length_and_rejects_non_ascii() {
        let text: Vec<u8> = (0u8..=0x7f).cycle().take(300).collect();
        for len in 0..text.len() {
            let input = &text[..len];
            let mut out = b"kept".to_vec();
            assert!(lowercase_ascii(input, &mut out), "length {len}");
            let mut want = b"kept".to_vec();
            want.extend(input.iter().map(u8::to_ascii_lowercase));
            assert_eq!(out, want, "length {len}");
            for bad in [0, len / 2, len.saturating_sub(1)]
                .into_iter()
                .filter(|&b| b < len)
            {
                let mut input = input.to_vec();
                input[bad] = 0xc3;
                let mut out = Vec::new();
                assert!(
                    !lowercase_ascii(&input, &mut out),
                    "non-ASCII at {bad} of {len}"
                );
            }
        }
    }
}
