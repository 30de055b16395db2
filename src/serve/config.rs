//! `[serve]`: the section as written (with its defaults), and the address it validates into.

use std::net::SocketAddr;

use serde::Deserialize;

/// `[serve]`: the read-only HTTP server of `run` (feeds, dashboard, metrics, health).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSection {
    /// Serve HTTP during `run`.
    pub enabled: bool,
    /// Address and port to listen on. The default takes loopback only; port 0 picks a free
    /// one, and the log says which.
    pub listen: String,
    /// Seconds to keep serving after the run has drained and committed, so a last scrape of
    /// `/metrics` sees the final counts (those of the summary).
    pub linger_secs: u64,
    /// Connections served at once; one more is answered `503` and closed, so no number of
    /// clients can take the descriptors the lake and the state need.
    pub max_connections: usize,
}

impl Default for ServeSection {
    fn default() -> Self {
        Self { enabled: true, listen: "127.0.0.1:8787".to_owned(), linger_secs: 0, max_connections: 256 }
    }
}

impl ServeSection {
    /// Every problem of this section.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.listen.parse::<SocketAddr>().is_err() {
            problems.push(format!("serve.listen `{}` is not an address and port like 127.0.0.1:8787", self.listen));
        }
        if self.max_connections == 0 {
            problems.push("serve.max_connections must be at least 1".to_owned());
        }
        problems
    }

    /// Where to listen and how long to linger, or `None` when serving is off. Call after
    /// [`ServeSection::problems`].
    pub fn into_settings(self) -> Option<ServeSettings> {
        let listen = self.listen.parse().ok().filter(|_| self.enabled)?;
        let linger = std::time::Duration::from_secs(self.linger_secs);
        Some(ServeSettings { listen, linger, max_connections: self.max_connections })
    }
}

/// The validated `[serve]` section, for a run that serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub linger: std::time::Duration,
    pub max_connections: usize,
}
