//! Which nested raw fields the queries read, so decoding can skip the rest.
//!
//! A nested field can only be read in two ways: by name, with `s['name']` (DataFusion's
//! `get_field`), or by using the value that holds it whole: writing it out, casting it, comparing
//! or grouping it, passing it to a function. The walk below collects every name read with
//! `get_field`, and gives up (decode everything) as soon as any struct-bearing value is used
//! whole. Passing a value along is not a use: projecting it, aliasing it, unnesting a list of
//! it, `coalesce` of it, `IS [NOT] NULL` and the length of a list look at no field.
//!
//! The rule is deliberately blunt: a name read anywhere is kept everywhere, which is never wrong
//! and costs little, since the same few names (`id`, `name`) recur.

use std::collections::BTreeSet;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::{Distinct, Expr, ExprSchemable, LogicalPlan};

use arrow::datatypes::DataType;

use crate::decode::NestedFields;

/// Functions that look at the shape of a value, never at its fields, or (`coalesce`) hand one
/// of their arguments on unchanged, so the value they return is checked instead.
const SHAPE_ONLY: &[&str] = &["array_length", "cardinality", "coalesce", "nvl", "array_element"];

/// The nested fields that `plans` read. `outputs` are written out (so a nested column among
/// them is read whole); views are not.
pub fn nested_fields_read<'a>(
    plans: impl IntoIterator<Item = (&'a LogicalPlan, bool)>,
) -> (NestedFields, Option<String>) {
    let mut walk = Walk::default();
    for (plan, is_output) in plans {
        if is_output && let Some(field) = plan.schema().fields().iter().find(|f| holds_struct(f.data_type())) {
            walk.whole(format!("the output column `{}` is a struct", field.name()));
        }
        // The closure records instead of failing, so the walk itself cannot fail.
        let _ = plan.apply_with_subqueries(|node| {
            walk.node(node);
            Ok(if walk.reason.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
        });
    }
    match walk.reason {
        Some(reason) => (NestedFields::All, Some(reason)),
        None => (NestedFields::Named(walk.names), None),
    }
}

#[derive(Default)]
struct Walk {
    names: BTreeSet<String>,
    /// Why every field must be decoded, once that is known.
    reason: Option<String>,
}

impl Walk {
    fn whole(&mut self, reason: String) {
        self.reason.get_or_insert(reason);
    }

    fn node(&mut self, node: &LogicalPlan) {
        let mut schema = DFSchema::empty();
        for input in node.inputs() {
            schema.merge(input.schema());
        }
        match node {
            LogicalPlan::Projection(projection) => {
                projection.expr.iter().for_each(|e| self.expr(e, &schema, true));
            }
            LogicalPlan::Unnest(unnest) if !unnest.struct_type_columns.is_empty() => {
                self.whole("a struct is unnested into columns".into());
            }
            LogicalPlan::Unnest(_)
            | LogicalPlan::Union(_)
            | LogicalPlan::SubqueryAlias(_)
            | LogicalPlan::TableScan(_)
            | LogicalPlan::EmptyRelation(_)
            | LogicalPlan::Subquery(_) => {}
            LogicalPlan::Distinct(Distinct::All(input)) => {
                if input.schema().fields().iter().any(|f| holds_struct(f.data_type())) {
                    self.whole("DISTINCT compares struct values".into());
                }
            }
            LogicalPlan::Filter(_)
            | LogicalPlan::Aggregate(_)
            | LogicalPlan::Sort(_)
            | LogicalPlan::Join(_)
            | LogicalPlan::Window(_)
            | LogicalPlan::Limit(_)
            | LogicalPlan::Values(_)
            | LogicalPlan::Distinct(Distinct::On(_))
            | LogicalPlan::Repartition(_) => {
                node.expressions().iter().for_each(|e| self.expr(e, &schema, false));
            }
            other => self.whole(format!("the plan has a {} step", other.display())),
        }
    }

    /// Checks `expr`, whose value may be struct-bearing only if `passed_on`: its parent hands
    /// it on without looking inside.
    fn expr(&mut self, expr: &Expr, schema: &DFSchema, passed_on: bool) {
        if self.reason.is_some() {
            return;
        }
        match expr.get_type(schema) {
            Ok(data_type) if holds_struct(&data_type) && !passed_on => {
                return self.whole(format!("`{expr}` uses a struct value whole"));
            }
            Ok(_) => {}
            Err(e) => return self.whole(format!("the type of `{expr}` is unknown: {e}")),
        }
        match expr {
            Expr::Alias(alias) => self.expr(&alias.expr, schema, passed_on),
            Expr::IsNull(inner)
            | Expr::IsNotNull(inner)
            | Expr::Unnest(datafusion::logical_expr::expr::Unnest { expr: inner, .. }) => {
                self.expr(inner, schema, true)
            }
            Expr::ScalarFunction(call) if call.func.name() == "get_field" => {
                let Some((value, names)) = call.args.split_first() else {
                    return self.whole("get_field without arguments".into());
                };
                for name in names {
                    match name {
                        Expr::Literal(
                            ScalarValue::Utf8(Some(n))
                            | ScalarValue::Utf8View(Some(n))
                            | ScalarValue::LargeUtf8(Some(n)),
                            _,
                        ) => {
                            self.names.insert(n.clone());
                        }
                        other => return self.whole(format!("a field is chosen by `{other}`, not by name")),
                    }
                }
                self.expr(value, schema, true);
            }
            Expr::ScalarFunction(call) if SHAPE_ONLY.contains(&call.func.name()) => {
                // coalesce hands its arguments on: they are as free as its own value.
                let keeps = call.func.name() == "coalesce" || call.func.name() == "nvl";
                for (i, arg) in call.args.iter().enumerate() {
                    self.expr(arg, schema, if keeps { passed_on } else { i == 0 });
                }
            }
            _ => {
                // Every other expression looks at its children's whole values.
                let _ = expr.apply_children(|child| {
                    self.expr(child, schema, false);
                    Ok(TreeNodeRecursion::Continue)
                });
            }
        }
    }
}

/// Whether values of `data_type` contain a struct anywhere.
fn holds_struct(data_type: &DataType) -> bool {
    match data_type {
        DataType::Struct(_) => true,
        DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) => {
            holds_struct(item.data_type())
        }
        DataType::Map(entries, _) => holds_struct(entries.data_type()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::transform::{Query, built_in_queries};

    fn query(table: &str, sql: &str) -> Query {
        Query { table: table.into(), path: PathBuf::from(format!("{table}.sql")), sql: sql.into() }
    }

    async fn read_by(queries: &[Query]) -> (NestedFields, Option<String>) {
        super::super::nested_fields_read(queries).await.expect("queries plan")
    }

    async fn names(queries: &[Query]) -> BTreeSet<String> {
        match read_by(queries).await {
            (NestedFields::Named(names), None) => names,
            other => panic!("expected named fields, got {other:?}"),
        }
    }

    async fn reason(queries: &[Query]) -> String {
        match read_by(queries).await {
            (NestedFields::All, Some(reason)) => reason,
            other => panic!("expected every field, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_default_queries_read_only_the_fields_they_name() {
        let names = names(&built_in_queries()).await;
        for read in ["item", "track", "id", "name", "album", "artists", "isrc", "played_at", "added_by"] {
            assert!(names.contains(read), "{read} is read: {names:?}");
        }
        for unread in ["href", "external_urls", "images", "available_markets", "preview_url", "linked_from"] {
            assert!(!names.contains(unread), "{unread} is never read: {names:?}");
        }
    }

    #[tokio::test]
    async fn names_are_followed_through_views_unnest_and_coalesce() {
        let view = query(
            "_entries",
            "SELECT coalesce(e['item'], e['track']) AS p FROM (SELECT unnest(items) AS e FROM playlist_items)",
        );
        let table = query("t", "SELECT p['album']['name'] AS album_name FROM _entries WHERE p IS NOT NULL");
        assert_eq!(names(&[view, table]).await, ["album", "item", "name", "track"].map(String::from).into());
    }

    #[tokio::test]
    async fn list_lengths_and_null_checks_read_no_field() {
        let table = query("t", "SELECT array_length(items) AS n FROM playlist_items WHERE items IS NOT NULL");
        assert!(names(&[table]).await.is_empty());
    }

    #[tokio::test]
    async fn a_struct_used_whole_anywhere_means_every_field_is_read() {
        let cases = [
            ("SELECT album FROM track", "output column `album`"),
            ("SELECT * FROM track", "output column"),
            ("SELECT CAST(album AS VARCHAR) AS a FROM track", "uses a struct value whole"),
            ("SELECT count(*) AS n FROM track GROUP BY album", "uses a struct value whole"),
            ("SELECT array_length(array_agg(album)) AS n FROM track", "uses a struct value whole"),
            ("SELECT id FROM track WHERE album = album", "uses a struct value whole"),
            ("SELECT count(*) AS n FROM (SELECT DISTINCT album FROM track)", "DISTINCT compares struct values"),
            ("SELECT array_distinct(artists) IS NULL AS a FROM track", "uses a struct value whole"),
            ("SELECT count(*) AS n FROM (SELECT unnest(external_ids) FROM track)", "struct is unnested"),
        ];
        for (sql, expected) in cases {
            let why = reason(&[query("t", sql)]).await;
            assert!(why.contains(expected), "{sql}: {why}");
        }
    }

    #[tokio::test]
    async fn a_view_may_pass_a_struct_on_that_a_table_then_reads_whole() {
        let view = query("_albums", "SELECT album AS a FROM track");
        let table = query("t", "SELECT a = a AS same FROM _albums");
        let fine = query("u", "SELECT a['id'] AS id FROM _albums");
        assert!(names(&[view.clone(), fine]).await.contains("id"));
        assert!(reason(&[view, table]).await.contains("whole"));
    }
}
