//! How a command stops: on SIGINT or SIGTERM, or after `--for`; and how `--for` is read.

use tokio_util::sync::CancellationToken;

/// Parses `90`, `90s`, `5m` or `2h`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (number, unit) = text.find(|c: char| !c.is_ascii_digit()).map_or((text, "s"), |i| text.split_at(i));
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration like 90s, 5m or 2h"))?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        _ => return Err(format!("`{text}`: the unit must be s, m or h")),
    };
    Ok(std::time::Duration::from_secs(secs))
}

/// Cancels the returned token on SIGINT, SIGTERM or SIGHUP (a dropped SSH session, `systemctl
/// reload` without a reload command), so the pipeline drains, commits and prints its summary.
pub fn shutdown_on_signal() -> CancellationToken {
    let cancel = CancellationToken::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (term, hangup) = match (signal(SignalKind::terminate()), signal(SignalKind::hangup())) {
                (Ok(term), Ok(hangup)) => (term, hangup),
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!("cannot listen for SIGTERM and SIGHUP: {e}");
                    let _ = ctrl_c.await;
                    token.cancel();
                    return;
                }
            };
            let (mut term, mut hangup) = (term, hangup);
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
                _ = hangup.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("shutting down: finishing the micro-batches in flight");
        token.cancel();
    });
    cancel
}

/// Also cancels `cancel` once `limit` has passed.
pub fn stop_after(cancel: &CancellationToken, limit: std::time::Duration) {
    let token = cancel.clone();
    tokio::spawn(async move {
        tokio::select! {
            () = tokio::time::sleep(limit) => {
                tracing::info!("--for elapsed: finishing the micro-batches in flight");
                token.cancel();
            }
            () = token.cancelled() => {}
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_and_hours() {
        assert_eq!(parse_duration("90").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("5m").unwrap().as_secs(), 300);
        assert_eq!(parse_duration("2h").unwrap().as_secs(), 7200);
        assert!(parse_duration("5d").unwrap_err().contains("unit"));
        assert!(parse_duration("soon").unwrap_err().contains("not a duration"));
    }
}
