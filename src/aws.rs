//! AWS the same way for every service (S3, Firehose, Kinesis): the SDK configuration from the
//! standard chain, and calls retried while their failures are transient (no connection,
//! timeouts, 5xx, throttling) with capped, jittered exponential backoff until they succeed or the
//! run stops; anything else comes back at once, classified.

use std::future::Future;
use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tokio_util::sync::CancellationToken;

/// How long a connection may take to open before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a response may take to start arriving.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The SDK configuration every client starts from: credentials and region from the standard
/// chain (environment, profile, IMDS), the endpoint from `AWS_ENDPOINT_URL` and
/// `AWS_ENDPOINT_URL_<SERVICE>`. The SDK's own retries are off: [`retry`] retries for as long as
/// the run goes on, which no fixed attempt count can do. `Err` says what is missing.
pub async fn sdk_config() -> Result<aws_config::SdkConfig, String> {
    let timeouts = TimeoutConfig::builder().connect_timeout(CONNECT_TIMEOUT).read_timeout(READ_TIMEOUT).build();
    let config = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .timeout_config(timeouts)
        .load()
        .await;
    if config.region().is_none() {
        return Err("no AWS region is configured; set AWS_REGION, or a region in the AWS profile".into());
    }
    Ok(config)
}

/// The first wait after a failed attempt; each later wait doubles, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between attempts: an outage is noticed to be over within this long.
pub const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Attempts still made once the run is stopping, so a brief blip does not fail the last commit.
pub const ATTEMPTS_WHILE_STOPPING: u32 = 3;
/// How long the attempts still made once the run is stopping may take in all.
pub const STOP_GRACE: Duration = Duration::from_secs(20);

/// Why an AWS call did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// `If-None-Match: *` found the key taken.
    Precondition,
    /// A 404, with its error code (`NoSuchKey`, `NoSuchUpload`, `NoSuchBucket`).
    NotFound { code: String, message: String },
    /// Refused for good (access denied, bad request): the user must act.
    Permanent(String),
    /// Still failing when the run stopped.
    GaveUp { attempts: u32, message: String },
}

enum Class {
    Transient(String),
    Final(Failure),
}

/// What the SDK's default credentials chain says when none of its providers has credentials.
const NO_CREDENTIALS: &str = "no credentials found in chain";

fn classify<E>(err: &SdkError<E>) -> Class
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let message = describe(err);
    match err {
        // No credentials anywhere in the chain: no retry brings them; the user must set them.
        SdkError::DispatchFailure(_) if message.contains(NO_CREDENTIALS) => Class::Final(Failure::Permanent(format!(
            "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, or a role ({message})"
        ))),
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) | SdkError::ResponseError(_) => {
            Class::Transient(message)
        }
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or_default().to_owned();
            match (status, code.as_str()) {
                (412, _) => Class::Final(Failure::Precondition),
                (408 | 429 | 500..=599, _) | (_, "RequestTimeout" | "InternalError" | "InternalFailure") => {
                    Class::Transient(message)
                }
                (_, code) if is_throttling(code) => Class::Transient(message),
                (404, _) => Class::Final(Failure::NotFound { code, message }),
                _ => Class::Final(Failure::Permanent(message)),
            }
        }
        _ => Class::Final(Failure::Permanent(message)),
    }
}

/// One line for an S3 failure: the service's code and message, or the chain of causes (the
/// SDK's own `Display` says only "service error" or "dispatch failure").
fn describe<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if let SdkError::ServiceError(service) = err {
        let status = service.raw().status().as_u16();
        let meta = service.err().meta();
        return match (meta.code(), meta.message()) {
            (Some(code), Some(message)) => format!("{code} ({status}): {message}"),
            (Some(code), None) => format!("{code} ({status})"),
            _ => format!("HTTP {status}"),
        };
    }
    crate::error_chain(err)
}

/// Whether a per-record error code (Firehose, Kinesis) or a call's error code means "slow down".
pub fn is_throttling(code: &str) -> bool {
    ["Throttl", "ProvisionedThroughputExceeded", "ServiceUnavailable", "LimitExceeded", "SlowDown"]
        .iter()
        .any(|mark| code.contains(mark))
}

/// Runs `call` until it succeeds or fails for a reason a retry cannot fix. Transient failures
/// are retried for as long as the run goes on, which holds up the sink and, through the bounded
/// channels, the source; once `cancel` fires, [`ATTEMPTS_WHILE_STOPPING`] more are made.
pub async fn retry<T, E, F, Fut>(what: &str, cancel: &CancellationToken, mut call: F) -> Result<T, Failure>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E>>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0u32;
    let mut left_when_stopping = ATTEMPTS_WHILE_STOPPING;
    // Once the run stops, every attempt left must end by this time: a service that hangs (a
    // connection accepted, never answered) cannot hold the shutdown for minutes.
    let mut stop_by: Option<tokio::time::Instant> = None;
    loop {
        attempts += 1;
        let attempt = call();
        tokio::pin!(attempt);
        let answered = match stop_by {
            Some(deadline) => tokio::time::timeout_at(deadline, &mut attempt).await.ok(),
            None => tokio::select! {
                answer = &mut attempt => Some(answer),
                () = cancel.cancelled() => {
                    let deadline = *stop_by.insert(tokio::time::Instant::now() + STOP_GRACE);
                    tokio::time::timeout_at(deadline, &mut attempt).await.ok()
                }
            },
        };
        let Some(answer) = answered else {
            let message = format!("no answer within {STOP_GRACE:?} of the run stopping");
            return Err(Failure::GaveUp { attempts, message });
        };
        let err = match answer {
            Ok(value) => return Ok(value),
            Err(err) => err,
        };
        let message = match classify(&err) {
            Class::Final(failure) => return Err(failure),
            Class::Transient(message) => message,
        };
        if cancel.is_cancelled() {
            stop_by.get_or_insert_with(|| tokio::time::Instant::now() + STOP_GRACE);
            if left_when_stopping == 0 {
                return Err(Failure::GaveUp { attempts, message });
            }
            left_when_stopping -= 1;
        }
        // One line per doubling: an hour-long outage logs a few dozen lines, not thousands.
        if attempts.is_power_of_two() {
            tracing::warn!(what, attempts, error = %message, "AWS unavailable; retrying");
        }
        let wait = backoff.mul_f64(rand::random_range(0.5..=1.0));
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled(), if !cancel.is_cancelled() => {}
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
