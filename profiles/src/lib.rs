//! The technician list (profiles).
#![forbid(unsafe_code)]
