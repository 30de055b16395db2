//! The skipper against a plain byte-by-byte walk and the portable masks, on placed and random input.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::grammar::MAX_INTEGER_DIGITS;
use super::masks::{classes, masks_by_chunk, portable_classes};
use super::*;

fn new_walk() -> Walk {
    Walk { expect: expect::START, depth: 0, objects: 0, in_string: false, scalar_end: 0, high: false }
}

/// The plain byte-by-byte walk, as the reference.
fn reference_end(bytes: &[u8], start: usize) -> Result<usize, GiveUp> {
    let mut walk = new_walk();
    match walk.bytes(bytes, start, bytes.len())? {
        Step::Ended(end) if !walk.high || std::str::from_utf8(&bytes[start..end]).is_ok() => Ok(end),
        _ => Err(GiveUp),
    }
}

/// Thirty short strings: enough to put what follows them into whole blocks.
fn markets() -> String {
    (0..30).map(|i| format!("\"M{i}\",")).collect()
}

/// What follows the container in the lines `placed` makes.
const AFTER: &str = " ,\"next\":1}";

/// `piece` inside an array, after and before enough strings to fill whole blocks, at every
/// offset from the start of a block.
fn placed(piece: &[u8]) -> impl Iterator<Item = (usize, Vec<u8>)> {
    let markets = markets();
    (0..BLOCK + 3).map(move |pad| {
        let mut line = " ".repeat(pad).into_bytes();
        line.extend_from_slice(format!("[{markets}").as_bytes());
        line.extend_from_slice(piece);
        line.extend_from_slice(format!(",{markets}1]{AFTER}").as_bytes());
        (pad, line)
    })
}

#[test]
fn classes_match_the_portable_ones_for_every_byte() {
    let bytes: Vec<u8> = (0..=255u8).collect();
    for chunk in bytes.chunks_exact(16) {
        let chunk = chunk.first_chunk::<16>().unwrap();
        assert_eq!(classes(chunk), portable_classes(chunk));
    }
    let block = bytes[64..128].first_chunk::<BLOCK>().unwrap();
    let middle = masks(block);
    let bit = |b: u8| 1u64 << (b - 64);
    assert_eq!((middle.open, middle.close), (bit(b'[') | bit(b'{'), bit(b']') | bit(b'}')));
    assert_eq!((middle.backslash, middle.quote, middle.high), (bit(b'\\'), 0, 0));
    let low = masks(bytes[0..64].first_chunk::<BLOCK>().unwrap());
    assert_eq!(low.control, (1u64 << 32) - 1, "0x00 to 0x1f are control characters");
    assert_eq!(low.whitespace, 1 << b' ' | 1 << b'\t' | 1 << b'\n' | 1 << b'\r');
    assert_eq!((low.comma, low.colon), (1 << b',', 1 << b':'));
    assert_eq!(masks(bytes[128..192].first_chunk::<BLOCK>().unwrap()).high, u64::MAX);
}

#[test]
fn block_masks_match_the_masks_of_their_chunks() {
    let mut rng = StdRng::seed_from_u64(64);
    for _ in 0..2_000 {
        let block: [u8; BLOCK] = std::array::from_fn(|_| match rng.random_range(0..3) {
            0 => *b"\"\\{}[],: \t\n\r\x01\x80\xff".choose(&mut rng).unwrap_or(&0),
            _ => rng.random(),
        });
        assert_eq!(masks(&block), masks_by_chunk(&block), "{block:?}");
    }
}

#[test]
fn what_is_not_json_inside_a_skipped_container_gives_up_wherever_it_is() {
    let deep = format!("{}{}", "[".repeat(MAX_DEPTH as usize), "]".repeat(MAX_DEPTH as usize));
    let bad: Vec<&[u8]> = vec![
        // Inside strings: raw control characters, bad escapes, bytes that are not UTF-8.
        b"\"a\x01b\"",
        b"\"a\tb\"",
        b"\"a\\xb\"",
        b"\"\\u12g4\"",
        b"\"\\u+041\"",
        b"\"\\ud83c\"",
        b"\"\\udfb5\\ud83c\"",
        b"\"\\ud83c\\u0041\"",
        b"\"a\xffb\"",
        b"\"\xc0\xaf\"",
        b"\"\xed\xa0\x80\"",
        b"\"\xe2\x82\"",
        // Structure.
        b"[1 2]",
        b"{\"a\" 1}",
        b"{\"a\":1,}",
        b"[1,]",
        b"[,1]",
        b"{\"a\":1 \"b\":2}",
        b"[}",
        b"{]",
        b"{\"a\":1]",
        b"[1}",
        b"{\"a\"}",
        b"{1:2}",
        b"[1:2]",
        b"[\"a\":1]",
        b"{\"a\"::1}",
        b"[\"a\" \"b\"]",
        b"[[]{}]",
        b"{\"a\":{}\"b\":1}",
        // Between strings in an array with no whitespace, which goes by bit operations.
        b"\"a\"\"b\"",
        b"\"a\",,\"b\"",
        b"\"a\"1",
        b"1\"a\"",
        b"\"a\",1,,2",
        // Scalars.
        b"[tru]",
        b"[truex]",
        b"[true-]",
        b"[1-]",
        b"[01]",
        b"[1.]",
        b"[\"a\"x]",
        b"[\x0b]",
        b"[\xc3\xa9]",
        b"[NaN]",
        b"[+1]",
    ];
    for (pad, line) in placed(deep.as_bytes()) {
        // Valid, but deeper than the walk follows: the strict reader decides.
        assert_eq!(container_end(&line, pad), Err(GiveUp), "pad {pad}");
    }
    for piece in bad {
        for (pad, line) in placed(piece) {
            let shown = String::from_utf8_lossy(piece);
            assert_eq!(container_end(&line, pad), Err(GiveUp), "pad {pad}: {shown}");
            assert_eq!(reference_end(&line, pad), Err(GiveUp), "pad {pad}: {shown}");
            assert!(
                serde_json::from_slice::<serde_json::Value>(&line[pad..line.len() - AFTER.len()]).is_err(),
                "{shown}"
            );
        }
    }
}

#[test]
fn json_inside_a_skipped_container_ends_where_the_byte_walk_ends() {
    let nested = format!("{}{}", "[".repeat(MAX_DEPTH as usize - 2), "]".repeat(MAX_DEPTH as usize - 2));
    let long_number = format!("-{}.{}", "9".repeat(70), "1".repeat(70));
    let good: Vec<&[u8]> = vec![
        b"\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83c\\udfb5\\uFFFF\"",
        b"{\"x\":\"}{[\\\"\\\\\"},[[[[]]]]",
        b"\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xb5\"",
        b"{ \"a\" :\t1 ,\r\n\"b\" : [ true , false , null , -0.5 , {} , [ ] ] }",
        b"[0,-0,12,1.5,0.000001]",
        nested.as_bytes(),
        long_number.as_bytes(),
    ];
    for piece in good {
        for (pad, line) in placed(piece) {
            let expected = reference_end(&line, pad);
            assert_eq!(
                expected,
                Ok(line.len() - AFTER.len()),
                "reference, pad {pad}: {}",
                String::from_utf8_lossy(piece)
            );
            assert_eq!(container_end(&line, pad), expected, "pad {pad}: {}", String::from_utf8_lossy(piece));
        }
    }
}

#[test]
fn whatever_it_accepts_serde_json_accepts_too() {
    let seed = format!(
        r#"{{"images":[{{"url":"https://i.scdn.co/image/ab67","height":640,"width":null}}],"markets":[{}"ZW",12,true],"name":"Caf\u00e9 \"live\"","ok":[true,false,-1.5,{{"k":[]}}],"x":"d\u00e9j\u00e0 \u20ac"}}"#,
        markets()
    );
    let alphabet = b"{}[],:\" \\tfnrue0123456789.-+eE\x01\x7f\xc3\xa9\xff";
    let mut rng = StdRng::seed_from_u64(17);
    let (mut accepted, mut tried) = (0, 0);
    for _ in 0..20_000 {
        let mut line = seed.as_bytes().to_vec();
        for _ in 0..rng.random_range(1..4) {
            let at = rng.random_range(0..line.len());
            match rng.random_range(0..3) {
                0 => line[at] = alphabet[rng.random_range(0..alphabet.len())],
                1 => line.insert(at, alphabet[rng.random_range(0..alphabet.len())]),
                _ => drop(line.remove(at)),
            }
        }
        if line.first() != Some(&b'{') {
            continue;
        }
        tried += 1;
        let end = container_end(&line, 0);
        assert_eq!(end, reference_end(&line, 0), "{}", String::from_utf8_lossy(&line));
        if let Ok(end) = end {
            accepted += 1;
            let strict = serde_json::from_slice::<serde_json::Value>(&line[..end]);
            assert!(strict.is_ok(), "accepted what serde_json refuses: {}", String::from_utf8_lossy(&line));
        } else if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&line) {
            // The seed is shallow: the only valid JSON left to the strict reader is a number
            // with an exponent.
            let exponent = line.windows(2).any(|w| w[0].is_ascii_digit() && matches!(w[1], b'e' | b'E'));
            assert!(exponent, "gave up on valid JSON {value}");
        }
    }
    assert!(accepted > tried / 20 && accepted < tried, "{accepted} of {tried} mutants accepted");
}

#[test]
fn string_ends_are_found_wherever_they_are() {
    for len in 0..40 {
        for end in [b'"', b'\\', 0x01, b'\n'] {
            let mut line = vec![b'a'; len];
            line.push(end);
            line.extend_from_slice("tail\u{e9}\"x".as_bytes());
            for from in 0..=len {
                assert_eq!(string_stop(&line, from), Some((len, false)), "len {len} from {from}");
            }
            line[0] = 0xc3;
            if len > 0 {
                assert_eq!(string_stop(&line, 0), Some((len, true)), "non-ASCII before the end, len {len}");
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
fn gives_up_when_the_line_ends_inside() {
    let long = format!(r#"{{"a":["{}"#, "x".repeat(200));
    for bad in [&b"[1,2"[..], b"{\"a\":\"x", b"[\"]\"", b"[1", long.as_bytes()] {
        assert_eq!(container_end(bad, 0), Err(GiveUp), "{}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn scalars_follow_the_json_grammar_and_end_where_a_value_may() {
    for good in ["0", "-0", "12", "1.5", "-2.25", "true", "false", "null"] {
        for end in ["", ",", "}", "]", " ", "\n"] {
            let text = format!("{good}{end}");
            assert_eq!(scalar_end(text.as_bytes(), 0), Ok(good.len()), "{text}");
        }
    }
    // Valid JSON the strict reader must judge: serde_json refuses what is infinite as an f64.
    let huge = "9".repeat(MAX_INTEGER_DIGITS + 1);
    for strict in ["-2e3", "6.02E+23", "1e-7", "1e400", &huge] {
        assert_eq!(scalar_end(strict.as_bytes(), 0), Err(GiveUp), "{strict}");
    }
    // The last two are a number running into the next key: `{"x":1"offset":5}`.
    for bad in
        ["01", "1.", ".5", "1e", "-", "+1", "tru", "nul", "truex", "true\"", "NaN", "1x", r#"1"offset":5"#, "1.5.2"]
    {
        assert_eq!(scalar_end(bad.as_bytes(), 0), Err(GiveUp), "{bad}");
    }
}
