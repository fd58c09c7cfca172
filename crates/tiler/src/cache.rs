//! A least-recently-used cache bounded by bytes, behind a `std::sync::Mutex` (uncontended
//! on wasm32, where a Worker isolate is single-threaded). Values are `Arc`s: a lookup clones
//! the pointer and releases the lock at once, never across an `.await`.

use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError};

use lru::LruCache;

#[derive(Debug)]
pub struct ByteLru<K: Hash + Eq, V> {
    state: Mutex<State<K, V>>,
    budget: usize,
}

#[derive(Debug)]
struct State<K: Hash + Eq, V> {
    map: LruCache<K, Entry<V>>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry<V> {
    value: Arc<V>,
    size: usize,
    /// When the value was fetched (`Request::now_ms`).
    stored_ms: f64,
}

impl<K: Hash + Eq, V> ByteLru<K, V> {
    pub fn new(budget: usize) -> Self {
        ByteLru {
            state: Mutex::new(State {
                map: LruCache::unbounded(),
                bytes: 0,
            }),
            budget,
        }
    }

    /// The value for `key` if it was stored at most `max_age_ms` ago (`f64::INFINITY` for
    /// immutable values); marks it recently used.
    pub fn get(&self, key: &K, now_ms: f64, max_age_ms: f64) -> Option<Arc<V>> {
        // A poisoned lock means a panic elsewhere mid-update; the map itself is still whole.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = state.map.get(key)?;
        // A clock that went backwards (or NaN) counts as expired, never as forever fresh.
        let age = now_ms - entry.stored_ms;
        (age >= 0.0 && age < max_age_ms).then(|| Arc::clone(&entry.value))
    }

    /// Stores `value` (about `size` bytes in memory), evicting the least recently used
    /// entries past the budget. A value larger than the whole budget is not kept.
    pub fn put(&self, key: K, value: Arc<V>, size: usize, now_ms: f64) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = state.map.pop(&key) {
            state.bytes = state.bytes.saturating_sub(old.size);
        }
        if size > self.budget {
            return;
        }
        while state.bytes + size > self.budget {
            match state.map.pop_lru() {
                Some((_, old)) => state.bytes = state.bytes.saturating_sub(old.size),
                None => break,
            }
        }
        state.bytes += size;
        state.map.put(
            key,
            Entry {
                value,
                size,
                stored_ms: now_ms,
            },
        );
    }

    /// Forgets `key` (e.g. after its object changed).
    pub fn remove(&self, key: &K) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(old) = state.map.pop(key) {
            state.bytes = state.bytes.saturating_sub(old.size);
        }
    }

    /// Forgets every entry.
    #[cfg(feature = "benchmarks")]
    pub fn clear(&self) {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.map.clear();
        state.bytes = 0;
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_past_the_budget() {
        let cache: ByteLru<&str, u32> = ByteLru::new(100);
        cache.put("a", Arc::new(1), 40, 0.0);
        cache.put("b", Arc::new(2), 40, 0.0);
        assert!(cache.get(&"a", 0.0, f64::INFINITY).is_some());
        cache.put("c", Arc::new(3), 40, 0.0);
        assert!(
            cache.get(&"b", 0.0, f64::INFINITY).is_none(),
            "b was least recently used"
        );
        assert!(cache.get(&"a", 0.0, f64::INFINITY).is_some());
        assert_eq!(cache.bytes(), 80);
        cache.put("huge", Arc::new(4), 101, 0.0);
        assert!(cache.get(&"huge", 0.0, f64::INFINITY).is_none());
        cache.remove(&"a");
        assert_eq!(cache.bytes(), 40);
    }

    #[test]
    fn entries_expire() {
        let cache: ByteLru<u8, u8> = ByteLru::new(10);
        cache.put(1, Arc::new(1), 1, 1_000.0);
        assert!(cache.get(&1, 1_500.0, 1_000.0).is_some());
        assert!(cache.get(&1, 2_000.0, 1_000.0).is_none());
        assert!(
            cache.get(&1, 500.0, 1_000.0).is_none(),
            "clock went backwards"
        );
    }
}
