//! Remoto's secure channel (see README.md beside this crate).
#![forbid(unsafe_code)]

pub mod keys;

pub use keys::{KeyError, PublicKey};
