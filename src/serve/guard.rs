//! What keeps the HTTP server from hurting the pipeline it serves: a cap on connections, answered
//! `503` past it without holding a descriptor, and deadlines on connections that stall (no
//! response started within [`RESPONSE_START`] of accepting, or no byte either way for
//! [`IDLE`]). Idle connections otherwise pile up until the process runs out of descriptors and
//! its commits fail ("Too many open files").

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// A connection must have its response started this long after it was accepted: a client that
/// sends its request slowly, or never, is dropped.
pub const RESPONSE_START: Duration = Duration::from_secs(10);
/// A connection with no byte read or written for this long is dropped. Event streams write at
/// every refresh and send keep-alives, so a live dashboard never idles this long.
pub const IDLE: Duration = Duration::from_secs(60);
/// What a connection past the cap is told before it is closed.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n\
Connection: close\r\nContent-Length: 39\r\n\r\ntoo many connections; try again later\r\n";

/// A listener that accepts at most `max_connections` at a time.
pub struct GuardedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
}

impl GuardedListener {
    pub fn new(inner: TcpListener, max_connections: usize) -> Self {
        Self { inner, slots: Arc::new(Semaphore::new(max_connections)) }
    }
}

impl axum::serve::Listener for GuardedListener {
    type Io = GuardedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let (mut stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or the like: wait rather than spin; the cap makes it rare.
                    tracing::warn!("HTTP accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            match self.slots.clone().try_acquire_owned() {
                Ok(permit) => return (GuardedStream::new(stream, permit), addr),
                Err(_) => {
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(BUSY)).await;
                    });
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// An accepted connection holding its slot, and the deadline it must keep.
pub struct GuardedStream {
    inner: TcpStream,
    _slot: OwnedSemaphorePermit,
    deadline: Pin<Box<Sleep>>,
    responded: bool,
}

impl GuardedStream {
    fn new(inner: TcpStream, slot: OwnedSemaphorePermit) -> Self {
        Self { inner, _slot: slot, deadline: Box::pin(tokio::time::sleep(RESPONSE_START)), responded: false }
    }

    /// Moves the deadline on after progress: idle time once a response has started.
    fn progressed(&mut self, wrote: bool) {
        self.responded |= wrote;
        if self.responded {
            self.deadline.as_mut().reset(Instant::now() + IDLE);
        }
    }

    /// The error that ends a connection whose deadline passed, if it did.
    fn expired(&mut self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.deadline.as_mut().poll(cx).is_ready().then(|| {
            let what = if self.responded { "idle" } else { "no request" };
            io::Error::new(io::ErrorKind::TimedOut, format!("connection closed: {what} for too long"))
        })
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    self.progressed(false);
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.expired(cx).map_or(Poll::Pending, |e| Poll::Ready(Err(e))),
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, buf) {
            Poll::Ready(result) => {
                if result.as_ref().is_ok_and(|n| *n > 0) {
                    self.progressed(true);
                }
                Poll::Ready(result)
            }
            Poll::Pending => self.expired(cx).map_or(Poll::Pending, |e| Poll::Ready(Err(e))),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Raises this process's soft limit on open files to its hard limit, so the lake, the state
/// and the server's capped connections all fit; returns the limit now in force.
pub fn raise_open_files_limit() -> Option<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `getrlimit` only writes the struct it is given, which lives on this stack frame.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: `setrlimit` only reads the struct it is given; raising the soft limit up to
        // the hard one needs no privilege.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            return Some(raised.rlim_cur);
        }
    }
    Some(limit.rlim_cur)
}
