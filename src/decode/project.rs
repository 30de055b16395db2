//! Schema projection of raw JSON: drops the object keys a schema never asks for, before
//! arrow-json tokenizes them.
//!
//! Spotify pages carry much that no raw table holds (`available_markets` alone is most of a
//! legacy track). Skipping such values costs a byte scan; tokenizing them costs far more. The
//! projection keeps every wanted key's value verbatim, so decoding the projected line gives
//! exactly what decoding the original gives. Anything unexpected (a malformed line, an escaped
//! key) makes [`project`] give up, and the caller decodes the original line instead, so errors
//! are still reported by the decoder with its own words.

use arrow::datatypes::{DataType, Fields};

/// Which keys to keep at one object level, and what to keep below each.
///
/// A level holds a few dozen keys at most, so a scan that compares lengths first beats hashing
/// every key of every object.
#[derive(Debug, Default)]
pub struct KeyTree {
    keys: Vec<(Box<[u8]>, Node)>,
}

#[derive(Debug)]
enum Node {
    /// Keep the value as it is.
    Whole,
    /// An object: keep only its wanted keys.
    Object(KeyTree),
    /// A list of objects: keep only the wanted keys of each.
    ListOfObjects(KeyTree),
}

impl KeyTree {
    /// The keys of an Arrow schema's fields, recursively through structs and lists of structs.
    pub fn from_fields(fields: &Fields) -> Self {
        let keys = fields
            .iter()
            .map(|field| {
                let node = match field.data_type() {
                    DataType::Struct(children) => Node::Object(Self::from_fields(children)),
                    DataType::List(item) => match item.data_type() {
                        DataType::Struct(children) => Node::ListOfObjects(Self::from_fields(children)),
                        _ => Node::Whole,
                    },
                    _ => Node::Whole,
                };
                (field.name().as_bytes().into(), node)
            })
            .collect();
        Self { keys }
    }

    fn get(&self, key: &[u8]) -> Option<&Node> {
        self.keys.iter().find(|(k, _)| k.len() == key.len() && **k == *key).map(|(_, node)| node)
    }
}

/// The line does not have the shape projection needs; decode the original.
#[derive(Debug, PartialEq, Eq)]
pub struct GiveUp;

/// Appends to `out` the JSON object `line` with only the keys of `tree` kept.
pub fn project(line: &[u8], tree: &KeyTree, out: &mut Vec<u8>) -> Result<(), GiveUp> {
    let start = out.len();
    let mut scan = Scanner { bytes: line, at: 0 };
    scan.whitespace();
    let projected = scan.object(tree, out).and_then(|()| {
        scan.whitespace();
        if scan.at == line.len() { Ok(()) } else { Err(GiveUp) }
    });
    if projected.is_err() {
        out.truncate(start);
    }
    projected
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Result<u8, GiveUp> {
        self.bytes.get(self.at).copied().ok_or(GiveUp)
    }

    fn whitespace(&mut self) {
        while self.bytes.get(self.at).is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), GiveUp> {
        self.whitespace();
        if self.peek()? != byte {
            return Err(GiveUp);
        }
        self.at += 1;
        Ok(())
    }

    /// Moves past a string whose opening quote is at `self.at`; returns whether it had escapes.
    fn string(&mut self) -> Result<bool, GiveUp> {
        let mut escaped = false;
        let mut i = self.at + 1;
        loop {
            let rest = self.bytes.get(i..).ok_or(GiveUp)?;
            let found = memchr::memchr2(b'"', b'\\', rest).ok_or(GiveUp)?;
            i += found;
            if self.bytes[i] == b'"' {
                break;
            }
            escaped = true;
            i += 2;
        }
        self.at = i + 1;
        Ok(escaped)
    }

    /// Moves past one value of any type.
    fn skip_value(&mut self) -> Result<(), GiveUp> {
        self.whitespace();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Ok(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                let rest = &self.bytes[self.at..];
                let len = rest
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                    .unwrap_or(rest.len());
                if len == 0 {
                    return Err(GiveUp);
                }
                self.at += len;
                Ok(())
            }
        }
    }

    /// Copies one value verbatim.
    fn copy_value(&mut self, out: &mut Vec<u8>) -> Result<(), GiveUp> {
        self.whitespace();
        let start = self.at;
        self.skip_value()?;
        out.extend_from_slice(&self.bytes[start..self.at]);
        Ok(())
    }

    fn value(&mut self, node: &Node, out: &mut Vec<u8>) -> Result<(), GiveUp> {
        self.whitespace();
        match (node, self.peek()?) {
            (Node::Object(tree), b'{') => self.object(tree, out),
            (Node::ListOfObjects(tree), b'[') => self.list_of_objects(tree, out),
            _ => self.copy_value(out),
        }
    }

    fn list_of_objects(&mut self, tree: &KeyTree, out: &mut Vec<u8>) -> Result<(), GiveUp> {
        self.expect(b'[')?;
        out.push(b'[');
        self.whitespace();
        if self.peek()? == b']' {
            self.at += 1;
            out.push(b']');
            return Ok(());
        }
        loop {
            self.whitespace();
            if self.peek()? == b'{' {
                self.object(tree, out)?;
            } else {
                self.copy_value(out)?;
            }
            self.whitespace();
            match self.peek()? {
                b',' => out.push(b','),
                b']' => {
                    self.at += 1;
                    out.push(b']');
                    return Ok(());
                }
                _ => return Err(GiveUp),
            }
            self.at += 1;
        }
    }

    fn object(&mut self, tree: &KeyTree, out: &mut Vec<u8>) -> Result<(), GiveUp> {
        self.expect(b'{')?;
        out.push(b'{');
        let mut first = true;
        self.whitespace();
        if self.peek()? == b'}' {
            self.at += 1;
            out.push(b'}');
            return Ok(());
        }
        loop {
            self.whitespace();
            if self.peek()? != b'"' {
                return Err(GiveUp);
            }
            let key_start = self.at;
            if self.string()? {
                // An escaped key may equal a wanted key once unescaped: leave it to the decoder.
                return Err(GiveUp);
            }
            let key = &self.bytes[key_start + 1..self.at - 1];
            self.expect(b':')?;
            match tree.get(key) {
                Some(node) => {
                    if !first {
                        out.push(b',');
                    }
                    first = false;
                    out.extend_from_slice(&self.bytes[key_start..key_start + key.len() + 2]);
                    out.push(b':');
                    self.value(node, out)?;
                }
                None => self.skip_value()?,
            }
            self.whitespace();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    out.push(b'}');
                    return Ok(());
                }
                _ => return Err(GiveUp),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    fn tree() -> KeyTree {
        let inner = Fields::from(vec![Field::new("id", DataType::Utf8, true)]);
        KeyTree::from_fields(&Fields::from(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("s", DataType::Struct(inner.clone()), true),
            Field::new("l", DataType::List(Arc::new(Field::new("item", DataType::Struct(inner), true))), true),
        ]))
    }
    use std::sync::Arc;

    fn run(line: &str) -> Result<String, GiveUp> {
        let mut out = b"prefix".to_vec();
        project(line.as_bytes(), &tree(), &mut out).map(|()| String::from_utf8(out[6..].to_vec()).unwrap())
    }

    #[test]
    fn unwanted_keys_are_dropped_at_every_level() {
        let line = r#" {"x":[1,{"y":"}]"}],"a":-1.5e3,"s":{"id":"q\"r","skip":{"deep":[[]]}},"l":[{"id":"1","m":["AD","AE"]},null,{"m":1}],"t":true} "#;
        assert_eq!(run(line).unwrap(), r#"{"a":-1.5e3,"s":{"id":"q\"r"},"l":[{"id":"1"},null,{}]}"#);
    }

    #[test]
    fn wrong_types_and_nulls_are_kept_for_the_decoder_to_judge() {
        assert_eq!(run(r#"{"s":null,"l":"oops","a":{"b":1}}"#).unwrap(), r#"{"s":null,"l":"oops","a":{"b":1}}"#);
        assert_eq!(run(r#"{ }"#).unwrap(), "{}");
    }

    #[test]
    fn malformed_lines_and_escaped_keys_give_up_and_leave_nothing_behind() {
        for line in [r#"{"a":1"#, r#"{"a":1}}"#, r#"[1]"#, r#"{"a" 1}"#, r#"{"\u0061":1}"#, "", r#"{"a":}"#] {
            let mut out = b"keep".to_vec();
            assert_eq!(project(line.as_bytes(), &tree(), &mut out), Err(GiveUp), "{line}");
            assert_eq!(out, b"keep");
        }
    }
}
