//! Makes page lines for the fuzzer from real ones: changes to the tree (keys reordered and
//! repeated, values swapped for edge cases, deep nesting, huge strings), then, for some lines,
//! changes to the bytes (flips, insertions and deletions at token boundaries, truncation).

use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};

use super::tree::Tree;

/// Values to put in place of another: numbers at the edges of i64 and f64, strings with every
/// kind of escape and of bad byte, times valid and not, literals and near misses.
const EDGE_VALUES: &[&[u8]] = &[
    b"9223372036854775807",
    b"-9223372036854775808",
    b"9223372036854775808",
    b"-9223372036854775809",
    b"18446744073709551616",
    b"1.7976931348623157e308",
    b"1.7976931348623159e308",
    b"1e309",
    b"-1e400",
    b"5e-324",
    b"1e-400",
    b"215000.0",
    b"-0",
    b"0.0",
    b"1E2",
    b"01",
    b"1.",
    b".5",
    b"-",
    b"+1",
    b"0x10",
    b"NaN",
    b"Infinity",
    b"\"\"",
    b"\"\\u00e9\\u20ac\"",
    b"\"\\ud83c\\udfb5\"",
    b"\"\\ud83c\"",
    b"\"\\udfb5\"",
    b"\"\\ud83c\\u0041\"",
    b"\"\\u+041\"",
    b"\"\\u00\"",
    b"\"\\x\"",
    b"\"a\\tb\\\"c\\\\d\\/e\"",
    b"\"a\tb\"",
    b"\"a\x01b\"",
    b"\"\x7f\"",
    b"\"\xff\"",
    b"\"\xc3\xa9\"",
    b"\"\xed\xa0\x80\"",
    b"\"\xf0\x9f\x8e\"",
    b"\"\xc0\xaf\"",
    b"\"\xef\xbb\xbf\"",
    b"\"2026-02-30T00:00:00Z\"",
    b"\"2026-11-27T08:00:00Z\"",
    b"\"2026-11-27T08:00:00.123456+02:00\"",
    b"\"2026-11-27\"",
    b"\"yesterday\"",
    b"\"1764547200\"",
    b"1764547200",
    b"true",
    b"false",
    b"null",
    b"tru",
    b"nul",
    b"True",
    b"{}",
    b"[]",
    b"[1,2]",
    b"{\"a\":1}",
    b"{\"a\":1,\"a\":2}",
];

/// Bytes that matter to a JSON reader, for flips and insertions.
const EDGE_BYTES: &[u8] = b"\"\\,:{}[] \t\r\x00\x01\x1f\x7f\x80\xbf\xc0\xc3\xe2\xed\xf0\xf4\xf5\xffe-0.un";

/// The bytes of JSON's structure, inserted more often than the rest.
const STRUCTURAL: &[u8] = b",:{}[]\"";

pub struct Mutator {
    rng: StdRng,
}

impl Mutator {
    pub fn new(seed: u64) -> Self {
        Self { rng: StdRng::seed_from_u64(seed) }
    }

    pub fn pick(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len)
    }

    /// A line made from `seed`: about half of them still JSON.
    pub fn line(&mut self, seed: &Tree) -> Vec<u8> {
        let mut tree = seed.clone();
        for _ in 0..self.rng.random_range(0..4) {
            self.change_tree(&mut tree);
        }
        let mut line = Vec::new();
        tree.write(&mut line);
        if self.rng.random_bool(0.5) {
            // Mostly one change, so that it is the only thing wrong with the line.
            for _ in 0..*[1, 1, 1, 2, 3].choose(&mut self.rng).unwrap_or(&1) {
                self.change_bytes(&mut line);
            }
        }
        line
    }

    fn change_tree(&mut self, tree: &mut Tree) {
        let paths = tree.paths();
        let path = &paths[self.pick(paths.len())];
        let Some(node) = tree.at_mut(path) else { return };
        match self.rng.random_range(0..14) {
            0 | 1 => {
                if let Tree::Object(members) = node {
                    members.shuffle(&mut self.rng);
                }
            }
            2 => {
                if let Tree::Object(members) = node
                    && !members.is_empty()
                {
                    let copy = members[self.rng.random_range(0..members.len())].clone();
                    members.insert(self.rng.random_range(0..=members.len()), copy);
                }
            }
            3 => {
                if let Tree::Object(members) = node
                    && !members.is_empty()
                {
                    // One key escaped so that it reads the same as the plain one.
                    let escaped_at = self.rng.random_range(0..members.len());
                    let mut out = vec![b'{'];
                    for (i, (key, value)) in members.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        if i == escaped_at {
                            let units: String = key.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
                            out.extend_from_slice(format!("\"{units}\"").as_bytes());
                        } else {
                            Tree::Str(key.clone()).write(&mut out);
                        }
                        out.push(b':');
                        value.write(&mut out);
                    }
                    out.push(b'}');
                    *node = Tree::Raw(out);
                }
            }
            4 => *node = Tree::Raw(self.deep()),
            5 => *node = Tree::Str(self.text()),
            6 => *node = self.markets(),
            7..10 => {
                // A member no schema reads, so that its value is skipped.
                if let Tree::Object(members) = node {
                    let value = match self.rng.random_range(0..4) {
                        0 => Tree::Raw(EDGE_VALUES[self.rng.random_range(0..EDGE_VALUES.len())].to_vec()),
                        1 => Tree::Raw(self.deep()),
                        _ => self.markets(),
                    };
                    members.insert(self.rng.random_range(0..=members.len()), ("not_read".to_owned(), value));
                }
            }
            _ => *node = Tree::Raw(EDGE_VALUES[self.pick(EDGE_VALUES.len())].to_vec()),
        }
    }

    /// Arrays and objects nested around the edges of serde_json's limit of 128.
    fn deep(&mut self) -> Vec<u8> {
        let depth = self.rng.random_range(60..140);
        let (open, close): (&[u8], &[u8]) = if self.rng.random_bool(0.5) { (b"[", b"]") } else { (b"{\"a\":", b"}") };
        let mut out = open.repeat(depth);
        out.extend_from_slice(b"1");
        out.extend_from_slice(&close.repeat(depth));
        out
    }

    /// A long flat array, as `available_markets` is: the shape skipping takes by bit operations.
    fn markets(&mut self) -> Tree {
        let len = self.rng.random_range(20..200);
        Tree::Array(
            (0..len)
                .map(|i| match self.rng.random_range(0..20) {
                    0 => Tree::Int(i),
                    1 => Tree::Bool(true),
                    2 => Tree::Null,
                    _ => Tree::Str(format!(
                        "{}{}",
                        char::from(b'A' + (i % 26) as u8),
                        char::from(b'A' + (i / 26 % 26) as u8)
                    )),
                })
                .collect(),
        )
    }

    /// Random text: short, or now and then 100,000 characters.
    fn text(&mut self) -> String {
        let len = if self.rng.random_bool(0.02) { 100_000 } else { self.rng.random_range(0..20) };
        (0..len)
            .map(|_| match self.rng.random_range(0..4) {
                0 => char::from(self.rng.random_range(0x20u8..0x7f)),
                1 => self.rng.random_range('\u{80}'..='\u{7ff}'),
                2 => self.rng.random_range('\u{e000}'..='\u{fffd}'),
                _ => self.rng.random_range('\u{10000}'..='\u{10ffff}'),
            })
            .collect()
    }

    fn change_bytes(&mut self, line: &mut Vec<u8>) {
        if line.is_empty() {
            return;
        }
        let boundaries: Vec<usize> =
            line.iter().enumerate().filter(|(_, b)| b"{}[],:\"".contains(b)).map(|(i, _)| i).collect();
        let at = if boundaries.is_empty() || self.rng.random_bool(0.3) {
            self.pick(line.len())
        } else {
            boundaries[self.pick(boundaries.len())] + usize::from(self.rng.random_bool(0.5))
        }
        .min(line.len() - 1);
        match self.rng.random_range(0..7) {
            6 => {
                // A separator doubled or dropped.
                let separators: Vec<usize> = boundaries.into_iter().filter(|&i| b",:".contains(&line[i])).collect();
                if !separators.is_empty() {
                    let at = separators[self.pick(separators.len())];
                    if self.rng.random_bool(0.5) {
                        line.insert(at, line[at]);
                    } else {
                        line.remove(at);
                    }
                }
            }
            0 => line[at] = EDGE_BYTES[self.pick(EDGE_BYTES.len())],
            5 => {
                // A bracket of the other kind: the structure still balances.
                let brackets: Vec<usize> = boundaries.into_iter().filter(|&i| b"{}[]".contains(&line[i])).collect();
                if !brackets.is_empty() {
                    let at = brackets[self.pick(brackets.len())];
                    line[at] ^= 0x20;
                }
            }
            1 => line[at] ^= 1 << self.rng.random_range(0..8),
            2 => {
                let bytes = if self.rng.random_bool(0.5) { STRUCTURAL } else { EDGE_BYTES };
                line.insert(at, bytes[self.pick(bytes.len())]);
            }
            3 => {
                let end = (at + self.rng.random_range(1..8)).min(line.len());
                line.drain(at..end);
            }
            _ => line.truncate(at),
        }
    }
}
