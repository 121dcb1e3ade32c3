//! A bounded ring buffer: the last `capacity` items.

use std::collections::VecDeque;

/// At most this many slots are allocated up front, whatever the capacity.
const PREALLOCATE: usize = 4096;

#[derive(Clone, Debug)]
pub(crate) struct Ring<T> {
    items: VecDeque<T>,
    capacity: usize,
}

impl<T> Ring<T> {
    pub(crate) fn new(capacity: usize) -> Ring<T> {
        Ring { items: VecDeque::with_capacity(capacity.min(PREALLOCATE)), capacity }
    }

    /// Appends `item` and returns the item that fell out of the window, if any. With
    /// capacity 0 the item itself is returned at once (it never enters the window), so a
    /// caller that counts the pushed item in and the returned one out stays consistent.
    pub(crate) fn push(&mut self, item: T) -> Option<T> {
        if self.capacity == 0 {
            return Some(item);
        }
        let evicted = if self.items.len() >= self.capacity { self.items.pop_front() } else { None };
        self.items.push_back(item);
        evicted
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.items.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::Ring;

    #[test]
    fn ring_keeps_the_last_items() {
        let mut ring = Ring::new(2);
        assert_eq!(ring.push(1), None);
        assert_eq!(ring.push(2), None);
        assert_eq!(ring.push(3), Some(1));
        assert_eq!(ring.iter().copied().collect::<Vec<_>>(), vec![2, 3]);
        assert_eq!(ring.len(), 2);
        let mut empty = Ring::new(0);
        assert_eq!(empty.push(7), Some(7));
        assert_eq!(empty.len(), 0);
    }
}
