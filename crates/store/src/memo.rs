//! What this process remembers of the database, so that the hottest reads
//! (where a task without a project goes, whether a session still stands) and
//! the hottest work (a listed task's JSON) are not done on every request.
//! Bounded in entries: when full it starts again, empty. A fact that another
//! replica may change is remembered only for a moment (`max_age`), and
//! forgotten at once where this process changes it.
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

pub struct Memo<K, V> {
    entries: Mutex<HashMap<K, (V, Instant)>>,
    max_entries: usize,
    /// `None`: a fact that never changes once read.
    max_age: Option<Duration>,
}

impl<K: Eq + Hash, V: Clone> Memo<K, V> {
    pub fn new(max_entries: usize, max_age: Option<Duration>) -> Self {
        Self { entries: Mutex::default(), max_entries, max_age }
    }

    pub fn get(&self, key: &K) -> Option<V> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let (value, at) = entries.get(key)?;
        match self.max_age {
            Some(max_age) if at.elapsed() > max_age => None,
            _ => Some(value.clone()),
        }
    }

    pub fn remember(&self, key: K, value: V) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.max_entries && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub fn forget(&self, key: &K) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_are_remembered_within_the_bound_and_forgotten_on_request() {
        let memo = Memo::new(3, None);
        assert_eq!(memo.get(&1), None);
        memo.remember(1, "a");
        memo.remember(2, "b");
        memo.remember(2, "b2");
        memo.remember(3, "c");
        assert_eq!((memo.get(&1), memo.get(&2), memo.len()), (Some("a"), Some("b2"), 3), "within the bound");
        memo.forget(&2);
        assert_eq!(memo.get(&2), None);
        memo.remember(2, "b3");
        memo.remember(4, "d");
        assert_eq!((memo.get(&1), memo.get(&4), memo.len()), (None, Some("d"), 1), "past the bound it starts again");
    }

    #[test]
    fn a_fact_older_than_its_age_is_not_answered() {
        let memo = Memo::new(10, Some(Duration::ZERO));
        memo.remember("session", 7);
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(memo.get(&"session"), None);
        let lasting = Memo::new(10, Some(Duration::from_secs(3600)));
        lasting.remember("session", 7);
        assert_eq!(lasting.get(&"session"), Some(7));
    }
}
