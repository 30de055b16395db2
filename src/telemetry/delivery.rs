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
    /// Records among `sent` that an earlier run had delivered but not committed before it
    /// stopped: sent again after restart, so consumers see them twice. A lower bound: a call the
    /// service took whose answer a killed run never read is not in the ledger.
    pub resent: u64,
}

impl std::ops::AddAssign for Delivered {
    fn add_assign(&mut self, other: Self) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.rejected += other.rejected;
        self.resent += other.resent;
    }
}

impl fmt::Display for Delivered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} sent, {} retried, {} rejected", self.sent, self.retried, self.rejected)?;
        if self.resent > 0 {
            write!(f, ", at least {} sent again after restart", self.resent)?;
        }
        Ok(())
    }
}

/// Delivery counts of every record sink, keyed by `kind:stream` and table.
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    by_sink: Mutex<BTreeMap<String, BTreeMap<String, Delivered>>>,
}

impl DeliveryCounters {
    /// Adds `delivered` to `sink`'s counts of `table`.
    pub fn add(&self, sink: &str, table: &str, delivered: Delivered) {
        let mut by_sink = crate::lock(&self.by_sink);
        *by_sink.entry(sink.to_owned()).or_default().entry(table.to_owned()).or_default() += delivered;
    }

    pub fn snapshot(&self) -> DeliveryReport {
        DeliveryReport(crate::lock(&self.by_sink).clone())
    }
}

/// The counts at the end of a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport(pub BTreeMap<String, BTreeMap<String, Delivered>>);

impl fmt::Display for DeliveryReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (sink, tables) in &self.0 {
            let mut total = Delivered::default();
            for counts in tables.values() {
                total += *counts;
            }
            writeln!(f, "  delivered        {sink}: {total}")?;
            for (table, counts) in tables {
                writeln!(f, "    {table:<20} {counts}")?;
            }
        }
        Ok(())
    }
}
