//! The durable store over sled: leads, the consent ledger and the per-day event counters.
//! Blocking calls; async code reaches it through the writer.
//!
//! The `leads` tree holds `L site 0 lead-uuid(16 bytes, v7: time-ordered)` -> lead, its
//! consent record inside. Which lead a submission id became (the idempotency index) is kept in
//! memory ([`crate::submissions`]), rebuilt from the leads on opening: one disk write per lead
//! instead of two, which measured a median 10% more durable leads per second. Stores of
//! format 1 also held `S site 0 submission_id` entries; opening one removes them.
//!
//! A lead's id is its key, given when the writer stores it: each is above every lead its site
//! has stored, even with the clock set back. Reads list a lead only once a flush has made it
//! durable, so every lead stored after the newest one listed will list above it: a sync that
//! reads newest first and stops at the newest id it saw last time misses none.
//!
//! There is no email index: every random-key insert costs about a fifth of the durable-lead
//! throughput, and erasure (rare, admin-only) finds an address's leads by scanning the site.
//!
//! The `counters` tree holds `site 0 YYYY-MM-DD 0 name` -> version byte, u64 big-endian.

use std::collections::HashMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sled::Tree;
use uuid::Uuid;

use crate::records::{self, DecodeError, StoredLead, decode, encode};
use crate::submissions::{Candidate, SubmissionIndex};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    #[error("stored value: {0}")]
    Decode(#[from] DecodeError),
    #[error("invalid lead id")]
    LeadId,
    /// The submission id is already stored for a lead with another address or campaign: a
    /// retry repeats its lead, so this is a different lead reusing the id.
    #[error("the submission id belongs to a different lead")]
    SubmissionTaken,
    /// The data directory was written by a later version, in a format this one cannot read
    /// (a rollback after an upgrade): refused whole rather than failing value by value.
    #[error(
        "it is in format {0}, written by a newer version of Lodestone; this version reads format {STORE_FORMAT} (run the newer version on it)"
    )]
    NewerFormat(u8),
    #[error("cannot create it: {0}")]
    Create(std::io::Error),
}

/// Creates the data directory when it is missing, readable by its owner only (0700 on Unix):
/// it holds visitors' addresses. An existing directory keeps the permissions it has.
fn create_private(dir: &Path) -> Result<(), StoreError> {
    if dir.exists() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(StoreError::Create)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(StoreError::Create(e)),
        _ => Ok(()),
    }
}

/// A validated lead (with its consent record) ready to be written, encoded by the request
/// handler so the single writer does as little as possible.
#[derive(Debug, Clone)]
pub struct NewLead {
    pub site: String,
    pub submission_id: String,
    /// What a retry of this lead repeats (checked against a stored lead with the same id).
    email: String,
    campaign: String,
    lead: Vec<u8>,
}

impl NewLead {
    /// The record of `lead`, whose id the store gives when it writes it (an id set here is
    /// stored but never read: the key's wins).
    pub fn new(lead: StoredLead) -> Self {
        let encoded = encode(&lead);
        Self {
            site: lead.site,
            submission_id: lead.submission_id,
            email: lead.email,
            campaign: lead.campaign,
            lead: encoded,
        }
    }
}

/// What writing a lead did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeadOutcome {
    pub id: String,
    /// `false` when the submission id was already stored: nothing new was written.
    pub created: bool,
}

/// One page of leads, newest first.
#[derive(Debug, Clone)]
pub struct LeadPage {
    pub leads: Vec<StoredLead>,
    pub next_cursor: Option<String>,
}

/// One stored counter value.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CounterRow {
    pub day: String,
    pub name: String,
    pub value: u64,
}

/// The sled database and its trees. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    db: sled::Db,
    leads: Tree,
    counters: Tree,
    ids: Arc<Mutex<LeadIds>>,
    /// Which lead each submission id became; only the writer uses it.
    submissions: Arc<Mutex<SubmissionIndex>>,
    /// The last flush failed (a full disk, an I/O error): see [`Store::failing`].
    failing: Arc<AtomicBool>,
}

/// Per site: the id of the newest lead written, and of the newest one a flush made durable.
/// A site is entered when first written or read since the store opened, with its newest
/// stored lead as both (what the store holds on opening is on disk).
#[derive(Default)]
struct LeadIds {
    written: HashMap<String, Uuid>,
    durable: HashMap<String, Uuid>,
}

/// What a log may say of a counter: its dimension (`path`, `referrer`, ...), never its name,
/// which may hold a path.
fn logged_dimension(name: &str) -> &str {
    name.split_once(':').map_or(name, |(d, _)| d)
}

/// In the default tree: the store's format, [`STORE_FORMAT`] once this version opened it.
const FORMAT_KEY: &[u8] = b"format";

/// The store's layout: 1 with the submission index on disk, 2 with it in memory. (Each value
/// also carries its own version byte, [`records::FORMAT_VERSION`].)
pub const STORE_FORMAT: u8 = 2;

const LEAD: u8 = b'L';
/// The namespace of format 1's submission index entries, removed on opening.
const SUBMISSION: u8 = b'S';

/// `site 0`, then `parts` joined by 0.
fn keyed(site: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(site.len() + 48);
    k.extend_from_slice(site.as_bytes());
    k.push(0);
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            k.push(0);
        }
        k.extend_from_slice(p);
    }
    k
}

/// `namespace site 0 parts...`
/// One form of an email address for every spelling of it, so erasure finds `Jürgen@Bücher.de`
/// however its letters were typed or encoded: Unicode's canonical caseless form
/// (`NFD(casefold(NFD(s)))`), where `STRASSE` is `straße` and a final `Σ` is `σ`, and the
/// domain in its ASCII form, where `bücher.de` is `xn--bcher-kva.de` (a browser's email field
/// sends the one, a person asking for erasure writes the other).
pub fn mailbox_key(email: &str) -> String {
    use caseless::Caseless;
    use unicode_normalization::UnicodeNormalization;
    let fold = |s: &str| -> String { s.nfd().default_case_fold().nfd().collect() };
    let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
    let domain = idna::domain_to_ascii(domain).unwrap_or_else(|_| fold(domain));
    format!("{}@{domain}", fold(local))
}

fn key(namespace: u8, site: &str, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = vec![namespace];
    k.extend(keyed(site, parts));
    k
}

/// The lead id at the end of a lead key.
fn lead_id(lead_key: &[u8]) -> Result<Uuid, StoreError> {
    let at = lead_key.len().checked_sub(16).ok_or(StoreError::LeadId)?;
    Uuid::from_slice(&lead_key[at..]).map_err(|_| StoreError::LeadId)
}

/// The site of a lead key (`L site 0 id`).
fn lead_site(lead_key: &[u8]) -> Result<&str, StoreError> {
    let end =
        lead_key.len().checked_sub(17).filter(|e| *e >= 1 && lead_key[*e] == 0).ok_or(StoreError::LeadId)?;
    std::str::from_utf8(&lead_key[1..end]).map_err(|_| StoreError::LeadId)
}

/// What the store holds under a submission id's candidate.
enum Submitted {
    /// The submission's lead.
    Lead(Uuid, Box<StoredLead>),
    /// Other submissions' leads only: the candidate's hash is shared.
    Other,
    /// No lead at all (the candidate is stale).
    Missing,
}

/// Drops the submission index entries of a store of format 1, in batches.
fn remove_submission_entries(leads: &Tree) -> Result<usize, StoreError> {
    let mut removed = 0;
    loop {
        let keys: Vec<sled::IVec> =
            leads.scan_prefix([SUBMISSION]).keys().take(10_000).collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Ok(removed);
        }
        let mut batch = sled::Batch::default();
        removed += keys.len();
        for k in keys {
            batch.remove(k);
        }
        leads.apply_batch(batch)?;
    }
}

/// Which lead each submission id became, read from every stored lead. A lead whose value
/// cannot be read is left out (and logged by id): a retry of it would be stored afresh.
fn build_submissions(leads: &Tree) -> Result<SubmissionIndex, StoreError> {
    let started = std::time::Instant::now();
    let mut index = SubmissionIndex::new();
    let mut unreadable = 0usize;
    for entry in leads.scan_prefix([LEAD]) {
        let (k, v) = entry?;
        let (site, id) = (lead_site(&k)?, lead_id(&k)?);
        match records::decode_submission_id(&v) {
            Ok(submission_id) => {
                let shared = index.candidate(site, &submission_id).is_some();
                index.insert(site, &submission_id, id, shared);
            }
            Err(e) => {
                unreadable += 1;
                tracing::warn!(lead = %id, error = %e, "a stored lead's submission id cannot be read; a retry of it would be stored again");
            }
        }
    }
    tracing::info!(
        leads = index.len(),
        unreadable,
        ms = started.elapsed().as_millis() as u64,
        "submission index built"
    );
    Ok(index)
}

/// A stored lead, its id read from its key (values written before ids were given by the store
/// carry it inside too: the key wins).
fn decode_lead(lead_key: &[u8], value: &[u8]) -> Result<StoredLead, StoreError> {
    let mut lead: StoredLead = decode(value)?;
    lead.id = lead_id(lead_key)?.to_string();
    Ok(lead)
}

/// The keys that erase one address's leads on one site, found by [`Store::erasure_plan`].
#[derive(Debug, Clone)]
pub struct ErasurePlan {
    site: String,
    mailbox: String,
    /// Each lead's key and submission id.
    leads: Vec<(Vec<u8>, String)>,
    /// The last lead key the scan passed.
    scanned: Option<Vec<u8>>,
}

impl Store {
    /// Opens (or creates) the database in `dir` with a page cache of `cache_bytes`.
    pub fn open(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        create_private(dir)?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()?;
        Self::from_db(db)
    }

    /// A database in a temporary directory, removed on drop: for tests.
    pub fn temporary() -> Result<Self, StoreError> {
        Self::from_db(sled::Config::new().temporary(true).cache_capacity(16 << 20).open()?)
    }

    fn from_db(db: sled::Db) -> Result<Self, StoreError> {
        let leads = db.open_tree("leads")?;
        match db.get(FORMAT_KEY)?.as_deref() {
            Some(&[v]) if v > STORE_FORMAT => return Err(StoreError::NewerFormat(v)),
            Some(&[STORE_FORMAT]) => {}
            // Format 1 (or a store from before formats were recorded): its submission index
            // entries go, then the mark, after them in sled's log (which recovers a prefix).
            _ => {
                let removed = remove_submission_entries(&leads)?;
                db.insert(FORMAT_KEY, &[STORE_FORMAT])?;
                db.flush()?;
                if removed > 0 {
                    tracing::info!(removed, "submission index entries of format 1 removed");
                }
            }
        }
        let submissions = build_submissions(&leads)?;
        Ok(Self {
            leads,
            counters: db.open_tree("counters")?,
            db,
            ids: Arc::default(),
            submissions: Arc::new(Mutex::new(submissions)),
            failing: Arc::default(),
        })
    }

    fn lead_ids(&self) -> std::sync::MutexGuard<'_, LeadIds> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn submissions(&self) -> std::sync::MutexGuard<'_, SubmissionIndex> {
        self.submissions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lead stored for `(site, submission_id)` where the index points.
    fn submitted(
        &self,
        site: &str,
        submission_id: &str,
        candidate: Candidate,
    ) -> Result<Submitted, StoreError> {
        let prefix = match candidate {
            Candidate::Id(id) => {
                return Ok(match self.leads.get(key(LEAD, site, &[id.as_bytes()]))? {
                    Some(bytes) => Submitted::Lead(id, Box::new(decode(&bytes)?)),
                    None => Submitted::Missing,
                });
            }
            Candidate::Prefix(prefix) => prefix,
        };
        let mut other = false;
        for entry in self.leads.scan_prefix(key(LEAD, site, &[&prefix])) {
            let (k, v) = entry?;
            let lead: StoredLead = decode(&v)?;
            if lead.submission_id == submission_id {
                return Ok(Submitted::Lead(lead_id(&k)?, Box::new(lead)));
            }
            other = true;
        }
        Ok(if other { Submitted::Other } else { Submitted::Missing })
    }

    /// Makes every write so far durable against a process crash; reads then list the leads it
    /// covered. Blocking: call it off the runtime.
    pub fn flush(&self) -> Result<usize, StoreError> {
        let written = self.lead_ids().written.clone();
        let flushed = self.db.flush();
        self.failing.store(flushed.is_err(), Ordering::Relaxed);
        let bytes = flushed?;
        let mut ids = self.lead_ids();
        for (site, id) in written {
            let durable = ids.durable.entry(site).or_insert(id);
            *durable = (*durable).max(id);
        }
        Ok(bytes)
    }

    /// Whether the last flush failed. sled keeps refusing writes after an I/O error (a full
    /// disk included) until the database is opened again: the health check reports it, so a
    /// supervisor restarts the server.
    pub fn failing(&self) -> bool {
        self.failing.load(Ordering::Relaxed)
    }

    /// The newest id given to a lead of `site` (`ids` is the locked [`LeadIds`]). A site is
    /// entered on first use, by the writer or a reader, with the newest lead it has stored:
    /// under the lock, so no lead of it can be written meanwhile.
    fn entered(&self, ids: &mut LeadIds, site: &str) -> Result<Uuid, StoreError> {
        if let Some(id) = ids.written.get(site) {
            return Ok(*id);
        }
        let newest = match self.leads.scan_prefix(key(LEAD, site, &[])).keys().next_back() {
            Some(k) => lead_id(&k?)?,
            None => Uuid::nil(),
        };
        ids.written.insert(site.to_owned(), newest);
        ids.durable.insert(site.to_owned(), newest);
        Ok(newest)
    }

    /// The id for the next lead of `site`: a v7 (time-ordered) id, above every lead the site
    /// has stored even if the clock went back.
    fn next_lead_id(&self, site: &str) -> Result<Uuid, StoreError> {
        let last = self.entered(&mut self.lead_ids(), site)?;
        let above = last.as_u128().checked_add(1).ok_or(StoreError::LeadId)?;
        Ok(Uuid::now_v7().max(Uuid::from_u128(above)))
    }

    /// The end of `site`'s durable leads, or of those below `cursor` when that is lower.
    fn listed_below(&self, site: &str, cursor: Option<Uuid>) -> Result<Bound<Vec<u8>>, StoreError> {
        let mut ids = self.lead_ids();
        self.entered(&mut ids, site)?;
        let durable = ids.durable.get(site).copied().unwrap_or_default();
        Ok(match cursor {
            Some(c) if c <= durable => Bound::Excluded(key(LEAD, site, &[c.as_bytes()])),
            _ => Bound::Included(key(LEAD, site, &[durable.as_bytes()])),
        })
    }

    /// `site`'s durable leads below `cursor`, oldest first (reverse it for newest first).
    fn listed(&self, site: &str, cursor: Option<Uuid>) -> Result<sled::Iter, StoreError> {
        Ok(self.leads.range((Bound::Included(key(LEAD, site, &[])), self.listed_below(site, cursor)?)))
    }

    /// Writes one lead, unless its submission id is already stored, in which case the stored
    /// lead's id is returned (not yet durable: flush the store after), or
    /// [`StoreError::SubmissionTaken`] when the stored lead has another address or campaign.
    ///
    /// The index is in memory and built from the leads, so it never points at a lead a crash
    /// lost: a retry of a lead whose flush did not complete (never acknowledged) is stored
    /// afresh. Only the writer thread calls this, so retries racing each other are checked
    /// one after the other.
    pub fn insert_lead(&self, new: &NewLead) -> Result<LeadOutcome, StoreError> {
        let site = &new.site;
        let mut submissions = self.submissions();
        let mut shared = false;
        if let Some(candidate) = submissions.candidate(site, &new.submission_id) {
            match self.submitted(site, &new.submission_id, candidate)? {
                Submitted::Lead(stored, lead) => {
                    if lead.email != new.email || lead.campaign != new.campaign {
                        return Err(StoreError::SubmissionTaken);
                    }
                    return Ok(LeadOutcome { id: stored.to_string(), created: false });
                }
                Submitted::Other => shared = true,
                // A pair kept whole stays whole; a stale hash entry is taken over.
                Submitted::Missing => shared = matches!(candidate, Candidate::Id(_)),
            }
        }
        let id = self.next_lead_id(site)?;
        self.leads.insert(key(LEAD, site, &[id.as_bytes()]), new.lead.as_slice())?;
        submissions.insert(site, &new.submission_id, id, shared);
        // `next_lead_id` entered the site.
        if let Some(written) = self.lead_ids().written.get_mut(site) {
            *written = id;
        }
        Ok(LeadOutcome { id: id.to_string(), created: true })
    }

    /// Plans the erasure of every lead of `email` (any letter case) on `site`: a read-only
    /// scan of the site's leads, O(leads of the site), done outside the writer so ingestion
    /// goes on. [`Store::erase`] then completes the plan inside the writer.
    pub fn erasure_plan(&self, site: &str, email: &str) -> Result<ErasurePlan, StoreError> {
        let mailbox = mailbox_key(email);
        let mut plan = ErasurePlan { site: site.to_owned(), mailbox, leads: Vec::new(), scanned: None };
        self.plan_from(&mut plan, Bound::Included(key(LEAD, site, &[])))?;
        Ok(plan)
    }

    /// Adds to `plan` the leads of its mailbox from `start` to the end of its site's leads.
    fn plan_from(&self, plan: &mut ErasurePlan, start: Bound<Vec<u8>>) -> Result<(), StoreError> {
        let mut end = key(LEAD, &plan.site, &[]);
        // Past every lead key of the site: `LEAD site 0 id` < `LEAD site 1`.
        if let Some(last) = end.last_mut() {
            *last = 1;
        }
        for entry in self.leads.range((start, Bound::Excluded(end))) {
            let (lead_key, bytes) = entry?;
            let lead: StoredLead = decode(&bytes)?;
            if mailbox_key(&lead.email) == plan.mailbox {
                plan.leads.push((lead_key.to_vec(), lead.submission_id));
            }
            plan.scanned = Some(lead_key.to_vec());
        }
        Ok(())
    }

    /// Carries out `plan` atomically; returns how many leads it removed. Only the writer calls
    /// this: it first scans the leads written since the plan was made (the writer has applied
    /// every lead acknowledged before this erasure), so none of the address escapes.
    pub fn erase(&self, plan: &ErasurePlan) -> Result<usize, StoreError> {
        let mut plan = plan.clone();
        let start = match plan.scanned.take() {
            Some(k) => Bound::Excluded(k),
            None => Bound::Included(key(LEAD, &plan.site, &[])),
        };
        self.plan_from(&mut plan, start)?;
        let mut batch = sled::Batch::default();
        let mut erased = Vec::new();
        for (k, submission_id) in &plan.leads {
            if self.leads.contains_key(k)? {
                erased.push((lead_id(k)?, submission_id));
            }
            batch.remove(k.as_slice());
        }
        self.leads.apply_batch(batch)?;
        let mut submissions = self.submissions();
        for (id, submission_id) in &erased {
            submissions.remove(&plan.site, submission_id, *id);
        }
        Ok(erased.len())
    }

    /// Whether the store holds any lead or counter of `site` (a site may have been removed
    /// from the config while its data stays).
    pub fn holds(&self, site: &str) -> Result<bool, StoreError> {
        Ok(self.leads.scan_prefix(key(LEAD, site, &[])).next().transpose()?.is_some()
            || self.counters.scan_prefix(keyed(site, &[])).next().transpose()?.is_some())
    }

    /// Up to `limit` durable leads of `site`, newest first, starting after `cursor` (a lead id).
    pub fn lead_page(&self, site: &str, cursor: Option<&str>, limit: usize) -> Result<LeadPage, StoreError> {
        let cursor = cursor.map(|c| Uuid::parse_str(c).map_err(|_| StoreError::LeadId)).transpose()?;
        let mut leads: Vec<StoredLead> = Vec::with_capacity(limit.min(1000));
        let mut more = false;
        for entry in self.listed(site, cursor)?.rev() {
            if leads.len() == limit {
                more = true;
                break;
            }
            let (k, v) = entry?;
            leads.push(decode_lead(&k, &v)?);
        }
        let next_cursor = if more { leads.last().map(|l| l.id.clone()) } else { None };
        Ok(LeadPage { leads, next_cursor })
    }

    /// Every durable lead of `site`, newest first, read lazily.
    pub fn leads(
        &self,
        site: &str,
    ) -> Result<impl Iterator<Item = Result<StoredLead, StoreError>> + Send + use<>, StoreError> {
        Ok(self.listed(site, None)?.rev().map(|entry| {
            let (k, v) = entry?;
            decode_lead(&k, &v)
        }))
    }

    /// The names of the custom answers of each durable lead of `site`, newest first, as
    /// [`Store::leads`] lists the leads.
    pub fn lead_field_names(
        &self,
        site: &str,
    ) -> Result<impl Iterator<Item = Result<Vec<String>, StoreError>> + Send + use<>, StoreError> {
        Ok(self.listed(site, None)?.rev().map(|entry| Ok(records::decode_field_names(&entry?.1)?)))
    }

    /// Adds each `(site, day, name, delta)` to its counter, in one atomic batch.
    /// Only the counter task calls this, so read-then-write does not race. A counter whose
    /// stored value cannot be read is left as it is (its delta is dropped and logged), so one
    /// bad value does not stop every other count.
    pub fn add_counters<'a>(
        &self,
        deltas: impl IntoIterator<Item = (&'a str, &'a str, &'a str, u64)>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        let mut staged: std::collections::HashMap<Vec<u8>, u64> = std::collections::HashMap::new();
        for (site, day, name, delta) in deltas {
            let key = keyed(site, &[day.as_bytes(), name.as_bytes()]);
            let current = match staged.get(&key) {
                Some(v) => *v,
                None => match self.counters.get(&key)?.map(|v| records::decode_count(&v)).transpose() {
                    Ok(v) => v.unwrap_or(0),
                    Err(e) => {
                        let dimension = logged_dimension(name);
                        tracing::warn!(site, day, dimension, error = %e, "unreadable counter left as it is; its new counts are dropped");
                        continue;
                    }
                },
            };
            staged.insert(key, current.saturating_add(delta));
        }
        for (key, value) in staged {
            batch.insert(key, &records::encode_count(value));
        }
        self.counters.apply_batch(batch)?;
        Ok(())
    }

    /// Whether `site` has a counter `name` on `day`.
    pub fn has_counter(&self, site: &str, day: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.counters.contains_key(keyed(site, &[day.as_bytes(), name.as_bytes()]))?)
    }

    /// How many counters of `site` on `day` have a name starting with `prefix`, counting no
    /// further than `limit`.
    pub fn count_counters(
        &self,
        site: &str,
        day: &str,
        prefix: &str,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let mut n = 0;
        for entry in
            self.counters.scan_prefix(keyed(site, &[day.as_bytes(), prefix.as_bytes()])).keys().take(limit)
        {
            entry?;
            n += 1;
        }
        Ok(n)
    }

    /// Calls `f(day, name, value)` with every counter of `site` for the days `from..=to`
    /// (`YYYY-MM-DD`), in key order, reading them lazily. A value that cannot be read is
    /// skipped and logged.
    pub fn each_counter(
        &self,
        site: &str,
        from: &str,
        to: &str,
        mut f: impl FnMut(&str, &str, u64),
    ) -> Result<(), StoreError> {
        let p = keyed(site, &[]);
        let start = keyed(site, &[from.as_bytes(), b""]);
        let end = keyed(site, &[format!("{to}\u{1}").as_bytes()]);
        for entry in self.counters.range(start..end) {
            let (k, v) = entry?;
            let rest = &k[p.len()..];
            let Some(split) = rest.iter().position(|b| *b == 0) else { continue };
            let (day, name) =
                (String::from_utf8_lossy(&rest[..split]), String::from_utf8_lossy(&rest[split + 1..]));
            match records::decode_count(&v) {
                Ok(value) => f(&day, &name, value),
                Err(e) => {
                    let dimension = logged_dimension(&name);
                    tracing::warn!(site, day = %day, dimension, error = %e, "unreadable counter skipped");
                }
            }
        }
        Ok(())
    }

    /// Every counter of `site` for the days `from..=to`, collected (see [`Store::each_counter`]).
    #[cfg(test)]
    pub fn counters(&self, site: &str, from: &str, to: &str) -> Result<Vec<CounterRow>, StoreError> {
        let mut rows = Vec::new();
        self.each_counter(site, from, to, |day, name, value| {
            rows.push(CounterRow { day: day.to_owned(), name: name.to_owned(), value });
        })?;
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::ConsentRecord;
    use funnel::ScoreReport;

    fn new_lead(site: &str, email: &str, submission: &str) -> NewLead {
        let lead = StoredLead {
            id: String::new(),
            site: site.into(),
            campaign: "welcome".into(),
            variant: None,
            email: email.into(),
            name: None,
            fields: Default::default(),
            submission_id: submission.into(),
            page_url: None,
            referrer: None,
            attribution: Default::default(),
            signals: None,
            client_score: None,
            score: ScoreReport::default(),
            score_mismatch: false,
            received_at: "2026-11-22T00:00:00Z".into(),
            consent: Some(ConsentRecord {
                granted: true,
                text: "ok".into(),
                version: "1".into(),
                at: "2026-11-22T00:00:00Z".into(),
                page_url: None,
            }),
        };
        NewLead::new(lead)
    }

    #[test]
    fn a_repeated_submission_id_returns_the_first_lead_and_writes_nothing() {
        let store = Store::temporary().unwrap();
        let first = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000001")).unwrap();
        let again = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000001")).unwrap();
        assert!(first.created && !again.created);
        assert_eq!(first.id, again.id);
        store.flush().unwrap();
        assert_eq!(store.leads("s").unwrap().count(), 1);
        // The same id on another address or campaign is a different lead, refused.
        let other = store.insert_lead(&new_lead("s", "z@b.co", "sub-00000001"));
        assert!(matches!(other, Err(StoreError::SubmissionTaken)), "{other:?}");
        let mut elsewhere = new_lead("s", "a@b.co", "sub-00000001");
        elsewhere.campaign = "ebook".into();
        let other = store.insert_lead(&elsewhere);
        assert!(matches!(other, Err(StoreError::SubmissionTaken)), "{other:?}");
        store.flush().unwrap();
        assert_eq!(store.leads("s").unwrap().count(), 1);
    }

    #[test]
    fn a_retry_whose_lead_is_gone_from_under_the_index_is_stored_afresh() {
        let store = Store::temporary().unwrap();
        let lost = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000001")).unwrap();
        let lost_key = key(LEAD, "s", &[Uuid::parse_str(&lost.id).unwrap().as_bytes()]);
        store.leads.remove(lost_key).unwrap();
        let retry = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000001")).unwrap();
        assert!(retry.created, "the retry stores the lead");
        assert_ne!(retry.id, lost.id);
        let again = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000001")).unwrap();
        assert_eq!((again.created, again.id.as_str()), (false, retry.id.as_str()));
        store.flush().unwrap();
        assert_eq!(store.leads("s").unwrap().count(), 1);
    }

    #[test]
    fn retries_are_recognised_after_reopening_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let ids: Vec<String> = (0..3)
            .map(|i| store.insert_lead(&new_lead("s", "a@b.co", &format!("sub-{i}"))).unwrap().id)
            .collect();
        let elsewhere = store.insert_lead(&new_lead("t", "a@b.co", "sub-0")).unwrap();
        assert!(elsewhere.created, "the same submission id on another site is another lead");
        store.flush().unwrap();
        drop(store);
        let store = reopen(dir.path()).unwrap();
        for (i, id) in ids.iter().enumerate() {
            let again = store.insert_lead(&new_lead("s", "a@b.co", &format!("sub-{i}"))).unwrap();
            assert_eq!((again.created, &again.id), (false, id));
        }
        let again = store.insert_lead(&new_lead("t", "a@b.co", "sub-0")).unwrap();
        assert_eq!((again.created, again.id), (false, elsewhere.id));
        let taken = store.insert_lead(&new_lead("s", "z@b.co", "sub-1"));
        assert!(matches!(taken, Err(StoreError::SubmissionTaken)), "{taken:?}");
        assert!(store.insert_lead(&new_lead("s", "a@b.co", "sub-3")).unwrap().created);
    }

    #[test]
    fn a_format_1_store_loses_its_index_entries_and_keeps_recognising_retries() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        let first = store.insert_lead(&new_lead("s", "a@b.co", "sub-1")).unwrap();
        // As format 1 wrote them: an index entry per lead, and the mark.
        let id = Uuid::parse_str(&first.id).unwrap();
        let mut entry = vec![1];
        entry.extend_from_slice(id.as_bytes());
        store.leads.insert(key(SUBMISSION, "s", &[b"sub-1".as_slice()]), entry).unwrap();
        store.db.insert(FORMAT_KEY, &[1]).unwrap();
        store.flush().unwrap();
        drop(store);
        let store = reopen(dir.path()).unwrap();
        assert_eq!(store.db.get(FORMAT_KEY).unwrap().unwrap(), [STORE_FORMAT].as_slice());
        assert_eq!(store.leads.scan_prefix([SUBMISSION]).count(), 0, "the entries are gone");
        let again = store.insert_lead(&new_lead("s", "a@b.co", "sub-1")).unwrap();
        assert_eq!((again.created, again.id), (false, first.id));
    }

    #[test]
    fn submission_ids_sharing_a_hash_are_told_apart() {
        let store = Store::temporary().unwrap();
        store.submissions().collide_all = true;
        let subs = ["sub-a", "sub-b", "sub-c"];
        let ids: Vec<String> = subs
            .iter()
            .map(|s| {
                let stored = store.insert_lead(&new_lead("s", &format!("{s}@b.co"), s)).unwrap();
                assert!(stored.created, "{s}");
                stored.id
            })
            .collect();
        let retry = |s: &str| store.insert_lead(&new_lead("s", &format!("{s}@b.co"), s)).unwrap();
        for (s, id) in subs.iter().zip(&ids) {
            assert_eq!((retry(s).created, &retry(s).id), (false, id), "{s}");
        }
        // Erasing the lead the shared hash points at keeps the others recognised.
        let plan = store.erasure_plan("s", "sub-a@b.co").unwrap();
        assert_eq!(store.erase(&plan).unwrap(), 1);
        assert_eq!(retry("sub-b").id, ids[1]);
        assert_eq!(retry("sub-c").id, ids[2]);
        assert!(retry("sub-a").created, "the erased submission id is new again");
        store.flush().unwrap();
        assert_eq!(store.leads("s").unwrap().count(), 3);
    }

    #[test]
    fn counter_values_written_before_they_carried_a_version_still_count_and_unreadable_ones_are_left_alone() {
        let store = Store::temporary().unwrap();
        store
            .counters
            .insert(keyed("s", &[b"2026-11-22".as_slice(), b"pageviews"]), &5u64.to_be_bytes())
            .unwrap();
        store.add_counters([("s", "2026-11-22", "pageviews", 2)]).unwrap();
        let rows = store.counters("s", "2026-11-22", "2026-11-22").unwrap();
        assert_eq!(rows.iter().map(|r| r.value).collect::<Vec<_>>(), [7]);
        // A value this version cannot read is neither read as 0 nor overwritten, and does not
        // stop the other counters of its batch; reading skips it.
        let unreadable = keyed("s", &[b"2026-11-22".as_slice(), b"pageviews"]);
        store.counters.insert(&unreadable, &[7u8; 9]).unwrap();
        store
            .add_counters([("s", "2026-11-22", "pageviews", 1), ("s", "2026-11-22", "visitors", 1)])
            .unwrap();
        assert_eq!(store.counters.get(&unreadable).unwrap().unwrap(), [7u8; 9].as_slice());
        let rows = store.counters("s", "2026-11-22", "2026-11-22").unwrap();
        assert_eq!(rows, [CounterRow { day: "2026-11-22".into(), name: "visitors".into(), value: 1 }]);
    }

    #[test]
    fn pages_run_newest_first_and_stay_within_their_site() {
        let store = Store::temporary().unwrap();
        let ids: Vec<_> = (0..5)
            .map(|i| store.insert_lead(&new_lead("s", "a@b.co", &format!("sub-0000000{i}"))).unwrap().id)
            .collect();
        store.insert_lead(&new_lead("s2", "a@b.co", "sub-99999999")).unwrap();
        store.flush().unwrap();
        let p1 = store.lead_page("s", None, 2).unwrap();
        assert_eq!(p1.leads.iter().map(|l| &l.id).collect::<Vec<_>>(), [&ids[4], &ids[3]]);
        let p2 = store.lead_page("s", p1.next_cursor.as_deref(), 2).unwrap();
        assert_eq!(p2.leads.iter().map(|l| &l.id).collect::<Vec<_>>(), [&ids[2], &ids[1]]);
        let p3 = store.lead_page("s", p2.next_cursor.as_deref(), 2).unwrap();
        assert_eq!(p3.leads.len(), 1);
        assert!(p3.next_cursor.is_none());
        assert!(p1.leads[0].consent.is_some());
    }

    /// Opens `dir` again once sled's background thread of the dropped store lets go of it.
    fn reopen(dir: &Path) -> Result<Store, StoreError> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match Store::open(dir, 1 << 20) {
                Err(StoreError::Sled(sled::Error::Io(e)))
                    if e.to_string().contains("lock") && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => return other,
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_new_data_directory_is_private_to_its_owner_and_an_existing_one_is_left_as_it_is() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let data = dir.path().join("var/lodestone");
        drop(Store::open(&data, 1 << 20).unwrap());
        assert_eq!(mode(&data), 0o700);
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o750)).unwrap();
        drop(Store::open(&shared, 1 << 20).unwrap());
        assert_eq!(mode(&shared), 0o750);
    }

    #[test]
    fn a_store_written_in_a_newer_format_is_refused_on_opening_and_an_older_one_is_marked() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = Store::open(dir.path(), 1 << 20).unwrap();
            assert_eq!(store.db.get(FORMAT_KEY).unwrap().unwrap(), [STORE_FORMAT].as_slice());
            store.db.insert(FORMAT_KEY, &[STORE_FORMAT + 1]).unwrap();
            store.flush().unwrap();
        }
        let refused = reopen(dir.path()).err().expect("refused");
        assert!(matches!(refused, StoreError::NewerFormat(v) if v == STORE_FORMAT + 1), "{refused}");
        assert!(refused.to_string().contains("newer version of Lodestone"), "{refused}");
    }

    #[test]
    fn lead_ids_rise_in_the_order_leads_are_written_and_a_lead_is_listed_once_durable() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), 1 << 20).unwrap();
        // A lead stored while the clock ran ahead: later ids still sort above it.
        let ahead = Uuid::from_u128(Uuid::now_v7().as_u128() + (1u128 << 90));
        let early = new_lead("s", "a@b.co", "sub-00000000");
        store.leads.insert(key(LEAD, "s", &[ahead.as_bytes()]), early.lead.as_slice()).unwrap();
        let ids: Vec<Uuid> = (1..=3)
            .map(|i| {
                let id = store.insert_lead(&new_lead("s", "a@b.co", &format!("sub-0000000{i}"))).unwrap().id;
                Uuid::parse_str(&id).unwrap()
            })
            .collect();
        assert!(ahead < ids[0] && ids[0] < ids[1] && ids[1] < ids[2], "{ahead} {ids:?}");
        // Written, not yet flushed: only the lead stored before them is listed, its id read
        // from its key.
        let listed = |store: &Store| store.leads("s").unwrap().map(|l| l.unwrap().id).collect::<Vec<_>>();
        assert_eq!(listed(&store), [ahead.to_string()]);
        assert_eq!(store.lead_page("s", None, 10).unwrap().leads.len(), 1);
        store.flush().unwrap();
        let all: Vec<String> = ids.iter().rev().chain([&ahead]).map(Uuid::to_string).collect();
        assert_eq!(listed(&store), all);
        let fourth = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000004")).unwrap().id;
        assert_eq!(listed(&store), all, "the fourth waits for a flush");
        // A cursor above the durable bound stops there too.
        assert_eq!(store.lead_page("s", Some(&Uuid::max().to_string()), 10).unwrap().leads.len(), 4);
        assert_eq!(store.lead_page("s", Some(&ids[1].to_string()), 10).unwrap().leads.len(), 2);
        store.flush().unwrap();
        assert_eq!(listed(&store)[0], fourth);
        // Reopened: what the store holds is durable and listed, and ids go on rising.
        let fifth = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000005")).unwrap().id;
        store.db.flush().unwrap();
        drop(store);
        let store = reopen(dir.path()).unwrap();
        // A read begun before the site's first write (sled reads lazily) does not list it.
        let before = store.leads("s").unwrap();
        let sixth = store.insert_lead(&new_lead("s", "a@b.co", "sub-00000006")).unwrap().id;
        assert!(sixth > fifth && sixth > fourth);
        let read: Vec<_> = before.map(|l| l.unwrap().id).collect();
        assert_eq!((read.len(), &read[0]), (6, &fifth));
        assert_eq!(listed(&store)[0], fifth);
        store.flush().unwrap();
        assert_eq!(listed(&store)[0], sixth);
    }

    #[test]
    fn one_mailbox_key_for_every_case_and_unicode_composition() {
        // "Jürgen" with a precomposed ü, a decomposed one (u + U+0308), and capitals.
        let key = mailbox_key("j\u{fc}rgen@b\u{fc}cher.de");
        for spelling in
            ["ju\u{308}rgen@bu\u{308}cher.de", "J\u{dc}RGEN@B\u{dc}CHER.DE", "JU\u{308}rgen@B\u{dc}cher.de"]
        {
            assert_eq!(mailbox_key(spelling), key, "{spelling}");
        }
        assert_ne!(mailbox_key("jurgen@bucher.de"), key);
        // The domain as a browser's email field sends it (Punycode), in any letter case.
        assert_eq!(mailbox_key("J\u{dc}rgen@XN--BCHER-KVA.de"), key);
        assert_ne!(mailbox_key("j\u{fc}rgen@xn--bcher-kva.com"), key);
        // Full case folding, not lower case: each pair is one mailbox.
        for (a, b) in [
            ("STRASSE@example.de", "stra\u{df}e@example.de"),
            ("\u{39f}\u{394}\u{39f}\u{3a3}@example.gr", "\u{3bf}\u{3b4}\u{3bf}\u{3c2}@example.gr"),
            ("\u{39f}\u{394}\u{39f}\u{3a3}@example.gr", "\u{3bf}\u{3b4}\u{3bf}\u{3c3}@example.gr"),
            ("J\u{30c}rgen@example.de", "\u{1f0}rgen@example.de"),
        ] {
            assert_eq!(mailbox_key(a), mailbox_key(b), "{a} {b}");
        }
        assert_ne!(mailbox_key("strase@example.de"), mailbox_key("stra\u{df}e@example.de"));
    }

    #[test]
    fn erasure_removes_every_lead_of_the_address_only_and_frees_its_submission_ids() {
        let store = Store::temporary().unwrap();
        store.insert_lead(&new_lead("s", "a@b.co", "sub-00000001")).unwrap();
        store.insert_lead(&new_lead("s", "a@b.co", "sub-00000002")).unwrap();
        store.insert_lead(&new_lead("s", "keep@b.co", "sub-00000003")).unwrap();
        let plan = store.erasure_plan("s", "A@B.co").unwrap();
        // The writer applies a lead of the address between the plan and the erasure.
        store.insert_lead(&new_lead("s", "A@b.co", "sub-00000004")).unwrap();
        assert_eq!(store.erase(&plan).unwrap(), 3, "the lead written after the plan is erased too");
        assert_eq!(store.erase(&plan).unwrap(), 0, "erasing again finds nothing");
        store.flush().unwrap();
        let left: Vec<_> = store.leads("s").unwrap().map(|l| l.unwrap().email).collect();
        assert_eq!(left, ["keep@b.co"]);
        // One lead is left.
        assert_eq!(store.leads.len(), 1);
        // The erased submission id may be used again.
        assert!(store.insert_lead(&new_lead("s", "a@b.co", "sub-00000001")).unwrap().created);
    }

    #[test]
    fn counters_add_up_per_day_and_name() {
        let store = Store::temporary().unwrap();
        store
            .add_counters([("s", "2026-11-01", "pageviews", 2), ("s", "2026-11-01", "pageviews", 3)])
            .unwrap();
        store
            .add_counters([("s", "2026-11-02", "pageviews", 1), ("t", "2026-11-01", "pageviews", 9)])
            .unwrap();
        let rows = store.counters("s", "2026-11-01", "2026-11-02").unwrap();
        let values: Vec<_> = rows.iter().map(|r| (r.day.as_str(), r.value)).collect();
        assert_eq!(values, [("2026-11-01", 5), ("2026-11-02", 1)]);
        assert_eq!(store.counters("s", "2026-11-02", "2026-11-02").unwrap().len(), 1);
    }
}
