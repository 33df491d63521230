//! Lodestone's shared model, compiled into the widget (wasm32) and the ingest server (native).
//!
//! Everything both sides must agree on lives here and nowhere else: the JSON wire types, the
//! site and campaign configuration, the validation rules a lead must pass, and the engagement
//! score. The crate does no I/O, so every rule is tested natively with tables of cases.

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

/// What `std`'s prelude would bring: the crate is `no_std` so the widget can leave out
/// `std`'s panic and formatting machinery.
mod prelude {
    pub use alloc::borrow::ToOwned;
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
    pub use alloc::{format, vec};
}

pub mod conditions;
pub mod config;
pub mod engine;
pub mod error;
pub mod frequency;
// Only in the server's build: its mere presence adds bytes to the popup's module.
#[cfg(any(test, feature = "config-dates"))]
pub mod moment;
pub mod packed;
pub mod rule_text;
pub mod score;
pub mod targeting;
pub mod validate;
pub mod wire;

pub use config::{
    Campaign, ConsentSpec, CtaSelector, Display, InterfaceText, Privacy, ScoringRules, SiteConfig, Success,
    TextDirection,
};
pub use error::{ErrorBody, ErrorDetail, FieldError};
pub use score::{ScoreItem, ScoreReport, compute_score, score_total};
pub use validate::{Email, SiteId, ValidLead, limits};
pub use wire::{
    Attribution, CampaignAction, ConsentGiven, DayActivity, Event, EventBatch, LeadAccepted, LeadSubmission,
    Signals, Touch,
};
