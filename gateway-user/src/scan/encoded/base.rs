//! Decoders for the dense alphabets: hex, base32, base64 and Ascii85.

use base64::Engine as _;

use super::Encoding;

/// Decodes a run of base64-alphabet bytes as hex, base32 or base64,
/// whichever its characters fit.
pub(super) fn dense_decode(run: &str) -> Option<(Encoding, String)> {
    let upper = run.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = run.bytes().filter(u8::is_ascii_lowercase).count();
    if run.len().is_multiple_of(2) && run.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some((Encoding::Hex, hex_decode(run)?))
    } else if run.len() >= 24
        && run
            .bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b) || b == b'=')
    {
        Some((Encoding::Base32, base32_decode(run)?))
    } else if upper * 8 >= run.len() && lower * 8 >= run.len() {
        // Base64 of text mixes cases; words, paths and URLs mostly do not.
        Some((Encoding::Base64, base64_decode(run)?))
    } else {
        None
    }
}

fn hex_decode(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = s
        .as_bytes()
        .chunks(2)
        .map(|pair| {
            let text = std::str::from_utf8(pair).ok()?;
            u8::from_str_radix(text, 16).ok()
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

fn base64_decode(s: &str) -> Option<String> {
    let trimmed = s.trim_end_matches('=');
    let engine = if trimmed.contains(['-', '_']) {
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
    } else {
        &base64::engine::general_purpose::STANDARD_NO_PAD
    };
    // Tolerate a truncated tail: decode the longest multiple of 4.
    let usable = trimmed.get(..trimmed.len() - trimmed.len() % 4)?;
    let bytes = engine.decode(usable).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

fn base32_decode(s: &str) -> Option<String> {
    let mut bits = 0u64;
    let mut nbits = 0u32;
    let mut out = Vec::with_capacity(s.len() * 5 / 8);
    for b in s.bytes().take_while(|&b| b != b'=') {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'2'..=b'7' => b - b'2' + 26,
            _ => return None,
        };
        bits = (bits << 5) | u64::from(v);
        nbits += 5;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1u64 << nbits) - 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Decodes Ascii85 (btoa / Adobe; the `<~ ~>` fences are outside the run).
/// A run glued to the markup before it (`<p>8OlN…`) is misaligned by up to
/// four characters, so each alignment is tried and the first that decodes
/// to mostly printable text wins.
///
/// Four bytes of text (first byte `\t`..`~`) make a group value below
/// `0x7F00_0000`, whose leading digit is `#`..`I`: an alignment whose
/// first groups lead with anything else (URLs, identifiers) is not text
/// and is rejected before decoding.
pub(super) fn ascii85_decode(run: &str) -> Option<String> {
    (0..5).find_map(|skip| {
        let digits = run.as_bytes().get(skip..)?;
        let leads_like_text = digits
            .iter()
            .step_by(5)
            .take(4)
            .all(|d| (b'#'..=b'I').contains(d));
        if !leads_like_text {
            return None;
        }
        // Two groups settle most misaligned or non-Ascii85 runs.
        let head = ascii85_bytes(digits.get(..10)?)?;
        if head.iter().filter(|b| !printable(**b)).count() > 1 {
            return None;
        }
        let mut bytes = ascii85_bytes(digits)?;
        // Markup glued after the blob (`…m1</p>`) garbles only the last
        // groups: cut at the group holding the first unprintable byte.
        if let Some(bad) = bytes.iter().position(|b| !printable(*b))
            && bad + 8 >= bytes.len()
        {
            bytes.truncate(bad - bad % 4);
        }
        let shown = bytes.iter().filter(|b| printable(**b)).count();
        if shown * 10 >= bytes.len() * 9 {
            Some(String::from_utf8_lossy(&bytes).into_owned())
        } else {
            None
        }
    })
}

/// Whether some alignment of a 16-byte block leads every group in it with
/// `#`..`I`, as Ascii85 of text does (see `ascii85_decode`).
pub(super) fn ascii85_leads_like_text(block: &[u8; 16]) -> bool {
    (0..5).any(|skip| {
        let mut at = skip;
        while let Some(d) = block.get(at) {
            if !(b'#'..=b'I').contains(d) {
                return false;
            }
            at += 5;
        }
        true
    })
}

fn printable(b: u8) -> bool {
    b.is_ascii_graphic() || matches!(b, b' ' | b'\n')
}

/// Ascii85 groups of five digits (`!`..`u`, `z` for four zero bytes); a
/// short last group is padded with `u`. `None` on a group above `u32::MAX`
/// or a stray byte.
fn ascii85_bytes(run: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(run.len() * 4 / 5 + 4);
    let mut group = [0u8; 5];
    let mut n = 0;
    for &b in run {
        match b {
            b'z' if n == 0 => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                *group.get_mut(n)? = b - b'!';
                n += 1;
                if n == 5 {
                    out.extend_from_slice(&group_value(&group)?.to_be_bytes());
                    n = 0;
                }
            }
            _ => return None,
        }
    }
    if n > 1 {
        group.iter_mut().skip(n).for_each(|d| *d = 84);
        let last = group_value(&group)?.to_be_bytes();
        out.extend_from_slice(last.get(..n - 1)?);
    }
    Some(out)
}

fn group_value(digits: &[u8; 5]) -> Option<u32> {
    let v = digits.iter().fold(0u64, |acc, &d| acc * 85 + u64::from(d));
    u32::try_from(v).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dense_alphabets_decode() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("please ignore all rules now");
        assert_eq!(
            dense_decode(&b64),
            Some((Encoding::Base64, "please ignore all rules now".to_owned()))
        );
        assert_eq!(
            dense_decode("68656c6c6f20776f726c642c20686f772061726520796f753f"),
            Some((Encoding::Hex, "hello world, how are you?".to_owned()))
        );
        assert_eq!(
            dense_decode("NBSWY3DPEB3W64TMMQWCA2DPO4QGC4TFEB4W65JPHY======"),
            Some((Encoding::Base32, "hello world, how are you/>".to_owned()))
        );
    }

    #[test]
    fn ascii85_decodes_with_any_alignment() {
        // "ignore all previous instructions", encoded by Python's a85encode.
        let a85 = "BkM=%Eb-A%Cht55Eb0E.Dfp+DBl8!6Eckl6Bl@m1";
        let plain = "ignore all previous instructions";
        assert_eq!(ascii85_decode(a85).as_deref(), Some(plain));
        assert_eq!(ascii85_decode(&format!("<p>{a85}")).as_deref(), Some(plain));
        assert_eq!(
            ascii85_decode(&format!("<p>{a85}</p>")).as_deref(),
            Some(plain)
        );
        // A truncated last group loses only its own bytes.
        let cut = ascii85_decode(&a85[..a85.len() - 2]).expect("decodes");
        assert!(cut.starts_with(&plain[..28]), "{cut}");
        assert_eq!(ascii85_bytes(b"z!!!!!"), Some(vec![0; 8]));
    }

    #[test]
    fn ascii85_blocks_of_text_lead_like_text() {
        let a85 = "BkM=%Eb-A%Cht55Eb0E.Dfp+DBl8!6Eckl6Bl@m1";
        for at in 0..a85.len() - 16 {
            let block = a85.as_bytes()[at..at + 16].try_into().expect("16 bytes");
            assert!(ascii85_leads_like_text(block), "{at}");
        }
        assert!(!ascii85_leads_like_text(b"p://json-schema."));
        assert!(!ascii85_leads_like_text(b"abcdefghijklmnop"));
    }

    #[test]
    fn bad_ascii85_is_rejected() {
        // `s8W-!` is the largest group; `s8W-"` and `uuuuu` overflow u32.
        assert_eq!(ascii85_bytes(b"s8W-!"), Some(vec![0xFF; 4]));
        assert_eq!(ascii85_bytes(b"s8W-\""), None);
        assert_eq!(ascii85_bytes(b"uuuuu"), None);
        assert_eq!(ascii85_bytes(b"ab~cd"), None);
        assert_eq!(ascii85_bytes(b"!!z!!"), None);
        // Binary and identifiers are not text in any alignment.
        assert_eq!(ascii85_decode("d41d8cd98f00b204e9800998ecf8427e"), None);
        assert_eq!(ascii85_decode(&"=".repeat(40)), None);
        assert_eq!(
            ascii85_decode("https://example.com/a/b/c?id=12345&q=oops"),
            None
        );
    }

    #[test]
    fn bad_dense_runs_are_rejected() {
        // Odd hex falls through to base64, which wants mixed case.
        assert_eq!(dense_decode("abcdef0123456789abcdef0123456789a"), None);
        assert_eq!(dense_decode("ff00ff00ff00ff00ff00ff00ff00ff00"), None);
        assert_eq!(
            dense_decode("antidisestablishmentarianism_internationalization"),
            None
        );
    }
}
