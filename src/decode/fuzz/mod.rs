//! Differential fuzzing of decoding: page lines made from real ones, then changed, go through the
//! decoder and through a reference written apart from it (serde_json into an ordered tree, the
//! documented type rules, arrow-json for the values). Accept or reject, and every decoded value,
//! must agree; so must the whole batch path, which rejects every line serde_json cannot read.
//!
//! The suite runs a seeded, bounded set of lines. For a longer run (docs/fuzzing.md):
//! `TUNESTREAM_FUZZ_SECONDS=600 TUNESTREAM_FUZZ_SEED=7 cargo test --release --lib decode::fuzz -- --nocapture`.
//! Divergences are written to `target/fuzz-divergences.txt` in the format of `regressions.txt`,
//! where every one found is kept once fixed.

mod mutate;
mod reference;
mod tree;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;

use super::{Form, Kind, ReadSchemas, decode_batch, json};
use crate::page::{LineRef, PageBatch, SourceFile};
use tree::Tree;

const SAMPLE: &str = include_str!("../../../samples/spotify_pages.ndjson");
const REGRESSIONS: &str = include_str!("regressions.txt");
/// Lines decoded together, as a micro-batch would hold them.
const CHUNK: usize = 64;

/// A real line to make others from, and the schema its kind and form are read with.
struct Seed {
    name: String,
    schema: SchemaRef,
    tree: Tree,
}

/// Every sample page, enveloped and bare (its body alone).
fn seeds() -> Vec<Seed> {
    let schemas = ReadSchemas::full();
    let mut seeds = Vec::new();
    for line in SAMPLE.lines() {
        let tree: Tree = serde_json::from_str(line).expect("the sample is JSON");
        let Tree::Object(members) = &tree else { panic!("the sample holds objects") };
        let field = |name: &str| members.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let Some(Tree::Str(kind)) = field("kind") else { panic!("sample lines are enveloped") };
        let kind: Kind = kind.parse().expect("a known kind");
        let body = field("body").expect("an envelope has a body");
        for (form, tree) in [(Form::Envelope, tree.clone()), (Form::Bare, body)] {
            let name = format!("{}/{}", kind.name(), if form == Form::Envelope { "envelope" } else { "bare" });
            seeds.push(Seed { name, schema: schemas.line(kind, form).clone(), tree });
        }
    }
    seeds
}

/// A line on which the decoder and the reference disagree.
struct Divergence {
    seed: String,
    line: Vec<u8>,
    what: String,
}

#[derive(Default)]
struct Tally {
    lines: usize,
    accepted: usize,
    divergences: Vec<Divergence>,
}

impl Tally {
    fn diverge(&mut self, seed: &Seed, line: &[u8], what: String) {
        self.divergences.push(Divergence { seed: seed.name.clone(), line: line.to_vec(), what });
    }
}

/// Decodes `lines` both ways and records every disagreement.
fn check(seed: &Seed, lines: &[Vec<u8>], tally: &mut Tally) {
    let refs: Vec<&[u8]> = lines.iter().map(Vec::as_slice).collect();
    let decoded = json::decode_lines(&seed.schema, &refs).expect("decoding fails line by line, never as a whole");
    let verdicts: Vec<Result<(), String>> = refs.iter().map(|l| reference::judge(l, seed.schema.fields())).collect();
    tally.lines += lines.len();
    tally.accepted += decoded.row_lines.len();
    let mut rows = decoded.row_lines.iter().peekable();
    for (i, verdict) in verdicts.iter().enumerate() {
        let accepted = rows.next_if(|&&row| row == i).is_some();
        match (accepted, verdict) {
            (true, Err(why)) => tally.diverge(seed, refs[i], format!("accepted, but the reference rejects it: {why}")),
            (false, Ok(())) => {
                let why = decoded.failures.iter().find(|(j, _)| *j == i).map_or("?", |(_, e)| e.as_str());
                tally.diverge(seed, refs[i], format!("rejected ({why}), but the reference accepts it"));
            }
            _ => {}
        }
    }
    compare_values(seed, &refs, &verdicts, &decoded, tally);
    check_batch_path(seed, &refs, tally);
}

/// The rows of lines both sides accept must equal what arrow-json makes of those lines.
fn compare_values(
    seed: &Seed,
    refs: &[&[u8]],
    verdicts: &[Result<(), String>],
    decoded: &json::Decoded,
    tally: &mut Tally,
) {
    let both: Vec<(usize, usize)> =
        decoded.row_lines.iter().enumerate().filter(|&(_, &i)| verdicts[i].is_ok()).map(|(r, &i)| (r, i)).collect();
    let indices = arrow::array::UInt32Array::from_iter_values(both.iter().map(|&(r, _)| r as u32));
    let rows = arrow::compute::take_record_batch(&decoded.batch, &indices).expect("rows by index");
    let lines: Vec<&[u8]> = both.iter().map(|&(_, i)| refs[i]).collect();
    if json::decode_with_arrow_json(&seed.schema, &lines).is_ok_and(|reference| reference == rows) {
        return;
    }
    for (k, &(_, i)) in both.iter().enumerate() {
        match json::decode_with_arrow_json(&seed.schema, &[refs[i]]) {
            Ok(reference) if reference == rows.slice(k, 1) => {}
            Ok(reference) => {
                let what = format!(
                    "values differ:\n  decoder:   {}\n  reference: {}",
                    shown(&rows.slice(k, 1)),
                    shown(&reference)
                );
                tally.diverge(seed, refs[i], what);
            }
            Err(e) => tally.diverge(seed, refs[i], format!("arrow-json refuses a line serde_json accepts: {e}")),
        }
    }
}

/// Through the whole batch path (kind probe included), every line serde_json cannot read is
/// rejected.
fn check_batch_path(seed: &Seed, refs: &[&[u8]], tally: &mut Tally) {
    let file = Arc::new(SourceFile { path: PathBuf::from("fuzz.ndjson"), modified_micros: 0, kind: None });
    let mut batch = PageBatch::default();
    let mut numbers = Vec::new();
    for (i, line) in refs.iter().enumerate().filter(|(_, l)| !l.contains(&b'\n')) {
        let start = batch.buf.len();
        batch.buf.extend_from_slice(line);
        let end = batch.buf.len();
        batch.lines.push(LineRef { file: file.clone(), line_no: i as u64 + 1, start, end, too_long: None });
        batch.buf.push(b'\n');
        numbers.push(i);
    }
    let decoded = decode_batch(batch, &ReadSchemas::full()).expect("decoding fails line by line, never as a whole");
    for i in numbers {
        let rejected = decoded.rejects.iter().any(|r| r.line.line_no == i as u64 + 1);
        if !rejected && serde_json::from_slice::<Tree>(refs[i]).is_err() {
            tally.diverge(seed, refs[i], "the batch path accepts a line serde_json cannot read".to_owned());
        }
    }
}

fn shown(row: &RecordBatch) -> String {
    let text = arrow::util::pretty::pretty_format_batches(std::slice::from_ref(row))
        .map_or_else(|e| e.to_string(), |t| t.to_string());
    text.lines().nth(3).unwrap_or_default().chars().take(600).collect()
}

/// How long a run goes on: a number of lines, or a time.
enum Budget {
    Lines(usize),
    Time(Duration),
}

fn budget() -> Budget {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
    match (env("TUNESTREAM_FUZZ_SECONDS"), env("TUNESTREAM_FUZZ_LINES")) {
        (Some(seconds), _) => Budget::Time(Duration::from_secs(seconds)),
        (None, Some(lines)) => Budget::Lines(lines as usize),
        // Debug builds, as the suite runs, are about ten times slower than release.
        (None, None) => Budget::Lines(if cfg!(debug_assertions) { 20_000 } else { 200_000 }),
    }
}

fn run(seed_value: u64, budget: &Budget) -> Tally {
    let seeds = seeds();
    let mut mutator = mutate::Mutator::new(seed_value);
    let mut tally = Tally::default();
    let started = Instant::now();
    loop {
        let done = match budget {
            Budget::Lines(n) => tally.lines >= *n,
            Budget::Time(t) => started.elapsed() >= *t,
        };
        if done || tally.divergences.len() >= 50 {
            return tally;
        }
        let seed = &seeds[mutator.pick(seeds.len())];
        let lines: Vec<Vec<u8>> = (0..CHUNK).map(|_| mutator.line(&seed.tree)).collect();
        check(seed, &lines, &mut tally);
    }
}

/// `\` as `\\`, printable ASCII as it is, every other byte as `\xNN`.
fn escape(line: &[u8]) -> String {
    line.iter()
        .map(|&b| match b {
            b'\\' => "\\\\".to_owned(),
            0x20..0x7f => char::from(b).to_string(),
            _ => format!("\\x{b:02x}"),
        })
        .collect()
}

fn unescape(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1)) {
            (b'\\', Some(b'\\')) => (out.push(b'\\'), i += 2).1,
            (b'\\', Some(b'x')) => {
                let hex = std::str::from_utf8(&bytes[i + 2..i + 4]).expect("two hex digits");
                out.push(u8::from_str_radix(hex, 16).expect("two hex digits"));
                i += 4;
            }
            (b, _) => (out.push(b), i += 1).1,
        }
    }
    out
}

fn report(divergences: &[Divergence]) -> String {
    divergences
        .iter()
        .map(|d| format!("# {}\n{} {}\n", d.what.replace('\n', "\n# "), d.seed, escape(&d.line)))
        .collect()
}

#[test]
fn the_decoder_agrees_with_the_reference_on_generated_lines() {
    let seed_value = std::env::var("TUNESTREAM_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(17);
    let started = Instant::now();
    let tally = run(seed_value, &budget());
    println!(
        "fuzz: seed {seed_value}, {} lines in {:.1} s, {} accepted, {} divergences",
        tally.lines,
        started.elapsed().as_secs_f64(),
        tally.accepted,
        tally.divergences.len()
    );
    if !tally.divergences.is_empty() {
        let text = report(&tally.divergences);
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/fuzz-divergences.txt");
        std::fs::write(path, &text).expect("write the divergences");
        panic!(
            "{} divergences, written to {path}; the first:\n{}",
            tally.divergences.len(),
            text.lines().take(6).collect::<Vec<_>>().join("\n")
        );
    }
    // Both outcomes are exercised, so agreement is not reached by rejecting everything.
    assert!(
        tally.accepted > tally.lines / 5 && tally.accepted < tally.lines * 4 / 5,
        "{} of {} accepted",
        tally.accepted,
        tally.lines
    );
}

#[test]
fn every_divergence_found_before_stays_fixed() {
    let seeds = seeds();
    let mut tally = Tally::default();
    for case in REGRESSIONS.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let (name, line) = case.split_once(' ').expect("`seed line`");
        let seed = seeds.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no seed {name}"));
        check(seed, &[unescape(line)], &mut tally);
    }
    assert!(tally.lines > 0, "regressions.txt holds cases");
    assert!(tally.divergences.is_empty(), "{}", report(&tally.divergences));
}

#[test]
fn escaped_lines_read_back() {
    let line = b"{\"a\":\"\\u00e9 \xc3\xa9 \xff\"}\t".to_vec();
    assert_eq!(unescape(&escape(&line)), line);
}
