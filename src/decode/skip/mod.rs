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
mod grammar;
mod masks;
#[cfg(test)]
mod tests;

pub(crate) use grammar::{GiveUp, escape_len, scalar_end};
pub(crate) use masks::string_stop;

use grammar::{GRAMMAR, POP, PUSH, REFUSE, SCALAR_THEN, TOKEN_KIND, expect};
use masks::{BLOCK, Masks, masks, prefix_xor};

/// Deeper containers give up: serde_json refuses nesting past 127 levels, and the fallback
/// then judges the line the way the acceptance rule does.
const MAX_DEPTH: u32 = 64;

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
