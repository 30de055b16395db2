//! Finds where a JSON object or array ends without parsing it, 64 bytes at a time.
//!
//! Most of a Spotify page is skipped (`available_markets`, `images`, URLs), so this runs over
//! more bytes than any other part of decoding. A block of 64 bytes becomes four bit masks
//! (quotes, backslashes, opening and closing brackets); the bits inside strings are removed
//! with a prefix XOR of the quote mask, as simdjson does, and a block whose closing brackets
//! cannot bring the depth to zero is passed over whole. Blocks holding a backslash, and the tail
//! of the line, go byte by byte. The same 16-byte masks find where a string's plain run ends.
//!
//! Skipping still checks what it passes over inside strings: a raw control character (a fifth
//! mask) or a bad escape gives up. The structure between strings is only counted, not checked.

use super::scan::GiveUp;

const BLOCK: usize = 64;

/// The bytes of one block that matter while skipping, one bit per byte.
#[derive(Debug, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
    /// Bytes below 0x20, which JSON allows only escaped inside strings.
    control: u64,
}

/// Nesting and string state carried from one block to the next.
#[derive(Debug, Default)]
struct State {
    depth: u64,
    in_string: bool,
}

/// The index just past the object or array that starts at `bytes[start]`, or [`GiveUp`] when
/// the line ends first.
pub fn container_end(bytes: &[u8], start: usize) -> Result<usize, GiveUp> {
    let mut state = State::default();
    let mut i = start;
    while let Some(block) = bytes.get(i..).and_then(<[u8]>::first_chunk::<BLOCK>) {
        let masks = masks(block);
        let step = if masks.backslash == 0 {
            match state.block(&masks)? {
                Some(at) => Step::Ended(i + at + 1),
                None => Step::Continue(i + BLOCK),
            }
        } else {
            state.bytes(bytes, i, i + BLOCK)?
        };
        match step {
            Step::Ended(end) => return Ok(end),
            Step::Continue(next) => i = next,
        }
    }
    match state.bytes(bytes, i, bytes.len())? {
        Step::Ended(end) => Ok(end),
        Step::Continue(_) => Err(GiveUp),
    }
}

enum Step {
    /// The container ends just before this index.
    Ended(usize),
    /// Not yet; go on from this index.
    Continue(usize),
}

impl State {
    /// Walks a block without backslashes: the offset of the closing bracket, if it is there.
    fn block(&mut self, masks: &Masks) -> Result<Option<usize>, GiveUp> {
        let carry = if self.in_string { u64::MAX } else { 0 };
        let strings = prefix_xor(masks.quote) ^ carry;
        if masks.control & strings != 0 {
            return Err(GiveUp);
        }
        self.in_string = strings >> 63 == 1;
        let (open, close) = (masks.open & !strings, masks.close & !strings);
        if u64::from(close.count_ones()) < self.depth {
            self.depth = self.depth + u64::from(open.count_ones()) - u64::from(close.count_ones());
            return Ok(None);
        }
        let mut brackets = open | close;
        while brackets != 0 {
            let at = brackets.trailing_zeros();
            let bit = 1u64 << at;
            if open & bit != 0 {
                self.depth += 1;
            } else {
                self.depth -= 1;
                if self.depth == 0 {
                    return Ok(Some(at as usize));
                }
            }
            brackets &= brackets - 1;
        }
        Ok(None)
    }

    /// Walks `bytes[from..to]` one byte at a time, checking escapes and control characters in
    /// strings. An escape at the end steps past `to`.
    fn bytes(&mut self, bytes: &[u8], from: usize, to: usize) -> Result<Step, GiveUp> {
        let mut i = from;
        while i < to {
            let b = bytes[i];
            if self.in_string {
                match b {
                    b'\\' => i += escape_len(bytes, i)? - 1,
                    b'"' => self.in_string = false,
                    0..0x20 => return Err(GiveUp),
                    _ => {}
                }
            } else {
                match b {
                    b'"' => self.in_string = true,
                    b'{' | b'[' => self.depth += 1,
                    b'}' | b']' => {
                        self.depth -= 1;
                        if self.depth == 0 {
                            return Ok(Step::Ended(i + 1));
                        }
                    }
                    _ => {}
                }
            }
            i += 1;
        }
        Ok(Step::Continue(i))
    }
}

/// The length of the escape at `bytes[at]` (a backslash): `\"`, `\\`, `\/`, `\b`, `\f`, `\n`,
/// `\r`, `\t`, or `\u` and four hex digits. Anything else is not JSON.
#[inline]
pub fn escape_len(bytes: &[u8], at: usize) -> Result<usize, GiveUp> {
    match bytes.get(at + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(2),
        Some(b'u') if bytes.get(at + 2..at + 6).is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) => Ok(6),
        _ => Err(GiveUp),
    }
}

/// Bit `j` of the result is the XOR of bits `0..=j`: set from an opening quote up to, not
/// including, its closing quote.
fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

/// The index of the first quote, backslash or control character at or after `from`: where a
/// string's plain run ends. Most strings are short keys and ids, which one 16-byte chunk answers.
#[inline]
pub fn string_stop(bytes: &[u8], from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<16>) {
        let [quote, backslash, _, _, control] = classes(chunk);
        match quote | backslash | control {
            0 => at += 16,
            found => return Some(at + found.trailing_zeros() as usize),
        }
    }
    bytes.get(at..)?.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20).map(|i| at + i)
}

fn masks(block: &[u8; BLOCK]) -> Masks {
    let mut masks = Masks::default();
    for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
        let [quote, backslash, open, close, control] = classes(chunk).map(|bits| u64::from(bits) << (16 * k));
        masks.quote |= quote;
        masks.backslash |= backslash;
        masks.open |= open;
        masks.close |= close;
        masks.control |= control;
    }
    masks
}

/// One bit per byte of `chunk` for quotes, backslashes, opening and closing brackets, and
/// control characters (below 0x20).
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn classes(chunk: &[u8; 16]) -> [u16; 5] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: the build enables SSE2 (the cfg above), and `chunk` is 16 readable bytes, which
    // is all an unaligned load needs.
    let masks = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        // '[' and ']' differ from '{' and '}' only in bit 0x20.
        let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
        [
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8))),
            _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8))),
            _mm_movemask_epi8(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8))),
            _mm_movemask_epi8(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8))),
            // Unsigned `b <= 0x1f`: the byte is its maximum with 0x1f.
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f))),
        ]
    };
    masks.map(|mask| mask as u16)
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn classes(chunk: &[u8; 16]) -> [u16; 5] {
    portable_classes(chunk)
}

#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn portable_classes(chunk: &[u8; 16]) -> [u16; 5] {
    let mut classes = [0u16; 5];
    for (j, &b) in chunk.iter().enumerate() {
        let class = match b {
            b'"' => 0,
            b'\\' => 1,
            b'{' | b'[' => 2,
            b'}' | b']' => 3,
            0..0x20 => 4,
            _ => continue,
        };
        classes[class] |= 1 << j;
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain byte-by-byte walk, as the reference.
    fn reference_end(bytes: &[u8], start: usize) -> Result<usize, GiveUp> {
        match State::default().bytes(bytes, start, bytes.len())? {
            Step::Ended(end) => Ok(end),
            Step::Continue(_) => Err(GiveUp),
        }
    }

    #[test]
    fn classes_match_the_portable_ones_for_every_byte() {
        let bytes: Vec<u8> = (0..=255u8).collect();
        for chunk in bytes.chunks_exact(16) {
            let chunk = chunk.first_chunk::<16>().unwrap();
            assert_eq!(classes(chunk), portable_classes(chunk));
        }
        let block = bytes[64..128].first_chunk::<BLOCK>().unwrap();
        let masks = masks(block);
        let bit = |b: u8| 1u64 << (b - 64);
        assert_eq!((masks.open, masks.close), (bit(b'[') | bit(b'{'), bit(b']') | bit(b'}')));
        assert_eq!((masks.backslash, masks.quote), (bit(b'\\'), 0));
        let low = masks_of(&bytes[0..64]);
        assert_eq!(low.control, (1u64 << 32) - 1, "0x00 to 0x1f are control characters");
    }

    fn masks_of(bytes: &[u8]) -> Masks {
        masks(bytes.first_chunk::<BLOCK>().unwrap())
    }

    #[test]
    fn control_characters_and_bad_escapes_inside_skipped_strings_give_up_wherever_they_are() {
        let markets: String = (0..30).map(|i| format!("\"M{i}\",")).collect();
        for bad in ["\u{1}", "\t", "\\x", "\\u12g4", "\\u+041"] {
            for pad in 0..BLOCK + 3 {
                // Markets after it too, so the bad string sits in whole blocks as well as the tail.
                let line = format!("{}[{markets}\"a{bad}b\",{markets}1] ,\"next\":1}}", " ".repeat(pad));
                assert_eq!(container_end(line.as_bytes(), pad), Err(GiveUp), "pad {pad}: {line:?}");
                assert_eq!(reference_end(line.as_bytes(), pad), Err(GiveUp), "pad {pad}: {line:?}");
            }
        }
        // Outside strings, tabs are whitespace; inside, escapes of every kind are fine.
        let good = format!("[\t{markets}\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\"]");
        assert_eq!(container_end(good.as_bytes(), 0), Ok(good.len()));
    }

    #[test]
    fn string_ends_are_found_wherever_they_are() {
        for len in 0..40 {
            for end in [b'"', b'\\', 0x01, b'\n'] {
                let mut line = vec![b'a'; len];
                line.push(end);
                line.extend_from_slice(b"tail\"x");
                for from in 0..=len {
                    assert_eq!(string_stop(&line, from), Some(len), "len {len} from {from}");
                }
            }
        }
        assert_eq!(string_stop(&[b'a'; 40], 3), None);
        assert_eq!(string_stop(b"ab", 3), None);
    }

    #[test]
    fn prefix_xor_marks_the_inside_of_strings() {
        // Quotes at 1 and 4: bits 1, 2, 3 are inside.
        assert_eq!(prefix_xor(0b1_0010), 0b0_1110);
    }

    #[test]
    fn ends_where_the_byte_walk_ends_across_block_edges() {
        let markets: String = (0..40).map(|i| format!("\"M{i}\",")).collect();
        let pieces = [
            format!(r#"{{"available_markets":[{markets}"XX"],"images":[{{"url":"https://i/x","h":64}}]}}"#),
            format!(r#"["a\"]\\",{{"x":"}}{{[\\\"\\\\"}},[[[[]]]],{markets}"z"]"#),
            r#"{"deep":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#.to_owned(),
            format!(r#"{{"s":"{}\\"}}"#, "x".repeat(62)),
        ];
        for piece in &pieces {
            // Every start offset puts the brackets, quotes and escapes at every block position.
            for pad in 0..BLOCK + 3 {
                let line = format!("{}{piece} ,\"next\":1}}", " ".repeat(pad));
                let expected = reference_end(line.as_bytes(), pad);
                assert_eq!(expected, Ok(pad + piece.len()), "reference on {line}");
                assert_eq!(container_end(line.as_bytes(), pad), expected, "pad {pad}: {line}");
            }
        }
    }

    #[test]
    fn gives_up_when_the_line_ends_inside() {
        let long = format!(r#"{{"a":["{}"#, "x".repeat(200));
        for bad in [&b"[1,2"[..], b"{\"a\":\"x", b"[\"]\"", long.as_bytes()] {
            assert_eq!(container_end(bad, 0), Err(GiveUp), "{}", String::from_utf8_lossy(bad));
        }
    }
}
