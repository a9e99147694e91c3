//! Remoto, the customer's program: library part (platform, UI, session).
//!
//! The binary in `main.rs` is thin glue over these modules.
#![deny(unsafe_code)]
pub mod app;
pub mod connect;
pub mod customer_log;
pub mod features;
pub mod gui;
pub mod platform;
pub mod privacy;
pub mod session;
pub mod sysinfo;
#[cfg(unix)]
pub mod tray;
pub mod ui;
