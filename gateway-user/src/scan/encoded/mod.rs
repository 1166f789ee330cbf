//! Encoded blobs: base64, base32, hex, Ascii85, uuencode, Morse and
//! Braille runs are decoded (bounded) so the caller can rescan the
//! plaintext for instructions.
//!
//! A blob is a run of at least `MIN_BLOB` bytes of one alphabet, so it
//! holds a whole aligned `STRIDE` block of that alphabet. `screen` clears
//! almost all of a clean text with one word test per 24 bytes; only the
//! blocks it cannot clear are classified, and a block wholly inside an
//! alphabet is grown to its run and decoded.

mod alphabet;
mod base;
mod screen;
#[cfg(test)]
mod tests;
mod uu;

use std::ops::ControlFlow;

use alphabet::{A85_BIT, ALPHABETS, MORSE_BIT, UU_BIT, block_classes, grow};

use super::spelled;

/// Shortest run considered a blob (twice `STRIDE`, so every such run holds
/// a whole aligned block). Shorter blobs hold too little to instruct.
const MIN_BLOB: usize = 32;
const STRIDE: usize = 16;
/// Longest blob decoded (bounded work per blob).
const MAX_BLOB: usize = 64 * 1024;
/// Most blobs decoded per text.
pub(crate) const MAX_BLOBS: usize = 32;

/// How a blob is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    Base64,
    Base32,
    Hex,
    Ascii85,
    Uuencode,
    Morse,
    Braille,
    Nato,
}

impl Encoding {
    pub fn rule_id(self) -> &'static str {
        match self {
            Self::Base64 => "encoded.base64-instructions",
            Self::Base32 => "encoded.base32-instructions",
            Self::Hex => "encoded.hex-instructions",
            Self::Ascii85 => "encoded.ascii85-instructions",
            Self::Uuencode => "encoded.uuencode-instructions",
            Self::Morse => "encoded.morse-instructions",
            Self::Braille => "encoded.braille-instructions",
            Self::Nato => "encoded.nato-instructions",
        }
    }
}

/// A decoded blob: where it was in the original, and its plaintext.
#[derive(Debug)]
pub(crate) struct Blob {
    pub encoding: Encoding,
    pub start: usize,
    pub end: usize,
    pub plain: String,
}

/// Finds and decodes blobs in `text`; only plaintexts that look like text
/// are returned.
#[cfg(test)]
pub(crate) fn find(text: &str) -> Vec<Blob> {
    find_in(text, text.is_ascii())
}

/// [`find`] for a text the caller already knows to be ASCII or not (the
/// scanner's view does): Braille needs non-ASCII bytes.
pub(crate) fn find_in(text: &str, ascii: bool) -> Vec<Blob> {
    let mut out = Vec::new();
    let mut walk = Walk::default();
    screen::regions(text.as_bytes(), |r| walk.blocks(text, r, &mut out));
    if !ascii {
        spelled::braille(text, &mut out);
    }
    out
}

/// How many blobs `find` decodes in `text` (for the benchmarks).
#[doc(hidden)]
pub fn bench_find(text: &str) -> usize {
    find_in(text, text.is_ascii()).len()
}

/// The block walk: aligned blocks are visited once, in order. A maximal
/// run is grown and decoded once per alphabet (a later block inside it
/// belongs to the same run), and blocks inside a found blob are skipped.
/// So what is found depends only on which runs have a visited block, not
/// on which other blocks are visited.
#[derive(Default)]
struct Walk {
    next: usize,
    done: usize,
    grown: [usize; ALPHABETS.len()],
}

impl Walk {
    fn blocks(
        &mut self,
        text: &str,
        starts: std::ops::Range<usize>,
        out: &mut Vec<Blob>,
    ) -> ControlFlow<()> {
        let bytes = text.as_bytes();
        let mut at = starts.start.max(self.next).next_multiple_of(STRIDE);
        while at < starts.end && at + STRIDE <= bytes.len() {
            if out.len() >= MAX_BLOBS {
                return ControlFlow::Break(());
            }
            if at >= self.done {
                self.block(text, at, out);
            }
            at += STRIDE;
        }
        self.next = self.next.max(at);
        ControlFlow::Continue(())
    }

    /// Grows the block at `at` to a run of each alphabet it belongs to and
    /// keeps the first run that decodes to text.
    fn block(&mut self, text: &str, at: usize, out: &mut Vec<Blob>) {
        let bytes = text.as_bytes();
        let Some(block) = bytes.get(at..).and_then(<[u8]>::first_chunk::<STRIDE>) else {
            return;
        };
        let classes = block_classes(block);
        for (bit, grown) in ALPHABETS.into_iter().zip(self.grown.iter_mut()) {
            if classes & bit == 0 || at < *grown {
                continue;
            }
            let (start, end) = grow(bytes, at, bit);
            *grown = end;
            if end - start < MIN_BLOB {
                continue;
            }
            let blob = match bit {
                UU_BIT => uu::decode(text, start),
                _ => text
                    .get(start..end)
                    .and_then(|run| decode_run(run, start, bit)),
            };
            if let Some(blob) = blob.filter(|b| looks_like_text(&b.plain)) {
                self.done = blob.end;
                out.push(blob);
                return;
            }
        }
    }
}

fn decode_run(run: &str, offset: usize, bit: u8) -> Option<Blob> {
    // Morse letters may start or end with a dash; other alphabets are
    // often fenced by `--` or `/`.
    let fence: &[char] = if bit == MORSE_BIT {
        &[' ', '/']
    } else {
        &[' ', '-', '/']
    };
    let tail = run.trim_start_matches(fence);
    let lead = run.len() - tail.len();
    let trimmed = tail.trim_end_matches(fence);
    if trimmed.len() < MIN_BLOB || trimmed.len() > MAX_BLOB {
        return None;
    }
    let (encoding, plain) = match bit {
        MORSE_BIT => (Encoding::Morse, spelled::morse_decode(trimmed)?),
        A85_BIT => (Encoding::Ascii85, base::ascii85_decode(trimmed)?),
        _ => base::dense_decode(trimmed)?,
    };
    Some(Blob {
        encoding,
        start: offset + lead,
        end: offset + lead + trimmed.len(),
        plain,
    })
}

/// Mostly printable ASCII with spaces: worth rescanning.
fn looks_like_text(s: &str) -> bool {
    let total = s.chars().count();
    if total < 8 {
        return false;
    }
    let printable = s
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ' || *c == '\n')
        .count();
    let spaces = s.chars().filter(|&c| c == ' ').count();
    printable * 100 >= total * 90 && spaces >= 1
}
