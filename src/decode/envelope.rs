//! Tells, for one raw line, which kind of page it holds and whether it is wrapped in an envelope.
//!
//! The envelope written by tunestream's own pullers puts `kind` first, and Spotify paging objects
//! start with `href`, so the common cases are read from the first bytes without parsing the page.
//! Otherwise the top-level keys are scanned as decoding scans them, so a line's fate never
//! depends on its key order; decoding then accepts or rejects it.

use serde::Deserialize;

use super::Kind;
use super::scan::Scanner;
use super::skip::GiveUp;

/// How a line wraps its response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Form {
    /// `{"kind":…, "url":…, "fetched_at":…, "user_id":…, "snapshot_id":…, "body":{…}}`
    Envelope,
    /// The response body alone, as Spotify returned it.
    Bare,
}

/// What [`probe`] found out about a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub kind: Kind,
    pub form: Form,
}

/// Why a line's kind could not be told; the line is rejected with this text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not a JSON object")]
    NotObject,
    #[error("envelope names {0}")]
    UnknownEnvelopeKind(String),
    #[error(
        "cannot tell the page kind: no envelope `kind` and no recognisable `href` or `type` \
         (pass --kind for a file of bare responses)"
    )]
    UnknownKind,
}

/// Finds the kind and form of `line`. `default_kind` is the kind given for bare lines of its file.
pub fn probe(line: &[u8], default_kind: Option<Kind>) -> Result<Probe, ProbeError> {
    if let Some(kind) = leading_string_value(line, b"kind") {
        return envelope_kind(kind);
    }
    if let Some(kind) = default_kind {
        return Ok(Probe { kind, form: Form::Bare });
    }
    if let Some(href) = leading_string_value(line, b"href")
        && let Some(kind) = Kind::from_href(href)
    {
        return Ok(Probe { kind, form: Form::Bare });
    }
    probe_by_parsing(line)
}

fn envelope_kind(kind: &str) -> Result<Probe, ProbeError> {
    kind.parse()
        .map(|kind| Probe { kind, form: Form::Envelope })
        .map_err(|e: crate::page::UnknownKind| ProbeError::UnknownEnvelopeKind(e.to_string()))
}

/// Reads `{"<key>":"<value>"` at the start of `line`, when the value has no escapes.
fn leading_string_value<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a str> {
    let rest = line.trim_ascii_start().strip_prefix(b"{")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?.strip_prefix(key)?.strip_prefix(b"\"")?;
    let rest = rest.trim_ascii_start().strip_prefix(b":")?.trim_ascii_start();
    let rest = rest.strip_prefix(b"\"")?;
    let end = rest.iter().position(|&b| b == b'"' || b == b'\\')?;
    (rest[end] == b'"').then(|| std::str::from_utf8(&rest[..end]).ok())?
}

#[derive(Deserialize)]
struct TopLevelKeys<'a> {
    #[serde(borrow, default)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default)]
    href: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow, default, rename = "type")]
    object_type: Option<std::borrow::Cow<'a, str>>,
}

/// The top-level `kind`, `href` and `type` of `line`, read with the same scanner (and the same
/// checks) as decoding, so whether a line is accepted never depends on which key comes first.
/// Gives up on escapes, repeats and anything malformed: serde_json then reads the line.
fn scan_top_level(line: &[u8]) -> Result<TopLevelKeys<'_>, GiveUp> {
    let mut scan = Scanner::new(line);
    let mut keys = TopLevelKeys { kind: None, href: None, object_type: None };
    scan.expect(b'{')?;
    if !scan.eat(b'}')? {
        loop {
            let (key, escaped) = scan.string()?;
            scan.expect(b':')?;
            let slot = match key {
                b"kind" => Some(&mut keys.kind),
                b"href" => Some(&mut keys.href),
                b"type" => Some(&mut keys.object_type),
                _ => None,
            };
            match slot {
                Some(slot) if !escaped && scan.peek()? == b'"' => {
                    let (value, escaped) = scan.string()?;
                    if escaped || slot.is_some() {
                        return Err(GiveUp);
                    }
                    *slot = Some(std::str::from_utf8(value).map_err(|_| GiveUp)?.into());
                }
                _ => scan.skip_value()?,
            }
            if scan.eat(b'}')? {
                break;
            }
            scan.expect(b',')?;
        }
    }
    if scan.peek().is_ok() {
        return Err(GiveUp);
    }
    Ok(keys)
}

fn probe_by_parsing(line: &[u8]) -> Result<Probe, ProbeError> {
    let keys = match scan_top_level(line) {
        Ok(keys) => keys,
        Err(GiveUp) => match serde_json::from_slice::<TopLevelKeys>(line) {
            Ok(keys) => keys,
            Err(e) if e.classify() == serde_json::error::Category::Data => return Err(ProbeError::NotObject),
            Err(e) => return Err(ProbeError::NotJson(e.to_string())),
        },
    };
    if let Some(kind) = keys.kind {
        return envelope_kind(&kind);
    }
    let by_href = keys.href.as_deref().and_then(Kind::from_href);
    let by_type = match keys.object_type.as_deref() {
        Some("track") => Some(Kind::Track),
        Some("album") => Some(Kind::Album),
        Some("artist") => Some(Kind::Artist),
        Some("playlist") => Some(Kind::Playlist),
        _ => None,
    };
    by_href.or(by_type).map(|kind| Probe { kind, form: Form::Bare }).ok_or(ProbeError::UnknownKind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_str(line: &str) -> Result<Probe, ProbeError> {
        probe(line.as_bytes(), None)
    }

    #[test]
    fn canonical_envelope_is_read_from_its_first_key() {
        let p = probe_str(r#"{"kind":"recently_played","url":"u","body":{}}"#).unwrap();
        assert_eq!(p, Probe { kind: Kind::RecentlyPlayed, form: Form::Envelope });
    }

    #[test]
    fn envelope_with_keys_in_any_order_is_recognised() {
        let p = probe_str(r#"{ "url":"u", "body":{"x":[1]}, "kind" : "album"}"#).unwrap();
        assert_eq!(p, Probe { kind: Kind::Album, form: Form::Envelope });
    }

    #[test]
    fn bare_responses_are_told_by_href_then_type() {
        let page = r#"{"href":"https://api.spotify.com/v1/playlists/p1/items?offset=0","items":[]}"#;
        assert_eq!(probe_str(page).unwrap().kind, Kind::PlaylistItems);
        let track = r#"{"album":{"href":"https://api.spotify.com/v1/albums/a"},"href":"https://api.spotify.com/v1/tracks/t","type":"track"}"#;
        assert_eq!(probe_str(track).unwrap(), Probe { kind: Kind::Track, form: Form::Bare });
        let artist = r#"{"name":"x","type":"artist"}"#;
        assert_eq!(probe_str(artist).unwrap().kind, Kind::Artist);
    }

    #[test]
    fn the_given_kind_wins_for_bare_lines_but_not_for_envelopes() {
        let bare = br#"{"items":[]}"#;
        assert_eq!(probe(bare, Some(Kind::ArtistAlbums)).unwrap().kind, Kind::ArtistAlbums);
        let env = br#"{"kind":"track","body":{}}"#;
        assert_eq!(probe(env, Some(Kind::ArtistAlbums)).unwrap(), Probe { kind: Kind::Track, form: Form::Envelope });
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert!(matches!(probe_str("{not json"), Err(ProbeError::NotJson(_))));
        assert_eq!(probe_str("[1,2]"), Err(ProbeError::NotObject));
        assert_eq!(probe_str(r#"{"items":[]}"#), Err(ProbeError::UnknownKind));
        let err = probe_str(r#"{"kind":"podcasts","body":{}}"#).unwrap_err().to_string();
        assert!(err.contains("`podcasts`"), "{err}");
    }
}
