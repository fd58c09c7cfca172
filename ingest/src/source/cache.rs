//! A byte-bounded LRU of decoded chunks, shared by every reader of a source.
//!
//! Each entry is a `OnceLock` slot handed out under the lock and filled outside it, so a
//! chunk wanted by several threads at once is decoded exactly once while the others wait,
//! and decoding never holds the cache lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use super::error::SourceError;
use super::samples::Chunk;

pub(super) type ChunkResult = Result<Arc<Chunk>, SourceError>;
pub(super) type Slot = Arc<OnceLock<ChunkResult>>;

/// (image: 0 data, 1 mask; chunk index).
pub(super) type Key = (u8, u32);

struct Entry {
    slot: Slot,
    tick: u64,
    bytes: usize,
}

pub(super) struct ChunkCache {
    map: HashMap<Key, Entry>,
    by_age: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
    limit: usize,
}

impl ChunkCache {
    pub fn new(limit: usize) -> ChunkCache {
        ChunkCache {
            map: HashMap::new(),
            by_age: BTreeMap::new(),
            tick: 0,
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
        self.tick += 1;
        let tick = self.tick;
        let e = self.map.entry(key).or_insert_with(|| Entry {
            slot: Arc::new(OnceLock::new()),
            tick,
            bytes: 0,
        });
        self.by_age.remove(&e.tick);
        e.tick = tick;
        self.by_age.insert(tick, key);
        e.slot.clone()
    }

    /// Records the decoded size of `key` and evicts the oldest entries beyond the limit
    /// (never `key` itself, so one oversized chunk still gets used).
    pub fn record(&mut self, key: Key, bytes: usize) {
        if let Some(e) = self.map.get_mut(&key) {
            self.bytes = self.bytes - e.bytes + bytes;
            e.bytes = bytes;
        }
        self.evict(Some(key));
    }

    fn evict(&mut self, keep: Option<Key>) {
        while self.bytes > self.limit {
            let Some((&tick, &key)) = self.by_age.iter().find(|(_, k)| Some(**k) != keep) else {
                break;
            };
            self.by_age.remove(&tick);
            if let Some(e) = self.map.remove(&key) {
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

    #[test]
    fn evicts_oldest_beyond_limit() {
        let mut c = ChunkCache::new(250);
        for i in 0..4u32 {
            let s = c.slot((0, i));
            let _ = s.get_or_init(|| {
                Ok(Arc::new(Chunk {
                    width: 10,
                    spp: 1,
                    data: Samples::U8(vec![0; 100]),
                    valid: None,
                }))
            });
            c.record((0, i), 100);
        }
        assert_eq!(c.len(), 2);
        assert!(c.map.contains_key(&(0, 3)) && c.map.contains_key(&(0, 2)));
        // Touching 2 makes 3 the oldest.
        let _ = c.slot((0, 2));
        c.slot((0, 4));
        c.record((0, 4), 100);
        assert!(c.map.contains_key(&(0, 2)) && !c.map.contains_key(&(0, 3)));
    }
}
