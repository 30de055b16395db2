//! `tunestream auth login`: the authorization-code flow with PKCE, receiving the code on a
//! loopback redirect `http://127.0.0.1:PORT/callback` (Spotify refuses `localhost` since 2025).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::auth::{Pkce, authorize_url, random_state};
use super::client::{Client, PullError, TokenFailure};

/// The login could not complete; the user must act (retry, fix the port or the app settings).
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("cannot listen on 127.0.0.1:{port} for the redirect (is the port free?)")]
    Listen {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("the redirect to 127.0.0.1:{port} failed")]
    Callback {
        port: u16,
        #[source]
        source: std::io::Error,
    },
    #[error("authorization failed: {0}")]
    Denied(String),
    #[error(transparent)]
    Pull(#[from] PullError),
}

/// A listener waiting for Spotify's redirect.
pub struct Redirect {
    listener: TcpListener,
    port: u16,
}

impl Redirect {
    /// Listens on `127.0.0.1:port` (0 picks a free port; Spotify needs the exact registered one).
    pub async fn bind(port: u16) -> Result<Self, LoginError> {
        let listener =
            TcpListener::bind(("127.0.0.1", port)).await.map_err(|source| LoginError::Listen { port, source })?;
        let port = listener.local_addr().map_err(|source| LoginError::Listen { port, source })?.port();
        Ok(Self { listener, port })
    }

    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Waits for one request to `/callback` and returns its query parameters.
    async fn receive(&self) -> Result<Vec<(String, String)>, LoginError> {
        let port = self.port;
        let callback = |source| LoginError::Callback { port, source };
        loop {
            let (mut stream, _) = self.listener.accept().await.map_err(callback)?;
            let mut buf = vec![0u8; 8192];
            let mut len = 0;
            while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
                let n = stream.read(&mut buf[len..]).await.map_err(callback)?;
                if n == 0 {
                    break;
                }
                len += n;
            }
            let head = String::from_utf8_lossy(&buf[..len]);
            let target = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
            let Some(query) = target.strip_prefix("/callback?") else {
                let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await;
                continue;
            };
            let page = "tunestream received the authorization; you can close this tab.";
            let reply = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
            let _ = stream.write_all(reply.as_bytes()).await;
            return Ok(url::form_urlencoded::parse(query.as_bytes()).into_owned().collect());
        }
    }
}

/// Runs one login. `open` is given the authorize URL: it prints it for a person, or (for the
/// simulator) follows it. Returns the Spotify user id the tokens belong to.
pub async fn login<F, Fut>(
    client: &Client,
    redirect: Redirect,
    login_hint: Option<&str>,
    open: F,
) -> Result<String, LoginError>
where
    F: FnOnce(String) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let pkce = Pkce::new();
    let state = random_state();
    let redirect_uri = redirect.uri();
    let url = authorize_url(&client.endpoints.accounts, client.client_id(), &redirect_uri, &pkce, &state, login_hint);
    let opener = tokio::spawn(open(url));
    let params = redirect.receive().await?;
    let _ = opener.await;
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some(error) = param("error") {
        return Err(LoginError::Denied(error));
    }
    if param("state").as_deref() != Some(state.as_str()) {
        return Err(LoginError::Denied("the redirect's state does not match this login".into()));
    }
    let code = param("code").ok_or_else(|| LoginError::Denied("the redirect carried no code".into()))?;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("client_id", client.client_id()),
        ("code_verifier", pkce.verifier.as_str()),
    ];
    let grant = client.token_request(&form, false).await.map_err(|f| match f {
        TokenFailure::InvalidGrant(reason) => LoginError::Denied(reason),
        TokenFailure::Other(e) => LoginError::Pull(e),
    })?;
    // Learn whose tokens these are, with the new access token, before storing them.
    let me = client
        .http()
        .get(client.endpoints.v1("me"))
        .bearer_auth(&grant.access_token)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| LoginError::Denied(format!("cannot read the user profile: {e}")))?;
    let profile: serde_json::Value =
        me.json().await.map_err(|e| LoginError::Denied(format!("cannot read the user profile: {e}")))?;
    let user =
        profile["id"].as_str().ok_or_else(|| LoginError::Denied("the user profile has no id".into()))?.to_owned();
    client.tokens.lock().await.store(&user, &grant, false).map_err(|e| LoginError::Pull(e.into()))?;
    Ok(user)
}
