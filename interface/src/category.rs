//! Categorical inputs: how a string becomes a category index. The interpreter and generated
//! code (through the runtime's `CategoryTable`) both call [`CategoryLookup::index`], so the
//! rule for unknown and missing strings and the hash behind the buckets exist once.

use std::collections::HashMap;
use std::sync::Arc;

/// How strings map to category indices, over a vocabulary stored as `V`. An unknown or
/// missing string maps to [`CategoryLookup::categories`], which one-hot encodes as all zeros
/// and gathers the zero row of a table.
#[derive(Clone, Debug, PartialEq)]
pub enum CategoryLookup<V> {
    /// Position in the vocabulary; an unknown string gets the vocabulary's length.
    Vocab(V),
    /// FNV-1a 64 ([`fnv1a64`]) of the UTF-8 bytes, modulo `buckets`.
    Hash { buckets: u32 },
    /// Whether the string is there: every present string is category 0, a missing one is
    /// unknown (1).
    Presence,
}

impl<V: Vocabulary> CategoryLookup<V> {
    /// How many categories there are; also the index of an unknown or missing string.
    pub fn categories(&self) -> u32 {
        match self {
            CategoryLookup::Vocab(vocab) => vocab.word_count(),
            CategoryLookup::Hash { buckets } => *buckets,
            CategoryLookup::Presence => 1,
        }
    }

    /// The category index of `value`; `None` is a missing value.
    pub fn index(&self, value: Option<&str>) -> u32 {
        let Some(value) = value else { return self.categories() };
        match self {
            CategoryLookup::Vocab(vocab) => vocab.position(value).unwrap_or_else(|| vocab.word_count()),
            CategoryLookup::Hash { buckets } => (fnv1a64(value.as_bytes()) % u64::from(*buckets)) as u32,
            CategoryLookup::Presence => 0,
        }
    }

    /// The index of every row of a string column; a missing string is replaced by `missing`
    /// first, if given.
    pub fn indices(&self, strings: &[Option<Arc<str>>], missing: Option<&str>) -> Vec<u32> {
        strings.iter().map(|s| self.index(s.as_deref().or(missing))).collect()
    }
}

/// A vocabulary: its words in order, looked up by position.
pub trait Vocabulary {
    /// How many words it has.
    fn word_count(&self) -> u32;
    /// The position of the first occurrence of `word`, if it is there.
    fn position(&self, word: &str) -> Option<u32>;
}

/// The IR's vocabulary: a linear search, as the interpreter is written for clarity.
impl Vocabulary for [String] {
    fn word_count(&self) -> u32 {
        self.len() as u32
    }

    fn position(&self, word: &str) -> Option<u32> {
        self.iter().position(|w| w == word).map(|p| p as u32)
    }
}

impl<V: Vocabulary + ?Sized> Vocabulary for &V {
    fn word_count(&self) -> u32 {
        (**self).word_count()
    }

    fn position(&self, word: &str) -> Option<u32> {
        (**self).position(word)
    }
}

/// A vocabulary hashed once, for lookups per row: the runtime's (`&'static str` words
/// written into a generated crate).
#[derive(Clone, Debug, PartialEq)]
pub struct WordIndex<'w> {
    positions: HashMap<&'w str, u32>,
    word_count: u32,
}

impl<'w> WordIndex<'w> {
    /// Indexes `words`; a repeated word keeps its first position, as a search in order finds.
    pub fn new(words: &[&'w str]) -> WordIndex<'w> {
        let mut positions = HashMap::with_capacity(words.len());
        for (position, word) in words.iter().enumerate() {
            positions.entry(*word).or_insert(position as u32);
        }
        WordIndex { positions, word_count: words.len() as u32 }
    }
}

impl Vocabulary for WordIndex<'_> {
    fn word_count(&self) -> u32 {
        self.word_count
    }

    fn position(&self, word: &str) -> Option<u32> {
        self.positions.get(word).copied()
    }
}

/// FNV-1a, 64 bits, of `bytes`: the hash of hashed categories, and of the server's routing
/// between a champion and a challenger.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    use std::hash::Hasher;
    let mut hasher = fnv::FnvHasher::default();
    hasher.write(bytes);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::{CategoryLookup, WordIndex, fnv1a64};
    use std::sync::Arc;

    #[test]
    fn fnv1a64_matches_the_published_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn both_vocabularies_give_the_same_indices() {
        let words = ["S", "C", "Q", "C"];
        let owned: Vec<String> = words.iter().map(|w| w.to_string()).collect();
        let linear = CategoryLookup::Vocab(owned.as_slice());
        let hashed = CategoryLookup::Vocab(WordIndex::new(&words));
        for value in [Some("S"), Some("C"), Some("Q"), Some("X"), Some(""), None] {
            assert_eq!(linear.index(value), hashed.index(value), "{value:?}");
        }
        assert_eq!(hashed.index(Some("C")), 1, "a repeated word keeps its first position");
        assert_eq!(hashed.index(Some("X")), 4);
        assert_eq!(hashed.index(None), 4);
    }

    #[test]
    fn hash_buckets_and_presence() {
        let hash: CategoryLookup<&[String]> = CategoryLookup::Hash { buckets: 7 };
        assert_eq!(hash.index(Some("Zürich")), (fnv1a64("Zürich".as_bytes()) % 7) as u32);
        assert_eq!(hash.index(None), 7);
        let presence: CategoryLookup<&[String]> = CategoryLookup::Presence;
        assert_eq!(presence.indices(&[Some(Arc::from("")), None], None), vec![0, 1]);
        assert_eq!(presence.indices(&[None], Some("x")), vec![0]);
    }
}
