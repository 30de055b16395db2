//! Server-sent events of the feeds: each refresh fanned out to every client through a queue of
//! a few events. A client whose queue is still full when the next refresh comes is slow: it is
//! disconnected, so nothing is ever buffered for it without bound.

use std::sync::{Arc, Mutex};

use axum::response::sse::Event;
use tokio::sync::{mpsc, watch};

use crate::sink::feeds::Published;

/// Events queued for one client before it counts as slow.
pub const CLIENT_QUEUE: usize = 4;

struct Client {
    feed: String,
    events: mpsc::Sender<Event>,
    /// The queue was full at the last refresh.
    lagging: bool,
}

/// The clients of every feed's event stream.
#[derive(Clone, Default)]
pub struct Clients(Arc<Mutex<Vec<Client>>>);

impl Clients {
    /// A new client of `feed`, its queue starting with the feed's current rows if it has any.
    pub fn join(&self, feed: &str, current: &Published) -> mpsc::Receiver<Event> {
        let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
        if let Some(event) = event(current, feed) {
            // The queue is new and empty: this cannot fail.
            let _ = tx.try_send(event);
        }
        self.lock().push(Client { feed: feed.to_owned(), events: tx, lagging: false });
        rx
    }

    /// Queues `published` for every client; drops the clients that are gone or still full.
    /// Returns how many were dropped for being slow.
    pub fn publish(&self, published: &Published) -> usize {
        let mut slow = 0;
        self.lock().retain_mut(|client| {
            let Some(event) = event(published, &client.feed) else { return !client.events.is_closed() };
            match client.events.try_send(event) {
                Ok(()) => {
                    client.lagging = false;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) if !client.lagging => {
                    client.lagging = true;
                    true
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    slow += 1;
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
        if slow > 0 {
            tracing::info!(clients = slow, "dropped event-stream clients that stopped reading");
        }
        slow
    }

    /// Fans every refresh out until the refreshes end (the run is over); then every client's
    /// stream ends too.
    pub async fn run(self, mut feeds: watch::Receiver<Arc<Published>>) {
        while feeds.changed().await.is_ok() {
            let published = feeds.borrow_and_update().clone();
            self.publish(&published);
        }
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Client>> {
        // A poisoned lock only means a handler panicked; the list itself is intact.
        crate::lock(&self.0)
    }
}

/// The event of feed `name` in `published`, if it has that feed and has been refreshed.
fn event(published: &Published, name: &str) -> Option<Event> {
    if published.version == 0 {
        return None;
    }
    let body = super::feed_json(published, name)?;
    Some(Event::default().event("refresh").id(published.version.to_string()).data(body))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::sink::feeds::FeedRows;

    fn published(version: u64) -> Published {
        let rows = FeedRows { json: "[]".into(), rows: 0, truncated: 0 };
        Published {
            version,
            as_of_micros: 0,
            watermark_micros: None,
            feeds: BTreeMap::from([("top".to_owned(), rows)]),
        }
    }

    #[test]
    fn a_client_that_stops_reading_is_dropped_and_one_that_reads_is_kept() {
        let clients = Clients::default();
        let mut reader = clients.join("top", &published(1));
        let mut stuck = clients.join("top", &published(1));
        let mut dropped = 0;
        for version in 2..=(CLIENT_QUEUE as u64 + 3) {
            dropped += clients.publish(&published(version));
            while reader.try_recv().is_ok() {}
        }
        assert_eq!(dropped, 1);
        assert_eq!(clients.lock().len(), 1, "the reading client stays");
        let mut queued = 0;
        while stuck.try_recv().is_ok() {
            queued += 1;
        }
        assert_eq!(queued, CLIENT_QUEUE, "the slow client held no more than its queue");
        assert!(stuck.is_closed(), "and its stream ended");
    }
}
