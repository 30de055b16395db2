//! Bit masks of 64-byte blocks and 16-byte chunks (quotes, backslashes, brackets, commas, colons,
//! whitespace, control and non-ASCII bytes), with SIMD where the build enables it and a portable
//! twin the tests hold it to.

pub(super) const BLOCK: usize = 64;

/// The bytes of one block that matter while skipping, one bit per byte.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Masks {
    pub(super) quote: u64,
    pub(super) backslash: u64,
    pub(super) open: u64,
    pub(super) close: u64,
    pub(super) comma: u64,
    pub(super) colon: u64,
    /// Space, tab, line feed and carriage return.
    pub(super) whitespace: u64,
    /// Bytes below 0x20, which JSON allows only escaped inside strings.
    pub(super) control: u64,
    /// Bytes of 0x80 and above, which must form UTF-8.
    pub(super) high: u64,
}

/// Bit `j` of the result is the XOR of bits `0..=j`: set from an opening quote up to, not
/// including, its closing quote.
#[inline]
pub(super) fn prefix_xor(mut bits: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        bits ^= bits << shift;
    }
    bits
}

/// The index of the first quote, backslash or control character at or after `from`: where a
/// string's plain run ends, and whether a byte of 0x80 or above came before it. Most strings are
/// short keys and ids, which one 16-byte chunk answers.
#[inline]
pub(crate) fn string_stop(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
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
#[inline]
pub(super) fn masks_by_chunk(block: &[u8; BLOCK]) -> Masks {
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
#[inline]
pub(super) fn masks(block: &[u8; BLOCK]) -> Masks {
    masks_by_chunk(block)
}

/// The masks of a block in one pass of 64-byte compares, on machines with AVX-512 (builds use
/// `target-cpu=native`): each class is one compare into a mask register instead of four
/// compares and four moves of 16-byte masks.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512bw"))]
#[inline]
pub(super) fn masks(block: &[u8; BLOCK]) -> Masks {
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
pub(super) const QUOTE: usize = 0;
pub(super) const BACKSLASH: usize = 1;
pub(super) const OPEN: usize = 2;
pub(super) const CLOSE: usize = 3;
pub(super) const COMMA: usize = 4;
pub(super) const COLON: usize = 5;
pub(super) const WHITESPACE: usize = 6;
pub(super) const CONTROL: usize = 7;
pub(super) const HIGH: usize = 8;

/// One bit per byte of `chunk` for each class: quotes, backslashes, opening and closing
/// brackets, commas, colons, JSON whitespace, control characters (below 0x20, whitespace
/// included) and bytes of 0x80 and above.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
#[inline]
pub(super) fn classes(chunk: &[u8; 16]) -> [u16; 9] {
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
pub(super) fn classes(chunk: &[u8; 16]) -> [u16; 9] {
    portable_classes(chunk)
}

#[cfg(any(test, not(all(target_arch = "x86_64", target_feature = "sse2"))))]
pub(super) fn portable_classes(chunk: &[u8; 16]) -> [u16; 9] {
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
