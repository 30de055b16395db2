//! Where a store lives, as the user writes it: a local directory or an `s3://bucket/prefix` URL.

use std::fmt;
use std::path::{Path, PathBuf};

/// A store's root: a directory, or a bucket and key prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Local(PathBuf),
    S3 {
        bucket: String,
        /// Key prefix without leading or trailing `/`; empty for the bucket's root.
        prefix: String,
    },
}

impl Location {
    /// Reads `s3://bucket/prefix` as S3 and anything else as a local path.
    pub fn parse(text: &str) -> Result<Self, String> {
        let Some(rest) = text.strip_prefix("s3://") else {
            if text.contains("://") {
                return Err(format!("{text}: only local paths and s3:// URLs are supported"));
            }
            // `s3:/bucket` or `S3://bucket` is a mistyped URL, not a folder named `s3:`.
            if text.get(..3).is_some_and(|scheme| scheme.eq_ignore_ascii_case("s3:")) {
                return Err(format!("{text}: an S3 location is written s3://BUCKET/PREFIX"));
            }
            return Ok(Location::Local(PathBuf::from(text)));
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's own bucket naming rules, so a typo fails here rather than as an HTTP error.
        let valid_bucket = (3..=63).contains(&bucket.len())
            && bucket.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
            && !bucket.starts_with(['-', '.'])
            && !bucket.ends_with(['-', '.']);
        if !valid_bucket {
            return Err(format!(
                "{text}: `{bucket}` is not an S3 bucket name (3 to 63 lowercase letters, digits, `-` and `.`)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|part| part.is_empty() && !prefix.is_empty()) {
            return Err(format!("{text}: the key prefix has an empty segment (`//`)"));
        }
        // S3 keys are not paths: `..` would be written as the two characters, not go up.
        if prefix.split('/').any(|part| part == "." || part == "..") {
            return Err(format!(
                "{text}: the key prefix has a `.` or `..` segment; S3 keys are not paths, so name the prefix as it is"
            ));
        }
        Ok(Location::S3 { bucket: bucket.to_owned(), prefix: prefix.to_owned() })
    }

    /// The local directory, if this is one.
    pub fn local(&self) -> Option<&Path> {
        match self {
            Location::Local(path) => Some(path),
            Location::S3 { .. } => None,
        }
    }

    /// Whether one location lies inside the other (or they are the same).
    pub fn overlaps(&self, other: &Location) -> bool {
        match (self, other) {
            (Location::Local(a), Location::Local(b)) => {
                // `./lake/json` lies inside `lake`, and so does `/abs/path/lake/json`.
                let (a, b) = (std::path::absolute(a).unwrap_or(a.clone()), std::path::absolute(b).unwrap_or(b.clone()));
                a.starts_with(&b) || b.starts_with(&a)
            }
            (Location::S3 { bucket: a, prefix: pa }, Location::S3 { bucket: b, prefix: pb }) => {
                let inside = |x: &str, y: &str| y.is_empty() || x == y || x.starts_with(&format!("{y}/"));
                a == b && (inside(pa, pb) || inside(pb, pa))
            }
            _ => false,
        }
    }

    /// `self` with `child` (a `/`-separated relative path) appended.
    pub fn join(&self, child: &str) -> Location {
        match self {
            Location::Local(path) => Location::Local(path.join(child)),
            Location::S3 { bucket, prefix } => {
                let prefix = if prefix.is_empty() { child.to_owned() } else { format!("{prefix}/{child}") };
                Location::S3 { bucket: bucket.clone(), prefix }
            }
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(path) => write!(f, "{}", path.display()),
            Location::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            Location::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Self {
        Location::Local(path)
    }
}

impl<'de> serde::Deserialize<'de> for Location {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Location::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls_and_paths_are_told_apart_and_checked() {
        let s3 = |b: &str, p: &str| Location::S3 { bucket: b.into(), prefix: p.into() };
        assert_eq!(Location::parse("s3://my-lake/a/b/").unwrap(), s3("my-lake", "a/b"));
        assert_eq!(Location::parse("s3://my-lake").unwrap(), s3("my-lake", ""));
        assert_eq!(Location::parse("lake/x").unwrap(), Location::Local("lake/x".into()));
        assert_eq!(Location::parse("s3://my-lake/a/b").unwrap().to_string(), "s3://my-lake/a/b");
        for bad in [
            "s3://My_Lake/x",
            "s3://ab",
            "gs://b/x",
            "s3://lake/a//b",
            "s3://lake/../x",
            "s3://lake/a/./b",
            "s3:/lake/x",
            "S3://lake/x",
            "s3:lake",
        ] {
            assert!(Location::parse(bad).unwrap_err().contains(bad), "{bad}");
        }
    }

    #[test]
    fn overlap_follows_prefix_segments() {
        let at = |s: &str| Location::parse(s).unwrap();
        assert!(at("s3://lake/a").overlaps(&at("s3://lake/a/_raw")));
        assert!(at("s3://lake").overlaps(&at("s3://lake/x")));
        assert!(!at("s3://lake/a").overlaps(&at("s3://lake/ab")));
        assert!(!at("s3://lake/a").overlaps(&at("s3://other/a")));
        assert!(!at("s3://lake/a").overlaps(&at("lake/a")));
        assert_eq!(at("s3://lake").join("_raw"), at("s3://lake/_raw"));
        assert!(at("./lake/json").overlaps(&at("lake")));
        let absolute = std::env::current_dir().unwrap().join("lake");
        assert!(Location::Local(absolute).overlaps(&at("lake/json/")));
    }
}
