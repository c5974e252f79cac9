//! Where the flow table keeps its entries: a slab of slots, and a small hash index from a key's
//! hash to its slot. An entry is written once, when it is made, and dropped where it lies: the
//! index moves 8-byte entries when it grows, never the entries themselves, and walking every
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

/// Entries in slots, found by hash.
pub(super) struct Slots<T> {
    index: HashTable<Filed>,
    items: Vec<Option<T>>,
    /// Empty slots, the last freed first (its memory is the most likely to be in cache).
    free: Vec<u32>,
}

impl<T> Slots<T> {
    pub(super) fn new() -> Self {
        Slots {
            index: HashTable::new(),
            items: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Entries held.
    pub(super) fn len(&self) -> usize {
        self.index.len()
    }

    /// One past the highest slot ever used: every entry is in a slot below it.
    pub(super) fn end(&self) -> usize {
        self.items.len()
    }

    /// The slot of the entry filed under `hash` for which `is` holds.
    pub(super) fn find(&self, hash: u64, is: impl Fn(&T) -> bool) -> Option<usize> {
        let h = folded(hash);
        let items = &self.items;
        let found = self.index.find(spread(h), |e| {
            e.hash == h
                && items
                    .get(e.slot as usize)
                    .and_then(Option::as_ref)
                    .is_some_and(&is)
        })?;
        Some(found.slot as usize)
    }

    /// The entry in `slot`, if there is one.
    pub(super) fn get(&self, slot: usize) -> Option<&T> {
        self.items.get(slot)?.as_ref()
    }

    /// The entry in `slot`, if there is one.
    pub(super) fn get_mut(&mut self, slot: usize) -> Option<&mut T> {
        self.items.get_mut(slot)?.as_mut()
    }

    /// Files `item` under `hash` (which must not already hold an equal entry); its slot.
    pub(super) fn insert(&mut self, hash: u64, item: T) -> usize {
        let slot = match self.free.pop() {
            Some(s) => {
                self.items[s as usize] = Some(item);
                s
            }
            None => {
                self.items.push(Some(item));
                (self.items.len() - 1) as u32
            }
        };
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
            self.items[slot] = None;
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
}
