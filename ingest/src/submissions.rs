//! The idempotency index, kept in memory: which stored lead each `(site, submission id)`
//! became. The store rebuilds it from its leads when it opens, and only the writer changes
//! it, so a retry is answered with the first lead's id without a second write to disk.
//!
//! An entry is 16 bytes: a 64-bit hash of the pair (keyed at random when the index is built,
//! so nobody can choose colliding ids) and the first 8 bytes of the lead's id (its time and a
//! little of its randomness), which find the lead with one short range read. An entry is a
//! candidate, never an answer: the store reads the lead it points to and compares the
//! submission id. The rare pair whose hash another pair already holds is kept whole, in a
//! small map of its own. One million leads take about 16 to 32 MiB.
//!
//! The entries are spread over 256 maps by bits of the hash no map uses itself, so growing a
//! map rehashes a 256th of the index. One map of a million entries stalled the writer while it
//! doubled, and the leads waiting on it: in the second that crossed 917,504 entries the p99
//! latency went from 2-3 ms to 57 ms.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

use uuid::Uuid;

/// The first 8 bytes of a lead id: its millisecond time and 16 bits beside it.
pub type IdPrefix = [u8; 8];

/// Where a submission's stored lead may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Candidate {
    /// The lead with exactly this id (a pair kept whole).
    Id(Uuid),
    /// One of the site's leads whose id starts with these bytes, if any still matches.
    Prefix(IdPrefix),
}

/// The prefix a lead id is found by.
pub fn prefix_of(id: &Uuid) -> IdPrefix {
    let mut p = [0; 8];
    p.copy_from_slice(&id.as_bytes()[..8]);
    p
}

/// How many maps the entries are spread over.
const SHARDS: usize = 256;

/// The map an entry of `hash` is in: bits 32-39, which a map neither indexes its buckets by
/// (the low bits) nor tags them with (the top seven).
fn shard(hash: u64) -> usize {
    (hash >> 32) as usize % SHARDS
}

type Entries = HashMap<u64, IdPrefix, BuildHasherDefault<Unhashed>>;

/// The keys are hashes already: used as they are.
#[derive(Default)]
struct Unhashed(u64);

impl Hasher for Unhashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// `(site, submission id) -> lead`, see the module docs.
pub struct SubmissionIndex {
    keys: RandomState,
    entries: Vec<Entries>,
    /// Pairs whose hash an earlier pair holds, with their lead's whole id.
    whole: HashMap<(Box<str>, Box<str>), Uuid>,
    /// Tests: every pair hashes alike, to exercise the pairs kept whole.
    #[cfg(test)]
    pub(crate) collide_all: bool,
}

impl Default for SubmissionIndex {
    fn default() -> Self {
        Self::new()
    }
}

impl SubmissionIndex {
    pub fn new() -> Self {
        Self {
            keys: RandomState::new(),
            entries: (0..SHARDS).map(|_| Entries::default()).collect(),
            whole: HashMap::new(),
            #[cfg(test)]
            collide_all: false,
        }
    }

    fn hash(&self, site: &str, submission_id: &str) -> u64 {
        #[cfg(test)]
        if self.collide_all {
            return 0;
        }
        self.keys.hash_one((site, submission_id))
    }

    /// How many submissions it holds.
    pub fn len(&self) -> usize {
        self.entries.iter().map(HashMap::len).sum::<usize>() + self.whole.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where the lead of `(site, submission_id)` may be: `None` when it is surely not stored.
    pub fn candidate(&self, site: &str, submission_id: &str) -> Option<Candidate> {
        if !self.whole.is_empty()
            && let Some(id) = self.whole.get(&(Box::from(site), Box::from(submission_id)))
        {
            return Some(Candidate::Id(*id));
        }
        let hash = self.hash(site, submission_id);
        self.entries[shard(hash)].get(&hash).copied().map(Candidate::Prefix)
    }

    /// Records that `(site, submission_id)` is stored as the lead `id`. `shared` says that
    /// the pair's hash points at another submission's lead (its candidate was checked and
    /// did not match), so the pair is kept whole beside it.
    pub fn insert(&mut self, site: &str, submission_id: &str, id: Uuid, shared: bool) {
        if shared {
            self.whole.insert((site.into(), submission_id.into()), id);
        } else {
            let hash = self.hash(site, submission_id);
            self.entries[shard(hash)].insert(hash, prefix_of(&id));
        }
    }

    /// Forgets `(site, submission_id)`, stored as the lead `id` (erased).
    pub fn remove(&mut self, site: &str, submission_id: &str, id: Uuid) {
        if !self.whole.is_empty() && self.whole.remove(&(Box::from(site), Box::from(submission_id))).is_some()
        {
            return;
        }
        let hash = self.hash(site, submission_id);
        let entries = &mut self.entries[shard(hash)];
        if entries.get(&hash) == Some(&prefix_of(&id)) {
            entries.remove(&hash);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_points_at_its_leads_prefix_until_removed() {
        let mut index = SubmissionIndex::new();
        let id = Uuid::now_v7();
        assert_eq!(index.candidate("s", "sub-1"), None);
        index.insert("s", "sub-1", id, false);
        assert_eq!(index.candidate("s", "sub-1"), Some(Candidate::Prefix(prefix_of(&id))));
        assert_eq!(index.candidate("t", "sub-1"), None, "another site");
        assert_eq!(index.candidate("s", "sub-2"), None);
        // Removing it as another lead's (its hash now someone else's) leaves it.
        index.remove("s", "sub-1", Uuid::from_u128(id.as_u128() ^ (1 << 127)));
        assert_eq!(index.len(), 1);
        index.remove("s", "sub-1", id);
        assert!(index.is_empty());
        assert_eq!(index.candidate("s", "sub-1"), None);
    }

    #[test]
    fn entries_spread_over_every_map_so_growing_one_stays_small() {
        let mut index = SubmissionIndex::new();
        let id = Uuid::now_v7();
        for i in 0..SHARDS * 100 {
            index.insert("s", &format!("sub-{i}"), id, false);
        }
        let sizes: Vec<usize> = index.entries.iter().map(HashMap::len).collect();
        assert!(sizes.iter().all(|n| (40..=200).contains(n)), "{sizes:?}");
        assert_eq!(index.len(), SHARDS * 100);
        assert!((0..SHARDS * 100).all(|i| index.candidate("s", &format!("sub-{i}")).is_some()));
    }

    #[test]
    fn pairs_sharing_a_hash_are_kept_whole_and_found_first() {
        let mut index = SubmissionIndex { collide_all: true, ..SubmissionIndex::new() };
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        index.insert("s", "sub-a", a, false);
        assert_eq!(index.candidate("s", "sub-b"), Some(Candidate::Prefix(prefix_of(&a))), "a candidate only");
        index.insert("s", "sub-b", b, true);
        assert_eq!(index.candidate("s", "sub-b"), Some(Candidate::Id(b)));
        assert_eq!(index.candidate("s", "sub-a"), Some(Candidate::Prefix(prefix_of(&a))));
        assert_eq!(index.len(), 2);
        index.remove("s", "sub-b", b);
        assert_eq!(index.candidate("s", "sub-b"), Some(Candidate::Prefix(prefix_of(&a))));
        index.remove("s", "sub-a", a);
        assert!(index.is_empty());
    }
}
