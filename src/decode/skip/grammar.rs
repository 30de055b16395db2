//! The JSON grammar the skipper checks: the token table its walk follows, and numbers, literals
//! and escapes, checked where they start. Anything outside it gives up ([`GiveUp`]).

/// The fast path met something it does not handle; decode the line another way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveUp;

/// What the grammar allows next. The kind of the innermost open container is part of the
/// state, so one lookup in [`GRAMMAR`] decides each token: an indirect jump per token, as a
/// `match` on the byte compiles to, cost a branch mispredict on most of them.
pub(super) mod expect {
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
pub(super) mod token {
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
pub(super) const TOKEN_KIND: [u8; 256] = {
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
pub(super) const PUSH: u8 = 16;
pub(super) const POP: u8 = 17;
/// Check the number or literal, then go to the state added to this.
pub(super) const SCALAR_THEN: u8 = 32;
pub(super) const REFUSE: u8 = 255;

/// `GRAMMAR[state][token kind]`. A closing bracket is allowed only in a state of its own kind of
/// container, so brackets match without looking at the stack.
pub(super) const GRAMMAR: [[u8; token::KINDS]; expect::STATES] = {
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

/// The index just past the number or literal at `bytes[at]`. A number follows RFC 8259's
/// grammar without an exponent, `-?(0|[1-9][0-9]*)(\.[0-9]+)?`; either must end where a value may
/// end (a comma, a closing bracket, whitespace or the end of the line), so a number cannot run
/// into the next key.
#[inline]
pub(crate) fn scalar_end(bytes: &[u8], at: usize) -> Result<usize, GiveUp> {
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
pub(super) const MAX_INTEGER_DIGITS: usize = 300;

/// The end of the number at `bytes[at]`. An exponent or an integer part of more than
/// [`MAX_INTEGER_DIGITS`] gives up, so that the strict reader decides whether it is finite.
#[inline]
pub(super) fn number_end(bytes: &[u8], at: usize) -> Result<usize, GiveUp> {
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
pub(crate) fn escape_len(bytes: &[u8], at: usize) -> Result<usize, GiveUp> {
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
pub(super) fn hex_unit(bytes: &[u8], at: usize) -> Result<u32, GiveUp> {
    let hex = bytes.get(at..at + 4).ok_or(GiveUp)?;
    hex.iter().try_fold(0, |unit, &b| Ok(unit << 4 | char::from(b).to_digit(16).ok_or(GiveUp)?))
}
