//! Helpers shared by the cross-crate test binaries.
