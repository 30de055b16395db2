//! The schemas pages are decoded with: the raw table schemas, with nested fields that no query
//! reads left out, so they are skipped instead of decoded.
//!
//! Only nested fields are left out. Every raw table keeps all its top-level columns, so a
//! query that reads a column whole, or `SELECT *`, always sees it; the transform decides which
//! nested field names are needed (see `transform::fields`).

use std::collections::BTreeSet;
use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef};

use super::Kind;
use super::envelope::Form;
use super::schema::{envelope_fields, response_fields};

/// Which nested fields (below the top-level columns) pages are decoded with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestedFields {
    /// Every field of the raw schemas.
    All,
    /// Only nested fields with one of these names, at any depth. A struct none of whose
    /// fields is named keeps all of them, so no struct is left without fields.
    Named(BTreeSet<String>),
}

impl NestedFields {
    fn keeps(&self, name: &str) -> bool {
        match self {
            NestedFields::All => true,
            NestedFields::Named(names) => names.contains(name),
        }
    }
}

/// Per kind: the raw table schema, and the schemas of its two line forms.
#[derive(Debug)]
pub struct ReadSchemas {
    nested: NestedFields,
    raw: Vec<SchemaRef>,
    /// `[enveloped, bare]` per kind.
    lines: Vec<[SchemaRef; 2]>,
}

impl ReadSchemas {
    /// The schemas with only the `nested` fields kept below the top-level columns.
    pub fn new(nested: NestedFields) -> Self {
        let mut raw = Vec::with_capacity(Kind::ALL.len());
        let mut lines = Vec::with_capacity(Kind::ALL.len());
        for kind in Kind::ALL {
            let response: Vec<Field> = response_fields(kind).into_iter().map(|f| keep_nested(f, &nested)).collect();
            raw.push(Arc::new(Schema::new([envelope_fields(), response.clone()].concat())));
            let envelope = vec![
                Field::new("kind", DataType::Utf8, true),
                Field::new("url", DataType::Utf8, true),
                Field::new("fetched_at", super::schema::timestamp_type(), true),
                Field::new("user_id", DataType::Utf8, true),
                Field::new("snapshot_id", DataType::Utf8, true),
                Field::new("body", DataType::Struct(Fields::from(response.clone())), true),
            ];
            lines.push([Arc::new(Schema::new(envelope)), Arc::new(Schema::new(response))]);
        }
        Self { nested, raw, lines }
    }

    /// Every field of every raw table.
    pub fn full() -> Arc<Self> {
        static FULL: LazyLock<Arc<ReadSchemas>> = LazyLock::new(|| Arc::new(ReadSchemas::new(NestedFields::All)));
        FULL.clone()
    }

    /// What is decoded below the top-level columns.
    pub fn nested(&self) -> &NestedFields {
        &self.nested
    }

    /// The raw table of `kind`: envelope columns, then the response fields.
    pub fn raw(&self, kind: Kind) -> &SchemaRef {
        &self.raw[kind.index()]
    }

    /// The schema a line of `kind` in `form` is decoded with.
    pub fn line(&self, kind: Kind, form: Form) -> &SchemaRef {
        &self.lines[kind.index()][usize::from(form == Form::Bare)]
    }
}

/// `field` with only the kept fields inside it; `field` itself is kept whatever its name.
fn keep_nested(field: Field, nested: &NestedFields) -> Field {
    let data_type = match field.data_type() {
        DataType::Struct(children) => {
            let kept: Vec<FieldRef> = children
                .iter()
                .filter(|child| nested.keeps(child.name()))
                .map(|child| Arc::new(keep_nested(child.as_ref().clone(), nested)))
                .collect();
            if kept.is_empty() { DataType::Struct(children.clone()) } else { DataType::Struct(Fields::from(kept)) }
        }
        DataType::List(item) => DataType::List(Arc::new(keep_nested(item.as_ref().clone(), nested))),
        other => other.clone(),
    };
    field.with_data_type(data_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(names: &[&str]) -> NestedFields {
        NestedFields::Named(names.iter().map(|n| n.to_string()).collect())
    }

    fn nested_names(data_type: &DataType, out: &mut BTreeSet<String>) {
        match data_type {
            DataType::Struct(fields) => fields.iter().for_each(|f| {
                out.insert(f.name().clone());
                nested_names(f.data_type(), out);
            }),
            DataType::List(item) => nested_names(item.data_type(), out),
            _ => {}
        }
    }

    #[test]
    fn all_keeps_the_full_raw_schemas() {
        let full = ReadSchemas::full();
        for kind in Kind::ALL {
            let expected: Vec<Field> = [envelope_fields(), response_fields(kind)].concat();
            assert_eq!(full.raw(kind).fields(), &Fields::from(expected));
        }
    }

    #[test]
    fn named_keeps_every_top_level_column_and_only_named_nested_fields() {
        let schemas = ReadSchemas::new(named(&["item", "id", "album", "name"]));
        let full = ReadSchemas::full();
        let raw = schemas.raw(Kind::PlaylistItems);
        let top: Vec<_> = raw.fields().iter().map(|f| f.name().clone()).collect();
        let full_top: Vec<_> = full.raw(Kind::PlaylistItems).fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(top, full_top);
        let mut names = BTreeSet::new();
        nested_names(raw.field_with_name("items").unwrap().data_type(), &mut names);
        assert_eq!(names, ["album", "id", "item", "name"].map(String::from).into());
    }

    #[test]
    fn a_struct_with_no_named_field_keeps_all_of_its_fields() {
        // `external_ids` is named but none of isrc/ean/upc is: the struct stays whole.
        let schemas = ReadSchemas::new(named(&["external_ids"]));
        let track = schemas.raw(Kind::Track);
        let DataType::Struct(ids) = track.field_with_name("external_ids").unwrap().data_type() else {
            panic!("external_ids is a struct")
        };
        assert_eq!(ids.len(), 3);
    }

    #[test]
    fn line_schemas_hold_the_same_response_fields_as_the_raw_table() {
        let schemas = ReadSchemas::new(named(&["track", "id"]));
        for kind in Kind::ALL {
            let response = schemas.line(kind, Form::Bare);
            let raw = schemas.raw(kind);
            assert_eq!(&raw.fields()[raw.fields().len() - response.fields().len()..], &response.fields()[..]);
            let envelope = schemas.line(kind, Form::Envelope);
            let DataType::Struct(body) = envelope.field_with_name("body").unwrap().data_type() else {
                panic!("body is a struct")
            };
            assert_eq!(body, response.fields());
        }
    }
}
