//! Remoto, the customer's program: library part (platform, UI, session).
//!
//! The binary in `main.rs` is thin glue over these modules.
#![deny(unsafe_code)]
pub mod connect;
pub mod platform;
pub mod ui;
pub mod app;
pub mod gui;
pub mod session;
