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
}

impl Default for ServeSection {
    fn default() -> Self {
        Self { enabled: true, listen: "127.0.0.1:8787".to_owned() }
    }
}

impl ServeSection {
    /// Every problem of this section.
    pub fn problems(&self) -> Vec<String> {
        match self.listen.parse::<SocketAddr>() {
            Ok(_) => Vec::new(),
            Err(_) => vec![format!("serve.listen `{}` is not an address and port like 127.0.0.1:8787", self.listen)],
        }
    }

    /// Where to listen, or `None` when serving is off. Call after [`ServeSection::problems`].
    pub fn into_settings(self) -> Option<SocketAddr> {
        self.enabled.then(|| self.listen.parse().ok()).flatten()
    }
}
