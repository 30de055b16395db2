//! Environment overrides: `TUNESTREAM__SECTION__FIELD=value` sets `[section] field = value`,
//! and Spotify's own `SPOTIFY_CLIENT_ID` / `SPOTIFY_CLIENT_SECRET` set the app's credentials.
//!
//! The mapping is mechanical, so every documented field can be overridden, and a misspelt
//! variable fails like a misspelt file key.

use super::ConfigError;

/// Variables with this prefix override configuration keys.
pub const ENV_PREFIX: &str = "TUNESTREAM__";

/// The variables Spotify's own tools use for the app's credentials, and the keys they set. They
/// win over the file and over `TUNESTREAM__SPOTIFY__…`; an empty one is ignored.
pub const SPOTIFY_VARS: [(&str, &str); 2] =
    [("SPOTIFY_CLIENT_ID", "client_id"), ("SPOTIFY_CLIENT_SECRET", "client_secret")];

/// Applies every `TUNESTREAM__…` variable of `vars` to `table`, then the [`SPOTIFY_VARS`].
pub fn apply_env_overrides(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    let mut ours = Vec::new();
    let mut spotify = Vec::new();
    for (name, value) in vars {
        if name.starts_with(ENV_PREFIX) {
            ours.push((name, value));
        } else if let Some((_, key)) = SPOTIFY_VARS.iter().find(|(var, _)| *var == name)
            && !value.is_empty()
        {
            spotify.push((format!("{ENV_PREFIX}SPOTIFY__{}", key.to_ascii_uppercase()), value));
        }
    }
    ours.sort();
    // Applied last, so they win.
    let vars = ours.into_iter().chain(spotify);
    for (name, raw) in vars {
        let path: Vec<String> = name[ENV_PREFIX.len()..].split("__").map(str::to_ascii_lowercase).collect();
        if path.iter().any(String::is_empty) {
            return Err(ConfigError::Env { name, message: "empty key segment".into() });
        }
        let mut node = &mut *table;
        for section in &path[..path.len() - 1] {
            let entry = node.entry(section.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            node = entry.as_table_mut().ok_or_else(|| ConfigError::Env {
                name: name.clone(),
                message: format!("`{section}` is not a section"),
            })?;
        }
        let key = &path[path.len() - 1];
        // A secret stays the string it is, even when it looks like a number.
        let value = if super::secrets::is_secret(key) { toml::Value::String(raw) } else { scalar(&raw) };
        node.insert(key.clone(), value);
    }
    Ok(())
}

/// Reads a value as TOML when it is one (numbers, booleans), else as a plain string.
fn scalar(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .filter(|v| !v.is_table())
        .unwrap_or_else(|| toml::Value::String(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_typed_when_they_look_typed() {
        assert_eq!(scalar("12"), toml::Value::Integer(12));
        assert_eq!(scalar("true"), toml::Value::Boolean(true));
        assert_eq!(scalar("lake/dir"), toml::Value::String("lake/dir".into()));
        assert_eq!(scalar("\"12\""), toml::Value::String("12".into()));
    }

    #[test]
    fn spotifys_own_variables_set_the_credentials_and_win_over_tunestreams() {
        let mut t = toml::Table::new();
        let vars = [
            ("SPOTIFY_CLIENT_ID", "from-spotify-var"),
            ("TUNESTREAM__SPOTIFY__CLIENT_ID", "from-tunestream-var"),
            ("TUNESTREAM__SPOTIFY__CLIENT_SECRET", "12345"),
            ("SPOTIFY_CLIENT_SECRET", ""),
        ];
        apply_env_overrides(&mut t, vars.map(|(k, v)| (k.to_owned(), v.to_owned()))).unwrap();
        let spotify = t["spotify"].as_table().unwrap();
        assert_eq!(spotify["client_id"].as_str(), Some("from-spotify-var"));
        assert_eq!(spotify["client_secret"].as_str(), Some("12345"), "an empty SPOTIFY_ variable is ignored");
    }

    #[test]
    fn malformed_names_are_refused() {
        let mut t = toml::Table::new();
        let err = apply_env_overrides(&mut t, [("TUNESTREAM__LAKE____X".to_owned(), "1".to_owned())]).unwrap_err();
        assert!(err.to_string().contains("TUNESTREAM__LAKE____X"), "{err}");
    }
}
