//! Where the flow table keeps its entries: a slab of slots, and a small hash index from a key's
//! hash to its slot. An entry is written once, when it is made, and dropped where it lies: the
//! slab grows by a chunk of slots at a time, so it never moves the entries it holds (nor holds
//! them twice while it grows), the index moves 8-byte entries when it grows, and walking every
//! entry (timeouts, eviction) reads the slab in order.

use hashbrown::HashTable;

/// A slot number and the hash it is filed under, folded to 32 bits.
#[derive(Clone, Copy)]
struct Filed {
    slot: u32,
    hash: u32,
}

/// The hash as the index uses it: 32 bits, repeated so that the high bits the index uses to
/// tell entries apart within a group are as spread as the low bits that pick the group.
fn folded(hash: u64) -> u32 {
    (hash ^ (hash >> 32)) as u32
}

fn spread(h: u32) -> u64 {
    (h as u64) | ((h as u64) << 32)
}

/// Slots per chunk of the slab (a power of two).
const CHUNK: usize = 1024;

/// Entries in slots, found by hash.
pub(super) struct Slots<T> {
    index: HashTable<Filed>,
    /// The slab: slot `s` is `chunks[s / CHUNK][s % CHUNK]`.
    chunks: Vec<Box<[Option<T>]>>,
    /// One past the highest slot ever used.
    end: usize,
    /// Empty slots, the last freed first (its memory is the most likely to be in cache).
    free: Vec<u32>,
}

impl<T> Slots<T> {
    pub(super) fn new() -> Self {
        Slots {
            index: HashTable::new(),
            chunks: Vec::new(),
            end: 0,
            free: Vec::new(),
        }
    }

    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// One past the highest slot ever used: every entry is in a slot below it.
    pub(super) fn end(&self) -> usize {
        self.end
    }

    fn at(&self, slot: usize) -> Option<&Option<T>> {
        self.chunks.get(slot / CHUNK)?.get(slot % CHUNK)
    }

    fn at_mut(&mut self, slot: usize) -> Option<&mut Option<T>> {
        self.chunks.get_mut(slot / CHUNK)?.get_mut(slot % CHUNK)
    }

    /// The slot of the entry filed under `hash` for which `is` holds.
    pub(super) fn find(&self, hash: u64, is: impl Fn(&T) -> bool) -> Option<usize> {
        let h = folded(hash);
        let found = self.index.find(spread(h), |e| {
            e.hash == h && self.get(e.slot as usize).is_some_and(&is)
        })?;
        Some(found.slot as usize)
    }

    /// The entry in `slot`, if there is one.
    pub(super) fn get(&self, slot: usize) -> Option<&T> {
        self.at(slot)?.as_ref()
    }

    /// The entry in `slot`, if there is one.
    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.at_mut(slot)?.as_mut()
    }

    /// Files `item` under `hash` (which must not already hold an equal entry); its slot.
    pub(super) fn insert(&mut self, hash: u64, item: T) -> usize {
        let slot = self.free.pop().map_or_else(
            || {
                if self.end == self.chunks.len() * CHUNK {
                    self.chunks.push((0..CHUNK).map(|_| None).collect());
                }
                self.end += 1;
                self.end - 1
            },
            |s| s as usize,
        );
        if let Some(place) = self.at_mut(slot) {
            *place = Some(item);
        }
        let slot = slot as u32;
        let h = folded(hash);
        self.index
            .insert_unique(spread(h), Filed { slot, hash: h }, |e| spread(e.hash));
        slot as usize
    }

    /// Drops the entry in `slot`, filed under `hash`, where it lies.
    pub(super) fn remove(&mut self, slot: usize, hash: u64) {
        let h = folded(hash);
        if let Ok(e) = self
            .index
            .find_entry(spread(h), |e| e.hash == h && e.slot as usize == slot)
        {
            e.remove();
            if let Some(place) = self.at_mut(slot) {
                *place = None;
            }
            self.free.push(slot as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_found_by_hash_and_slots_are_reused() {
        let mut s = Slots::new();
        // Two entries under one hash: the predicate tells them apart.
        let a = s.insert(7, "a");
        let b = s.insert(7, "b");
        let c = s.insert(1 << 40, "c");
        assert_eq!(s.len(), 3);
        assert_eq!(s.find(7, |x| *x == "b"), Some(b));
        assert_eq!(s.find(7, |x| *x == "a"), Some(a));
        assert_eq!(s.find(1 << 40, |x| *x == "c"), Some(c));
        assert_eq!(s.find(7, |x| *x == "c"), None);
        s.remove(b, 7);
        assert_eq!(s.find(7, |x| *x == "b"), None);
        assert_eq!(s.get(b), None);
        assert_eq!(s.len(), 2);
        // The freed slot is used again; the others stay where they were.
        let d = s.insert(9, "d");
        assert_eq!(d, b);
        assert_eq!(s.get(a), Some(&"a"));
        assert_eq!(s.end(), 3);
        // Removing under the wrong hash finds nothing to remove.
        s.remove(a, 8);
        assert_eq!(s.get(a), Some(&"a"));
    }

    #[test]
    fn entries_past_the_first_chunk_stay_where_they_were_put() {
        let mut s = Slots::new();
        let n = 3 * CHUNK + 5;
        for i in 0..n {
            assert_eq!(s.insert(i as u64, i), i);
        }
        assert_eq!((s.len(), s.end()), (n, n));
        for i in [0, CHUNK - 1, CHUNK, 2 * CHUNK + 7, n - 1] {
            assert_eq!(s.find(i as u64, |x| *x == i), Some(i));
            assert_eq!(s.get(i), Some(&i));
        }
        assert_eq!(s.get(n), None);
        s.remove(CHUNK, CHUNK as u64);
        assert_eq!(s.get(CHUNK), None);
        assert_eq!(
            s.insert(99_999, 7),
            CHUNK,
            "the freed slot, in the second chunk"
        );
        assert_eq!(s.get(CHUNK), Some(&7));
    }
}
