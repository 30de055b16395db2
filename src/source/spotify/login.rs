//! `tunestream auth login`: the authorization-code flow with PKCE, receiving the code on a
//! loopback redirect `http://127.0.0.1:PORT/callback` (Spotify refuses `localhost` since 2025).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

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
    #[error("authorization failed: {0}")]
    Denied(String),
    #[error(transparent)]
    Pull(#[from] PullError),
}

impl LoginError {
    /// Who must act: the user for a port or a refusal, else whoever the failed request names.
    pub fn blame(&self) -> crate::Blame {
        match self {
            LoginError::Listen { .. } | LoginError::Denied(_) => crate::Blame::User,
            LoginError::Pull(e) => e.blame(),
        }
    }
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

    /// Waits for the request to `/callback` that carries `state`, and returns its query
    /// parameters. Connections are served at once, each within [`CONNECTION_TIMEOUT`]; one that
    /// stalls, resets or carries another state is answered (or dropped) and the wait goes on.
    async fn receive(&self, state: &str) -> Vec<(String, String)> {
        let (tx, mut rx) = mpsc::channel(1);
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let (tx, state) = (tx.clone(), state.to_owned());
                        connections.spawn(async move {
                            if let Ok(Some(params)) = tokio::time::timeout(CONNECTION_TIMEOUT, serve(stream, &state)).await {
                                let _ = tx.send(params).await;
                            }
                        });
                    }
                    // Running out of file descriptors, say: wait, then accept again.
                    Err(e) => {
                        tracing::warn!("accepting a redirect connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                },
                Some(params) = rx.recv() => return params,
            }
            while connections.try_join_next().is_some() {}
        }
    }
}

/// How long one connection to the redirect listener may take to send its request.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(10);

/// Answers one request; returns its query when it is a callback carrying `state`. The state is
/// checked before anything else in it, `error=` included: a request without it is not Spotify's
/// answer to this login.
async fn serve(mut stream: TcpStream, state: &str) -> Option<Vec<(String, String)>> {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
        match stream.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let target = head.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let Some(query) = target.strip_prefix("/callback?") else {
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n").await;
        return None;
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let ours = params.iter().any(|(k, v)| k == "state" && v == state);
    let (status, page) = if ours {
        ("200 OK", "tunestream received the authorization; you can close this tab.")
    } else {
        ("400 Bad Request", "This redirect does not belong to the login tunestream is waiting for.")
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
        page.len()
    );
    let _ = stream.write_all(reply.as_bytes()).await;
    ours.then_some(params)
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
    // Only a redirect carrying this login's state gets here; its `error=` is Spotify's answer.
    let params = redirect.receive(&state).await;
    let _ = opener.await;
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    if let Some(error) = param("error") {
        return Err(LoginError::Denied(error));
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

#[cfg(test)]
mod tests {
    use super::*;

    async fn send(port: u16, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer).await;
        answer
    }

    #[tokio::test]
    async fn only_the_callback_with_this_logins_state_ends_the_wait_whatever_else_arrives() {
        let redirect = Redirect::bind(0).await.unwrap();
        let port = redirect.port;
        let waiting = tokio::spawn(async move { redirect.receive("s3cret-state").await });
        // A connection that never sends a request holds nothing up.
        let _stalled = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // One that resets half-way does not end the login.
        let mut reset = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        reset.write_all(b"GET /callback?co").await.unwrap();
        drop(reset);
        // A forged redirect: its error= is not read, because its state is not this login's.
        let forged = send(port, "GET /callback?error=access_denied&state=other HTTP/1.1\r\n\r\n").await;
        assert!(forged.starts_with("HTTP/1.1 400"), "{forged}");
        let missing = send(port, "GET /callback?code=abc HTTP/1.1\r\n\r\n").await;
        assert!(missing.starts_with("HTTP/1.1 400"), "{missing}");
        assert!(!waiting.is_finished());
        let ours = send(port, "GET /callback?code=the-code&state=s3cret-state HTTP/1.1\r\n\r\n").await;
        assert!(ours.starts_with("HTTP/1.1 200"), "{ours}");
        let params = tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap();
        assert!(params.contains(&("code".to_owned(), "the-code".to_owned())));
    }
}
