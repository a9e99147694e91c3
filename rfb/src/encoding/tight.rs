//! Tight
