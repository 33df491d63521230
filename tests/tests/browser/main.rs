//! Browser end-to-end tests: the real widget from `widget/dist`, served by a real ingest
//! server, embedded in demo pages on another origin, driven in headless Chromium.

mod api;
mod capture;
mod frequency;
mod isolation;
mod keyboard;
mod measure;
mod rules;

/// The consent text of the built-in demo campaign.
pub const DEMO_CONSENT: &str = "I agree to receive emails from this site. I can unsubscribe at any time.";
