//! A bounded map whose entries expire at a capture time.

use std::collections::HashMap;
use std::hash::Hash;

pub struct Expiring<K, V> {
    map: HashMap<K, (V, u64)>,
    cap: usize,
}

impl<K: Hash + Eq, V> Expiring<K, V> {
    pub fn new(cap: usize) -> Self {
        Expiring {
            map: HashMap::new(),
            cap: cap.max(1),
        }
    }

    /// Inserts `v` until `until`; when full, expired entries go first, then the entries
    /// closest to expiry.
    pub fn insert(&mut self, k: K, v: V, until: u64, now: u64) {
        if self.map.len() >= self.cap && !self.map.contains_key(&k) {
            self.map.retain(|_, (_, t)| *t > now);
            if self.map.len() >= self.cap {
                let mut times: Vec<u64> = self.map.values().map(|(_, t)| *t).collect();
                times.sort_unstable();
                let cut = times[times.len() / 2];
                self.map.retain(|_, (_, t)| *t > cut);
            }
        }
        self.map.insert(k, (v, until));
    }

    /// The value, if present and not expired at `now`.
    pub fn get(&self, k: &K, now: u64) -> Option<&V> {
        self.map.get(k).filter(|(_, t)| *t > now).map(|(v, _)| v)
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_and_stays_bounded() {
        let mut m = Expiring::new(4);
        m.insert(1, "a", 10, 0);
        assert_eq!(m.get(&1, 5), Some(&"a"));
        assert_eq!(m.get(&1, 10), None);
        for k in 0..100 {
            m.insert(k, "x", 100 + k, 50);
            assert!(m.len() <= 4);
        }
        assert_eq!(m.get(&99, 60), Some(&"x"));
    }
}
