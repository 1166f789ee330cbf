//! The text the literal engine searches: an ASCII-lowercased copy, and for
//! non-ASCII input one pass of NFKC, confusable folding and zero-width
//! removal, with a byte map back to the original text.

use unicode_normalization::{
    IsNormalized, UnicodeNormalization, char::canonical_combining_class, is_nfkc_quick,
};

/// The searchable view of one text.
#[derive(Debug, Default)]
pub(crate) struct View {
    /// Lowercased (and for non-ASCII input, normalized) bytes; valid UTF-8.
    pub lower: Vec<u8>,
    /// Where the bytes of `lower` came from, as pieces sorted by view
    /// offset; `None` when the input was ASCII (the map is the identity).
    map: Option<Vec<Piece>>,
}

impl View {
    /// Whether the input was pure ASCII (the view is its lowercase copy).
    pub fn is_ascii(&self) -> bool {
        self.map.is_none()
    }
}

/// A stretch of the view starting at view byte `view`: either an ASCII run
/// copied from original byte `orig` on (`identity`), or one normalized unit
/// whose bytes all come from the original span `orig..orig_end`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    view: u32,
    orig: u32,
    orig_end: u32,
    identity: bool,
}

impl Piece {
    fn span_of(&self, at: usize) -> (usize, usize) {
        if self.identity {
            let o = self.orig as usize + at.saturating_sub(self.view as usize);
            (o, o + 1)
        } else {
            (self.orig as usize, self.orig_end as usize)
        }
    }
}

fn piece_at(map: &[Piece], at: usize) -> Option<&Piece> {
    let idx = map.partition_point(|p| p.view as usize <= at);
    idx.checked_sub(1).and_then(|i| map.get(i))
}

impl View {
    /// Builds the view of `text`.
    pub fn new(text: &str) -> Self {
        let mut lower = take_buffer();
        if super::lowercase::lowercase_ascii(text.as_bytes(), &mut lower) {
            return Self { lower, map: None };
        }
        give_back(lower);
        normalize(text)
    }

    /// Maps a span of `lower` back to a span of the original text (on char
    /// boundaries). Out-of-range input is clamped.
    pub fn to_original(&self, start: usize, end: usize, original_len: usize) -> (usize, usize) {
        match &self.map {
            None => (start.min(original_len), end.min(original_len)),
            Some(map) => {
                let first = if start < self.lower.len() {
                    piece_at(map, start).map_or(original_len, |p| p.span_of(start).0)
                } else {
                    original_len
                };
                let last = end
                    .checked_sub(1)
                    .filter(|&i| i < self.lower.len())
                    .and_then(|i| piece_at(map, i).map(|p| p.span_of(i).1))
                    .map_or(first, |e| e.max(first));
                (first.min(original_len), last.min(original_len))
            }
        }
    }
}

impl Drop for View {
    fn drop(&mut self) {
        give_back(std::mem::take(&mut self.lower));
    }
}

/// Largest buffer kept for reuse per thread.
const KEEP_BUFFER: usize = 4 << 20;

thread_local! {
    /// One reusable lowercase buffer per thread: large views would otherwise
    /// cost a fresh mapping (and its page faults) per scan.
    static BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

fn take_buffer() -> Vec<u8> {
    let mut buf = BUFFER.with(std::cell::Cell::take);
    buf.clear();
    buf
}

fn give_back(buf: Vec<u8>) {
    if buf.capacity() <= KEEP_BUFFER {
        BUFFER.with(|cell| {
            let current = cell.take();
            cell.set(if current.capacity() >= buf.capacity() {
                current
            } else {
                buf
            });
        });
    }
}

/// Characters removed before matching: zero-width, invisible operators,
/// bidi controls, tag characters, variation selectors, soft hyphen.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F | 0x1160 | 0x17B4 | 0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF9..=0xFFFB | 0x1D173..=0x1D17A | 0xE0000..=0xE0FFF)
}

/// Folds common Cyrillic, Greek and other look-alikes onto Latin letters.
pub(crate) fn fold_confusable(c: char) -> char {
    match c {
        'а' | 'А' | 'α' | 'Α' => 'a',
        'в' | 'В' | 'β' | 'Β' | 'ь' => 'b',
        'с' | 'С' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'ё' | 'Ё' | 'ε' | 'Ε' => 'e',
        'һ' | 'Һ' | 'Н' | 'Η' => 'h',
        'і' | 'І' | 'ι' | 'Ι' | 'ı' | 'ӏ' | 'Ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'к' | 'К' | 'κ' | 'Κ' => 'k',
        'М' | 'Μ' => 'm',
        'ո' | 'Ν' => 'n',
        'о' | 'О' | 'ο' | 'Ο' | 'օ' | 'σ' => 'o',
        'р' | 'Р' | 'ρ' | 'Ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' | 'Ѕ' => 's',
        'т' | 'Т' | 'τ' | 'Τ' => 't',
        'υ' | 'ս' => 'u',
        'ν' | 'ѵ' | 'Ѵ' => 'v',
        'ԝ' | 'ѡ' => 'w',
        'х' | 'Х' | 'χ' | 'Χ' => 'x',
        'у' | 'У' | 'Υ' | 'γ' => 'y',
        'Ζ' => 'z',
        other => other,
    }
}

fn normalize(text: &str) -> View {
    let bytes = text.as_bytes();
    let mut lower = Vec::with_capacity(text.len() + text.len() / 4);
    let mut map: Vec<Piece> = Vec::new();
    let mut segment = String::new();
    let mut pos = 0;
    while pos < bytes.len() {
        // An ASCII run, copied in bulk (one map piece). Its last char joins
        // the next segment when a combining mark follows it.
        let rest = bytes.get(pos..).unwrap_or_default();
        let run_end = rest
            .iter()
            .position(|&b| b >= 0x80)
            .map_or(bytes.len(), |k| pos + k);
        let mut ascii_end = run_end;
        let next = text.get(run_end..).and_then(|t| t.chars().next());
        if ascii_end > pos && next.is_some_and(|n| canonical_combining_class(n) != 0) {
            ascii_end -= 1;
        }
        if ascii_end > pos {
            map.push(Piece {
                view: lower.len() as u32,
                orig: pos as u32,
                orig_end: ascii_end as u32,
                identity: true,
            });
            let run = bytes.get(pos..ascii_end).unwrap_or_default();
            lower.extend(run.iter().map(u8::to_ascii_lowercase));
            pos = ascii_end;
        }
        // A segment: one starter and the non-starters (and invisibles) after it.
        let Some(tail) = text.get(pos..) else { break };
        let mut chars = tail.char_indices().peekable();
        let Some((_, c)) = chars.next() else { break };
        segment.clear();
        let mut end = pos + c.len_utf8();
        if !is_invisible(c) {
            segment.push(c);
        }
        while let Some(&(i, n)) = chars.peek() {
            if canonical_combining_class(n) == 0 && !is_invisible(n) {
                break;
            }
            chars.next();
            end = pos + i + n.len_utf8();
            if !is_invisible(n) {
                segment.push(n);
            }
        }
        let view_start = lower.len();
        let mut emit = |ch: char| {
            let ch = fold_confusable(ch).to_ascii_lowercase();
            let mut buf = [0u8; 4];
            lower.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        };
        if is_nfkc_quick(segment.chars()) == IsNormalized::Yes {
            segment.chars().for_each(&mut emit);
        } else {
            segment.chars().nfkc().for_each(&mut emit);
        }
        if lower.len() > view_start {
            map.push(Piece {
                view: view_start as u32,
                orig: pos as u32,
                orig_end: end as u32,
                identity: false,
            });
        }
        pos = end;
    }
    View {
        lower,
        map: Some(map),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(text: &str) -> (String, View) {
        let v = View::new(text);
        (
            String::from_utf8(v.lower.clone()).expect("view is UTF-8"),
            v,
        )
    }

    #[test]
    fn ascii_is_lowercased_with_identity_map() {
        let (s, v) = view("IGNORE This");
        assert_eq!(s, "ignore this");
        assert_eq!(v.to_original(0, 6, 11), (0, 6));
    }

    #[test]
    fn fullwidth_and_math_letters_fold_to_ascii() {
        let (s, _) = view("ＩＧＮＯＲＥ 𝐩𝐫𝐞𝐯𝐢𝐨𝐮𝐬");
        assert_eq!(s, "ignore previous");
    }

    #[test]
    fn cyrillic_and_greek_lookalikes_fold() {
        let (s, _) = view("іgnоrе ΑLL");
        assert_eq!(s, "ignore all");
    }

    #[test]
    fn zero_width_is_removed_and_offsets_map_back() {
        let text = "é ig\u{200B}nore x";
        let (s, v) = view(text);
        assert_eq!(s, "é ignore x");
        let at = s.find("ignore").expect("found");
        let (a, b) = v.to_original(at, at + 6, text.len());
        assert_eq!(&text[a..b], "ig\u{200B}nore");
    }

    #[test]
    fn combining_marks_compose_and_map_to_the_whole_cluster() {
        let text = "cafe\u{301} ok";
        let (s, v) = view(text);
        assert_eq!(s, "café ok");
        let (a, b) = v.to_original(3, 5, text.len());
        assert_eq!(&text[a..b], "e\u{301}");
    }
}
