//! What the record sinks (Firehose, Kinesis) delivered, per sink and table, for the summary.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Mutex;

/// One table's records in one sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivered {
    /// Records the service accepted.
    pub sent: u64,
    /// Records sent again after the service failed them inside a successful call.
    pub retried: u64,
    /// Records that can never be sent (over the size limit), in the rejected output instead.
    pub rejected: u64,
}

/// Delivery counts of every record sink, keyed by `kind:stream` and table.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    by_sink: Mutex<BTreeMap<String, BTreeMap<String, Delivered>>>,
}

impl DeliveryCounters {
    /// Adds `delivered` to `sink`'s counts of `table`.
    pub fn add(&self, sink: &str, table: &str, delivered: Delivered) {
        let mut by_sink = self.by_sink.lock().unwrap_or_else(|e| e.into_inner());
        let counts = by_sink.entry(sink.to_owned()).or_default().entry(table.to_owned()).or_default();
        counts.sent += delivered.sent;
        counts.retried += delivered.retried;
        counts.rejected += delivered.rejected;
    }

    pub fn snapshot(&self) -> DeliveryReport {
        DeliveryReport(self.by_sink.lock().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// The counts at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport(pub BTreeMap<String, BTreeMap<String, Delivered>>);

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (sink, tables) in &self.0 {
            let total = tables.values().fold(Delivered::default(), |a, b| Delivered {
                sent: a.sent + b.sent,
                retried: a.retried + b.retried,
                rejected: a.rejected + b.rejected,
            });
            writeln!(
                f,
                "  delivered        {sink}: {} sent, {} retried, {} rejected",
                total.sent, total.retried, total.rejected
            )?;
            for (table, d) in tables {
                writeln!(f, "    {table:<20} {} sent, {} retried, {} rejected", d.sent, d.retried, d.rejected)?;
            }
        }
        Ok(())
    }
}
