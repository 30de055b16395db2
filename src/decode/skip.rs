//! Finds where a JSON object or array ends without building it, 64 bytes at a time, and checks
//! on the way that it is JSON.
//!
//! Most of a Spotify page is skipped (`images`, `external_urls`, `copyrights`), so this runs over
//! more bytes than any other part of decoding. A block of 64 bytes becomes bit masks (quotes,
//! backslashes, brackets, commas, colons, whitespace, control and non-ASCII bytes); the bits
//! inside strings are removed with a prefix XOR of the quote mask, as simdjson does. What is left
//! outside strings are the tokens: brackets, commas, colons, opening quotes and the first byte of
//! each number or literal. Only those are visited, by a small grammar machine with a stack of
//! open containers, so the bytes inside strings are never looked at one by one. Numbers and
//! literals are checked against the JSON grammar where they start; a raw control character inside
//! a string gives up; a container holding non-ASCII bytes is checked to be UTF-8 once at its end.
//! Two shapes skip the token visits: a run inside an array up to its next bracket (`"AD","AE",`)
//! and a flat object (`{"height":640,"url":"…"}`, [`flat`]) are checked whole by bit operations.
//! Blocks holding a backslash, and the tail of the line, go byte by byte and check escapes.

mod flat;

use super::scan::GiveUp;

const BLOCK: usize = 64;

/// Deeper containers give up: serde_json refuses nesting past 127 levels, and the fallback
/// then judges the line the way the acceptance rule does.
const MAX_DEPTH: u32 = 64;

/// The bytes of one block that matter while skipping, one bit per byte.
#[derive(Debug, Default, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
    comma: u64,
    colon: u64,
    /// Space, tab, line feed and carriage return.
    whitespace: u64,
    /// Bytes below 0x20, which JSON allows only escaped inside strings.
    control: u64,
    /// Bytes of 0x80 and above, which must form UTF-8.
    high: u64,
}

/// What the grammar allows next. The kind of the innermost open container is part of the
/// state, so one lookup in [`GRAMMAR`] decides each token: an indirect jump per token, as a
/// `match` on the byte compiles to, cost a branch mispredict on most of them.
mod expect {
    /// Before the container itself.
    pub const START: u8 = 0;
    /// In an array: a value or `]` (just after `[`), a value (after a comma), a comma or `]`
    /// (after a value).
    pub const ARRAY_VALUE_OR_CLOSE: u8 = 1;
    pub const ARRAY_VALUE: u8 = 2;
    pub const ARRAY_NEXT: u8 = 3;
    /// In an object: a key or `}`, a key, a colon, a value, a comma or `}`.
    pub const OBJECT_KEY_OR_CLOSE: u8 = 4;
    pub const OBJECT_KEY: u8 = 5;
    pub const OBJECT_COLON: u8 = 6;
    pub const OBJECT_VALUE: u8 = 7;
    pub const OBJECT_NEXT: u8 = 8;
    pub const STATES: usize = 9;
}

/// The kinds of token.
mod token {
    pub const OPEN: u8 = 0;
    pub const CLOSE: u8 = 1;
    pub const COMMA: u8 = 2;
    pub const COLON: u8 = 3;
    pub const STRING: u8 = 4;
    /// The first byte of a number or literal.
    pub const SCALAR: u8 = 5;
    /// Anything else, which JSON does not allow outside strings.
    pub const OTHER: u8 = 6;
    pub const KINDS: usize = 7;
}

/// The kind of token each byte starts.
const TOKEN_KIND: [u8; 256] = {
    use token::*;
    let mut kinds = [OTHER; 256];
    kinds[b'{' as usize] = OPEN;
    kinds[b'[' as usize] = OPEN;
    kinds[b'}' as usize] = CLOSE;
    kinds[b']' as usize] = CLOSE;
    kinds[b',' as usize] = COMMA;
    kinds[b':' as usize] = COLON;
    kinds[b'"' as usize] = STRING;
    let scalars = b"-0123456789tfn";
    let mut i = 0;
    while i < scalars.len() {
        kinds[scalars[i] as usize] = SCALAR;
        i += 1;
    }
    kinds
};

/// What a token does in a state: go to a state (below [`expect::STATES`]), or one of these.
const PUSH: u8 = 16;
const POP: u8 = 17;
/// Check the number or literal, then go to the state added to this.
const SCALAR_THEN: u8 = 32;
const REFUSE: u8 = 255;

/// `GRAMMAR[state][token kind]`. A closing bracket is allowed only in a state of its own kind of
/// container, so brackets match without looking at the stack.
const GRAMMAR: [[u8; token::KINDS]; expect::STATES] = {
    use expect::*;
    use token::*;
    let mut table = [[REFUSE; token::KINDS]; STATES];
    let values = [START, ARRAY_VALUE_OR_CLOSE, ARRAY_VALUE, OBJECT_VALUE];
    let mut i = 0;
    while i < values.len() {
        let state = values[i] as usize;
        table[state][OPEN as usize] = PUSH;
        if values[i] != START {
            let next = if values[i] == OBJECT_VALUE { OBJECT_NEXT } else { ARRAY_NEXT };
            table[state][STRING as usize] = next;
            table[state][SCALAR as usize] = SCALAR_THEN + next;
        }
        i += 1;
    }
    table[ARRAY_VALUE_OR_CLOSE as usize][CLOSE as usize] = POP;
    table[ARRAY_NEXT as usize][COMMA as usize] = ARRAY_VALUE;
    table[ARRAY_NEXT as usize][CLOSE as usize] = POP;
    table[OBJECT_KEY_OR_CLOSE as usize][STRING as usize] = OBJECT_COLON;
    table[OBJECT_KEY_OR_CLOSE as usize][CLOSE as usize] = POP;
    table[OBJECT_KEY as usize][STRING as usize] = OBJECT_COLON;
    table[OBJECT_COLON as usize][COLON as usize] = OBJECT_VALUE;
    table[OBJECT_NEXT as usize][COMMA as usize] = OBJECT_KEY;
    table[OBJECT_NEXT as usize][CLOSE as usize] = POP;
    table
};

/// Where the walk is: the grammar, the open containers, and what carries across blocks.
#[derive(Debug)]
struct Walk {
    /// One of [`expect`]'s states.
    expect: u8,
    depth: u32,
    /// Bit `d` is set when the container at depth `d + 1` is an object.
    objects: u64,
    in_string: bool,
    /// Just past the last number or literal checked; its bytes are not tokens.
    scalar_end: usize,
    /// A byte of 0x80 or above was passed.
    high: bool,
}

/// A block's bits that [`Walk::array_run`] reads, outside strings unless named otherwise.
struct Run {
    opening_quotes: u64,
    closing_quotes: u64,
    commas: u64,
    scalar: u64,
    brackets: u64,
    /// Colons and whitespace, which a run in an array may not hold.
    irregular: u64,
}

enum Step {
    /// The container ends just before this index.
    Ended(usize),
    /// Not yet; go on from this index.
    Continue(usize),
}

/// The index just past the object or array that starts at `bytes[start]`, or [`GiveUp`] when
/// it is not JSON or the line ends first.
pub fn container_end(bytes: &[u8], start: usize) -> Result<usize, GiveUp> {
    let mut walk = Walk { expect: expect::START, depth: 0, objects: 0, in_string: false, scalar_end: 0, high: false };
    if bytes[start] == b'{'
        && let Some(close) = flat::flat_object_end(bytes, start, &mut walk.high)
    {
        let end = close + 1;
        if walk.high && std::str::from_utf8(&bytes[start..end]).is_err() {
            return Err(GiveUp);
        }
        return Ok(end);
    }
    let mut i = start;
    let end = loop {
        let step = match bytes.get(i..).and_then(<[u8]>::first_chunk::<BLOCK>) {
            Some(block) => {
                let masks = masks(block);
                walk.high |= masks.high != 0;
                if masks.backslash == 0 { walk.block(bytes, i, &masks)? } else { walk.bytes(bytes, i, i + BLOCK)? }
            }
            None => match walk.bytes(bytes, i, bytes.len())? {
                Step::Continue(_) => return Err(GiveUp),
                ended => ended,
            },
        };
        match step {
            Step::Ended(end) => break end,
            Step::Continue(next) => i = next,
        }
    };
    if walk.high && std::str::from_utf8(&bytes[start..end]).is_err() {
        return Err(GiveUp);
    }
    Ok(end)
}

impl Walk {
    /// Walks a block without backslashes: the runs inside arrays by bit operations, the rest
    /// token by token.
    fn block(&mut self, bytes: &[u8], base: usize, masks: &Masks) -> Result<Step, GiveUp> {
        let carry = if self.in_string { u64::MAX } else { 0 };
        let strings = prefix_xor(masks.quote) ^ carry;
        if masks.control & strings != 0 {
            return Err(GiveUp);
        }
        self.in_string = strings >> 63 == 1;
        let outside = !strings;
        let punctuation = masks.open | masks.close | masks.comma | masks.colon;
        let scalar = outside & !(punctuation | masks.quote | masks.whitespace);
        let run = Run {
            opening_quotes: masks.quote & strings,
            closing_quotes: masks.quote & outside,
            commas: masks.comma & outside,
            scalar,
            brackets: (masks.open | masks.close) & outside,
            irregular: (masks.colon | masks.whitespace) & outside,
        };
        let mut tokens = (punctuation & outside) | (masks.quote & strings) | (scalar & !(scalar << 1));
        if self.scalar_end > base {
            // A number or literal from the block before runs into this one.
            tokens &= u64::MAX.checked_shl((self.scalar_end - base) as u32).unwrap_or(0);
        } else if self.in_array() {
            tokens = self.array_run(bytes, base, 0, &run, tokens)?;
        }
        while tokens != 0 {
            let bit = tokens.trailing_zeros();
            let at = base + bit as usize;
            tokens &= tokens - 1;
            if self.token(bytes, at)? {
                return Ok(Step::Ended(at + 1));
            }
            if self.scalar_end > at + 1 {
                // A value checked whole (a number, a literal, a flat object): its bytes are not
                // tokens.
                let past = self.scalar_end - base;
                if past >= BLOCK {
                    self.in_string = false;
                    return Ok(Step::Continue(self.scalar_end));
                }
                tokens &= u64::MAX << past;
            } else if self.expect == expect::ARRAY_VALUE_OR_CLOSE {
                // Just inside a `[`.
                tokens = self.array_run(bytes, base, bit + 1, &run, tokens)?;
            }
        }
        Ok(Step::Continue(base + BLOCK))
    }

    /// Checks the run of an array from bit `from` of a block up to its next bracket by bit
    /// operations, when the run holds, outside strings, only commas, numbers and literals (no
    /// colons or whitespace): `"AD","AE",` as `available_markets` has. Returns `tokens` without
    /// the run's; a run it cannot check is left to the token walk.
    ///
    /// With no whitespace, what comes before a byte is the byte before it, so the grammar becomes
    /// which bytes may precede which: a comma follows the end of a value, a value starts after a
    /// comma. The run's first byte's predecessor is what [`Walk::expect`] says.
    fn array_run(&mut self, bytes: &[u8], base: usize, from: u32, run: &Run, tokens: u64) -> Result<u64, GiveUp> {
        let Some(start) = u64::MAX.checked_shl(from) else { return Ok(tokens) };
        let ahead = run.brackets & start;
        let range = if ahead == 0 { start } else { start & ((1 << ahead.trailing_zeros()) - 1) };
        if range == 0 || run.irregular & range != 0 {
            return Ok(tokens);
        }
        let (opening_quotes, closing_quotes) = (run.opening_quotes & range, run.closing_quotes & range);
        let (commas, scalar) = (run.commas & range, run.scalar & range);
        let after_value = u64::from(self.expect == expect::ARRAY_NEXT) << from;
        let after_separator =
            u64::from(matches!(self.expect, expect::ARRAY_VALUE | expect::ARRAY_VALUE_OR_CLOSE)) << from;
        let scalar_starts = scalar & !(scalar << 1);
        let follow_values = ((closing_quotes | scalar) << 1) | after_value;
        let follow_commas = (commas << 1) | after_separator;
        if commas & !follow_values != 0 || (opening_quotes | scalar_starts) & !follow_commas != 0 {
            return Err(GiveUp);
        }
        let mut starts = scalar_starts;
        while starts != 0 {
            self.scalar_end = scalar_end(bytes, base + starts.trailing_zeros() as usize)?;
            starts &= starts - 1;
        }
        let significant = opening_quotes | closing_quotes | commas | scalar;
        if significant != 0 {
            let last = 1u64 << (63 - significant.leading_zeros());
            self.expect = if commas & last != 0 { expect::ARRAY_VALUE } else { expect::ARRAY_NEXT };
        }
        Ok(tokens & !range)
    }

    fn in_array(&self) -> bool {
        matches!(self.expect, expect::ARRAY_VALUE_OR_CLOSE | expect::ARRAY_VALUE | expect::ARRAY_NEXT)
    }

    /// Walks `bytes[from..to]` one byte at a time, checking escapes inside strings. An escape or
    /// a number at the end steps past `to`.
    fn bytes(&mut self, bytes: &[u8], from: usize, to: usize) -> Result<Step, GiveUp> {
        let mut i = from.max(self.scalar_end);
        while i < to {
            let b = bytes[i];
            if self.in_string {
                match b {
                    b'\\' => i += escape_len(bytes, i)? - 1,
                    b'"' => self.in_string = false,
                    0..0x20 => return Err(GiveUp),
                    0x80.. => self.high = true,
                    _ => {}
                }
            } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                if self.token(bytes, i)? {
                    return Ok(Step::Ended(i + 1));
                }
                match b {
                    b'"' => self.in_string = true,
                    // A flat object checked whole is passed at once.
                    b'{' => {
                        i = self.scalar_end.max(i + 1);
                        continue;
                    }
                    b'[' | b'}' | b']' | b',' | b':' => {}
                    _ => {
                        i = self.scalar_end;
                        continue;
                    }
                }
            }
            i += 1;
        }
        Ok(Step::Continue(i))
    }

    /// Takes the token at `bytes[at]`; true when it closes the outermost container.
    #[inline(always)]
    fn token(&mut self, bytes: &[u8], at: usize) -> Result<bool, GiveUp> {
        let byte = bytes[at];
        let action = GRAMMAR[usize::from(self.expect)][usize::from(TOKEN_KIND[usize::from(byte)])];
        if usize::from(action) < expect::STATES {
            self.expect = action;
            return Ok(false);
        }
        self.act(byte, bytes, at, action)
    }

    /// The tokens that do more than change the state: brackets and scalars.
    fn act(&mut self, byte: u8, bytes: &[u8], at: usize, action: u8) -> Result<bool, GiveUp> {
        match action {
            PUSH => {
                if self.depth == MAX_DEPTH {
                    return Err(GiveUp);
                }
                let object = byte == b'{';
                // The outermost object was tried whole before the walk started.
                if object
                    && self.depth > 0
                    && let Some(close) = flat::flat_object_end(bytes, at, &mut self.high)
                {
                    // A value of the container open here.
                    self.scalar_end = close + 1;
                    let in_object = self.objects >> (self.depth - 1) & 1 == 1;
                    self.expect = if in_object { expect::OBJECT_NEXT } else { expect::ARRAY_NEXT };
                    return Ok(false);
                }
                self.objects = (self.objects & !(1 << self.depth)) | (u64::from(object) << self.depth);
                self.depth += 1;
                self.expect = if object { expect::OBJECT_KEY_OR_CLOSE } else { expect::ARRAY_VALUE_OR_CLOSE };
            }
            POP => {
                // The state says which kind of container is open; the byte must close that kind.
                if (byte == b'}') != (self.expect >= expect::OBJECT_KEY_OR_CLOSE) {
                    return Err(GiveUp);
                }
                self.depth -= 1;
                if self.depth == 0 {
                    return Ok(true);
                }
                let parent_is_object = self.objects >> (self.depth - 1) & 1 == 1;
                self.expect = if parent_is_object { expect::OBJECT_NEXT } else { expect::ARRAY_NEXT };
            }
            SCALAR_THEN.. if action != REFUSE => {
                self.scalar_end = scalar_end(bytes, at)?;
                self.expect = action - SCALAR_THEN;
            }
            _ => return Err(GiveUp),
        }
        Ok(false)
    }
}

/// The index just past the number or literal at `bytes[at]`. A number follows RFC 8259's
/// grammar without an exponent, `-?(0|[1-9][0-9]*)(\.[0-9]+)?`; either must end where a value may
/// end (a comma, a closing bracket, whitespace or the end of the line), so a number cannot run
/// into the next key.
pub fn scalar_end(bytes: &[u8], at: usize) -> Result<usize, GiveUp> {
    let literal = |word: &[u8]| {
        if bytes.get(at..at + word.len()) == Some(word) { Ok(at + word.len()) } else { Err(GiveUp) }
    };
    let end = match bytes.get(at) {
        Some(b't') => literal(b"true")?,
        Some(b'f') => literal(b"false")?,
        Some(b'n') => literal(b"null")?,
        _ => number_end(bytes, at)?,
    };
    match bytes.get(end) {
        None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') => Ok(end),
        Some(_) => Err(GiveUp),
    }
}

/// Integer digits past this give up: serde_json refuses a number that is infinite as an f64.
const MAX_INTEGER_DIGITS: usize = 300;

/// The end of the number at `bytes[at]`. An exponent or an integer part of more than
/// [`MAX_INTEGER_DIGITS`] gives up, so that the strict reader decides whether it is finite.
fn number_end(bytes: &[u8], at: usize) -> Result<usize, GiveUp> {
    let digits =
        |from: usize| from + bytes.get(from..).map_or(0, |rest| rest.iter().take_while(|b| b.is_ascii_digit()).count());
    let mut i = at + usize::from(bytes.get(at) == Some(&b'-'));
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i),
        _ => return Err(GiveUp),
    }
    if i - at > MAX_INTEGER_DIGITS {
        return Err(GiveUp);
    }
    if bytes.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return Err(GiveUp);
        }
        i = end;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        return Err(GiveUp);
    }
    Ok(i)
}

/// The length of the escape at `bytes[at]` (a backslash): `\"`, `\\`, `\/`, `\b`, `\f`, `\n`,
/// `\r`, `\t`, or `\u` and four hex digits, where a surrogate must be a high one followed by
/// an escaped low one (12 bytes), as serde_json and arrow-json require. Anything else is not JSON.
#[inline]
pub fn escape_len(bytes: &[u8], at: usize) -> Result<usize, GiveUp> {
    match bytes.get(at + 1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(2),
        Some(b'u') => match hex_unit(bytes, at + 2)? {
            0xD800..0xDC00 if bytes.get(at + 6..at + 8) == Some(b"\\u") => match hex_unit(bytes, at + 8)? {
                0xDC00..0xE000 => Ok(12),
                _ => Err(GiveUp),
            },
            0xD800..0xE000 => Err(GiveUp),
            _ => Ok(6),
        },
        _ => Err(GiveUp),
    }
}

/// The four hex digits at `bytes[at..]` as a UTF-16 unit.
fn hex_unit(bytes: &[u8], at: usize) -> Result<u32, GiveUp> {
    let hex = bytes.get(at..at + 4).ok_or(GiveUp)?;
    hex.iter().try_fold(0, |unit, &b| Ok(unit << 4 | char::from(b).to_digit(16).ok_or(GiveUp)?))
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
/// string's plain run ends, and whether a byte of 0x80 or above came before it. Most strings are
/// short keys and ids, which one 16-byte chunk answers.
#[inline]
pub fn string_stop(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    let mut high = false;
    while let Some(chunk) = bytes.get(at..).and_then(<[u8]>::first_chunk::<16>) {
        let classes = classes(chunk);
        let stops = classes[QUOTE] | classes[BACKSLASH] | classes[CONTROL];
        if stops != 0 {
            let before = (1u16 << stops.trailing_zeros()) - 1;
            return Some((at + stops.trailing_zeros() as usize, high || classes[HIGH] & before != 0));
        }
        high |= classes[HIGH] != 0;
        at += 16;
    }
    let rest = bytes.get(at..)?;
    let stop = rest.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
    Some((at + stop, high || !rest[..stop].is_ascii()))
}

/// The masks of a block, 16 bytes at a time.
#[cfg_attr(
    all(target_arch = "x86_64", target_feature = "avx512bw"),
    allow(dead_code, reason = "the tests compare it with the AVX-512 masks")
)]
fn masks_by_chunk(block: &[u8; BLOCK]) -> Masks {
    let mut masks = Masks::default();
    for (k, chunk) in block.as_chunks::<16>().0.iter().enumerate() {
        let classes = classes(chunk).map(|bits| u64::from(bits) << (16 * k));
        masks.quote |= classes[QUOTE];
        masks.backslash |= classes[BACKSLASH];
        masks.open |= classes[OPEN];
        masks.close |= classes[CLOSE];
        masks.comma |= classes[COMMA];
        masks.colon |= classes[COLON];
        masks.whitespace |= classes[WHITESPACE];
        masks.control |= classes[CONTROL];
        masks.high |= classes[HIGH];
    }
    masks
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "avx512bw")))]
fn masks(block: &[u8; BLOCK]) -> Masks {
    masks_by_chunk(block)
}

/// The masks of a block in one pass of 64-byte compares, on machines with AVX-512 (builds use
/// `target-cpu=native`): each class is one compare into a mask register instead of four
/// compares and four moves of 16-byte masks.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512bw"))]
#[inline]
fn masks(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m512i, _mm512_cmpeq_epi8_mask, _mm512_cmple_epu8_mask, _mm512_loadu_si512, _mm512_movepi8_mask,
        _mm512_or_si512, _mm512_set1_epi8,
    };
    // SAFETY: the build enables AVX-512BW (the cfg above), and `block` is 64 readable bytes,
    // which is all an unaligned load needs.
    unsafe {
        let v = _mm512_loadu_si512(block.as_ptr().cast::<__m512i>());
        let is = |byte: u8| _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8(byte as i8));
        // '[' and ']' differ from '{' and '}' only in bit 0x20.
        let folded = _mm512_or_si512(v, _mm512_set1_epi8(0x20));
        Masks {
            quote: is(b'"'),
            backslash: is(b'\\'),
            open: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'{' as i8)),
            close: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'}' as i8)),
            comma: is(b','),
            colon: is(b':'),
            whitespace: is(b' ') | is(b'\t') | is(b'\n') | is(b'\r'),
            control: _mm512_cmple_epu8_mask(v, _mm512_set1_epi8(0x1f)),
            high: _mm512_movepi8_mask(v),
        }
    }
}

// The classes of bytes, as indexes into what `classes` returns.
const QUOTE: usize = 0;
const BACKSLASH: usize = 1;
const OPEN: usize = 2;
const CLOSE: usize = 3;
const COMMA: usize = 4;
const COLON: usize = 5;
const WHITESPACE: usize = 6;
const CONTROL: usize = 7;
const HIGH: usize = 8;

/// One bit per byte of `chunk` for each class: quotes, backslashes, opening and closing
/// brackets, commas, colons, JSON whitespace, control characters (below 0x20, whitespace
/// included) and bytes of 0x80 and above.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
fn classes(chunk: &[u8; 16]) -> [u16; 9] {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_max_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // SAFETY: the build enables SSE2 (the cfg above), and `chunk` is 16 readable bytes, which
    // is all an unaligned load needs.
    let masks = unsafe {
        let v = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let is = |byte: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(byte as i8));
        // '[' and ']' differ from '{' and '}' only in bit 0x20.
        let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
        [
            _mm_movemask_epi8(is(b'"')),
            _mm_movemask_epi8(is(b'\\')),
            _mm_movemask_epi8(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8))),
            _mm_movemask_epi8(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8))),
            _mm_movemask_epi8(is(b',')),
            _mm_movemask_epi8(is(b':')),
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(is(b' '), is(b'\t')), _mm_or_si128(is(b'\n'), is(b'\r')))),
            // Unsigned `b <= 0x1f`: the byte is its maximum with 0x1f.
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_max_epu8(v, _mm_set1_epi8(0x1f)), _mm_set1_epi8(0x1f))),
            _mm_movemask_epi8(v),
        ]
    };
    masks.map(|mask| mask as u16)
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "sse2")))]
fn classes(chunk: &[u8; 16]) -> [u16; 9] {
    portable_classes(chunk)
}

#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
fn portable_classes(chunk: &[u8; 16]) -> [u16; 9] {
    let mut classes = [0u16; 9];
    for (j, &b) in chunk.iter().enumerate() {
        let mut set = |class: usize| classes[class] |= 1 << j;
        match b {
            b'"' => set(QUOTE),
            b'\\' => set(BACKSLASH),
            b'{' | b'[' => set(OPEN),
            b'}' | b']' => set(CLOSE),
            b',' => set(COMMA),
            b':' => set(COLON),
            b' ' => set(WHITESPACE),
            b'\t' | b'\n' | b'\r' => {
                set(WHITESPACE);
                set(CONTROL);
            }
            0..0x20 => set(CONTROL),
            0x80.. => set(HIGH),
            _ => {}
        }
    }
    classes
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::seq::IndexedRandom;
    use rand::{Rng, SeedableRng};

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
}
