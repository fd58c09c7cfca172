//! A byte-bounded LRU of decoded chunks, shared by every reader of a source.
//!
//! Each entry is a `OnceLock` slot handed out under the lock and filled outside it, so a
//! chunk wanted by several threads at once is decoded exactly once while the others wait,
//! and decoding never holds the cache lock. Recency is `lru::LruCache`'s (the crate the
//! tiler uses); the bound is in bytes, not entries, so the map is unbounded and entries are
//! evicted here while the decoded bytes exceed the limit.

use std::sync::{Arc, OnceLock};

use lru::LruCache;

use super::error::SourceError;
use super::samples::Chunk;

pub(super) type ChunkResult = Result<Arc<Chunk>, SourceError>;
pub(super) type Slot = Arc<OnceLock<ChunkResult>>;

/// (image: 0 data, 1 mask; chunk index).
pub(super) type Key = (u8, u32);

struct Entry {
    slot: Slot,
    /// Decoded size; 0 until `record` (a slot still being decoded holds nothing yet).
    bytes: usize,
}

pub(super) struct ChunkCache {
    map: LruCache<Key, Entry>,
    bytes: usize,
    limit: usize,
}

impl ChunkCache {
    pub fn new(limit: usize) -> ChunkCache {
        ChunkCache {
            map: LruCache::unbounded(),
            bytes: 0,
            limit,
        }
    }

    #[allow(dead_code)] // via Source::set_cache_bytes
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
        self.evict(None);
    }

    /// The slot for `key`, created empty if absent, and marked most recently used.
    pub fn slot(&mut self, key: Key) -> Slot {
        self.map
            .get_or_insert(key, || Entry {
                slot: Arc::new(OnceLock::new()),
                bytes: 0,
            })
            .slot
            .clone()
    }

    /// Records the decoded size of `key` and evicts the oldest entries beyond the limit
    /// (never `key` itself, so one oversized chunk still gets used).
    pub fn record(&mut self, key: Key, bytes: usize) {
        if let Some(e) = self.map.peek_mut(&key) {
            self.bytes = self.bytes - e.bytes + bytes;
            e.bytes = bytes;
        }
        self.evict(Some(key));
    }

    fn evict(&mut self, keep: Option<Key>) {
        while self.bytes > self.limit {
            let Some((&oldest, _)) = self.map.peek_lru() else {
                break;
            };
            if Some(oldest) == keep {
                if self.map.len() == 1 {
                    break;
                }
                // Spared: it was just decoded for a reader, so it is in use anyway.
                self.map.promote(&oldest);
                continue;
            }
            if let Some((_, e)) = self.map.pop_lru() {
                self.bytes -= e.bytes;
            }
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::super::samples::Samples;
    use super::*;

    fn fill(c: &mut ChunkCache, i: u32, bytes: usize) {
        let s = c.slot((0, i));
        let _ = s.get_or_init(|| {
            Ok(Arc::new(Chunk {
                width: 10,
                spp: 1,
                data: Samples::U8(vec![0; bytes]),
                valid: None,
            }))
        });
        c.record((0, i), bytes);
    }

    #[test]
    fn evicts_oldest_beyond_limit() {
        let mut c = ChunkCache::new(250);
        for i in 0..4u32 {
            fill(&mut c, i, 100);
        }
        assert_eq!(c.len(), 2);
        assert!(c.map.contains(&(0, 3)) && c.map.contains(&(0, 2)));
        // Touching 2 makes 3 the oldest.
        let _ = c.slot((0, 2));
        fill(&mut c, 4, 100);
        assert!(c.map.contains(&(0, 2)) && !c.map.contains(&(0, 3)));
    }

    #[test]
    fn keeps_an_oversized_chunk_and_shrinks_on_set_limit() {
        let mut c = ChunkCache::new(250);
        fill(&mut c, 0, 100);
        // Chunk 1 is the oldest when its 400 bytes are recorded: it stays (its reader uses
        // it), everything older goes.
        let s1 = c.slot((0, 1));
        let _ = c.slot((0, 2));
        let _ = c.slot((0, 0));
        let _ = s1.get_or_init(|| Err(SourceError::NotTiff));
        c.record((0, 1), 400);
        assert!(c.map.contains(&(0, 1)) && c.len() == 1);
        assert_eq!(c.bytes, 400);
        fill(&mut c, 3, 10);
        assert_eq!((c.len(), c.bytes), (1, 10));
        c.set_limit(0);
        assert_eq!((c.len(), c.bytes), (0, 0));
    }
}
