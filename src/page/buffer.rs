//! Micro-batch buffers that go back to their source once the batch is decoded.
//!
//! A batch buffer is megabytes. Allocated fresh for every batch, its pages may be faulted in and
//! zeroed by the kernel again each time the allocator has given them back. A source that reads
//! ahead keeps a few freed buffers and refills them instead.

use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// Freed batch buffers kept for reuse, at most `max_free` of them.
#[derive(Debug, Clone)]
pub struct BufferPool {
    free: Arc<Mutex<Vec<Vec<u8>>>>,
    max_free: usize,
}

impl BufferPool {
    pub fn new(max_free: usize) -> Self {
        Self { free: Arc::default(), max_free }
    }

    /// An empty buffer of at least `capacity` bytes, reused when one is free.
    pub fn take(&self, capacity: usize) -> BatchBuf {
        let reused = self.lock().pop();
        let mut bytes = reused.unwrap_or_default();
        bytes.clear();
        bytes.reserve(capacity);
        BatchBuf { bytes, pool: Some(self.clone()) }
    }

    fn give_back(&self, bytes: Vec<u8>) {
        let mut free = self.lock();
        if free.len() < self.max_free {
            free.push(bytes);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Vec<u8>>> {
        // A poisoned lock only means a thread panicked while pushing or popping; the list is intact.
        crate::lock(&self.free)
    }
}

/// The bytes of a micro-batch; returned to its pool, if it has one, when dropped.
#[derive(Debug, Default)]
pub struct BatchBuf {
    bytes: Vec<u8>,
    pool: Option<BufferPool>,
}

impl Drop for BatchBuf {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.take() {
            pool.give_back(std::mem::take(&mut self.bytes));
        }
    }
}

impl Deref for BatchBuf {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.bytes
    }
}

impl DerefMut for BatchBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_buffers_are_reused_up_to_the_limit_and_come_back_empty() {
        let pool = BufferPool::new(1);
        let (mut a, b) = (pool.take(1000), pool.take(1000));
        a.extend_from_slice(b"old bytes");
        let reused_at = a.as_ptr();
        drop(a);
        drop(b);
        assert_eq!(pool.lock().len(), 1, "only max_free buffers are kept");
        let c = pool.take(10);
        assert_eq!(c.as_ptr(), reused_at);
        assert!(c.is_empty() && c.capacity() >= 1000);
        let bigger = pool.take(4000);
        assert!(bigger.capacity() >= 4000);
    }
}
