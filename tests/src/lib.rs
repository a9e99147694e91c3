//! Shared helpers for the system tests.
#![forbid(unsafe_code)]
