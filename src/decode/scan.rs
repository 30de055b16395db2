//! A byte cursor over one JSON line: whitespace, literals, integers, strings, and skipping
//! whole values without building them.
//!
//! Values that no raw table holds are skipped, but checked as they go: scalars against the JSON
//! grammar, strings for raw control characters, malformed escapes and UTF-8, containers by the
//! token walk of [`super::skip`]. Only kept values are parsed. Every method gives up ([`GiveUp`]) on anything it does not expect, and the caller
//! then reads the line strictly (serde_json, then arrow-json), which names what was wrong.

use super::skip::GiveUp;

pub struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    pub fn at_end(&self) -> bool {
        self.at == self.bytes.len()
    }

    /// The next byte after whitespace, without consuming it.
    #[inline]
    pub fn peek(&mut self) -> Result<u8, GiveUp> {
        while let Some(&b) = self.bytes.get(self.at) {
            if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                return Ok(b);
            }
            self.at += 1;
        }
        Err(GiveUp)
    }

    /// Consumes `byte` (after whitespace) or gives up.
    #[inline]
    pub fn expect(&mut self, byte: u8) -> Result<(), GiveUp> {
        if self.peek()? != byte {
            return Err(GiveUp);
        }
        self.at += 1;
        Ok(())
    }

    /// Consumes `byte` (after whitespace) if it is next.
    #[inline]
    pub fn eat(&mut self, byte: u8) -> Result<bool, GiveUp> {
        let found = self.peek()? == byte;
        self.at += usize::from(found);
        Ok(found)
    }

    /// Consumes the literal `word` (`null`, `true`, `false`), which must not run on.
    pub fn literal(&mut self, word: &[u8]) -> Result<(), GiveUp> {
        self.peek()?;
        let end = self.at + word.len();
        if !self.bytes.get(self.at..end).is_some_and(|found| same_bytes(found, word))
            || self.bytes.get(end).is_some_and(u8::is_ascii_alphanumeric)
        {
            return Err(GiveUp);
        }
        self.at = end;
        Ok(())
    }

    /// Consumes a string and returns its raw contents (between the quotes) and whether they
    /// hold escapes. Raw control characters, malformed escapes and bytes that are not UTF-8 give up.
    #[inline]
    pub fn string(&mut self) -> Result<(&'a [u8], bool), GiveUp> {
        self.expect(b'"')?;
        let start = self.at;
        let mut escaped = false;
        let mut non_ascii = false;
        let mut i = start;
        loop {
            let (stop, high) = super::skip::string_stop(self.bytes, i).ok_or(GiveUp)?;
            non_ascii |= high;
            i = stop;
            match self.bytes[i] {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    i += super::skip::escape_len(self.bytes, i)?;
                }
                // A raw control character: JSON wants it escaped.
                _ => return Err(GiveUp),
            }
        }
        let raw = &self.bytes[start..i];
        if non_ascii && std::str::from_utf8(raw).is_err() {
            return Err(GiveUp);
        }
        self.at = i + 1;
        Ok((raw, escaped))
    }

    /// Consumes an integer (`-?(0|[1-9][0-9]*)`). Fractions, exponents, overflow and `-0` give up.
    pub fn integer(&mut self) -> Result<i64, GiveUp> {
        self.peek()?;
        let negative = self.bytes[self.at] == b'-';
        let mut i = self.at + usize::from(negative);
        let digits_start = i;
        let mut value: i64 = 0;
        while let Some(&b) = self.bytes.get(i).filter(|b| b.is_ascii_digit()) {
            let digit = i64::from(b - b'0');
            value = value
                .checked_mul(10)
                .and_then(|v| if negative { v.checked_sub(digit) } else { v.checked_add(digit) })
                .ok_or(GiveUp)?;
            i += 1;
        }
        if i == digits_start || self.bytes.get(i).is_some_and(|b| matches!(b, b'.' | b'e' | b'E')) {
            return Err(GiveUp);
        }
        // JSON has no leading zeros, and serde_json reads `-0` as a float.
        if (self.bytes[digits_start] == b'0' && i > digits_start + 1) || (negative && value == 0) {
            return Err(GiveUp);
        }
        self.at = i;
        Ok(value)
    }

    /// Moves past one value of any type without building it, checking that it is JSON: strings
    /// as [`Scanner::string`] does, numbers and literals against the grammar (so a number cannot
    /// run into the next key), containers with [`super::skip::container_end`].
    pub fn skip_value(&mut self) -> Result<(), GiveUp> {
        self.at = match self.peek()? {
            b'"' => return self.string().map(drop),
            b'{' | b'[' => super::skip::container_end(self.bytes, self.at)?,
            _ => super::skip::scalar_end(self.bytes, self.at)?,
        };
        Ok(())
    }
}

/// Decodes the escapes of a JSON string's raw contents into `out`.
pub fn unescape(raw: &[u8], out: &mut Vec<u8>) -> Result<(), GiveUp> {
    let mut i = 0;
    while i < raw.len() {
        let b = raw[i];
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let simple = match raw.get(i + 1).ok_or(GiveUp)? {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let (c, used) = unicode_escape(&raw[i..])?;
                let mut utf8 = [0; 4];
                out.extend_from_slice(c.encode_utf8(&mut utf8).as_bytes());
                i += used;
                continue;
            }
            _ => return Err(GiveUp),
        };
        out.push(simple);
        i += 2;
    }
    Ok(())
}

/// `\uXXXX`, or a surrogate pair `\uD8XX\uDCXX`: the character and the bytes used.
fn unicode_escape(raw: &[u8]) -> Result<(char, usize), GiveUp> {
    let unit = |at: usize| -> Result<u32, GiveUp> {
        let hex = raw.get(at..at + 4).ok_or(GiveUp)?;
        // `from_str_radix` alone would take `+041`: JSON wants exactly four hex digits.
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(GiveUp);
        }
        let text = std::str::from_utf8(hex).map_err(|_| GiveUp)?;
        u32::from_str_radix(text, 16).map_err(|_| GiveUp)
    };
    let high = unit(2)?;
    if !(0xD800..0xDC00).contains(&high) {
        return char::from_u32(high).map(|c| (c, 6)).ok_or(GiveUp);
    }
    if raw.get(6..8) != Some(b"\\u") {
        return Err(GiveUp);
    }
    let low = unit(8)?;
    if !(0xDC00..0xE000).contains(&low) {
        return Err(GiveUp);
    }
    char::from_u32(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)).map(|c| (c, 12)).ok_or(GiveUp)
}

/// Whether `a` and `b` hold the same bytes. Keys and literals are short, and for them a call
/// to `memcmp` costs more than the comparison: up to 16 bytes are two overlapping word compares.
#[inline]
pub fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let words8 = |s: &[u8]| Some((u64::from_ne_bytes(*s.first_chunk()?), u64::from_ne_bytes(*s.last_chunk()?)));
    let words4 = |s: &[u8]| Some((u32::from_ne_bytes(*s.first_chunk()?), u32::from_ne_bytes(*s.last_chunk()?)));
    match a.len() {
        0..4 => a.iter().zip(b).all(|(x, y)| x == y),
        4..8 => words4(a) == words4(b),
        8..=16 => words8(a) == words8(b),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_nested_values_with_brackets_inside_strings() {
        let line = br#"[1,{"x":"]}\"["},["AD","AE"]] ,"next""#;
        let mut s = Scanner::new(line);
        s.skip_value().unwrap();
        assert_eq!(&line[s.at..], br#" ,"next""#);
        for bad in [&b"[1,2"[..], b"{\"a\":\"x", b"", b","] {
            assert_eq!(Scanner::new(bad).skip_value(), Err(GiveUp), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn skipped_scalars_and_strings_are_checked() {
        let skip = |text: &[u8]| {
            let mut s = Scanner::new(text);
            s.skip_value().map(|()| s.at)
        };
        assert_eq!(skip(b" -2.5,"), Ok(5));
        assert_eq!(skip(b"null}"), Ok(4));
        assert_eq!(skip("\"caf\u{e9}\",".as_bytes()), Ok(7));
        for bad in [&b"1\"offset\":5"[..], b"truex", b"+1", b"\"caf\xe9\"", b"\"\xc3\"", b"x"] {
            assert_eq!(skip(bad), Err(GiveUp), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn integers_parse_exactly_or_give_up() {
        let parse = |text: &str| Scanner::new(text.as_bytes()).integer();
        assert_eq!(parse(" -42,"), Ok(-42));
        assert_eq!(parse("9223372036854775807"), Ok(i64::MAX));
        assert_eq!(parse("-9223372036854775808"), Ok(i64::MIN));
        for bad in ["9223372036854775808", "1.5", "2e3", "-", "x", "01", "-0", "-00"] {
            assert_eq!(parse(bad), Err(GiveUp), "{bad}");
        }
    }

    #[test]
    fn escapes_decode_like_json() {
        let decode = |raw: &str| {
            let mut out = Vec::new();
            unescape(raw.as_bytes(), &mut out).map(|()| String::from_utf8(out).unwrap())
        };
        assert_eq!(decode(r#"a\"b\\c\/d\n\u00e9\ud83c\udfb5"#), Ok("a\"b\\c/d\n\u{e9}\u{1f3b5}".to_owned()));
        for bad in [r#"\x"#, r#"\u12"#, r#"\ud83c"#, r#"\ud83cx\udfb5"#, r#"\"#, r#"\u+041"#, r#"\u-041"#] {
            assert_eq!(decode(bad), Err(GiveUp), "{bad}");
        }
    }

    #[test]
    fn same_bytes_agrees_with_slice_equality() {
        let base: Vec<u8> = (b'a'..=b'z').collect();
        for len in 0..=base.len() {
            let a = &base[..len];
            assert!(same_bytes(a, a));
            if len > 0 {
                assert!(!same_bytes(a, &base[..len - 1]));
            }
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 0x20;
                assert!(!same_bytes(a, &b), "{len} bytes, differing at {at}");
            }
        }
    }

    #[test]
    fn literals_must_not_run_on() {
        assert_eq!(Scanner::new(b" null}").literal(b"null"), Ok(()));
        assert_eq!(Scanner::new(b"nullx").literal(b"null"), Err(GiveUp));
        assert_eq!(Scanner::new(b"nul").literal(b"null"), Err(GiveUp));
    }
}
