//! Checks a flat object (`{"height":640,"url":"…","width":640}`: no nested containers, no
//! whitespace, no escapes) in one pass of bit operations over 128 bytes, instead of visiting
//! its tokens one by one. Most skipped objects of a Spotify page are like this (`images`,
//! `external_urls`, `external_ids`), and a token walk costs a dependent table lookup per token.
//!
//! Without whitespace, the grammar of a flat object is which byte may precede which: a key's
//! opening quote follows `{` or a comma, its closing quote precedes a colon; a value (string or
//! number or literal) follows a colon and precedes a comma or the closing `}`. Keys are told
//! from values by their opening quote; the closing quote of each key is found by adding the
//! key's opening bit to the string mask, which carries through the string to just past it.
//! Numbers and literals are still checked one by one against the grammar ([`scalar_end`]).
//! Anything the check does not cover, or fails, is left to the token walk, which decides.

use super::grammar::scalar_end;
use super::masks::{BLOCK, Masks, masks};

/// The index of the `}` closing the object whose `{` is at `bytes[at]`, when the object is flat,
/// fits in 128 bytes and is JSON; `None` when the check does not apply or does not pass. Sets
/// `high` when the object holds a byte of 0x80 or above (the caller checks its UTF-8).
#[inline]
pub fn flat_object_end(bytes: &[u8], at: usize, high: &mut bool) -> Option<usize> {
    let (low, rest) = bytes.get(at..)?.split_first_chunk::<BLOCK>()?;
    let upper = rest.first_chunk::<BLOCK>()?;
    let (low, upper) = (masks(low), masks(upper));
    let wide = |pick: fn(&Masks) -> u64| u128::from(pick(&low)) | u128::from(pick(&upper)) << BLOCK;
    let quote = wide(|m| m.quote);
    // The `{` at bit 0 is outside strings, so the prefix XOR starts outside.
    let strings = prefix_xor(quote);
    let outside = !strings;
    let closes = wide(|m| m.close) & outside;
    let brackets = (wide(|m| m.open) | closes) & outside & !1;
    if brackets == 0 {
        return None;
    }
    let end = brackets.trailing_zeros() as usize;
    let close = 1u128 << end;
    // A container opening first is nested; `]` would not match (the token walk says so).
    if closes & close == 0 || bytes[at + end] != b'}' {
        return None;
    }
    let inside = close - 2;
    if (wide(|m| m.backslash) | (wide(|m| m.whitespace) & outside)) & inside != 0
        || wide(|m| m.control) & strings & inside != 0
    {
        return None;
    }
    let opening = quote & strings & inside;
    let commas = wide(|m| m.comma) & outside & inside;
    let colons = wide(|m| m.colon) & outside & inside;
    let scalars = outside & inside & !(quote | commas | colons);
    let scalar_starts = scalars & !(scalars << 1);
    let scalar_ends = scalars & !(scalars >> 1);
    let key_openers = opening & ((commas << 1) | 2);
    // Adding a string's opening bit to its run of string bits carries to just past its end.
    let key_closers = strings.wrapping_add(key_openers) & !strings & inside;
    let value_closers = quote & outside & inside & !key_closers;
    let value_ends = value_closers | scalar_ends;
    let follows_colon = colons << 1;
    let grammatical = (opening & !key_openers) & !follows_colon == 0
        && scalar_starts & !follows_colon == 0
        && follows_colon & !(opening | scalar_starts) == 0
        && colons & !(key_closers << 1) == 0
        && (key_closers << 1) & !colons == 0
        && commas & !(value_ends << 1) == 0
        && (commas << 1) & !key_openers == 0
        && (value_ends << 1) & !(commas | close) == 0
        && close & ((value_ends << 1) | 2) != 0;
    if !grammatical {
        return None;
    }
    let mut starts = scalar_starts;
    while starts != 0 {
        let start = at + starts.trailing_zeros() as usize;
        starts &= starts - 1;
        scalar_end(bytes, start).ok()?;
    }
    *high |= wide(|m| m.high) & (inside | close) != 0;
    Some(at + end)
}

/// Bit `j` of the result is the XOR of bits `0..=j`, over 128 bits.
fn prefix_xor(mut bits: u128) -> u128 {
    for shift in [1, 2, 4, 8, 16, 32, 64] {
        bits ^= bits << shift;
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `text` padded with spaces to the 128 bytes the check reads.
    fn end(text: &str) -> Option<usize> {
        let padded = format!("{text:<160}");
        flat_object_end(padded.as_bytes(), 0, &mut false)
    }

    #[test]
    fn flat_objects_end_at_their_brace() {
        for good in [
            r#"{}"#,
            r#"{"a":1}"#,
            r#"{"height":640,"url":"https://i.scdn.co/image/ab67","width":640}"#,
            r#"{"spotify":"https://open.spotify.com/artist/Uv"}"#,
            r#"{"a":"x:y,z","b":true,"c":null,"d":-1.5,"a":"dup"}"#,
        ] {
            assert_eq!(end(good), Some(good.len() - 1), "{good}");
        }
    }

    #[test]
    fn what_is_not_a_flat_json_object_is_left_to_the_walk() {
        for other in [
            r#"{"a":{"b":1}}"#,
            r#"{"a":[1]}"#,
            r#"{"a": 1}"#,
            r#"{"a\"":1}"#,
            r#"{"a":1]"#,
            r#"{"a":1,}"#,
            r#"{,"a":1}"#,
            r#"{"a"}"#,
            r#"{"a":}"#,
            r#"{"a"::1}"#,
            r#"{"a":1"b":2}"#,
            r#"{"a":"x""b":2}"#,
            r#"{"a":1,"b"}"#,
            r#"{"a","b":1}"#,
            r#"{1:2}"#,
            r#"{"a":tru}"#,
            r#"{"a":01}"#,
            r#"{"a":1:2}"#,
            r#"{"a":"b":"c"}"#,
            r#"{"a":1,2}"#,
            r#"{"a":"x","b"2}"#,
            "{\"a\":\"\x01\"}",
        ] {
            assert_eq!(end(other), None, "{other}");
        }
        let long = format!(r#"{{"a":"{}"}}"#, "x".repeat(130));
        assert_eq!(end(&long), None, "an object past 128 bytes");
    }
}
