//! Cutting records into calls under a service's limits: at most so many records and bytes per
//! call, and no record over the per-record limit (those are set aside, never sent).

use std::ops::Range;

/// A service's limits on one put call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_records_per_call: usize,
    pub max_bytes_per_call: usize,
    pub max_bytes_per_record: usize,
}

/// Consecutive ranges of `sizes` (record sizes, each within the per-record limit), in order, each
/// as long as the call limits allow.
pub fn calls(sizes: &[usize], limits: Limits) -> Vec<Range<usize>> {
    let mut calls = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, &size) in sizes.iter().enumerate() {
        let full = i - start == limits.max_records_per_call || bytes + size > limits.max_bytes_per_call;
        if full && i > start {
            calls.push(start..i);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < sizes.len() {
        calls.push(start..sizes.len());
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits =
        Limits { max_records_per_call: 500, max_bytes_per_call: 4 << 20, max_bytes_per_record: 1000 << 10 };

    #[test]
    fn a_call_holds_up_to_the_record_limit_and_one_more_starts_the_next() {
        assert_eq!(calls(&[10; 500], LIMITS), vec![0..500]);
        assert_eq!(calls(&[10; 501], LIMITS), vec![0..500, 500..501]);
        assert_eq!(calls(&[10; 1000], LIMITS), vec![0..500, 500..1000]);
        assert!(calls(&[], LIMITS).is_empty());
    }

    #[test]
    fn a_call_holds_up_to_the_byte_limit_and_one_byte_more_starts_the_next() {
        let quarter = 1 << 20;
        assert_eq!(calls(&[quarter; 4], LIMITS), vec![0..4], "exactly 4 MiB");
        assert_eq!(calls(&[quarter, quarter, quarter, quarter + 1], LIMITS), vec![0..3, 3..4]);
        let record = 1000 << 10;
        // Four records at the per-record limit fit in 4 MiB; a fifth does not.
        assert_eq!(calls(&[record; 5], LIMITS), vec![0..4, 4..5]);
    }
}
