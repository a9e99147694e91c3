//! The technician's listening viewer: library part (listener, sessions,
//! window, logs, recordings, team tools). `main.rs` is thin glue.
#![forbid(unsafe_code)]
pub mod admission;
pub mod features;
pub mod headless;
pub mod keysym;
pub mod listener;
pub mod log;
pub mod play;
pub mod quality;
pub mod rate;
pub mod recording;
pub mod session;
pub mod team;
pub mod window;
