//! SQL query files: `queries/<table>.sql`, one output table each, and errors that point into them.

use std::path::{Path, PathBuf};

/// One transform: the SQL of `queries/<table>.sql`.
#[derive(Debug, Clone)]
pub struct Query {
    /// The output table, named after the file.
    pub table: String,
    pub path: PathBuf,
    pub sql: String,
}

impl Query {
    /// Views (`_<name>.sql`) feed other queries and are not written out.
    pub fn is_view(&self) -> bool {
        self.table.starts_with('_')
    }

    /// Identifies this exact SQL text: output written by a different SQL gets different names.
    pub fn fingerprint(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(self.sql.as_bytes())
    }
}

/// A query file or directory that cannot be used. The user must fix the SQL or the path.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("cannot read queries from {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no queries: {0} holds no *.sql file")]
    Empty(PathBuf),
    #[error(
        "{path}: the file name must be a table name (letters, digits, `_`; not starting with a digit), so the output table can be named after it"
    )]
    BadName { path: PathBuf },
    /// `location` is `path:line:column` where the error could be placed, else the path.
    #[error("{location}: {message}")]
    Invalid { location: String, message: String },
    /// tunestream could not plan a query for a reason of its own: a bug.
    #[error("{location}: internal error (a bug in tunestream): {message}")]
    Internal { location: String, message: String },
}

impl QueryError {
    /// Who must act: the user, unless planning failed for a reason of tunestream's own.
    pub fn blame(&self) -> crate::Blame {
        match self {
            QueryError::Internal { .. } => crate::Blame::Bug,
            QueryError::Read { .. }
            | QueryError::Empty(_)
            | QueryError::BadName { .. }
            | QueryError::Invalid { .. } => crate::Blame::User,
        }
    }
}

/// The folder of queries used when none is configured, relative to the working directory.
pub const DEFAULT_QUERIES_DIR: &str = "queries";

/// The default queries, built into the binary so tunestream runs anywhere, even without a
/// `queries/` folder. They are the files of the repository's `queries/`.
const BUILT_IN: [(&str, &str); 10] = [
    ("_albums_seen", include_str!("../../queries/_albums_seen.sql")),
    ("_playlist_entries", include_str!("../../queries/_playlist_entries.sql")),
    ("_tracks_seen", include_str!("../../queries/_tracks_seen.sql")),
    ("albums", include_str!("../../queries/albums.sql")),
    ("artists", include_str!("../../queries/artists.sql")),
    ("playlist_tracks", include_str!("../../queries/playlist_tracks.sql")),
    ("playlists", include_str!("../../queries/playlists.sql")),
    ("plays", include_str!("../../queries/plays.sql")),
    ("track_artists", include_str!("../../queries/track_artists.sql")),
    ("tracks", include_str!("../../queries/tracks.sql")),
];

/// The built-in default queries.
pub fn built_in_queries() -> Vec<Query> {
    built_in(&BUILT_IN)
}

/// Queries from embedded files, named `<built-in>/<name>.sql`.
pub(super) fn built_in(files: &[(&str, &str)]) -> Vec<Query> {
    files
        .iter()
        .map(|(table, sql)| Query {
            table: (*table).to_owned(),
            path: PathBuf::from(format!("<built-in>/{table}.sql")),
            sql: (*sql).to_owned(),
        })
        .collect()
}

/// The queries to run: from `configured`, else from `./queries` when it exists, else built in.
pub fn resolve_queries(configured: Option<&Path>) -> Result<Vec<Query>, QueryError> {
    resolve(configured, DEFAULT_QUERIES_DIR, built_in_queries)
}

/// The `*.sql` files of `configured`, else of `default_dir` when it exists, else `built_in`'s.
pub(super) fn resolve(
    configured: Option<&Path>,
    default_dir: &str,
    built_in: fn() -> Vec<Query>,
) -> Result<Vec<Query>, QueryError> {
    match configured {
        Some(dir) => load_queries(dir),
        None if Path::new(default_dir).is_dir() => load_queries(Path::new(default_dir)),
        None => {
            tracing::info!("no {default_dir}/ folder here: running the built-in ones");
            Ok(built_in())
        }
    }
}

/// Reads every `*.sql` file of `dir`, in name order.
pub fn load_queries(dir: &Path) -> Result<Vec<Query>, QueryError> {
    let mut paths =
        crate::fs::sorted_entries(dir).map_err(|source| QueryError::Read { path: dir.to_owned(), source })?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "sql"));
    if paths.is_empty() {
        return Err(QueryError::Empty(dir.to_owned()));
    }
    paths
        .into_iter()
        .map(|path| {
            let table = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
            let valid = !table.is_empty()
                && table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !table.starts_with(|c: char| c.is_ascii_digit())
                && !table.trim_start_matches('_').is_empty();
            if !valid {
                return Err(QueryError::BadName { path });
            }
            let sql =
                std::fs::read_to_string(&path).map_err(|source| QueryError::Read { path: path.clone(), source })?;
            Ok(Query { table, path, sql })
        })
        .collect()
}

/// Builds an [`QueryError::Invalid`] that names the file and, where DataFusion says, the line.
pub fn invalid(query: &Query, error: &datafusion::error::DataFusionError) -> QueryError {
    let message = error.to_string();
    let position = error
        .diagnostic()
        .and_then(|d| d.span)
        .filter(|span| span.start.line > 0)
        .map(|span| (span.start.line, span.start.column))
        .or_else(|| position_in_message(&message));
    let path = query.path.display();
    let location = match position {
        Some((line, column)) => format!("{path}:{line}:{column}"),
        None => path.to_string(),
    };
    QueryError::Invalid { location, message }
}

/// sqlparser reports positions as `Line: N, Column: M` inside its messages.
fn position_in_message(message: &str) -> Option<(u64, u64)> {
    let after = |key: &str| -> Option<u64> {
        let rest = &message[message.rfind(key)? + key.len()..];
        rest.chars().take_while(char::is_ascii_digit).collect::<String>().parse().ok()
    };
    Some((after("Line: ")?, after("Column: ")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_queries_are_exactly_the_repository_queries() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_QUERIES_DIR);
        let on_disk: Vec<(String, String)> =
            load_queries(&dir).unwrap().into_iter().map(|q| (q.table, q.sql)).collect();
        let built_in: Vec<(String, String)> = built_in_queries().into_iter().map(|q| (q.table, q.sql)).collect();
        assert_eq!(on_disk, built_in, "add new query files to BUILT_IN");
    }

    #[test]
    fn positions_are_read_from_parser_messages() {
        let msg = "SQL error: ParserError(\"Expected: end of statement, found: FORM at Line: 3, Column: 8\")";
        assert_eq!(position_in_message(msg), Some((3, 8)));
        assert_eq!(position_in_message("no position here"), None);
    }

    #[test]
    fn queries_load_in_name_order_and_bad_names_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b_table.sql"), "SELECT 2").unwrap();
        std::fs::write(dir.path().join("a_table.sql"), "SELECT 1").unwrap();
        std::fs::write(dir.path().join("README.md"), "not sql").unwrap();
        let queries = load_queries(dir.path()).unwrap();
        assert_eq!(queries.iter().map(|q| q.table.as_str()).collect::<Vec<_>>(), ["a_table", "b_table"]);
        assert_ne!(queries[0].fingerprint(), queries[1].fingerprint());

        std::fs::write(dir.path().join("bad-name.sql"), "SELECT 3").unwrap();
        let err = load_queries(dir.path()).unwrap_err();
        assert!(err.to_string().contains("bad-name.sql"), "{err}");

        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(load_queries(empty.path()), Err(QueryError::Empty(_))));
    }
}
