//! Keeping secret values out of configuration errors: an error names the key that holds a
//! secret, never its value, whether it came from the file or the environment.

use super::ConfigError;

/// Whether `key` holds a secret (a client secret, a token, a password); `access_token_ttl_secs`
/// does not.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "password"].iter().any(|word| key.ends_with(word))
}

/// Every secret key under `table` whose value is not a string, by its dotted path: serde would
/// quote the value in its error.
pub fn non_string_secrets(table: &toml::Table, at: &str, problems: &mut Vec<String>) {
    for (key, value) in table {
        let path = if at.is_empty() { key.clone() } else { format!("{at}.{key}") };
        match value {
            toml::Value::String(_) => {}
            _ if is_secret(key) => problems.push(format!("{path} must be a string (its value is not shown)")),
            toml::Value::Table(inner) => non_string_secrets(inner, &path, problems),
            toml::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let toml::Value::Table(inner) = item {
                        non_string_secrets(inner, &format!("{path}[{i}]"), problems);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A TOML syntax error in `text` as its line, column and description, without the source line
/// the parser would quote; on a line that sets a secret, without the description either.
pub fn syntax_error(origin: &str, text: &str, error: &toml::de::Error) -> ConfigError {
    let Some(span) = error.span() else {
        return ConfigError::Parse { origin: origin.to_owned(), message: error.message().to_owned() };
    };
    let before = &text[..span.start.min(text.len())];
    let line_no = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    let line = text.lines().nth(line_no - 1).unwrap_or_default();
    let key = line.split('=').next().unwrap_or_default().trim().trim_matches('"');
    let message = if is_secret(key) {
        format!("line {line_no}: the value is not valid TOML (the line sets a secret, so it is not shown)")
    } else {
        format!("line {line_no}, column {column}: {}", error.message().trim())
    };
    ConfigError::Parse { origin: origin.to_owned(), message }
}

#[cfg(test)]
mod tests {
    const SECRET: &str = "s3cr3t-v4lue";

    fn load_text(text: &str, vars: Vec<(String, String)>) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tunestream.toml");
        std::fs::write(&path, text).unwrap();
        super::super::load(Some(&path), vars).unwrap_err().to_string()
    }

    #[test]
    fn no_config_error_shows_a_secret_value() {
        let cases = [
            // A syntax error on the secret's line.
            format!("[spotify]\nclient_secret = {SECRET}\n"),
            format!("[spotify]\nclient_secret = \"{SECRET}\n"),
            // A value of the wrong type.
            format!("[spotify]\nclient_secret = [\"{SECRET}\"]\n"),
            format!("[simulator]\nclient_secret = {{ v = \"{SECRET}\" }}\n"),
            // A misspelt key next to the secret, and a misspelt secret key.
            format!("[spotify]\nclient_secret = \"{SECRET}\"\nclient_idd = \"x\"\n"),
            format!("[spotify]\nclient_secrett = \"{SECRET}\"\n"),
        ];
        for text in cases {
            let error = load_text(&text, Vec::new());
            assert!(!error.contains(SECRET) && !error.contains("s3cr3t"), "{text}\n→ {error}");
        }
        let syntax = load_text(&format!("[spotify]\nclient_secret = {SECRET}\n"), Vec::new());
        assert!(syntax.contains("line 2") && syntax.contains("not shown"), "{syntax}");
        let typed = load_text(&format!("[spotify]\nclient_secret = [\"{SECRET}\"]\n"), Vec::new());
        assert!(typed.contains("spotify.client_secret must be a string"), "{typed}");
        // From the environment, a secret is always a string, whatever it looks like.
        let vars = vec![("TUNESTREAM__SPOTIFY__CLIENT_SECRET".to_owned(), "12345".to_owned())];
        let loaded = super::super::load(None, vars).unwrap();
        assert_eq!(loaded.spotify.client_secret.as_deref(), Some("12345"));
        let vars = vec![
            ("TUNESTREAM__SPOTIFY__CLIENT_SECRET".to_owned(), SECRET.to_owned()),
            ("TUNESTREAM__SPOTIFY__NO_SUCH_KEY".to_owned(), "1".to_owned()),
        ];
        let error = super::super::load(None, vars).unwrap_err().to_string();
        assert!(!error.contains(SECRET) && error.contains("no_such_key"), "{error}");
    }
}
