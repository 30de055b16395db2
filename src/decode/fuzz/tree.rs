//! An ordered JSON tree for the differential fuzzer: what serde_json reads from a line, with
//! every key kept in its place, repeats included, so the reference can see what a map would hide.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Clone)]
pub enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Array(Vec<Tree>),
    Object(Vec<(String, Tree)>),
    /// Bytes written as they are: how the generator splices in what a tree cannot hold.
    Raw(Vec<u8>),
}

impl Tree {
    /// Writes the tree as compact JSON text.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Tree::Null => out.extend_from_slice(b"null"),
            Tree::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            Tree::Int(n) => out.extend_from_slice(n.to_string().as_bytes()),
            Tree::UInt(n) => out.extend_from_slice(n.to_string().as_bytes()),
            // Debug keeps the fraction: `215000.0`, not `215000`.
            Tree::Float(x) => out.extend_from_slice(format!("{x:?}").as_bytes()),
            Tree::Str(s) => write_string(s, out),
            Tree::Array(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.write(out);
                }
                out.push(b']');
            }
            Tree::Object(members) => {
                out.push(b'{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_string(key, out);
                    out.push(b':');
                    value.write(out);
                }
                out.push(b'}');
            }
            Tree::Raw(bytes) => out.extend_from_slice(bytes),
        }
    }

    /// Every node, depth first, as a path of child indexes from the root.
    pub fn paths(&self) -> Vec<Vec<usize>> {
        let mut paths = vec![Vec::new()];
        let mut i = 0;
        while i < paths.len() {
            let children = match self.at(&paths[i]) {
                Some(Tree::Array(items)) => items.len(),
                Some(Tree::Object(members)) => members.len(),
                _ => 0,
            };
            for child in 0..children {
                let mut path = paths[i].clone();
                path.push(child);
                paths.push(path);
            }
            i += 1;
        }
        paths
    }

    pub fn at(&self, path: &[usize]) -> Option<&Tree> {
        path.iter().try_fold(self, |node, &i| match node {
            Tree::Array(items) => items.get(i),
            Tree::Object(members) => members.get(i).map(|(_, v)| v),
            _ => None,
        })
    }

    pub fn at_mut(&mut self, path: &[usize]) -> Option<&mut Tree> {
        path.iter().try_fold(self, |node, &i| match node {
            Tree::Array(items) => items.get_mut(i),
            Tree::Object(members) => members.get_mut(i).map(|(_, v)| v),
            _ => None,
        })
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // serde_json escapes exactly what JSON needs.
    out.extend_from_slice(serde_json::to_string(s).unwrap_or_default().as_bytes());
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Tree, E> {
        Ok(Tree::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Tree, E> {
        Ok(Tree::Int(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Tree, E> {
        Ok(Tree::UInt(n))
    }

    fn visit_f64<E: de::Error>(self, x: f64) -> Result<Tree, E> {
        Ok(Tree::Float(x))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Tree, E> {
        Ok(Tree::Str(s.to_owned()))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut members = Vec::new();
        while let Some(entry) = map.next_entry::<String, Tree>()? {
            members.push(entry);
        }
        Ok(Tree::Object(members))
    }
}
