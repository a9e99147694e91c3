//! The technician's listening viewer: library part (listener, sessions,
//! window, logs, recordings, team tools). `main.rs` is thin glue.
#![forbid(unsafe_code)]
pub mod admission;
pub mod log;
pub mod keysym;
pub mod window;
pub mod recording;
pub mod headless;
pub mod listener;
pub mod session;
pub mod team;
