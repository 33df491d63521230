//! What the store keeps, and how values are encoded: one format-version byte, then JSON for
//! records, a big-endian `u64` for a counter.
//!
//! The version byte lets a later release migrate old values on read; a value in a version
//! this release does not know is refused, never read as something else.

use std::collections::BTreeMap;

use funnel::{Attribution, ScoreReport, Signals};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Current format version of every stored value.
pub const FORMAT_VERSION: u8 = 1;

/// A stored lead, as the admin API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredLead {
    /// The lead's key, given by the store: left out of the stored value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    pub site: String,
    pub campaign: String,
    #[serde(default)]
    pub variant: Option<String>,
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    pub submission_id: String,
    #[serde(default)]
    pub page_url: Option<String>,
    #[serde(default)]
    pub referrer: Option<String>,
    #[serde(default)]
    pub attribution: Attribution,
    #[serde(default)]
    pub signals: Option<Signals>,
    /// The score the visitor's browser computed, as sent.
    #[serde(default)]
    pub client_score: Option<ScoreReport>,
    /// The score the server recomputed from the signals with the site's current rules.
    pub score: ScoreReport,
    /// The client's score (total or explanation) differed from the server's.
    #[serde(default)]
    pub score_mismatch: bool,
    /// RFC 3339, UTC.
    pub received_at: String,
    /// The consent ledger entry: what the visitor agreed to, word for word.
    #[serde(default)]
    pub consent: Option<ConsentRecord>,
}

/// The consent ledger entry stored with every lead: the exact words agreed to, and when, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecord {
    pub granted: bool,
    pub text: String,
    pub version: String,
    pub at: String,
    #[serde(default)]
    pub page_url: Option<String>,
}

/// Why a stored value could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("empty value")]
    Empty,
    #[error("unknown format version {0}")]
    Version(u8),
    #[error("corrupt value: {0}")]
    Json(#[from] serde_json::Error),
    #[error("corrupt value: {0} bytes")]
    Length(usize),
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // A stored lead takes most of a kilobyte: one allocation instead of a growing buffer's
    // several.
    let mut out = Vec::with_capacity(1024);
    out.push(FORMAT_VERSION);
    serde_json::to_writer(&mut out, value).expect("records serialise");
    out
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, DecodeError> {
    match bytes.split_first() {
        None => Err(DecodeError::Empty),
        Some((&FORMAT_VERSION, json)) => Ok(serde_json::from_slice(json)?),
        Some((&v, _)) => Err(DecodeError::Version(v)),
    }
}

/// The names of a stored lead's custom answers, read without building the rest of the lead
/// (what choosing the CSV export's columns needs).
pub fn decode_field_names(bytes: &[u8]) -> Result<Vec<String>, DecodeError> {
    #[derive(Deserialize)]
    struct Names {
        #[serde(default)]
        fields: BTreeMap<String, serde::de::IgnoredAny>,
    }
    let names: Names = decode(bytes)?;
    Ok(names.fields.into_keys().collect())
}

/// A stored lead's submission id, read without building the rest of the lead (what
/// rebuilding the idempotency index on opening needs).
pub fn decode_submission_id(bytes: &[u8]) -> Result<String, DecodeError> {
    #[derive(Deserialize)]
    struct Submission {
        submission_id: String,
    }
    let s: Submission = decode(bytes)?;
    Ok(s.submission_id)
}

/// A counter: the version byte, then the count, big-endian.
pub fn encode_count(n: u64) -> [u8; 9] {
    let mut out = [FORMAT_VERSION; 9];
    out[1..].copy_from_slice(&n.to_be_bytes());
    out
}

/// Reads a counter. A bare 8-byte count, as counters were written before they carried a
/// version, is read too.
pub fn decode_count(bytes: &[u8]) -> Result<u64, DecodeError> {
    let raw: &[u8] = match (bytes.len(), bytes.split_first()) {
        (8, _) => bytes,
        (9, Some((&FORMAT_VERSION, n))) => n,
        (9, Some((&v, _))) => return Err(DecodeError::Version(v)),
        (n, _) => return Err(DecodeError::Length(n)),
    };
    raw.try_into().map(u64::from_be_bytes).map_err(|_| DecodeError::Length(bytes.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_carry_the_version_and_older_bare_values_still_read() {
        assert_eq!(decode_count(&encode_count(42)).unwrap(), 42);
        assert_eq!(encode_count(42)[0], FORMAT_VERSION);
        assert_eq!(decode_count(&7u64.to_be_bytes()).unwrap(), 7);
        assert!(matches!(decode_count(&[9, 0, 0, 0, 0, 0, 0, 0, 1]), Err(DecodeError::Version(9))));
        assert!(matches!(decode_count(&[1, 2, 3]), Err(DecodeError::Length(3))));
    }

    #[test]
    fn field_names_and_the_submission_id_are_read_alone_from_a_stored_lead() {
        let mut bytes = vec![FORMAT_VERSION];
        bytes.extend_from_slice(
            br#"{"site":"demo","campaign":"welcome","email":"a@example.com","submission_id":"s",
            "fields":{"role":"CTO","company":"Acme \"Q\""},"score":{"total":1,"explanation":[]},
            "received_at":"2026-01-01T00:00:00Z","later_field":{"nested":[1,{"fields":{"x":"y"}}]}}"#,
        );
        assert_eq!(decode_field_names(&bytes).unwrap(), ["company", "role"]);
        assert_eq!(decode_submission_id(&bytes).unwrap(), "s");
        assert!(decode_field_names(&[FORMAT_VERSION, b'{', b'}']).unwrap().is_empty());
        bytes[0] = 9;
        assert!(matches!(decode_field_names(&bytes), Err(DecodeError::Version(9))));
    }

    #[test]
    fn values_round_trip_and_unknown_versions_are_refused() {
        let c = ConsentRecord {
            granted: true,
            text: "yes".into(),
            version: "2".into(),
            at: "2026-01-01T00:00:00Z".into(),
            page_url: None,
        };
        let bytes = encode(&c);
        assert_eq!(bytes[0], FORMAT_VERSION);
        assert_eq!(decode::<ConsentRecord>(&bytes).unwrap(), c);
        let mut future = bytes.clone();
        future[0] = 9;
        assert!(matches!(decode::<ConsentRecord>(&future), Err(DecodeError::Version(9))));
        assert!(matches!(decode::<ConsentRecord>(&[]), Err(DecodeError::Empty)));
    }
}
