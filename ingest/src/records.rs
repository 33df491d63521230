//! What the store keeps, and how values are encoded: one format-version byte, then JSON.
//!
//! The version byte lets a later release migrate old values on read.

use std::collections::BTreeMap;

use funnel::{Attribution, ScoreReport, Signals};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Current format version of every stored value.
pub const FORMAT_VERSION: u8 = 1;

/// A stored lead, as the admin API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredLead {
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
}

pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
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

#[cfg(test)]
mod tests {
    use super::*;

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
